// Package promtest is a Prometheus HTTP API on loopback for unit tests of
// code that reads raw counter samples (pkg/prom). It models what such code
// relies on, as Prometheus 2.42 (the test bed's) behaves:
//
//   - POST (or GET) /api/v1/query with form fields query and time (Unix
//     seconds with a fraction, or RFC 3339; absent: now) evaluates the
//     query at that time. The answer is the envelope
//     {"status":"success","data":{"resultType":…,"result":…}}; errors are
//     {"status":"error","errorType":…,"error":…} with HTTP 400 for
//     bad_data (a query that does not parse), 422 for execution, 503 for
//     timeout/canceled/unavailable.
//   - A range vector selector sel[d] evaluated at t returns resultType
//     "matrix": for every series sel matches with at least one sample in
//     [t-d, t] (both ends included in Prometheus 2; Prometheus 3 excludes
//     t-d), {"metric":{labels, __name__ included},"values":[[<unix
//     seconds with 3 decimals>,"<value as text>"],…]} in time order.
//     Stale markers (the NaN Prometheus writes when a series disappears
//     from a scrape or a scrape fails) are not returned; series are
//     sorted by labels. Durations take Prometheus's units (ms, s, m, h,
//     d, w, y) and may combine them (1m30s).
//   - Samples carry the timestamp of the scrape that took them (its start)
//     and are immutable once stored: the same query at the same time
//     gives the same answer.
//
// Only range vector selectors are modelled; any other expression is
// refused as bad_data (a real Prometheus would evaluate it), unless a
// test scripted its answer (Script, instant.go). The server
// can also be taken down (connections cut without an answer, as a dead
// server or a failing proxy) or made to answer like an overloaded one.
package promtest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/prom"
)

// StaleNaN is the bit pattern of Prometheus's stale marker.
var StaleNaN = math.Float64frombits(0x7ff0000000000002)

// Failure is how the server answers while failing.
type Failure int

// Failures.
const (
	Healthy     Failure = iota
	CutOff              // the connection is closed without an answer
	Overloaded          // HTTP 503, errorType unavailable
	Timeout             // HTTP 503, errorType timeout
	HTMLError           // HTTP 502 with an HTML page, as a proxy in front answers
	PartialData         // success with a warning, as a federated store missing a part
)

// Server is the fake Prometheus.
type Server struct {
	URL string

	mu      sync.Mutex
	series  map[string]*prom.Series
	scripts map[string]Script
	failure Failure
	queries []Query
}

// Query is one query the server received.
type Query struct {
	Expr string
	Time time.Time
}

// New starts a server on 127.0.0.1 and stops it when the test ends.
func New(t testing.TB) *Server {
	s := &Server{series: map[string]*prom.Series{}}
	ts := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(ts.Close)
	s.URL = ts.URL
	return s
}

// Add appends samples to the series with these labels (__name__ is the
// metric), which must be later than its last one, as TSDB refuses
// out-of-order samples. A NaN value is stored as a stale marker.
func (s *Server) Add(labels map[string]string, samples ...prom.Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := fmt.Sprint(sortedLabels(labels))
	ser := s.series[key]
	if ser == nil {
		ser = &prom.Series{Labels: copyLabels(labels)}
		s.series[key] = ser
	}
	for _, p := range samples {
		if n := len(ser.Samples); n > 0 && p.T <= ser.Samples[n-1].T {
			panic(fmt.Sprintf("promtest: out-of-order sample at %d for %v", p.T, labels))
		}
		if math.IsNaN(p.V) {
			p.V = StaleNaN
		}
		ser.Samples = append(ser.Samples, p)
	}
}

// Fail makes the server fail in the given way until Fail(Healthy).
func (s *Server) Fail(f Failure) {
	s.mu.Lock()
	s.failure = f
	s.mu.Unlock()
}

// Queries returns the queries received so far.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.queries...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	failure := s.failure
	s.mu.Unlock()
	switch failure {
	case CutOff:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	case Overloaded:
		apiError(w, http.StatusServiceUnavailable, "unavailable", "too many queries")
		return
	case Timeout:
		apiError(w, http.StatusServiceUnavailable, "timeout", "query timed out in expression evaluation")
		return
	case HTMLError:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
		return
	}
	if r.URL.Path != "/api/v1/query" {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		apiError(w, http.StatusBadRequest, "bad_data", err.Error())
		return
	}
	at := time.Now()
	if v := r.Form.Get("time"); v != "" {
		t, err := parseTime(v)
		if err != nil {
			apiError(w, http.StatusBadRequest, "bad_data", fmt.Sprintf("invalid parameter \"time\": %v", err))
			return
		}
		at = t
	}
	expr := r.Form.Get("query")
	s.mu.Lock()
	s.queries = append(s.queries, Query{Expr: expr, Time: at})
	s.mu.Unlock()
	if s.answerScripted(w, expr, at, failure) {
		return
	}
	sel, rng, err := parseRange(expr)
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad_data", err.Error())
		return
	}
	result := s.evalRange(sel, rng, at)
	body := map[string]any{"status": "success", "data": map[string]any{"resultType": "matrix", "result": result}}
	if failure == PartialData {
		body["warnings"] = []string{"remote store unavailable: results may be partial"}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

type matrixSeries struct {
	Metric map[string]string `json:"metric"`
	Values [][2]any          `json:"values"`
}

func (s *Server) evalRange(sel prom.Selector, rng time.Duration, at time.Time) []matrixSeries {
	s.mu.Lock()
	defer s.mu.Unlock()
	hi := at.UnixMilli()
	lo := hi - rng.Milliseconds()
	keys := make([]string, 0, len(s.series))
	for k := range s.series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []matrixSeries{}
	for _, k := range keys {
		ser := s.series[k]
		if !sel.Matches(ser.Labels) {
			continue
		}
		m := matrixSeries{Metric: copyLabels(ser.Labels), Values: [][2]any{}}
		for _, p := range ser.Samples {
			if p.T < lo || p.T > hi || math.Float64bits(p.V) == math.Float64bits(StaleNaN) {
				continue
			}
			m.Values = append(m.Values, [2]any{json.Number(fmt.Sprintf("%d.%03d", p.T/1000, p.T%1000)), strconv.FormatFloat(p.V, 'f', -1, 64)})
		}
		if len(m.Values) > 0 {
			out = append(out, m)
		}
	}
	return out
}

func apiError(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": typ, "error": msg})
}

var rangeSuffix = regexp.MustCompile(`\[\s*([0-9a-z]+)\s*\]\s*$`)

// parseRange splits "sel[d]" into the selector and the range.
func parseRange(expr string) (prom.Selector, time.Duration, error) {
	m := rangeSuffix.FindStringSubmatchIndex(expr)
	if m == nil {
		return prom.Selector{}, 0, fmt.Errorf("promtest models range vector selectors only, not %q", expr)
	}
	d, err := parseDuration(expr[m[2]:m[3]])
	if err != nil {
		return prom.Selector{}, 0, err
	}
	sel, err := prom.ParseSelector(expr[:m[0]])
	if err != nil {
		return prom.Selector{}, 0, fmt.Errorf("1:1: parse error: %v", err)
	}
	return sel, d, nil
}

var durationPart = regexp.MustCompile(`^([0-9]+)(ms|s|m|h|d|w|y)`)

// parseDuration reads Prometheus durations: units ms, s, m, h, d (24h), w
// (7d), y (365d), combined from largest to smallest (1h30m).
func parseDuration(s string) (time.Duration, error) {
	units := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour,
		"d": 24 * time.Hour, "w": 7 * 24 * time.Hour, "y": 365 * 24 * time.Hour}
	var d time.Duration
	rest := s
	for rest != "" {
		m := durationPart.FindStringSubmatch(rest)
		if m == nil {
			return 0, fmt.Errorf("not a valid duration string: %q", s)
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("not a valid duration string: %q", s)
		}
		d += time.Duration(n) * units[m[2]]
		rest = rest[len(m[0]):]
	}
	if d <= 0 {
		return 0, fmt.Errorf("not a valid duration string: %q", s)
	}
	return d, nil
}

func parseTime(v string) (time.Time, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1000))*int64(time.Millisecond)), nil
	}
	return time.Parse(time.RFC3339Nano, v)
}

func copyLabels(l map[string]string) map[string]string {
	out := make(map[string]string, len(l))
	for k, v := range l {
		out[k] = v
	}
	return out
}

func sortedLabels(l map[string]string) []string {
	out := make([]string, 0, len(l))
	for k, v := range l {
		out = append(out, k+"="+strconv.Quote(v))
	}
	sort.Strings(out)
	return out
}

// Labels is a shorthand for a series' labels: metric name, then pairs.
func Labels(metric string, kv ...string) map[string]string {
	if len(kv)%2 != 0 {
		panic("promtest.Labels: odd number of label arguments")
	}
	l := map[string]string{"__name__": metric}
	for i := 0; i < len(kv); i += 2 {
		l[kv[i]] = strings.TrimSpace(kv[i+1])
	}
	return l
}
