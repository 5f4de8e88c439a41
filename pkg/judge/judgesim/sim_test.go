package judgesim

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/judge"
)

// TestAAFalsePositives runs a small A/A sample at the headline cell and
// fails when the 95% upper bound of the false-positive rate exceeds Alpha.
// At the rate the grid measures there (about 0.6%), 10,000 releases keep
// the bound near 0.8%, so the test fails on a real regression, not on
// noise. Every fifth release is an A/B one, whose failures must be far more
// common, so a judge that fails nothing cannot pass either.
func TestAAFalsePositives(t *testing.T) {
	run := Run{Cells: []Cell{Headline}, AA: 10000, AB: 2000, Plan: DefaultPlan(), Seed: 42, Workers: 2}
	if testing.Short() {
		run.AA, run.AB = 2000, 400
	}
	start := time.Now()
	r := run.Do()[0]
	up := ClopperPearsonUpper(r.AA.Failed, r.AA.N)
	t.Logf("A/A %d/%d failed (upper bound %.4f), A/B power %.3f, %s", r.AA.Failed, r.AA.N, up, r.AB.Rate(), time.Since(start).Round(time.Millisecond))
	if alpha := judge.DefaultAlpha; up > alpha {
		t.Errorf("false-positive rate %.4f, 95%% upper bound %.4f above alpha %v", r.AA.Rate(), up, alpha)
	}
	if r.AB.Rate() < 0.9 {
		t.Errorf("power %.3f against a 2× canary; the grid measures about 0.97", r.AB.Rate())
	}
	if r.AA.N != run.AA || r.AB.N != run.AB {
		t.Errorf("ran %d and %d releases, want %d and %d", r.AA.N, r.AB.N, run.AA, run.AB)
	}
}

// TestDeterministic: the figures depend on the seed, not on the workers.
func TestDeterministic(t *testing.T) {
	cell := Cell{RPS: 10, Weight: 0.5, BadRate: 0.05, Burst: 2}
	one := Run{Cells: []Cell{cell}, AA: 600, AB: 300, Plan: DefaultPlan(), Seed: 3, Workers: 1}.Do()[0]
	two := Run{Cells: []Cell{cell}, AA: 600, AB: 300, Plan: DefaultPlan(), Seed: 3, Workers: 3}.Do()[0]
	if one.AA.Failed != two.AA.Failed || one.AB.Failed != two.AB.Failed || one.AA.Successful != two.AA.Successful ||
		one.AA.MedianDispersion() != two.AA.MedianDispersion() {
		t.Errorf("1 worker: %+v %+v; 3 workers: %+v %+v", one.AA.Failed, one.AB.Failed, two.AA.Failed, two.AB.Failed)
	}
}

// TestPoisson compares the sampler with the exact probabilities (a χ² test
// over the bins with at least 5 expected draws) for small and large means.
func TestPoisson(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const draws = 200000
	for _, mu := range []float64{0.05, 0.9, 4, 9.99, 10, 30, 900, 15000} {
		s := newPoisson(mu)
		hist := map[int64]int{}
		var sum float64
		for range draws {
			k := s.draw(r)
			hist[k]++
			sum += float64(k)
		}
		if mean := sum / draws; math.Abs(mean-mu) > 5*math.Sqrt(mu/draws) {
			t.Errorf("Poisson(%v): mean %v", mu, mean)
		}
		var chi2 float64
		var bins int
		var restExp, restObs float64
		for k := int64(0); k <= int64(mu+20*math.Sqrt(mu)+20); k++ {
			lg, _ := math.Lgamma(float64(k) + 1)
			e := draws * math.Exp(-mu+float64(k)*math.Log(mu)-lg)
			if e < 5 {
				restExp += e
				restObs += float64(hist[k])
				continue
			}
			d := float64(hist[k]) - e
			chi2 += d * d / e
			bins++
		}
		if restExp >= 5 {
			chi2 += (restObs - restExp) * (restObs - restExp) / restExp
			bins++
		}
		// The 99.9% quantile of χ² with bins−1 degrees of freedom is below
		// bins−1 + 4.5·sqrt(2(bins−1)) + 10 for these sizes.
		df := float64(bins - 1)
		if chi2 > df+4.5*math.Sqrt(2*df)+10 {
			t.Errorf("Poisson(%v): χ² %.1f over %d bins", mu, chi2, bins)
		}
	}
}

// TestTrafficBursts: bursts keep the error rate and multiply the variance
// (of 30-sub-interval sums, as runs span sub-intervals).
func TestTrafficBursts(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	for _, burst := range []int{1, 4} {
		tr := newTraffic(3, 0.05, burst)
		var total, bad, bad2 float64
		const n = 50000
		for range n {
			var c judge.Counts
			for range 30 {
				s := tr.draw(r)
				c.Total += s.Total
				c.Bad += s.Bad
			}
			total += float64(c.Total)
			bad += float64(c.Bad)
			bad2 += float64(c.Bad * c.Bad)
		}
		mean := bad / n
		variance := bad2/n - mean*mean
		if rate := bad / total; math.Abs(rate-0.05) > 0.001 {
			t.Errorf("burst %d: error rate %.4f", burst, rate)
		}
		if ratio := variance / mean; math.Abs(ratio-float64(burst)) > 0.1*float64(burst) {
			t.Errorf("burst %d: variance/mean %.2f", burst, ratio)
		}
	}
}

func TestClopperPearsonUpper(t *testing.T) {
	for _, c := range []struct {
		k, n int
		want float64
	}{
		{0, 20000, 1 - math.Pow(0.025, 1.0/20000)}, // closed form for k = 0
		{126, 20000, 0.00750},                      // 0.63%: upper bound 0.75%
		{5, 10, 0.8129},
		{10, 10, 1},
	} {
		if got := ClopperPearsonUpper(c.k, c.n); math.Abs(got-c.want) > 5e-5 {
			t.Errorf("ClopperPearsonUpper(%d, %d) = %.5f, want %.5f", c.k, c.n, got, c.want)
		}
	}
}
