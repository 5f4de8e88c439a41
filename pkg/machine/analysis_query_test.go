package machine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/analysis"
	"github.com/gitcanary/gitcanary/pkg/prom"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// querySource is countSource that also evaluates instant queries: each
// query's answer is value(q) (a one-element vector), and the times it
// was asked at are kept.
type querySource struct {
	countSource
	value func(q string, at time.Time) (float64, bool)
	mu    sync.Mutex
	asked []time.Time
}

func (s *querySource) Query(ctx context.Context, q string, at time.Time) (*prom.Result, error) {
	if s.down.Load() {
		return nil, fmt.Errorf("%w: connection refused", prom.ErrUnavailable)
	}
	s.mu.Lock()
	s.asked = append(s.asked, at)
	s.mu.Unlock()
	v, ok := s.value(q, at)
	if !ok {
		return &prom.Result{Type: "vector", Samples: []prom.ResultSample{}}, nil
	}
	return &prom.Result{Type: "vector", Samples: []prom.ResultSample{{Labels: map[string]string{"destination_version": "v2"}, Value: fmt.Sprint(v)}}}, nil
}

var _ analysis.Querier = (*querySource)(nil)

const errorRatioFile = `apiVersion: gitcanary.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: error-ratio}
spec:
  args:
    - {name: max}
  metrics:
    - name: error-ratio
      query: 'ratio{version="{{canary}}",against="{{stable}}",window="{{interval}}"}'
      successCondition: 'result[0] <= {{args.max}}'
`

// queryRelease has an analysis step of a compare metric, the template
// error-ratio with max 0.05, and more metrics.
func queryRelease(t *testing.T, more ...release.Metric) *release.Release {
	r := analysisRelease(t)
	a := r.Spec.Steps[1].Analysis
	a.Templates = []release.TemplateRef{{Name: "error-ratio", Args: []release.Arg{{Name: "max", Value: ptr("0.05")}}}}
	a.Metrics = append(a.Metrics, more...)
	return r
}

func (w *world) pushTemplate(t *testing.T) {
	w.Server.Push(t, "apps.git", map[string][]byte{"analysis/error-ratio.yaml": []byte(errorRatioFile)}, "an analysis template")
}

func (w *world) queryMachine(t *testing.T, src analysis.Source, web analysis.Fetcher) *Machine {
	m := w.analysisMachine(t, src)
	m.deps.Analysis.Web = web
	return m
}

// TestAnalysisQueryFails: a template's query metric with {{canary}} and
// an arg, evaluated at each look's recorded end, fails a canary whose
// ratio is over the arg at the first look (failureLimit 0); the release
// is abandoned with the value in the evidence, and the resolved query is
// recorded.
func TestAnalysisQueryFails(t *testing.T) {
	w := newWorld(t)
	w.pushTemplate(t)
	src := &querySource{countSource: countSource{rps: map[string]float64{"v1": 800, "v2": 200}, errRate: map[string]float64{"v1": 0.01, "v2": 0.01}},
		value: func(string, time.Time) (float64, bool) { return 0.2, true }}
	m := w.queryMachine(t, src, nil)
	if _, err := m.Start(context.Background(), queryRelease(t)); err != nil {
		t.Fatal(err)
	}
	got := runLong(t, m, untilDone)
	if got.Status.Phase != release.Abandoned || got.Status.Reason != "AnalysisFailed" {
		t.Fatalf("phase %s %s: %s", got.Status.Phase, got.Status.Reason, got.Status.Message)
	}
	if !strings.Contains(got.Status.Message, "error-ratio: failed (1) > failureLimit (0) at look 1, value [0.2]") {
		t.Errorf("message %q", got.Status.Message)
	}
	e := evidenceAtHead(t, w)
	run := e.Run
	if q := run.Metrics[1]; q.Name != "error-ratio" || q.Query != `ratio{version="v2",against="v1",window="30s"}` || q.Template != "analysis/error-ratio.yaml" || q.Args["max"] != "0.05" ||
		q.SuccessCondition != "result[0] <= 0.05" || q.Limits == nil || q.Limits.ConsecutiveError != 4 {
		t.Errorf("resolved %+v", q)
	}
	me := e.Metrics[1]
	if me.Result == nil || me.Result.Decision != "Failed" || len(me.Looks) != 1 || me.Looks[0].Phase != "Failed" || me.Looks[0].Value.String() != "[0.2]" {
		t.Errorf("evidence of error-ratio: %+v", me)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if len(src.asked) == 0 || !src.asked[0].Equal(run.LookEnd(1)) {
		t.Errorf("queries at %v, want at the look's end %s", src.asked, run.LookEnd(1))
	}
}

// TestAnalysisQueryAndWebSuccessful: a compare metric, a query and a web
// metric (over HTTP on loopback, with a header from the configuration)
// pass; a dry-run web metric that fails is recorded and decides nothing.
func TestAnalysisQueryAndWebSuccessful(t *testing.T) {
	w := newWorld(t)
	w.pushTemplate(t)
	var auth sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		auth.Store(r.URL.Path, r.Header.Get("Authorization"))
		switch r.URL.Path {
		case "/smoke":
			fmt.Fprintf(rw, `{"ok": true, "version": %q}`, r.URL.Query().Get("v"))
		default:
			fmt.Fprint(rw, `{"ok": false}`)
		}
	}))
	t.Cleanup(srv.Close)
	src := &querySource{countSource: countSource{rps: map[string]float64{"v1": 800, "v2": 200}, errRate: map[string]float64{"v1": 0.01, "v2": 0.01}},
		value: func(string, time.Time) (float64, bool) { return 0.01, true }}
	headers := headerMap{srv.URL: http.Header{"Authorization": {"Bearer s3cret"}}}
	m := w.queryMachine(t, src, &analysis.WebClient{Headers: headers})
	m.deps.Analysis.Headers = headers
	r := queryRelease(t,
		release.Metric{Name: "smoke", Web: &release.Web{URL: srv.URL + "/smoke?v={{canary}}", JSONPath: "{$.ok}", Headers: []string{"Authorization"}}, SuccessCondition: "result == true"},
		release.Metric{Name: "flaky", Web: &release.Web{URL: srv.URL + "/flaky"}, SuccessCondition: "result.ok", DryRun: true})
	if _, err := m.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	got := runLong(t, m, untilDone)
	if got.Status.Phase != release.Promoted {
		t.Fatalf("phase %s %s: %s", got.Status.Phase, got.Status.Reason, got.Status.Message)
	}
	e := evidenceAtHead(t, w)
	if e.Run.Verdict != release.Successful || len(e.Metrics) != 4 {
		t.Fatalf("evidence: %s, %d metrics", e.Run.Verdict, len(e.Metrics))
	}
	// The step's metrics, then the template's.
	for i, want := range []string{"Successful", "Successful", "Failed", "Successful"} {
		if d := e.Metrics[i].Decision(); string(d) != want {
			t.Errorf("%s: %s, want %s", e.Metrics[i].Name, d, want)
		}
	}
	if l := e.Metrics[1].Looks; len(l) != 4 || l[0].Value.JSON != "true" || l[3].Phase != "Successful" {
		t.Errorf("smoke looks %+v", l)
	}
	if v, _ := auth.Load("/smoke"); v != "Bearer s3cret" {
		t.Errorf("the configured header was not sent: %q", v)
	}
	if v, _ := auth.Load("/flaky"); v != "" {
		t.Errorf("a header the metric does not name was sent: %q", v)
	}
	data, _ := e.Marshal()
	if strings.Contains(string(data), "s3cret") || strings.Contains(string(w.Server.ReadFile(t, "apps.git", "apps/reviews/.gitcanary/releases/reviews-v2.yaml")), "s3cret") {
		t.Error("a header's value is in git")
	}
}

// TestAnalysisQueryPrometheusDown: Prometheus gone after the first look of
// a query-only analysis is never evidence: the looks it cannot answer
// become Errors once the next is due, and the analysis pauses
// Inconclusive (MetricsUnavailable), not Failed.
func TestAnalysisQueryPrometheusDown(t *testing.T) {
	w := newWorld(t)
	w.pushTemplate(t)
	src := &querySource{value: func(string, time.Time) (float64, bool) { return 0.5, true }}
	r := queryRelease(t)
	r.Spec.Steps[1].Analysis.Metrics = nil // the template's query alone
	m := w.queryMachine(t, src, nil)
	ctx := context.Background()
	if _, err := m.Start(ctx, r); err != nil {
		t.Fatal(err)
	}
	// The ratio is bad, but Prometheus is down from the start.
	src.down.Store(true)
	got := runLong(t, m, untilPhase(release.Paused, 1))
	if got.Status.Reason != "MetricsUnavailable" || !got.Status.Analysis.Inconclusive(1) {
		t.Fatalf("status %s %s: %s", got.Status.Phase, got.Status.Reason, got.Status.Message)
	}
	e := evidenceAtHead(t, w)
	me := e.Metrics[0]
	if me.Result == nil || me.Result.Errors != 4 || !strings.Contains(me.Looks[0].Error, "connection refused") || me.Looks[0].Phase != "Error" {
		t.Errorf("evidence %+v", me)
	}
	if a := strings.Join(w.Actions(), " "); strings.Contains(a, "failed") || strings.Contains(a, "revert") {
		t.Errorf("commits %s", a)
	}
}

// TestAnalysisTemplateRefused: a step naming a template with no file, or
// without its arg, is refused at start, before anything is committed.
func TestAnalysisTemplateRefused(t *testing.T) {
	for _, tt := range []struct {
		name string
		push bool
		args []release.Arg
		want string
	}{
		{"no file", false, []release.Arg{{Name: "max", Value: ptr("1")}}, "no file analysis/error-ratio.yaml"},
		{"no arg", true, nil, `arg "max" of analysis/error-ratio.yaml has no default`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if tt.push {
				w.pushTemplate(t)
			}
			r := queryRelease(t)
			r.Spec.Steps[1].Analysis.Templates[0].Args = tt.args
			_, err := w.queryMachine(t, &querySource{}, nil).Start(context.Background(), r)
			if !errors.Is(err, release.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start: %v", err)
			}
			if a := w.Actions(); len(a) != 0 {
				t.Errorf("commits %v", a)
			}
		})
	}
}

// headerMap is a HeaderSource of exact URL prefixes.
type headerMap map[string]http.Header

func (h headerMap) Header(u string) http.Header {
	for p, hs := range h {
		if strings.HasPrefix(u, p) {
			return hs
		}
	}
	return http.Header{}
}
