// Package prom counts events exactly from Prometheus: given counter
// series (say istio_requests_total of one service), a look's two
// timestamps recorded in git and a label to group by (the version), it
// returns the integer number of events each group recorded between them,
// and the same numbers whenever it is asked again.
//
// It reads raw samples with a range vector selector evaluated by an
// instant query at the look's end (POST /api/v1/query with time=), never
// query_range: a range query evaluates an instant selector at each step,
// which picks the latest sample within the 5-minute lookback, so it
// repeats values across gaps and hides the samples in between, and
// increase() or rate() extrapolate to the window's edges and drop the
// first increase of every new series. Deltas, resets and new series are
// computed here (Increase); what Prometheus returns depends only on the
// samples it stored, so a resumed process recomputes the same counts.
//
// Errors of Prometheus or of the way to it wrap ErrUnavailable: the
// caller could not find out, which is never evidence against a canary.
// A selector Prometheus refuses wraps ErrBadQuery; a look asked for
// before its samples can all have arrived wraps ErrNotSettled.
package prom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

var (
	// ErrUnavailable wraps every failure to get an answer from Prometheus:
	// connection refused or cut, a timeout, a 5xx, an error Prometheus
	// reports about itself, a partial answer, a body that is not its API's.
	ErrUnavailable = errors.New("prometheus unavailable")
	// ErrBadQuery means Prometheus refused the query as invalid (HTTP 400,
	// errorType bad_data): the selector is wrong, not the canary.
	ErrBadQuery = errors.New("prometheus refused the query")
	// ErrNotSettled means the look's end is too recent: a scrape that
	// started before it may not be stored yet.
	ErrNotSettled = errors.New("look not settled")
)

// DefaultLookback is Prometheus's default lookback delta
// (--query.lookback-delta): how far before a look's start a series'
// baseline sample is searched.
const DefaultLookback = 5 * time.Minute

// DefaultSettle is how long after a look's end its samples are taken as
// complete: Prometheus stamps a sample with the time its scrape started
// and stores it when the scrape ends, at most scrape_timeout later (10 s
// by default); out-of-order samples are refused by default.
const DefaultSettle = 15 * time.Second

// Options configure a Client.
type Options struct {
	// URL is Prometheus's base URL, e.g. http://prometheus.istio-system:9090
	// (a path prefix such as /prometheus is kept).
	URL string
	// Header is sent with every request (Authorization, tenant headers);
	// it comes from gitcanary's configuration, never from git.
	Header http.Header
	// HTTPClient defaults to one with a 30 s timeout.
	HTTPClient *http.Client
	// Lookback defaults to DefaultLookback, Settle to DefaultSettle.
	Lookback, Settle time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
}

// Client reads counter samples from one Prometheus.
type Client struct {
	base     *url.URL
	header   http.Header
	http     *http.Client
	lookback time.Duration
	settle   time.Duration
	now      func() time.Time
}

// New checks the options and returns a Client. A URL that is not an
// absolute http(s) URL, or that carries credentials, is invalid input.
func New(o Options) (*Client, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("prometheus address %q: want an absolute http:// or https:// URL", o.URL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("prometheus address %s://…@%s: credentials do not go in the URL; give them as headers in gitcanary's configuration", u.Scheme, u.Host)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("prometheus address %q: want no query or fragment", o.URL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	c := &Client{base: u, header: o.Header.Clone(), http: o.HTTPClient, lookback: o.Lookback, settle: o.Settle, now: o.Now}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	if c.lookback <= 0 {
		c.lookback = DefaultLookback
	}
	if c.settle <= 0 {
		c.settle = DefaultSettle
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// URL returns the base URL (it never holds credentials).
func (c *Client) URL() string { return c.base.String() }

// Count counts per value of the label by the events of the counter series
// sel selects in w (see Increase). It refuses with ErrNotSettled a window
// that ends less than the settle time ago.
func (c *Client) Count(ctx context.Context, sel Selector, by string, w Window) (map[string]*Count, error) {
	if ready := w.End.Add(c.settle); c.now().Before(ready) {
		return nil, fmt.Errorf("%w: the look ending %s can be counted from %s", ErrNotSettled,
			w.End.UTC().Format(time.RFC3339Nano), ready.UTC().Format(time.RFC3339Nano))
	}
	series, err := c.Samples(ctx, sel, w.Start.Add(-c.lookback), w.End)
	if err != nil {
		return nil, err
	}
	var upErr error
	counts, err := IncreaseScraped(series, by, w, c.lookback, c.scraped(ctx, w.Start.Add(-c.lookback), w.End, &upErr))
	if err == nil {
		err = upErr
	}
	if err != nil {
		return nil, fmt.Errorf("count %s: %w", sel, err)
	}
	return counts, nil
}

// scraped answers Increase's question about a gap in a series from
// Prometheus's own `up` series of the series' target (job and instance):
// a sample of 1 inside the gap is a scrape that worked without the
// series. Each target's `up` is read once per count, and only when a
// series has a gap; a series without job and instance labels is joined
// across its gaps. A failed read is reported through errp.
func (c *Client) scraped(ctx context.Context, from, to time.Time, errp *error) Scraped {
	ups := map[[2]string][]Sample{}
	return func(labels map[string]string, after, before int64) bool {
		job, instance := labels["job"], labels["instance"]
		if job == "" || instance == "" {
			return false
		}
		key := [2]string{job, instance}
		up, ok := ups[key]
		if !ok {
			series, err := c.Samples(ctx, NewSelector("up", Eq("job", job), Eq("instance", instance)), from, to)
			if err != nil {
				if *errp == nil {
					*errp = err
				}
				return false
			}
			for _, s := range series {
				up = append(up, s.Samples...)
			}
			ups[key] = up
		}
		for _, p := range up {
			if p.T > after && p.T < before && p.V == 1 {
				return true
			}
		}
		return false
	}
}

// Samples returns every raw sample in [from, to] of every series sel
// selects, sorted by labels, stale markers left out. It asks for
// sel[to-from+1ms] at to: Prometheus 2 selects [to-range, to], Prometheus
// 3 (to-range, to]; the extra millisecond makes both include from, and
// samples before from are dropped here.
func (c *Client) Samples(ctx context.Context, sel Selector, from, to time.Time) ([]Series, error) {
	span := ms(to) - ms(from)
	if span < 0 {
		return nil, fmt.Errorf("samples of %s: %s is after %s", sel, from, to)
	}
	if len(sel.Matchers) == 0 && sel.Metric == "" {
		return nil, fmt.Errorf("%w: an empty selector", ErrSelector)
	}
	q := fmt.Sprintf("%s[%dms]", sel, span+1)
	raw, err := c.query(ctx, q, to)
	if err != nil {
		return nil, err
	}
	if raw.ResultType != "matrix" {
		return nil, fmt.Errorf("%w: %s answered a %q, not the matrix of a range selector", ErrUnavailable, c.base.Redacted(), raw.ResultType)
	}
	var result []struct {
		Metric map[string]string `json:"metric"`
		Values [][2]json.Number  `json:"values"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw.Result))
	dec.UseNumber()
	if err := dec.Decode(&result); err != nil {
		return nil, fmt.Errorf("%w: %s answered a matrix gitcanary cannot read: %v", ErrUnavailable, c.base.Redacted(), err)
	}
	out := make([]Series, 0, len(result))
	for _, r := range result {
		s := Series{Labels: r.Metric, Samples: make([]Sample, 0, len(r.Values))}
		for _, v := range r.Values {
			t, err := parseTime(v[0].String())
			if err != nil {
				return nil, fmt.Errorf("%w: %s: series %s: %v", ErrUnavailable, c.base.Redacted(), labelsKey(r.Metric), err)
			}
			f, err := strconv.ParseFloat(v[1].String(), 64)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: series %s: value %q: %v", ErrUnavailable, c.base.Redacted(), labelsKey(r.Metric), v[1], err)
			}
			if t < ms(from) || math.IsNaN(f) {
				continue
			}
			s.Samples = append(s.Samples, Sample{T: t, V: f})
		}
		out = append(out, s)
	}
	sortSeries(out)
	return out, nil
}

// apiResponse is the envelope of every /api/v1 answer.
type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

type queryData struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

// query runs one instant query at t.
func (c *Client) query(ctx context.Context, q string, t time.Time) (*queryData, error) {
	form := url.Values{"query": {q}, "time": {formatTime(t)}}
	endpoint := c.base.JoinPath("api", "v1", "query")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	where := c.base.Redacted()
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: read the answer of %s: %v", ErrUnavailable, where, err)
	}
	var env apiResponse
	if err := json.Unmarshal(body, &env); err != nil || env.Status == "" {
		return nil, fmt.Errorf("%w: %s answered HTTP %d %q, not Prometheus's API (is the address right?): %s",
			ErrUnavailable, where, resp.StatusCode, resp.Header.Get("Content-Type"), snippet(body))
	}
	if env.Status != "success" {
		kind := ErrUnavailable
		if env.ErrorType == "bad_data" || resp.StatusCode == http.StatusBadRequest {
			kind = ErrBadQuery
		}
		return nil, fmt.Errorf("%w: %s: %s: %s (query %s)", kind, where, env.ErrorType, env.Error, q)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%w: %s answered HTTP %d", ErrUnavailable, where, resp.StatusCode)
	}
	if len(env.Warnings) > 0 {
		// A warning means a partial answer (a remote store missing): not
		// a count to judge by.
		return nil, fmt.Errorf("%w: %s answered with warnings: %s", ErrUnavailable, where, strings.Join(env.Warnings, "; "))
	}
	var d queryData
	if err := json.Unmarshal(env.Data, &d); err != nil {
		return nil, fmt.Errorf("%w: %s: unreadable data: %v", ErrUnavailable, where, err)
	}
	return &d, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return strconv.Quote(s)
}

// formatTime writes t as Unix seconds with milliseconds, the resolution
// of Prometheus's samples.
func formatTime(t time.Time) string {
	m := ms(t)
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	return fmt.Sprintf("%s%d.%03d", sign, m/1000, m%1000)
}

// parseTime reads a sample's timestamp (JSON number of Unix seconds, as
// Prometheus writes it: "1435781451.781") into milliseconds without going
// through float64 when it can.
func parseTime(s string) (int64, error) {
	if !strings.ContainsAny(s, "eE") {
		sec, frac, _ := strings.Cut(s, ".")
		neg := strings.HasPrefix(sec, "-")
		n, err := strconv.ParseInt(strings.TrimPrefix(sec, "-"), 10, 64)
		if err == nil {
			frac = (frac + "000")[:3]
			var f int64
			if f, err = strconv.ParseInt(frac, 10, 64); err == nil {
				if neg {
					return -(n*1000 + f), nil
				}
				return n*1000 + f, nil
			}
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("timestamp %q", s)
	}
	return int64(math.Round(f * 1000)), nil
}
