package analysis

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/judge"
	"github.com/gitcanary/gitcanary/pkg/prom"
	"github.com/gitcanary/gitcanary/pkg/release"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func queryRun(looks int, ms ...release.ResolvedMetric) *release.AnalysisRun {
	return &release.AnalysisRun{Step: 1, Start: t0, Interval: release.Duration{Duration: 30 * time.Second}, Looks: looks,
		Lag: release.Duration{Duration: 2 * time.Second}, Alpha: 0.01, Detect: 2, Canary: "v2", Stable: "v1", Metrics: ms}
}

func queryMetric(name, success, failure string, lim release.Limits) release.ResolvedMetric {
	m := release.ResolvedMetric{Name: name}
	m.Query, m.SuccessCondition, m.FailureCondition, m.Limits = "q", success, failure, &lim
	return m
}

// vals makes looks of scalar values; "err" is a look that could not be read.
func vals(vs ...string) []Look {
	var out []Look
	for i, v := range vs {
		l := Look{N: i + 1}
		if v == "err" {
			l.Error = "connection refused"
		} else {
			l.Value = &Reading{Result: &prom.Result{Type: "scalar", Scalar: v}}
		}
		out = append(out, l)
	}
	return out
}

var defaults = release.Limits{Failure: 0, Inconclusive: 0, ConsecutiveError: 4}

// TestAssessLimits: Argo Rollouts' limits over the looks of a query
// metric: more Failed looks than failureLimit fails at the look that
// passes it; Inconclusive and Error looks likewise; a metric passes at
// the horizon only with its last look measured.
func TestAssessLimits(t *testing.T) {
	both := func(l release.Limits) release.ResolvedMetric { return queryMetric("m", "result < 1", "result > 2", l) }
	for _, tt := range []struct {
		name     string
		m        release.ResolvedMetric
		looks    []Look
		horizon  int
		decision judge.Decision
		reason   string
		at       int
	}{
		{"all good", both(defaults), vals("0.5", "0.5", "0.5"), 3, judge.Successful, ReasonMeasured, 3},
		{"not yet at the horizon", both(defaults), vals("0.5", "0.5"), 3, judge.Continue, judge.ReasonObserving, 2},
		{"one failure, limit 0", both(defaults), vals("0.5", "3", "0.5"), 3, judge.Failed, ReasonFailureLimit, 2},
		{"one failure, limit 1", both(release.Limits{Failure: 1, ConsecutiveError: 4}), vals("0.5", "3", "0.5"), 3, judge.Successful, ReasonMeasured, 3},
		{"two failures, limit 1", both(release.Limits{Failure: 1, ConsecutiveError: 4}), vals("3", "0.5", "3"), 3, judge.Failed, ReasonFailureLimit, 3},
		{"failureLimit -1 never fails", both(release.Limits{Failure: -1, ConsecutiveError: 4}), vals("3", "3", "3"), 3, judge.Successful, ReasonMeasured, 3},
		{"neither condition: inconclusive", both(defaults), vals("0.5", "1.5"), 3, judge.Inconclusive, ReasonInconclusiveLimit, 2},
		{"inconclusiveLimit 1", both(release.Limits{Inconclusive: 1, ConsecutiveError: 4}), vals("1.5", "0.5", "0.5"), 3, judge.Successful, ReasonMeasured, 3},
		{"success only: false fails", queryMetric("m", "result < 1", "", defaults), vals("1.5"), 3, judge.Failed, ReasonFailureLimit, 1},
		{"failure only: false passes", queryMetric("m", "", "result > 2", defaults), vals("1.5", "1.5"), 2, judge.Successful, ReasonMeasured, 2},
		{"no conditions pass", queryMetric("m", "", "", defaults), vals("7"), 1, judge.Successful, ReasonMeasured, 1},
		{"four errors in a row are tolerated", both(defaults), vals("err", "err", "err", "err", "0.5"), 5, judge.Successful, ReasonMeasured, 5},
		{"five errors in a row are not", both(defaults), vals("err", "err", "err", "err", "err", "0.5"), 6, judge.Inconclusive, ReasonErrorLimit, 5},
		{"errors apart are tolerated", both(release.Limits{ConsecutiveError: 1}), vals("err", "0.5", "err", "0.5"), 4, judge.Successful, ReasonMeasured, 4},
		{"consecutiveErrorLimit 0", both(release.Limits{ConsecutiveError: 0}), vals("0.5", "err"), 3, judge.Inconclusive, ReasonErrorLimit, 2},
		{"the last look must be measured", both(defaults), vals("0.5", "err"), 2, judge.Inconclusive, ReasonErrorLimit, 2},
		{"an error is never a failure", both(defaults), vals("err", "err", "err", "err", "err"), 5, judge.Inconclusive, ReasonErrorLimit, 5},
		{"a value conditions cannot judge is an error", queryMetric("m", "result[0] < 1", "", release.Limits{ConsecutiveError: 0}), vals("0.5"), 2, judge.Inconclusive, ReasonErrorLimit, 1},
		{"looks past the horizon are not judged", both(defaults), vals("0.5", "3"), 1, judge.Successful, ReasonMeasured, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := assess(tt.m, tt.looks, tt.horizon)
			if a.Decision != tt.decision || a.Reason != tt.reason || a.Look != tt.at {
				t.Errorf("%s %s at look %d (%s); want %s %s at look %d", a.Decision, a.Reason, a.Look, a.Message, tt.decision, tt.reason, tt.at)
			}
		})
	}
}

// TestJudgeCombines: any metric failing fails the analysis at once; a
// dry-run metric never decides; at the horizon an Inconclusive metric
// makes the analysis Inconclusive with its reason.
func TestJudgeCombines(t *testing.T) {
	good := queryMetric("good", "result < 1", "", defaults)
	bad := queryMetric("bad", "result < 1", "", defaults)
	dry := bad
	dry.Name, dry.DryRun = "dry", true
	unsure := queryMetric("unsure", "result < 1", "result > 2", defaults)

	out := Judge("r", queryRun(3, good, bad), [][]Look{vals("0.5"), vals("5")})
	if out.Verdict != release.Failed || out.Look != 1 || !strings.Contains(out.Message, "bad: failed (1) > failureLimit (0) at look 1, value 5") {
		t.Errorf("a failing metric: %s at %d: %s", out.Verdict, out.Look, out.Message)
	}
	out = Judge("r", queryRun(2, good, dry), [][]Look{vals("0.5", "0.5"), vals("5", "5")})
	if out.Verdict != release.Successful || out.Evidence.Metrics[1].Decision() != judge.Failed || !out.Evidence.Metrics[1].DryRun {
		t.Errorf("a dry-run metric: %s: %s", out.Verdict, out.Message)
	}
	out = Judge("r", queryRun(2, good, unsure), [][]Look{vals("0.5"), vals("1.5")})
	if out.Verdict != "" {
		t.Errorf("Inconclusive before the horizon ends nothing: %s", out.Verdict)
	}
	out = Judge("r", queryRun(2, good, unsure), [][]Look{vals("0.5", "0.5"), vals("1.5", "0.5")})
	if out.Verdict != release.Inconclusive || out.Reason != ReasonInconclusiveLimit || !strings.Contains(out.Message, "unsure: inconclusive (1)") {
		t.Errorf("at the horizon: %s %s: %s", out.Verdict, out.Reason, out.Message)
	}
	// One metric behind: the analysis is at its look.
	out = Judge("r", queryRun(3, good, unsure), [][]Look{vals("0.5", "0.5"), vals("0.5")})
	if out.Verdict != "" || out.Look != 1 {
		t.Errorf("lagging metric: %s at %d", out.Verdict, out.Look)
	}
}

// TestEvidenceRoundTripReplay: the evidence of query and web metrics
// (NaN, an empty vector, JSON and text values, an error) is written and
// read back exactly, and replay derives the same verdict from it.
func TestEvidenceRoundTripReplay(t *testing.T) {
	q := queryMetric("ratio", "len(result) == 0 || isNaN(result[0]) || result[0] < 0.05", "", defaults)
	w := release.ResolvedMetric{Name: "smoke"}
	w.Web, w.SuccessCondition, w.Limits = &release.ResolvedWeb{URL: "http://tester/run", Method: "GET", JSONPath: "{$.ok}"}, `result == true || result == "ok"`, &defaults
	run := queryRun(4, q, w)
	looks := [][]Look{
		{
			{N: 1, Value: &Reading{Result: &prom.Result{Type: "vector", Samples: []prom.ResultSample{{Labels: map[string]string{"v": "v2"}, Value: "NaN"}}}}},
			{N: 2, Value: &Reading{Result: &prom.Result{Type: "vector", Samples: []prom.ResultSample{}}}},
			{N: 3, Error: "prometheus unavailable: connection refused"},
			{N: 4, Value: &Reading{Result: &prom.Result{Type: "vector", Samples: []prom.ResultSample{{Value: "0.3"}}}}},
		},
		{{N: 1, Value: &Reading{JSON: "true"}}, {N: 2, Value: &Reading{Text: "ok"}}, {N: 3, Value: &Reading{JSON: "true"}}, {N: 4, Value: &Reading{JSON: "true"}}},
	}
	out := Judge("r", run, looks)
	if out.Verdict != release.Failed || out.Look != 4 {
		t.Fatalf("verdict %s at %d: %s", out.Verdict, out.Look, out.Message)
	}
	committed := *run
	committed.Verdict, committed.Reason, committed.Look = out.Verdict, out.Reason, out.Look
	out.Evidence.Run = &committed
	data, err := out.Evidence.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"value: NaN", "type: vector", "json: \"true\"", "text: ok", "phase: Error", "error: 'prometheus unavailable"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("evidence lacks %q:\n%s", want, data)
		}
	}
	e, err := ParseEvidence(data)
	if err != nil {
		t.Fatal(err)
	}
	again := Replay("r", e)
	if again.Verdict != out.Verdict || again.Look != out.Look || again.Message != out.Message {
		t.Errorf("replay: %s at %d: %s\nwant %s at %d: %s", again.Verdict, again.Look, again.Message, out.Verdict, out.Look, out.Message)
	}
	// Edited values replay to another verdict.
	e.Metrics[0].Looks[3].Value.Samples[0].Value = "0.01"
	if edited := Replay("r", e); edited.Verdict != release.Successful {
		t.Errorf("edited evidence: %s", edited.Verdict)
	}
}

// TestWebClient: the configured headers a metric names, and only those;
// a non-2xx answer or a dead endpoint is Unavailable (read again), a
// header the configuration lacks or a JSONPath without a value is the
// metric's error; text answers are values too.
func TestWebClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			fmt.Fprintf(w, `{"ok": true, "auth": %q, "n": [1, 2.5]}`, r.Header.Get("X-Api-Key"))
		case "/text":
			fmt.Fprint(w, "healthy")
		case "/post":
			fmt.Fprintf(w, `{"method": %q, "type": %q}`, r.Method, r.Header.Get("Content-Type"))
		default:
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	c := &WebClient{Headers: headerFunc(func(u string) http.Header { return http.Header{"X-Api-Key": {"k-123"}} })}
	ctx := context.Background()
	get := func(path, jp string, headers ...string) (*Reading, error) {
		return c.Fetch(ctx, release.ResolvedWeb{URL: srv.URL + path, Method: "GET", JSONPath: jp, Timeout: release.Duration{Duration: 5 * time.Second}, Headers: headers})
	}
	for _, tt := range []struct {
		path, jp string
		headers  []string
		want     string
	}{
		{"/json", "{$.ok}", nil, "true"},
		{"/json", "{$.auth}", []string{"X-Api-Key"}, `"k-123"`},
		{"/json", "{$.auth}", nil, `""`},
		{"/json", "{$.n}", nil, "[1,2.5]"},
		{"/json", "{$}", nil, `{"auth":"","n":[1,2.5],"ok":true}`},
		{"/text", "{$}", nil, `"healthy"`},
	} {
		r, err := get(tt.path, tt.jp, tt.headers...)
		if err != nil || r.String() != tt.want {
			t.Errorf("%s %s: %v %v, want %s", tt.path, tt.jp, r, err, tt.want)
		}
	}
	r, err := c.Fetch(ctx, release.ResolvedWeb{URL: srv.URL + "/post", Method: "POST", Body: `{"v": 2}`, JSONPath: "{$}", Timeout: release.Duration{Duration: 5 * time.Second}})
	if err != nil || r.JSON != `{"method":"POST","type":"application/json"}` {
		t.Errorf("POST: %v %v", r, err)
	}
	if _, err := get("/down", "{$}"); !Unavailable(err) || !strings.Contains(err.Error(), "HTTP 503") {
		t.Errorf("503: %v", err)
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	if _, err := c.Fetch(ctx, release.ResolvedWeb{URL: dead.URL, Method: "GET", JSONPath: "{$}", Timeout: release.Duration{Duration: time.Second}}); !Unavailable(err) {
		t.Errorf("dead endpoint: %v", err)
	}
	if _, err := get("/json", "{$.missing}"); err == nil || Unavailable(err) {
		t.Errorf("JSONPath without a value: %v", err)
	}
	none := &WebClient{}
	if _, err := none.Fetch(ctx, release.ResolvedWeb{URL: srv.URL + "/json", Method: "GET", JSONPath: "{$}", Timeout: release.Duration{Duration: time.Second}, Headers: []string{"X-Api-Key"}}); err == nil || Unavailable(err) || !strings.Contains(err.Error(), "not in gitcanary's configuration") {
		t.Errorf("missing header: %v", err)
	}
}

type headerFunc func(string) http.Header

func (f headerFunc) Header(u string) http.Header { return f(u) }

// TestResolveConditions: placeholders are filled when the analysis
// starts and the limits' defaults recorded; a web metric naming a header
// the configuration lacks is refused.
func TestResolveConditions(t *testing.T) {
	spec := release.Spec{Version: "v2", Workload: release.Workload{Namespace: "bookinfo"}, Traffic: release.Traffic{Host: "reviews"},
		Analysis: &release.AnalysisDefaults{Prometheus: &release.Prometheus{Address: "http://prom:9090"}},
		Steps: []release.Step{{Analysis: &release.Analysis{Duration: &release.Duration{Duration: time.Minute}, Interval: &release.Duration{Duration: 1500 * time.Millisecond}, Metrics: []release.Metric{
			{Name: "q", Query: `x{v="{{canary}}",s="{{stable}}",ns="{{namespace}}",h="{{host}}"}[{{interval}}]`, SuccessCondition: "result[0] < 1", FailureLimit: ptr(2)},
			{Name: "w", Web: &release.Web{URL: "http://tester/{{canary}}", Headers: []string{"Authorization"}}},
		}}}}}
	run, err := Resolve(spec, 0, "v1", t0, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	q, w := run.Metrics[0], run.Metrics[1]
	if q.Query != `x{v="v2",s="v1",ns="bookinfo",h="reviews.bookinfo.svc.cluster.local"}[1500ms]` || *q.Limits != (release.Limits{Failure: 2, Inconclusive: 0, ConsecutiveError: 4}) {
		t.Errorf("query %s limits %+v", q.Query, q.Limits)
	}
	if w.Web.URL != "http://tester/v2" || w.Web.Method != "GET" || w.Web.JSONPath != "{$}" || w.Web.Timeout.Duration != 10*time.Second {
		t.Errorf("web %+v", w.Web)
	}
	_, err = Resolve(spec, 0, "v1", t0, Settings{Headers: headerFunc(func(string) http.Header { return http.Header{} })})
	if !errors.Is(err, release.ErrInvalid) || !strings.Contains(err.Error(), "web.headers names Authorization, but gitcanary's configuration has no value for it for http://tester/v2") {
		t.Errorf("missing header: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
