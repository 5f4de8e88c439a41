package analysis

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gitcanary/gitcanary/pkg/judge"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Look is one look at one metric: what the judge reads, and the window.
type Look struct {
	N      int       `json:"look"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Canary Counts    `json:"canary"`
	Stable Counts    `json:"stable"`
	// StableSteps are the stable version's total increases between
	// samples, for the dispersion estimate.
	StableSteps []int64 `json:"stableSteps,omitempty"`
	// StableBadSteps are its bad-event increases between samples.
	StableBadSteps []int64 `json:"stableBadSteps,omitempty"`
}

// Counts are a version's exact counts over a look.
type Counts struct {
	Total int64 `json:"total"`
	Bad   int64 `json:"bad"`
}

// Due returns how many looks of run can be read at now: a look is read
// once its end is Lag in the past.
func Due(run *release.AnalysisRun, now time.Time) int {
	n := 0
	for n < run.Looks && !run.LookEnd(n+1).Add(run.Lag.Duration).After(now) {
		n++
	}
	return n
}

// NextDue returns when the next look after the first n can be read.
func NextDue(run *release.AnalysisRun, n int) time.Time {
	return run.LookEnd(n + 1).Add(run.Lag.Duration)
}

// Measure reads look k (1-based) of every metric of run.
func Measure(ctx context.Context, src Source, run *release.AnalysisRun, k int) ([]Look, error) {
	out := make([]Look, 0, len(run.Metrics))
	from, to := run.LookEnd(k-1), run.LookEnd(k)
	for _, m := range run.Metrics {
		l := Look{N: k, From: from, To: to}
		var err error
		if l.Canary, _, _, err = count(ctx, src, m, run.Canary, from, to); err != nil {
			return nil, fmt.Errorf("metric %s, look %d: %w", m.Name, k, err)
		}
		if l.Stable, l.StableSteps, l.StableBadSteps, err = count(ctx, src, m, run.Stable, from, to); err != nil {
			return nil, fmt.Errorf("metric %s, look %d: %w", m.Name, k, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// count reads one version's total and bad events of metric m.
func count(ctx context.Context, src Source, m release.ResolvedMetric, version string, from, to time.Time) (Counts, []int64, []int64, error) {
	total, err := selector(m.Total, m.VersionLabel, version)
	if err != nil {
		return Counts{}, nil, nil, err
	}
	bad, err := selector(m.Bad, m.VersionLabel, version)
	if err != nil {
		return Counts{}, nil, nil, err
	}
	t, err := src.Increase(ctx, total, from, to)
	if err != nil {
		return Counts{}, nil, nil, err
	}
	b, err := src.Increase(ctx, bad, from, to)
	if err != nil {
		return Counts{}, nil, nil, err
	}
	c := Counts{Total: t.Total, Bad: b.Total}
	badSteps := b.Steps
	if m.Complement {
		// Bad counted the good events (requests under the bound).
		c.Bad = t.Total - b.Total
		if len(b.Steps) == len(t.Steps) {
			badSteps = make([]int64, len(t.Steps))
			for i := range t.Steps {
				badSteps[i] = t.Steps[i] - b.Steps[i]
			}
		} else {
			badSteps = nil
		}
	}
	if c.Bad < 0 || c.Bad > c.Total {
		// Two counters scraped apart (a bucket and its _count): not exact
		// in this window, so not evidence.
		return Counts{}, nil, nil, fmt.Errorf("%d bad events of %d in total for version %s: the counters disagree: %w", c.Bad, c.Total, version, ErrUnavailable)
	}
	return c, t.Steps, badSteps, nil
}

func selector(s, label, version string) (release.Selector, error) {
	sel, err := release.ParseSelector(s)
	if err != nil {
		return sel, err
	}
	return sel.With(release.Matcher{Label: label, Op: "=", Value: version}), nil
}

// judgeLooks converts a metric's looks for the judge.
func judgeLooks(looks []Look) []judge.Look {
	out := make([]judge.Look, len(looks))
	for i, l := range looks {
		out[i] = judge.Look{
			Canary: judge.Counts{Total: l.Canary.Total, Bad: l.Canary.Bad},
			Stable: judge.Counts{Total: l.Stable.Total, Bad: l.Stable.Bad},
		}
		if len(l.StableSteps) == len(l.StableBadSteps) {
			for j := range l.StableSteps {
				out[i].StableSub = append(out[i].StableSub, judge.Counts{Total: l.StableSteps[j], Bad: l.StableBadSteps[j]})
			}
		}
	}
	return out
}

// Cache keeps the looks read, for every release a process drives: a
// look's counts never change once read, and a controller builds a new
// machine for every reconcile. Its zero value is ready; nil caches nothing.
type Cache struct {
	mu    sync.Mutex
	looks map[cacheKey][]Look
}

type cacheKey struct {
	release string
	start   time.Time
	k       int
}

// maxCached bounds the cache: past it, it starts afresh (the looks are
// read again, with the same counts).
const maxCached = 100_000

// Measure is the package's Measure, through the cache.
func (c *Cache) Measure(ctx context.Context, src Source, name string, run *release.AnalysisRun, k int) ([]Look, error) {
	if c == nil {
		return Measure(ctx, src, run, k)
	}
	key := cacheKey{name, run.Start, k}
	c.mu.Lock()
	looks, ok := c.looks[key]
	c.mu.Unlock()
	if ok {
		return looks, nil
	}
	looks, err := Measure(ctx, src, run, k)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.looks == nil || len(c.looks) >= maxCached {
		c.looks = map[cacheKey][]Look{}
	}
	c.looks[key] = looks
	c.mu.Unlock()
	return looks, nil
}
