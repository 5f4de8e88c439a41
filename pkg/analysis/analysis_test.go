package analysis

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/prom"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// stepSource counts one event per second of a window for every version,
// and counts its queries.
type stepSource struct{ queries int }

func (s *stepSource) Count(_ context.Context, sel prom.Selector, _ string, w prom.Window) (map[string]*prom.Count, error) {
	s.queries++
	n := int64(w.End.Sub(w.Start) / time.Second)
	if sel.Has("response_code") {
		n = 0
	}
	return map[string]*prom.Count{"v1": {Events: n, Last: w.End}, "v2": {Events: n, Last: w.End}}, nil
}

func spec(t *testing.T) release.Spec {
	t.Helper()
	m := []release.Metric{{Name: "errors", Compare: &release.Compare{Istio: release.IstioErrors}}}
	step := release.Duration{Duration: time.Minute}
	return release.Spec{
		Version:  "v2",
		Traffic:  release.Traffic{Host: "reviews"},
		Workload: release.Workload{Namespace: "bookinfo"},
		Steps:    []release.Step{{SetWeight: new(int32)}, {Analysis: &release.Analysis{Duration: &step, Interval: &release.Duration{Duration: 30 * time.Second}, Metrics: m}}},
		Analysis: &release.AnalysisDefaults{
			Prometheus: &release.Prometheus{Address: "http://prometheus:9090"},
			Background: &release.Background{StartingStep: 1, Interval: &release.Duration{Duration: 60 * time.Second}, Metrics: m},
		},
	}
}

// TestResolveBackground: the background analysis's record has no
// horizon and its own interval; the step's has its own.
func TestResolveBackground(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	b, err := ResolveBackground(spec(t), 1, "v1", now, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Background || b.Looks != release.BackgroundLooks || b.Interval.Duration != time.Minute || b.Step != 1 || b.Stable != "v1" {
		t.Fatalf("background run = %+v", b)
	}
	if got := b.Metrics[0].Total; got != `istio_requests_total{reporter="destination",destination_service="reviews.bookinfo.svc.cluster.local"}` {
		t.Errorf("total selector %s", got)
	}
	if Title(b) != "background analysis (from step 1)" || FileOf("r", b) != "analysis/r/background.yaml" {
		t.Errorf("title %q, file %q", Title(b), FileOf("r", b))
	}
	s, err := Resolve(spec(t), 1, "v1", now, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Background || s.Looks != 2 || FileOf("r", s) != "analysis/r/step-1.yaml" {
		t.Errorf("step run = %+v", s)
	}
	noProm := spec(t)
	noProm.Analysis.Prometheus = nil
	if _, err := ResolveBackground(noProm, 1, "v1", now, Settings{}); err == nil || !strings.Contains(err.Error(), "the background analysis is an analysis, but no Prometheus is set") {
		t.Errorf("no Prometheus: %v", err)
	}
}

// TestCacheKeepsRunsApart: a step's analysis and the background analysis
// starting in the same commit have looks of their own in the cache; a
// look read once is not read again.
func TestCacheKeepsRunsApart(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	b, _ := ResolveBackground(spec(t), 1, "v1", now, Settings{})
	s, _ := Resolve(spec(t), 1, "v1", now, Settings{})
	src := &stepSource{}
	var c Cache
	ctx := context.Background()
	sl, read, err := c.Measure(ctx, src, "r", s, 1)
	if err != nil || !read {
		t.Fatalf("step look 1: read %v, %v", read, err)
	}
	bl, read, err := c.Measure(ctx, src, "r", b, 1)
	if err != nil || !read {
		t.Fatalf("background look 1: read %v, %v", read, err)
	}
	if sl[0].Canary.Total != 30 || bl[0].Canary.Total != 60 {
		t.Errorf("step look %d requests, background look %d; want 30 and 60", sl[0].Canary.Total, bl[0].Canary.Total)
	}
	if _, read, _ := c.Measure(ctx, src, "r", b, 1); read || src.queries != 4 {
		t.Errorf("the background look was read again: read %v, %d queries", read, src.queries)
	}
}

// gapSource serves a canary scraped every second until stop, then not
// until resume (zero: never again).
type gapSource struct{ stop, resume time.Time }

func (s *gapSource) Count(_ context.Context, sel prom.Selector, _ string, w prom.Window) (map[string]*prom.Count, error) {
	n := int64(w.End.Sub(w.Start) / time.Second)
	last := w.End
	if w.End.After(s.stop) && (s.resume.IsZero() || w.End.Before(s.resume)) {
		last = s.stop
	}
	return map[string]*prom.Count{"v1": {Events: n, Last: w.End}, "v2": {Events: n, Last: last}}, nil
}

// TestMeasureScrapeGap: a canary not scraped near a look's end is
// unavailable while its scrapes stay away, and counted once they are
// back after the look (the gap's events fall in the next look), however
// late the look is read.
func TestMeasureScrapeGap(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	run, err := Resolve(spec(t), 1, "v1", now, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stop := run.LookEnd(1).Add(-run.Lag.Duration - 3*time.Second)
	if _, err := Measure(ctx, &gapSource{stop: stop}, run, 1); !Unavailable(err) || !strings.Contains(err.Error(), "are its scrapes failing?") {
		t.Errorf("scrapes still failing: %v, want unavailable", err)
	}
	for _, resume := range []time.Duration{time.Second, 2 * run.Interval.Duration} {
		looks, err := Measure(ctx, &gapSource{stop: stop, resume: run.LookEnd(1).Add(resume)}, run, 1)
		if err != nil {
			t.Errorf("scraped again %s after the look: %v", resume, err)
			continue
		}
		if looks[0].Canary.Total == 0 {
			t.Errorf("scraped again %s after the look: no canary requests counted", resume)
		}
	}
	if _, err := Measure(ctx, &gapSource{stop: stop, resume: run.LookEnd(1).Add((resumeLooks + 1) * run.Interval.Duration)}, run, 1); !Unavailable(err) {
		t.Errorf("scraped again only after the analysis gives up: %v, want unavailable", err)
	}
}
