package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/e2e/testbed"
	"github.com/gitcanary/gitcanary/e2e/trafficsim"
	"github.com/gitcanary/gitcanary/pkg/analysis"
	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/netfault"
	"github.com/gitcanary/gitcanary/pkg/prom"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

// analysisSteps: half the traffic on the canary, then an analysis of four
// 10-second looks, then all of it.
const analysisSteps = "[{setWeight: 50}, {analysis: {duration: 40s, interval: 10s, metrics: [{name: errors, compare: {istio: errors}}]}}, {setWeight: 100}]"

// analysisRPS is the simulated traffic: enough for 95% power in four
// 10-second looks at 5% errors. (At 1,000 rps, with the simulator inside
// the test binary, its scrapes timed out under make test; it runs as a
// process of its own now, simProcess.)
const analysisRPS = 300

// analysisScenario is a scenario whose service gets simulated traffic by
// the weights the cluster applies (the simulator runs as a process of its
// own), with Istio's metrics scraped every second by the bed's Prometheus
// (or one started for the test), reached through a proxy the test can
// take down.
type analysisScenario struct {
	*scenario
	sim   *simProcess
	proxy *netfault.Proxy
}

func newAnalysisScenario(t *testing.T, name string, profiles map[string]trafficsim.Profile) *analysisScenario {
	t.Helper()
	return newAnalysisScenarioWith(t, name, analysisSteps, analysisRPS, profiles)
}

// newAnalysisScenarioWith is newAnalysisScenario with its own steps and
// request rate.
func newAnalysisScenarioWith(t *testing.T, name, steps string, rps float64, profiles map[string]trafficsim.Profile) *analysisScenario {
	t.Helper()
	return newAnalysisScenarioSpec(t, name, steps, "", rps, profiles)
}

// newAnalysisScenarioSpec is newAnalysisScenarioWith with more fields of
// spec.analysis (", background: {...}").
func newAnalysisScenarioSpec(t *testing.T, name, steps, analysisFields string, rps float64, profiles map[string]trafficsim.Profile) *analysisScenario {
	t.Helper()
	env := testbed.Require(t)
	p := env.Prometheus(t)
	proxy := netfault.New(t, strings.TrimPrefix(p.URL, "http://"))
	s := newScenario(t, name, templates.ReleaseParams{Steps: steps,
		Analysis: fmt.Sprintf("{prometheus: {address: %q, scrapeInterval: 1s}%s}", "http://"+proxy.Addr(), analysisFields)})
	sim := startSimProcess(t, s.env.Kubeconfig, s.ns, rps, 7, profiles)
	p.AddTarget(t, s.ns, sim.addr, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := waitScraped(ctx, func() (bool, time.Time) {
		tg, err := p.Target(sim.addr)
		return err == nil && tg.Health == "up", tg.LastScrape
	})
	if err != nil {
		t.Fatalf("Prometheus does not scrape the simulator: %v; %s", err, p.TargetHealth(sim.addr))
	}
	t.Cleanup(func() {
		if t.Failed() {
			out := sim.output()
			if n := len(out); n > 4000 {
				out = out[n-4000:]
			}
			t.Logf("%s; the traffic simulator's output ends:\n%s", p.TargetHealth(sim.addr), out)
		}
	})
	return &analysisScenario{scenario: s, sim: sim, proxy: proxy}
}

// evidence reads the committed evidence of the analysis step.
func (s *analysisScenario) evidence() *analysis.Evidence {
	s.t.Helper()
	data := s.server.Git(s.t, "apps.git", "show", "main:apps/reviews/.gitcanary/analysis/reviews-v2/step-1.yaml")
	e, err := analysis.ParseEvidence([]byte(data))
	if err != nil {
		s.t.Fatal(err)
	}
	return e
}

// TestAnalysisPromotesAGoodCanary: a canary with the stable version's
// error rate passes its analysis at the horizon and is promoted; the
// verdict's commit holds the counts read from Prometheus, another process
// reading the same looks later gets the same counts, and replaying them
// gives the same verdict.
func TestAnalysisPromotesAGoodCanary(t *testing.T) {
	t.Parallel()
	s := newAnalysisScenario(t, "analysis-good", map[string]trafficsim.Profile{
		"v1": {ErrorRate: 0.05, Latency: 20 * time.Millisecond},
		"v2": {ErrorRate: 0.05, Latency: 20 * time.Millisecond},
	})
	code, out := s.cli("start", "-f", s.file, "--wait-for=done", "--timeout=6m")
	if code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	rec := s.recordAtHead()
	if rec.Status.Phase != release.Promoted {
		t.Fatalf("%s %s: %s", rec.Status.Phase, rec.Status.Reason, rec.Status.Message)
	}
	e := s.evidence()
	if e.Run.Verdict != release.Successful || e.Run.Look != 4 || len(e.Metrics[0].Looks) != 4 {
		t.Fatalf("evidence: %s at look %d", e.Run.Verdict, e.Run.Look)
	}
	var canary int64
	for _, l := range e.Metrics[0].Looks {
		canary += l.Canary.Total
	}
	if canary < 4000 {
		t.Errorf("the canary served %d requests in 40 s at 50%% of %d rps", canary, analysisRPS)
	}
	if !strings.Contains(out, "analysis of step 1 successful after 4 looks") {
		t.Errorf("the output does not give the verdict")
	}
	// Another process, later, reads the same counts at the recorded
	// timestamps: what a resumed release or an auditor would see.
	client, err := prom.New(prom.Options{URL: e.Run.Prometheus, Settle: e.Run.Lag.Duration})
	if err != nil {
		t.Fatal(err)
	}
	for k := 1; k <= e.Run.Looks; k++ {
		again, err := analysis.Measure(context.Background(), client, e.Run, k)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := again[0], e.Metrics[0].Looks[k-1]; got.Canary != want.Canary || got.Stable != want.Stable || !slices.Equal(got.StableSub, want.StableSub) {
			t.Errorf("look %d read again: canary %+v stable %+v; committed canary %+v stable %+v", k, got.Canary, got.Stable, want.Canary, want.Stable)
		}
	}
	if code, out := s.cli("analysis", "replay", "-f", s.file); code != cli.ExitOK || !strings.Contains(out, "Successful  Successful") {
		t.Errorf("replay exited %d:\n%s", code, out)
	}
}

// TestAnalysisAbandonsABadCanary: a canary with twice the stable
// version's error rate is abandoned with reason AnalysisFailed (exit code
// 3), the evidence committed with the abort.
func TestAnalysisAbandonsABadCanary(t *testing.T) {
	t.Parallel()
	s := newAnalysisScenario(t, "analysis-bad", map[string]trafficsim.Profile{
		"v1": {ErrorRate: 0.05, Latency: 20 * time.Millisecond},
		"v2": {ErrorRate: 0.10, Latency: 20 * time.Millisecond},
	})
	before := s.snapshot()
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=done", "--timeout=6m"); code != cli.ExitAbandoned {
		t.Fatalf("start exited %d, want %d", code, cli.ExitAbandoned)
	}
	rec := s.recordAtHead()
	if rec.Status.Phase != release.Abandoned || rec.Status.Reason != "AnalysisFailed" {
		t.Fatalf("%s %s: %s", rec.Status.Phase, rec.Status.Reason, rec.Status.Message)
	}
	e := s.evidence()
	if e.Run.Verdict != release.Failed || e.Metrics[0].Verdict.ThetaHat < 1.5 {
		t.Errorf("evidence: %s, θ̂ %v", e.Run.Verdict, e.Metrics[0].Verdict.ThetaHat)
	}
	if after := s.snapshot(); after != before {
		t.Errorf("cluster after the abandon differs from before the release:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestAnalysisPrometheusDown: Prometheus unreachable from the start of
// the analysis to past its horizon is not evidence against a canary that
// fails: the release pauses Inconclusive (MetricsUnavailable), and an
// approval takes it on.
func TestAnalysisPrometheusDown(t *testing.T) {
	t.Parallel()
	s := newAnalysisScenario(t, "analysis-down", map[string]trafficsim.Profile{
		"v1": {ErrorRate: 0.05},
		"v2": {ErrorRate: 0.5},
	})
	s.proxy.Down()
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=approval", "--timeout=6m"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	rec := s.recordAtHead()
	if rec.Status.Phase != release.Paused || rec.Status.Reason != "MetricsUnavailable" {
		t.Fatalf("%s %s: %s", rec.Status.Phase, rec.Status.Reason, rec.Status.Message)
	}
	if code, out := s.cli("status", "-f", s.file); code != cli.ExitOK || !strings.Contains(out, "Inconclusive at look 0 of 4 (MetricsUnavailable)") {
		t.Errorf("status exited %d:\n%s", code, out)
	}
	if err := s.proxy.Up(); err != nil {
		t.Fatal(err)
	}
	if code, _ := s.cli("approve", "-f", s.file, "--wait-for=done", "--timeout=5m"); code != cli.ExitOK {
		t.Fatalf("approve exited %d", code)
	}
	if rec := s.recordAtHead(); rec.Status.Phase != release.Promoted {
		t.Fatalf("after approval: %s %s", rec.Status.Phase, rec.Status.Message)
	}
}

// TestAnalysisCatchesALatencyRegression: the canary's median latency
// grows from 100 to 150 ms; the share of its requests slower than 250 ms
// (istio: latency, from the histogram's bucket) is several times the
// stable version's, and the release is abandoned.
func TestAnalysisCatchesALatencyRegression(t *testing.T) {
	t.Parallel()
	steps := "[{setWeight: 50}, {analysis: {duration: 40s, interval: 10s, metrics: [{name: errors, compare: {istio: errors}}, {name: latency, compare: {istio: latency, slowerThan: 250ms}}]}}, {setWeight: 100}]"
	s := newAnalysisScenarioWith(t, "analysis-slow", steps, analysisRPS, map[string]trafficsim.Profile{
		"v1": {ErrorRate: 0.01, Latency: 100 * time.Millisecond},
		"v2": {ErrorRate: 0.01, Latency: 150 * time.Millisecond},
	})
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=done", "--timeout=6m"); code != cli.ExitAbandoned {
		t.Fatalf("start exited %d, want %d", code, cli.ExitAbandoned)
	}
	rec := s.recordAtHead()
	if rec.Status.Reason != "AnalysisFailed" || !strings.Contains(rec.Status.Message, "latency: CanaryWorse") {
		t.Fatalf("%s %s: %s", rec.Status.Phase, rec.Status.Reason, rec.Status.Message)
	}
	e := s.evidence()
	if e.Metrics[1].Name != "latency" || e.Metrics[1].Verdict.Decision != "Failed" || e.Metrics[0].Verdict.Decision == "Failed" {
		t.Errorf("evidence: errors %s, latency %s", e.Metrics[0].Verdict.Decision, e.Metrics[1].Verdict.Decision)
	}
}

// TestAnalysisWithoutTraffic: no requests reach the service during the
// analysis: nothing can be concluded, the release pauses Inconclusive
// (NotEnoughTraffic), and approve goes on.
func TestAnalysisWithoutTraffic(t *testing.T) {
	t.Parallel()
	s := newAnalysisScenarioWith(t, "analysis-idle", analysisSteps, 0, nil)
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=approval", "--timeout=5m"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	rec := s.recordAtHead()
	if rec.Status.Phase != release.Paused || rec.Status.Reason != "NotEnoughTraffic" {
		t.Fatalf("%s %s: %s", rec.Status.Phase, rec.Status.Reason, rec.Status.Message)
	}
	if code, _ := s.cli("approve", "-f", s.file, "--wait-for=done", "--timeout=5m"); code != cli.ExitOK {
		t.Fatalf("approve exited %d", code)
	}
	if rec := s.recordAtHead(); rec.Status.Phase != release.Promoted {
		t.Fatalf("after approval: %s %s", rec.Status.Phase, rec.Status.Message)
	}
}
