package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/e2e/trafficsim"
	"github.com/gitcanary/gitcanary/pkg/analysis"
	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/fault"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// TestAnalysisBackgroundFailsDuringPause: a background analysis that
// starts with an indefinite pause catches a canary with five times the
// stable version's errors while the release waits for an approval: the
// abort is committed at once (exit code 3), with the evidence in
// background.yaml, and the cluster is as before the release.
func TestAnalysisBackgroundFailsDuringPause(t *testing.T) {
	t.Parallel()
	steps := "[{setWeight: 50}, {pause: {}}, {setWeight: 100}]"
	bg := ", background: {startingStep: 1, interval: 10s, metrics: [{name: errors, compare: {istio: errors}}]}"
	s := newAnalysisScenarioSpec(t, "analysis-bg", steps, bg, analysisRPS, map[string]trafficsim.Profile{
		"v1": {ErrorRate: 0.05, Latency: 20 * time.Millisecond},
		"v2": {ErrorRate: 0.25, Latency: 20 * time.Millisecond},
	})
	before := s.snapshot()
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=done", "--timeout=6m"); code != cli.ExitAbandoned {
		t.Fatalf("start exited %d, want %d", code, cli.ExitAbandoned)
	}
	rec := s.recordAtHead()
	if rec.Status.Phase != release.Abandoned || rec.Status.Reason != "AnalysisFailed" || !strings.Contains(rec.Status.Message, "background analysis (from step 1) failed at look") {
		t.Fatalf("%s %s: %s", rec.Status.Phase, rec.Status.Reason, rec.Status.Message)
	}
	if got, want := strings.Join(s.actions(), " "), "start route step/0/weight/50 step/1/pause background/failed"; !strings.HasPrefix(got, want) {
		t.Errorf("commits %s; want them to start with %s", got, want)
	}
	data := s.server.Git(t, "apps.git", "show", "main:apps/reviews/.gitcanary/analysis/reviews-v2/background.yaml")
	e, err := analysis.ParseEvidence([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if e.Run.Verdict != release.Failed || !e.Run.Background || e.Metrics[0].Verdict.ThetaHat < 2 {
		t.Errorf("evidence: %s, background %v, θ̂ %v", e.Run.Verdict, e.Run.Background, e.Metrics[0].Verdict.ThetaHat)
	}
	if code, out := s.cli("status", "-f", s.file); code != cli.ExitOK || !strings.Contains(out, "Failed (AnalysisFailed)") {
		t.Errorf("status exited %d:\n%s", code, out)
	}
	if code, out := s.cli("analysis", "replay", "-f", s.file); code != cli.ExitOK || !strings.Contains(out, "background  Failed") {
		t.Errorf("replay exited %d:\n%s", code, out)
	}
	if after := s.snapshot(); after != before {
		t.Errorf("cluster after the abandon differs from before the release:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// lookLine is the log line of a look read (machine.logLook).
var lookLine = regexp.MustCompile(`msg="analysis look read".* look=(\d+) metric=errors canary=(\d+/\d+) stable=(\d+/\d+)`)

// looksLogged returns the counts of the looks a process logged, by look.
func looksLogged(out string) map[string]string {
	got := map[string]string{}
	for _, m := range lookLine.FindAllStringSubmatch(out, -1) {
		got[m[1]] = m[2] + " " + m[3]
	}
	return got
}

// TestAnalysisKilledMidAnalysis: the process driving an analysis is
// SIGKILLed right after it read the second look; another process, with
// a cache of its own (another node), resumes the release: it reads the
// looks again at the timestamps committed with the analysis's start,
// gets the counts the killed process read, and commits the verdict with
// them as evidence.
func TestAnalysisKilledMidAnalysis(t *testing.T) {
	t.Parallel()
	s := newAnalysisScenario(t, "analysis-kill", map[string]trafficsim.Profile{
		"v1": {ErrorRate: 0.05, Latency: 20 * time.Millisecond},
		"v2": {ErrorRate: 0.05, Latency: 20 * time.Millisecond},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	s.procEnv = []string{fault.Env + "=" + fault.AfterLook + ":2"}
	out, err := s.command(ctx, "start", "-f", s.file, "--wait-for=done").CombinedOutput()
	if !killed(err) || !strings.Contains(string(out), "killed at "+fault.AfterLook) {
		t.Fatalf("the first run was not killed after its second look: %v\n%s", err, out)
	}
	first := looksLogged(string(out))
	if len(first) != 2 {
		t.Fatalf("the killed process logged looks %v, want 1 and 2:\n%s", first, out)
	}
	if rec := s.recordAtHead(); rec.Status.Phase != release.Analyzing || rec.Status.Analysis.Verdict != "" {
		t.Fatalf("after the kill: %s, verdict %q", rec.Status.Phase, rec.Status.Analysis.Verdict)
	}
	s.procEnv, s.cache = nil, t.TempDir()
	out, err = s.command(ctx, "start", "-f", s.file, "--wait-for=done").CombinedOutput()
	if err != nil {
		t.Fatalf("the resumed run failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "resuming") {
		t.Errorf("the second start did not say it resumes the release:\n%s", out)
	}
	second := looksLogged(string(out))
	rec := s.recordAtHead()
	if rec.Status.Phase != release.Promoted {
		t.Fatalf("%s %s: %s", rec.Status.Phase, rec.Status.Reason, rec.Status.Message)
	}
	e := s.evidence()
	if e.Run.Verdict != release.Successful || len(e.Metrics[0].Looks) != 4 {
		t.Fatalf("evidence: %s with %d looks", e.Run.Verdict, len(e.Metrics[0].Looks))
	}
	for k, l := range e.Metrics[0].Looks {
		key := itoa(k + 1)
		committed := itoa64(l.Canary.Bad) + "/" + itoa64(l.Canary.Total) + " " + itoa64(l.Stable.Bad) + "/" + itoa64(l.Stable.Total)
		if second[key] != committed {
			t.Errorf("look %s: the resumed process read %q, its evidence holds %q", key, second[key], committed)
		}
		if k < 2 && first[key] != committed {
			t.Errorf("look %s: the killed process read %q, the evidence committed after the resume holds %q", key, first[key], committed)
		}
	}
	if got := strings.Join(s.actions(), " "); strings.Count(got, "step/1/analysis") != 1 {
		t.Errorf("the analysis was started more than once: %s", got)
	}
}

func itoa64(n int64) string { return itoa(int(n)) }
