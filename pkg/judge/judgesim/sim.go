// Package judgesim simulates releases to measure pkg/judge: how often it
// fails a canary exactly as good as the stable version (A/A: false
// positives) and how often it fails one whose bad-event rate is twice the
// stable's (A/B: power), over a grid of traffic, canary weights, error
// rates and burst sizes. `make bench-analysis` runs it (cmd/bench-analysis).
//
// The traffic model, per release: requests arrive as a Poisson process at
// RPS, a share Weight of them to the canary; each stable request is bad
// with probability BadRate, each canary request with Theta·BadRate. With
// Burst > 1 each version's requests form runs of Burst consecutive requests
// that fail together (one failure fails that many requests): the same error
// rate, Burst times the variance, and a run may span scrapes. Both
// versions' counts are drawn per sub-interval (one per scrape) and given to
// the judge as Look.StableSub; the canary's as Look.CanarySub. The judge is
// called after every look (judge.Analysis: Judge's decision without the
// evidence, look by look), and the release ends at the first decision other
// than Continue.
//
// Every batch of releases has its own random source (PCG) seeded from the
// run's seed, the cell and the batch, so a run's figures do not depend on
// how many workers ran it.
package judgesim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/gitcanary/gitcanary/pkg/judge"
)

// Cell is one point of the grid.
type Cell struct {
	RPS     float64 // requests per second, both versions
	Weight  float64 // canary share of requests
	BadRate float64 // stable version's share of bad requests
	Burst   int     // bad requests come in runs of this many
}

func (c Cell) String() string {
	return fmt.Sprintf("rps=%g weight=%g%% errors=%g%% burst=%d", c.RPS, 100*c.Weight, 100*c.BadRate, c.Burst)
}

// Plan is the analysis step every simulated release runs.
type Plan struct {
	Horizon  time.Duration // the analysis' duration
	Interval time.Duration // one look per interval
	Sub      time.Duration // the stable version's sub-intervals (scrapes)
	Config   judge.Config  // Looks is set from Horizon and Interval
}

// DefaultPlan is the issue's: 5 minutes, 30-second looks, 1-second scrapes,
// the judge's defaults.
func DefaultPlan() Plan {
	return Plan{Horizon: 5 * time.Minute, Interval: 30 * time.Second, Sub: time.Second}
}

func (p Plan) looks() int { return int(p.Horizon / p.Interval) }

func (p Plan) subs() int { return max(1, int(p.Interval/p.Sub)) }

func (p Plan) config() judge.Config {
	c := p.Config
	c.Looks = p.looks()
	return c
}

// Release simulates one release whose canary is theta times as bad as the
// stable version and returns the judge's decision.
func Release(r *rand.Rand, c Cell, theta float64, p Plan) judge.Outcome {
	cfg := p.config()
	nsub := p.subs()
	subSecs := p.Interval.Seconds() / float64(nsub)
	canary := newTraffic(c.RPS*c.Weight*subSecs, math.Min(theta*c.BadRate, 1), c.Burst)
	stable := newTraffic(c.RPS*(1-c.Weight)*subSecs, c.BadRate, c.Burst)
	a := judge.NewAnalysis(cfg)
	// One block for all sub-intervals: the analysis keeps the looks.
	subs := make([]judge.Counts, 2*nsub*cfg.Looks)
	var o judge.Outcome
	for i := range cfg.Looks {
		block := subs[2*nsub*i : 2*nsub*(i+1)]
		l := judge.Look{CanarySub: block[:nsub:nsub], StableSub: block[nsub:]}
		for j := range nsub {
			cs, ss := canary.draw(r), stable.draw(r)
			l.CanarySub[j], l.StableSub[j] = cs, ss
			l.Canary.Total += cs.Total
			l.Canary.Bad += cs.Bad
			l.Stable.Total += ss.Total
			l.Stable.Bad += ss.Bad
		}
		if o = a.Add(l); o.Decision != judge.Continue {
			break
		}
	}
	return o
}

// Tally counts the outcomes of releases of one kind in one cell.
type Tally struct {
	N, Failed, Successful, Inconclusive int
	// Sequential counts the failures the sequential test took.
	Sequential int
	// FailedAt[k] is how many failed at look k+1.
	FailedAt []int
	// Dispersions are the verdicts' φ, sorted once the run is complete.
	Dispersions []float64
}

func (t *Tally) add(o judge.Outcome, looks int) {
	if t.FailedAt == nil {
		t.FailedAt = make([]int, looks)
	}
	t.N++
	switch o.Decision {
	case judge.Failed:
		t.Failed++
		if o.Test == judge.TestSequential {
			t.Sequential++
		}
		if o.Look >= 1 && o.Look <= looks {
			t.FailedAt[o.Look-1]++
		}
	case judge.Successful:
		t.Successful++
	default:
		t.Inconclusive++
	}
	t.Dispersions = append(t.Dispersions, o.Dispersion)
}

func (t *Tally) merge(o Tally) {
	t.N += o.N
	t.Failed += o.Failed
	t.Successful += o.Successful
	t.Inconclusive += o.Inconclusive
	t.Sequential += o.Sequential
	if t.FailedAt == nil {
		t.FailedAt = make([]int, len(o.FailedAt))
	}
	for i, k := range o.FailedAt {
		t.FailedAt[i] += k
	}
	t.Dispersions = append(t.Dispersions, o.Dispersions...)
}

// Rate is the share of releases that failed.
func (t Tally) Rate() float64 {
	if t.N == 0 {
		return 0
	}
	return float64(t.Failed) / float64(t.N)
}

// MedianFailedLook is the median look of the failed releases (0 if none).
func (t Tally) MedianFailedLook() float64 {
	if t.Failed == 0 {
		return 0
	}
	var seen int
	for k, c := range t.FailedAt {
		seen += c
		if 2*seen > t.Failed {
			return float64(k + 1)
		}
		if 2*seen == t.Failed {
			next := k + 1
			for next < len(t.FailedAt) && t.FailedAt[next] == 0 {
				next++
			}
			return float64(k+1+next+1) / 2
		}
	}
	return float64(len(t.FailedAt))
}

// MedianDispersion is the median φ of the verdicts (Dispersions sorted).
func (t Tally) MedianDispersion() float64 {
	if len(t.Dispersions) == 0 {
		return 0
	}
	return t.Dispersions[len(t.Dispersions)/2]
}
