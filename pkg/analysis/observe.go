package analysis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gitcanary/gitcanary/pkg/prom"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Querier evaluates PromQL at a recorded time (pkg/prom's Client).
type Querier interface {
	Query(ctx context.Context, q string, at time.Time) (*prom.Result, error)
}

var _ Querier = (*prom.Client)(nil)

// Fetcher reads a web metric's value, now (WebClient).
type Fetcher interface {
	Fetch(ctx context.Context, w release.ResolvedWeb) (*Reading, error)
}

// ErrUnreachable wraps the failures of a web metric's endpoint to answer
// (connection refused, a timeout, a non-2xx answer): could not find out.
var ErrUnreachable = errors.New("web metric unavailable")

// Observe reads look k of a query or web metric. It returns an error only
// when the source could not answer (Unavailable: read it again later);
// a query Prometheus refuses, or an answer that has no value, is a look
// with Error set, which counts towards consecutiveErrorLimit.
func Observe(ctx context.Context, src Source, web Fetcher, run *release.AnalysisRun, m release.ResolvedMetric, k int) (Look, error) {
	l := Look{N: k, From: run.LookEnd(k - 1), To: run.LookEnd(k)}
	var r *Reading
	var err error
	switch m.Kind() {
	case release.KindQuery:
		q, ok := src.(Querier)
		if !ok || q == nil {
			return l, fmt.Errorf("metric %s: the metrics source cannot evaluate queries: %w", m.Name, prom.ErrUnavailable)
		}
		var res *prom.Result
		if res, err = q.Query(ctx, m.Query, l.To); err == nil {
			r = &Reading{Result: res}
		}
	case release.KindWeb:
		if web == nil {
			return l, fmt.Errorf("metric %s: no web client: %w", m.Name, ErrUnreachable)
		}
		r, err = web.Fetch(ctx, *m.Web)
	default:
		return l, fmt.Errorf("metric %s is a compare metric: read it with Measure", m.Name)
	}
	switch {
	case err == nil:
		l.Value = r
	case Unavailable(err):
		return l, fmt.Errorf("metric %s, look %d: %w", m.Name, k, err)
	default:
		l.Error = err.Error()
	}
	return l, nil
}

type observedKey struct {
	release string
	start   time.Time
	metric  string
	k       int
}

// Observe reads the due looks of run's query and web metrics into looks
// (by metric, as Measure's), through the cache. A look whose source
// cannot answer is read again until the next look is due; then it is
// recorded as an Error. pending is the last such failure while a look
// waits for its source (nil: none waits).
func (c *Cache) Observe(ctx context.Context, src Source, web Fetcher, name string, run *release.AnalysisRun, now time.Time, looks [][]Look) (pending error) {
	due := Due(run, now)
	for i, m := range run.Metrics {
		if m.Kind() == release.KindCompare || i >= len(looks) {
			continue
		}
		var ls []Look
		for k := 1; k <= due; k++ {
			key := observedKey{name, run.Start, m.Name, k}
			if l, ok := c.observed(key); ok {
				ls = append(ls, l)
				continue
			}
			l, err := Observe(ctx, src, web, run, m, k)
			if err != nil {
				if now.Before(NextDue(run, k)) {
					pending = err
					break
				}
				l.Error = err.Error()
			}
			c.keep(key, l)
			ls = append(ls, l)
		}
		looks[i] = ls
	}
	return pending
}

func (c *Cache) observed(key observedKey) (Look, bool) {
	if c == nil {
		return Look{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.obs[key]
	return l, ok
}

func (c *Cache) keep(key observedKey, l Look) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.obs == nil || len(c.obs) >= maxCached {
		c.obs = map[observedKey]Look{}
	}
	c.obs[key] = l
}
