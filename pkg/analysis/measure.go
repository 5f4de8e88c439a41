package analysis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gitcanary/gitcanary/pkg/judge"
	"github.com/gitcanary/gitcanary/pkg/prom"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Look is one look at one metric: what the judge reads, and the window.
type Look struct {
	N    int       `json:"look"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Canary and Stable are a compare metric's counts.
	Canary judge.Counts `json:"canary,omitzero"`
	Stable judge.Counts `json:"stable,omitzero"`
	// CanarySub and StableSub are each version's counts per scrape
	// interval of the look, for the judge's dispersion estimate.
	CanarySub []judge.Counts `json:"canarySub,omitempty"`
	StableSub []judge.Counts `json:"stableSub,omitempty"`
	// Value is what a query or web metric read; Error why it could not
	// be read. Phase is the look's measurement (Successful, Failed,
	// Inconclusive, Error) and Problem why its value could not be
	// judged: both follow from Value and the conditions, and a replay
	// derives them again.
	Value   *Reading `json:"value,omitempty"`
	Error   string   `json:"error,omitempty"`
	Phase   string   `json:"phase,omitempty"`
	Problem string   `json:"problem,omitempty"`
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

// NextDue returns when the look after the first n can be read.
func NextDue(run *release.AnalysisRun, n int) time.Time {
	return run.LookEnd(n + 1).Add(run.Lag.Duration)
}

// Unavailable reports whether err means the metrics store could not
// answer (yet): the look is read again later.
func Unavailable(err error) bool {
	return errors.Is(err, prom.ErrUnavailable) || errors.Is(err, prom.ErrNotSettled) || errors.Is(err, ErrUnreachable)
}

// Measure reads look k (1-based) of every metric of run: two queries per
// metric (its total and its bad events, each counted per version).
func Measure(ctx context.Context, src Source, run *release.AnalysisRun, k int) ([]Look, error) {
	out := make([]Look, 0, len(run.Metrics))
	w := prom.Window{Start: run.LookEnd(k - 1), End: run.LookEnd(k)}
	if run.Scrape.Duration > 0 && run.Scrape.Duration < run.Interval.Duration {
		w.Step = run.Scrape.Duration
	}
	for _, m := range run.Metrics {
		if m.Kind() != release.KindCompare {
			// Read by Observe, one metric at a time.
			out = append(out, Look{N: k, From: w.Start, To: w.End})
			continue
		}
		l, err := measure(ctx, src, run, m, w)
		if err != nil {
			return nil, fmt.Errorf("metric %s, look %d: %w", m.Name, k, err)
		}
		l.N = k
		out = append(out, l)
	}
	return out, nil
}

func measure(ctx context.Context, src Source, run *release.AnalysisRun, m release.ResolvedMetric, w prom.Window) (Look, error) {
	l := Look{From: w.Start, To: w.End}
	total, err := count(ctx, src, m.Total, m.VersionLabel, w)
	if err != nil {
		return l, err
	}
	bad, err := count(ctx, src, m.Bad, m.VersionLabel, w)
	if err != nil {
		return l, err
	}
	for _, v := range []struct {
		version string
		counts  *judge.Counts
		sub     *[]judge.Counts
	}{{run.Canary, &l.Canary, &l.CanarySub}, {run.Stable, &l.Stable, &l.StableSub}} {
		t, b := total[v.version], bad[v.version]
		if !t.Last.IsZero() && t.Last.Before(w.End.Add(-run.Lag.Duration)) && !scrapedAfter(ctx, src, m, v.version, w.End, run.Interval.Duration) {
			// The version has series (in the look or the lookback before
			// it), but none was scraped near the look's end, nor since:
			// scrapes are failing, which is not "no traffic". Counters
			// are cumulative: once scrapes resume, the look is read again.
			// (Scraped again after the look: the gap is behind us, and
			// the events of its end count in the next look, since counts
			// run from the last sample at or before a look's start to the
			// last at or before its end.)
			return l, fmt.Errorf("version %s: the newest sample of %s is from %s, %s before the look's end (are its scrapes failing?): %w",
				v.version, m.Total, t.Last.UTC().Format(time.RFC3339), w.End.Sub(t.Last).Round(time.Second), prom.ErrUnavailable)
		}
		if m.Complement {
			// Bad counted the good events (the requests under a bound).
			if b, err = prom.Sub(t, b); err != nil {
				return l, fmt.Errorf("version %s: %w", v.version, err)
			}
		}
		if b.Events > t.Events {
			return l, fmt.Errorf("version %s: %d bad events of %d in total: %s does not count a subset of %s: %w", v.version, b.Events, t.Events, m.Bad, m.Total, prom.ErrNotCounter)
		}
		*v.counts = judge.Counts{Total: t.Events, Bad: b.Events}
		if len(t.Steps) == len(b.Steps) {
			for i := range t.Steps {
				*v.sub = append(*v.sub, judge.Counts{Total: t.Steps[i], Bad: b.Steps[i]})
			}
		}
	}
	return l, nil
}

// scrapedAfter reports whether the version's series of m were scraped
// after end: within an interval, or within as many as an analysis waits
// for an unreadable look (a store that cannot tell yet says no).
func scrapedAfter(ctx context.Context, src Source, m release.ResolvedMetric, version string, end time.Time, interval time.Duration) bool {
	for _, n := range []time.Duration{1, resumeLooks} {
		c, err := count(ctx, src, m.Total, m.VersionLabel, prom.Window{Start: end, End: end.Add(n * interval)})
		if err != nil {
			return false
		}
		if c[version].Last.After(end) {
			return true
		}
	}
	return false
}

// resumeLooks is how many intervals past a look scrapedAfter looks for
// a sample: the looks an analysis waits for before an unreadable one
// makes it Inconclusive (Argo Rollouts' consecutiveErrorLimit, 4).
const resumeLooks = 4

// count counts sel per value of the version label; a version without
// series has a zero count.
func count(ctx context.Context, src Source, sel, label string, w prom.Window) (map[string]prom.Count, error) {
	s, err := prom.ParseSelector(sel)
	if err != nil {
		return nil, err
	}
	got, err := src.Count(ctx, s, label, w)
	if err != nil {
		return nil, err
	}
	out := map[string]prom.Count{}
	for k, c := range got {
		out[k] = *c
	}
	return out, nil
}

// Cache keeps the looks read, for every release a process drives: a
// look's counts never change once read, and a controller builds a new
// machine for every reconcile. Its zero value is ready; nil caches nothing.
type Cache struct {
	mu    sync.Mutex
	looks map[cacheKey][]Look
	// observed holds the final looks of query and web metrics (observe.go).
	obs map[observedKey]Look
}

type cacheKey struct {
	release    string
	background bool // a background analysis may start with a step's
	start      time.Time
	k          int
}

// maxCached bounds the cache: past it, it starts afresh (the looks are
// read again, with the same counts).
const maxCached = 100_000

// Measure is the package's Measure, through the cache; read reports
// that the looks were read from src, not the cache.
func (c *Cache) Measure(ctx context.Context, src Source, name string, run *release.AnalysisRun, k int) (looks []Look, read bool, err error) {
	if c == nil {
		looks, err = Measure(ctx, src, run, k)
		return looks, err == nil, err
	}
	key := cacheKey{name, run.Background, run.Start, k}
	c.mu.Lock()
	looks, ok := c.looks[key]
	c.mu.Unlock()
	if ok {
		return looks, false, nil
	}
	looks, err = Measure(ctx, src, run, k)
	if err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	if c.looks == nil || len(c.looks) >= maxCached {
		c.looks = map[cacheKey][]Look{}
	}
	c.looks[key] = looks
	c.mu.Unlock()
	return looks, true, nil
}
