package judgesim

import (
	"math"
	"math/rand/v2"

	"github.com/gitcanary/gitcanary/pkg/judge"
)

// The standard library has no Poisson or binomial sampler. These follow
// the published algorithms: inversion for small means, and W. Hörmann's
// transformed rejection with squeeze for large ones (PTRS for the Poisson,
// "The transformed rejection method for generating Poisson random
// variables", 1993; BTRS for the binomial, "The generation of binomial
// random variates", 1993). TestPoisson and TestBinomial check them against
// the exact probabilities.

// poissonSampler draws from Poisson(mu), its constants computed once (a
// release draws thousands of counts with the same few means).
type poissonSampler struct {
	mu, expNeg              float64 // inversion (mu < 10)
	lmu, a, b, invAlpha, vr float64 // PTRS
}

func newPoisson(mu float64) poissonSampler {
	s := poissonSampler{mu: mu, expNeg: math.Exp(-mu)}
	if mu >= 10 {
		s.lmu = math.Log(mu)
		s.b = 0.931 + 2.53*math.Sqrt(mu)
		s.a = -0.059 + 0.02483*s.b
		s.invAlpha = 1.1239 + 1.1328/(s.b-3.4)
		s.vr = 0.9277 - 3.6224/(s.b-2)
	}
	return s
}

func (s *poissonSampler) draw(r *rand.Rand) int64 {
	if s.mu <= 0 {
		return 0
	}
	if s.mu < 10 {
		u := r.Float64()
		p := s.expNeg
		sum := p
		var k int64
		for u > sum && k < 1000 {
			k++
			p *= s.mu / float64(k)
			sum += p
		}
		return k
	}
	for {
		u := r.Float64() - 0.5
		v := r.Float64()
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*s.a/us+s.b)*u + s.mu + 0.43)
		if us >= 0.07 && v <= s.vr {
			return int64(k)
		}
		if k < 0 || (us < 0.013 && v > us) {
			continue
		}
		lg, _ := math.Lgamma(k + 1)
		if math.Log(v)+math.Log(s.invAlpha)-math.Log(s.a/(us*us)+s.b) <= -s.mu+k*s.lmu-lg {
			return int64(k)
		}
	}
}

// poisson draws from Poisson(mu).
func poisson(r *rand.Rand, mu float64) int64 {
	s := newPoisson(mu)
	return s.draw(r)
}

// binomial draws from Binomial(n, p).
func binomial(r *rand.Rand, n int64, p float64) int64 {
	switch {
	case n <= 0 || p <= 0:
		return 0
	case p >= 1:
		return n
	case p > 0.5:
		return n - binomial(r, n, 1-p)
	}
	q := 1 - p
	if float64(n)*p < 10 {
		s := p / q
		a := float64(n+1) * s
		f := math.Pow(q, float64(n))
		u := r.Float64()
		var k int64
		for u > f && k < n {
			u -= f
			k++
			f *= a/float64(k) - s
		}
		return k
	}
	nf := float64(n)
	spq := math.Sqrt(nf * p * q)
	b := 1.15 + 2.53*spq
	a := -0.0873 + 0.0248*b + 0.01*p
	c := nf*p + 0.5
	vr := 0.92 - 4.2/b
	alpha := (2.83 + 5.1/b) * spq
	lpq := math.Log(p / q)
	m := math.Floor((nf + 1) * p)
	h1, _ := math.Lgamma(m + 1)
	h2, _ := math.Lgamma(nf - m + 1)
	h := h1 + h2
	for {
		u := r.Float64() - 0.5
		v := r.Float64()
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*a/us+b)*u + c)
		if k < 0 || k > nf {
			continue
		}
		if us >= 0.07 && v <= vr {
			return int64(k)
		}
		g1, _ := math.Lgamma(k + 1)
		g2, _ := math.Lgamma(nf - k + 1)
		if math.Log(v*alpha/(a/(us*us)+b)) <= h-g1-g2+(k-m)*lpq {
			return int64(k)
		}
	}
}

// traffic draws one version's requests, sub-interval after sub-interval.
// Requests arrive as a Poisson process; they form runs of burst consecutive
// requests, and each run fails as a whole with probability rate (burst 1:
// every request is bad with probability rate). The runs carry over from one
// sub-interval to the next, as a failure that fails the next four requests
// of a version serving one request a second spans four one-second scrapes.
// The share of bad requests is rate; the variance of a long interval's bad
// count is about burst times its mean.
type traffic struct {
	requests poissonSampler
	rate     float64
	burst    int64
	left     int64 // requests left in the current run
	failing  bool  // whether the current run fails
}

func newTraffic(mu, rate float64, burst int) traffic {
	return traffic{requests: newPoisson(mu), rate: rate, burst: int64(max(burst, 1))}
}

func (t *traffic) draw(r *rand.Rand) judge.Counts {
	n := t.requests.draw(r)
	c := judge.Counts{Total: n}
	if t.burst == 1 {
		c.Bad = binomial(r, n, t.rate)
		return c
	}
	// The end of the run in progress.
	head := min(n, t.left)
	t.left -= head
	if t.failing {
		c.Bad += head
	}
	n -= head
	// Whole runs, then the start of the next one.
	c.Bad += t.burst * binomial(r, n/t.burst, t.rate)
	if rest := n % t.burst; rest > 0 {
		t.failing = r.Float64() < t.rate
		t.left = t.burst - rest
		if t.failing {
			c.Bad += rest
		}
	}
	return c
}
