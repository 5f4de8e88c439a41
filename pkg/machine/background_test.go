package machine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/analysis"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// backgroundRelease: 20% then a pause (indefinite unless pause is set),
// then 60%, with a background analysis of the errors from step 0.
func backgroundRelease(t *testing.T, pause *release.Duration) *release.Release {
	return testRelease(t, func(r *release.Release) {
		r.Spec.Steps = []release.Step{
			{SetWeight: ptr(int32(20))},
			{Pause: &release.Pause{Duration: pause}},
			{SetWeight: ptr(int32(60))},
		}
		r.Spec.Analysis = &release.AnalysisDefaults{
			Prometheus: &release.Prometheus{Address: "http://prometheus.test:9090", ScrapeInterval: &release.Duration{Duration: 10 * time.Second}},
			Background: &release.Background{StartingStep: 0, Metrics: []release.Metric{{Name: "errors", Compare: &release.Compare{Istio: release.IstioErrors}}}},
		}
	})
}

// TestBackgroundFailsDuringPause: a canary with ten times the stable
// version's errors, in a pause that waits for an approval, is abandoned
// by the background analysis at its first look: the wait for a person
// does not hold the abort.
func TestBackgroundFailsDuringPause(t *testing.T) {
	w := newWorld(t)
	src := &countSource{rps: map[string]float64{"v1": 800, "v2": 200}, errRate: map[string]float64{"v1": 0.01, "v2": 0.1}}
	m := w.analysisMachine(t, src)
	if _, err := m.Start(context.Background(), backgroundRelease(t, nil)); err != nil {
		t.Fatal(err)
	}
	got := runLong(t, m, untilDone)
	if got.Status.Phase != release.Abandoned || got.Status.Reason != "AnalysisFailed" {
		t.Fatalf("phase %s %s: %s", got.Status.Phase, got.Status.Reason, got.Status.Message)
	}
	if !strings.Contains(got.Status.Message, "background analysis (from step 0) failed at look 1:") {
		t.Errorf("message %q", got.Status.Message)
	}
	want := "start route step/0/weight/20 step/1/pause background/failed revert abandoned"
	if a := strings.Join(w.Actions(), " "); a != want {
		t.Errorf("commits:\n got %s\nwant %s", a, want)
	}
	b := got.Status.Background
	if b == nil || b.Verdict != release.Failed || b.Look != 1 || b.Step != 0 || !b.Background {
		t.Fatalf("status.background = %+v", b)
	}
	e, err := analysis.ParseEvidence(w.Server.ReadFile(t, "apps.git", "apps/reviews/.gitcanary/analysis/reviews-v2/background.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if b.Evidence != "apps/reviews/.gitcanary/analysis/reviews-v2/background.yaml" {
		t.Errorf("evidence file %q", b.Evidence)
	}
	if out := analysis.Replay("reviews-v2", e); out.Verdict != release.Failed || out.Look != 1 {
		t.Errorf("replay: %s at look %d", out.Verdict, out.Look)
	}
	if l := e.Metrics[0].Looks[0]; l.Canary.Total != 6000 || l.Canary.Bad != 600 {
		t.Errorf("look 1 = %+v", l)
	}
}

// TestBackgroundGoodCanary: a canary as good as the stable version goes
// through a timed pause and is promoted; the promotion closes the
// background analysis, which committed nothing of its own.
func TestBackgroundGoodCanary(t *testing.T) {
	w := newWorld(t)
	src := &countSource{rps: map[string]float64{"v1": 800, "v2": 200}, errRate: map[string]float64{"v1": 0.01, "v2": 0.01}}
	m := w.analysisMachine(t, src)
	if _, err := m.Start(context.Background(), backgroundRelease(t, &release.Duration{Duration: 3 * time.Minute})); err != nil {
		t.Fatal(err)
	}
	got := runLong(t, m, untilDone)
	if got.Status.Phase != release.Promoted {
		t.Fatalf("phase %s %s: %s", got.Status.Phase, got.Status.Reason, got.Status.Message)
	}
	want := "start route step/0/weight/20 step/1/pause step/2/weight/60 promote retire promoted"
	if a := strings.Join(w.Actions(), " "); a != want {
		t.Errorf("commits:\n got %s\nwant %s", a, want)
	}
	b := got.Status.Background
	if b == nil || b.Verdict != release.Successful || b.Reason != "ReleasePromoted" || b.Evidence != "" {
		t.Fatalf("status.background = %+v", b)
	}
	// The pause of 3 minutes at one look every 30 s: its looks were read.
	if q := src.queries.Load(); q < 8 {
		t.Errorf("%d queries: the background analysis read fewer than 4 looks in a 3-minute pause", q)
	}
}

// TestBackgroundStartsWithItsStep: a background analysis starting at a
// later step is not running before it, and starts in that step's commit.
func TestBackgroundStartsWithItsStep(t *testing.T) {
	w := newWorld(t)
	src := &countSource{rps: map[string]float64{"v1": 800, "v2": 200}, errRate: map[string]float64{"v1": 0.01, "v2": 0.01}}
	m := w.analysisMachine(t, src)
	r := backgroundRelease(t, nil)
	r.Spec.Analysis.Background.StartingStep = 2
	if _, err := m.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	got := runLong(t, m, untilPhase(release.Paused, 1))
	if got.Status.Background != nil || src.queries.Load() != 0 {
		t.Fatalf("background before its step: %+v, %d queries", got.Status.Background, src.queries.Load())
	}
	if _, err := m.Approve(context.Background()); err != nil {
		t.Fatal(err)
	}
	got = runLong(t, m, untilDone)
	if b := got.Status.Background; b == nil || b.Step != 2 || b.Verdict != release.Successful {
		t.Fatalf("status.background = %+v", b)
	}
}
