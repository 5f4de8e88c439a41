package machine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/analysis"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/prom"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// countSource is a Source of deterministic counts: each version serves
// rps requests per second, a share errRate of them 5xx, spread evenly
// over time; down makes it answer as an unreachable Prometheus. It
// counts the queries it answers.
type countSource struct {
	rps, errRate map[string]float64
	down         atomic.Bool
	queries      atomic.Int64
}

func (s *countSource) Count(ctx context.Context, sel prom.Selector, by string, w prom.Window) (map[string]*prom.Count, error) {
	if s.down.Load() {
		return nil, fmt.Errorf("%w: connection refused", prom.ErrUnavailable)
	}
	s.queries.Add(1)
	bad := sel.Has("response_code")
	out := map[string]*prom.Count{}
	for v, rps := range s.rps {
		events := func(d time.Duration) int64 {
			n := rps * d.Seconds()
			if bad {
				n *= s.errRate[v]
			}
			return int64(n)
		}
		c := &prom.Count{Events: events(w.End.Sub(w.Start)), Series: 1, Last: w.End}
		if w.Step > 0 {
			for t := w.Start; t.Before(w.End); t = t.Add(w.Step) {
				c.Steps = append(c.Steps, events(w.Step))
			}
		}
		out[v] = c
	}
	return out, nil
}

func analysisRelease(t *testing.T) *release.Release {
	return testRelease(t, func(r *release.Release) {
		four := release.Duration{Duration: 2 * time.Minute}
		r.Spec.Steps = []release.Step{
			{SetWeight: ptr(int32(20))},
			{Analysis: &release.Analysis{Duration: &four, Metrics: []release.Metric{{Name: "errors", Compare: &release.Compare{Istio: release.IstioErrors}}}}},
			{SetWeight: ptr(int32(60))},
		}
		r.Spec.Analysis = &release.AnalysisDefaults{Prometheus: &release.Prometheus{Address: "http://prometheus.test:9090", ScrapeInterval: &release.Duration{Duration: 10 * time.Second}}}
	})
}

func (w *world) analysisMachine(t *testing.T, src analysis.Source) *Machine {
	t.Helper()
	repo, err := git.Open(context.Background(), git.Options{URL: w.URL, Branch: "main", CacheDir: w.cache})
	if err != nil {
		t.Fatal(err)
	}
	return New(Deps{Repo: repo, Argo: w.Argo, Cluster: w.Cluster, Clock: w.Clock.Now, Sleep: w.Clock.Sleep,
		Metrics: func(*release.AnalysisRun) (analysis.Source, error) { return src, nil }, Looks: &analysis.Cache{}}, "reviews-v2", "apps/reviews")
}

// runLong is run with room for the looks of an analysis on a loaded machine.
func runLong(t *testing.T, m *Machine, until Until) *release.Release {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	r, err := m.Run(ctx, until, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// evidenceAtHead reads the analysis's evidence file and checks that
// replaying its counts gives the committed verdict.
func evidenceAtHead(t *testing.T, w *world) *analysis.Evidence {
	t.Helper()
	e, err := analysis.ParseEvidence(w.Server.ReadFile(t, "apps.git", "apps/reviews/.gitcanary/analysis/reviews-v2/step-1.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if out := analysis.Replay("reviews-v2", e); out.Verdict != e.Run.Verdict || out.Look != e.Run.Look || out.Reason != e.Run.Reason {
		t.Errorf("replay: %s %s at look %d; committed %s %s at look %d", out.Verdict, out.Reason, out.Look, e.Run.Verdict, e.Run.Reason, e.Run.Look)
	}
	return e
}

// TestAnalysisSuccessful: a canary as good as the stable version passes
// its analysis at the horizon; the verdict's commit carries the evidence
// and runs the next step.
func TestAnalysisSuccessful(t *testing.T) {
	w := newWorld(t)
	src := &countSource{rps: map[string]float64{"v1": 800, "v2": 200}, errRate: map[string]float64{"v1": 0.01, "v2": 0.01}}
	m := w.analysisMachine(t, src)
	if _, err := m.Start(context.Background(), analysisRelease(t)); err != nil {
		t.Fatal(err)
	}
	got := runLong(t, m, untilDone)
	if got.Status.Phase != release.Promoted {
		t.Fatalf("phase %s %s: %s", got.Status.Phase, got.Status.Reason, got.Status.Message)
	}
	want := "start route step/0/weight/20 step/1/analysis step/2/weight/60 promote retire promoted"
	if a := strings.Join(w.Actions(), " "); a != want {
		t.Errorf("commits:\n got %s\nwant %s", a, want)
	}
	e := evidenceAtHead(t, w)
	if e.Run.Verdict != release.Successful || e.Run.Look != 4 || len(e.Metrics) != 1 || len(e.Metrics[0].Looks) != 4 {
		t.Fatalf("evidence: verdict %s at look %d, %d metrics", e.Run.Verdict, e.Run.Look, len(e.Metrics))
	}
	l := e.Metrics[0].Looks[0]
	if l.Canary.Total != 6000 || l.Canary.Bad != 60 || l.Stable.Total != 24000 || l.Stable.Bad != 240 || len(l.StableSub) != 3 {
		t.Errorf("look 1 = %+v", l)
	}
	// Each look is read once: two queries per metric and look.
	if q := src.queries.Load(); q != 8 {
		t.Errorf("%d queries for 4 looks of one metric, want 8", q)
	}
}

// TestAnalysisFailed: a canary with ten times the stable version's error
// rate fails at its first look and the release is abandoned.
func TestAnalysisFailed(t *testing.T) {
	w := newWorld(t)
	src := &countSource{rps: map[string]float64{"v1": 800, "v2": 200}, errRate: map[string]float64{"v1": 0.01, "v2": 0.1}}
	m := w.analysisMachine(t, src)
	if _, err := m.Start(context.Background(), analysisRelease(t)); err != nil {
		t.Fatal(err)
	}
	got := runLong(t, m, untilDone)
	if got.Status.Phase != release.Abandoned || got.Status.Reason != "AnalysisFailed" {
		t.Fatalf("phase %s %s: %s", got.Status.Phase, got.Status.Reason, got.Status.Message)
	}
	if !strings.Contains(got.Status.Message, "failed at look 1 of 4") {
		t.Errorf("message %q", got.Status.Message)
	}
	want := "start route step/0/weight/20 step/1/analysis step/1/analysis/failed revert abandoned"
	if a := strings.Join(w.Actions(), " "); a != want {
		t.Errorf("commits:\n got %s\nwant %s", a, want)
	}
	if e := evidenceAtHead(t, w); e.Run.Verdict != release.Failed || e.Metrics[0].Verdict.ThetaHat < 5 {
		t.Errorf("evidence: %s, θ̂ %v", e.Run.Verdict, e.Metrics[0].Verdict.ThetaHat)
	}
}

// TestAnalysisPrometheusDown: Prometheus unreachable through the whole
// analysis is never evidence against the canary: the release waits, then
// pauses Inconclusive, and an approval goes on.
func TestAnalysisPrometheusDown(t *testing.T) {
	w := newWorld(t)
	src := &countSource{rps: map[string]float64{"v1": 800, "v2": 200}, errRate: map[string]float64{"v1": 0.01, "v2": 0.5}}
	src.down.Store(true)
	m := w.analysisMachine(t, src)
	ctx := context.Background()
	if _, err := m.Start(ctx, analysisRelease(t)); err != nil {
		t.Fatal(err)
	}
	got := runLong(t, m, untilPhase(release.Paused, 1))
	if got.Status.Reason != "MetricsUnavailable" || !got.Status.Analysis.Inconclusive(1) {
		t.Fatalf("status %s %s: %s", got.Status.Phase, got.Status.Reason, got.Status.Message)
	}
	if _, err := m.Approve(ctx); err != nil {
		t.Fatal(err)
	}
	if got := runLong(t, m, untilDone); got.Status.Phase != release.Promoted {
		t.Fatalf("after approval: %s %s", got.Status.Phase, got.Status.Message)
	}
	if e := evidenceAtHead(t, w); e.Run.Verdict != release.Inconclusive || !strings.Contains(e.Run.Message, "connection refused") {
		t.Errorf("evidence: %s %q", e.Run.Verdict, e.Run.Message)
	}
}

// TestAnalysisNeedsPrometheus: a release with an analysis step and no
// Prometheus is refused at start, before anything is committed.
func TestAnalysisNeedsPrometheus(t *testing.T) {
	w := newWorld(t)
	m := w.analysisMachine(t, &countSource{})
	r := analysisRelease(t)
	r.Spec.Analysis = nil
	_, err := m.Start(context.Background(), r)
	if !errors.Is(err, release.ErrInvalid) || !strings.Contains(err.Error(), "no Prometheus is set") {
		t.Fatalf("Start: %v", err)
	}
	if a := w.Actions(); len(a) != 0 {
		t.Errorf("commits %v", a)
	}
}
