package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/controller"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

// pauseSteps stop at 10% until someone approves.
const pauseSteps = "[{setWeight: 10}, {pause: {}}, {setWeight: 60}]"

// pausedAt10 is the controller's Release resource in the pause at 10%.
func pausedAt10(st controller.Status) bool {
	return st.Phase == release.Paused && conditionTrue(st, controller.ConditionPaused) && st.CanaryWeight == 10
}

func promoted(st controller.Status) bool {
	return st.Phase == release.Promoted && conditionTrue(st, controller.ConditionReady)
}

// approveCR gives the Release resource its first approval, as a person would.
func (s *scenario) approveCR() {
	s.t.Helper()
	s.env.Kubectl(s.t, "patch", "releases.gitcanary.io", "-n", s.ns, "reviews-v2", "--type=merge", "-p", `{"spec":{"control":{"approvals":1}}}`)
}

// checkPromoted asserts the end state of a promoted release in git, Argo CD
// and the cluster.
func (s *scenario) checkPromoted() *release.Release {
	s.t.Helper()
	rec := s.checkHead()
	if rec.Status.Phase != release.Promoted {
		s.t.Errorf("git's record at the head: %s", rec.Status.Phase)
	}
	if got := s.routes(context.Background()); got != "v2=100" {
		s.t.Errorf("cluster routes %s, want v2=100", got)
	}
	if s.exists("reviews-v1") || !s.exists("reviews-v2") {
		s.t.Errorf("after promote: reviews-v1 exists=%v, reviews-v2 exists=%v", s.exists("reviews-v1"), s.exists("reviews-v2"))
	}
	s.checkSeqs()
	return rec
}

// TestControllerResource: `gitcanary run` drives a Release custom resource
// into its pause, where the resource's status mirrors git and git, Argo CD
// and the cluster agree; an approval patched into spec.control takes it to
// Promoted. Events tell the story, metrics and probes answer.
func TestControllerResource(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "ctrl-cr", templates.ReleaseParams{Steps: pauseSteps})
	installReleaseCRD(t, s.env)
	dyn := s.dynamic()
	c := s.startController("a", s.cache)
	s.env.Kubectl(t, "apply", "-n", s.ns, "-f", s.file)

	st := s.waitCR(dyn, "the pause at 10%", crWait, pausedAt10)
	rec := s.checkHead()
	if st.Seq != rec.Status.Seq || release.FormatWeights(st.Weights) != "v1=90,v2=10" || st.Commit != s.head() {
		t.Errorf("Release status seq %d weights %s commit %.8s; git's head %.8s has seq %d weights %s",
			st.Seq, release.FormatWeights(st.Weights), st.Commit, s.head(), rec.Status.Seq, release.FormatWeights(rec.Status.Weights))
	}
	if !conditionTrue(st, controller.ConditionProgressing) || conditionTrue(st, controller.ConditionReady) || conditionTrue(st, controller.ConditionStalled) {
		t.Errorf("conditions in the pause: %s", conditions(st))
	}
	c.checkProbes()
	key := s.ns + "/reviews-v2"
	checkMetrics(t, c.scrape(), map[string]string{
		`gitcanary_releases{phase="Paused"}`:                                  "1",
		fmt.Sprintf(`gitcanary_release_weight{release=%q,version="v1"}`, key): "90",
		fmt.Sprintf(`gitcanary_release_weight{release=%q,version="v2"}`, key): "10",
	})

	s.approveCR()
	st = s.waitCR(dyn, "Promoted", crWait, promoted)
	if conditionTrue(st, controller.ConditionProgressing) || conditionTrue(st, controller.ConditionPaused) || st.CanaryWeight != 100 {
		t.Errorf("promoted Release: weight %d, conditions %s", st.CanaryWeight, conditions(st))
	}
	s.checkPromoted()
	want := "start route step/0/weight/10 step/1/pause approve/step/1 step/2/weight/60 promote retire promoted"
	if got := strings.Join(s.actions(), " "); got != want {
		t.Errorf("commits %s, want %s", got, want)
	}
	checkMetrics(t, c.scrape(), map[string]string{
		`gitcanary_releases{phase="Paused"}`:                                  "0",
		`gitcanary_releases{phase="Promoted"}`:                                "1",
		fmt.Sprintf(`gitcanary_release_weight{release=%q,version="v2"}`, key): "100",
	})

	events := s.env.Kubectl(t, "get", "events", "-n", s.ns, "--field-selector", "involvedObject.kind=Release,involvedObject.name=reviews-v2",
		"-o", "jsonpath={range .items[*]}{.reason}{\"\\n\"}{end}")
	for _, reason := range []string{"Committed", "Synced", "Paused", "Promoted"} {
		if !slices.Contains(strings.Fields(events), reason) {
			t.Errorf("no %s Event for Release reviews-v2; Events: %s", reason, strings.Join(strings.Fields(events), " "))
		}
	}
}

// checkMetrics asserts the scraped series have the wanted values.
func checkMetrics(t *testing.T, got, want map[string]string) {
	t.Helper()
	for series, v := range want {
		if got[series] != v {
			t.Errorf("metric %s = %q, want %s", series, got[series], v)
		}
	}
}

// TestControllerGitFile: a Release file in a watched config repository
// starts a release; a pushed edit adding spec.control.approvals ends its
// pause and it is promoted.
func TestControllerGitFile(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "ctrl-git", templates.ReleaseParams{Steps: pauseSteps})
	doc, err := os.ReadFile(s.file)
	if err != nil {
		t.Fatal(err)
	}
	config := s.server.CreateRepo(t, "config.git", map[string][]byte{"releases/reviews-v2.yaml": doc})
	s.startController("a", s.cache, "--resources=false", "--releases-repo", config)

	s.waitRecord("the pause", 2*time.Minute, func(r *release.Release) bool { return r.Status.Phase == release.Paused })
	if rec := s.checkHead(); release.FormatWeights(rec.Status.Weights) != "v1=90,v2=10" {
		t.Errorf("paused at %s", release.FormatWeights(rec.Status.Weights))
	}
	approved := strings.TrimRight(string(doc), "\n") + "\n  control: {approvals: 1}\n"
	s.server.Push(t, "config.git", map[string][]byte{"releases/reviews-v2.yaml": []byte(approved)}, "approve reviews-v2")

	s.waitRecord("Promoted", 2*time.Minute, func(r *release.Release) bool { return r.Status.Phase == release.Promoted })
	rec := s.checkPromoted()
	if rec.Status.Control == nil || rec.Status.Control.Approvals != 1 {
		t.Errorf("status.control in git %+v, want the approval recorded", rec.Status.Control)
	}
	if !slices.Contains(s.actions(), "approve/step/1") {
		t.Errorf("commits %v lack the approval", s.actions())
	}
}

// TestControllerRestart: the controller is SIGKILLed mid-release, right
// after a push; a new process (same cache, the dead one's Lease left to
// expire) resumes from git and finishes with no duplicate commit.
func TestControllerRestart(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "ctrl-restart", templates.ReleaseParams{})
	installReleaseCRD(t, s.env)
	dyn := s.dynamic()
	first := s.startController("first", s.cache)
	s.env.Kubectl(t, "apply", "-n", s.ns, "-f", s.file)
	// Third push: start, route, step/0; its sync not yet seen through.
	first.waitLog("msg=committed", 3, 2*time.Minute)
	first.stop(syscall.SIGKILL)
	seqs := s.seqs()
	t.Logf("killed after commit seq %s", seqs[len(seqs)-1])

	second := s.startController("second", s.cache)
	s.waitCR(dyn, "Promoted", crWait, promoted)
	s.checkPromoted()
	want := "start route step/0/weight/10 step/1/weight/50 step/2/weight/100 promote retire promoted"
	if got := strings.Join(s.actions(), " "); got != want {
		t.Errorf("commits %s, want %s", got, want)
	}
	if !strings.Contains(second.log(), "msg=committed") {
		t.Errorf("the second process committed nothing")
	}
}

// TestControllerLeaderElection: of two instances only the Lease holder
// drives; the other waits, commits nothing and starts no workers. When the
// leader stops (SIGTERM releases the Lease) the other takes it and
// finishes the release.
func TestControllerLeaderElection(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "ctrl-le", templates.ReleaseParams{Steps: pauseSteps})
	installReleaseCRD(t, s.env)
	dyn := s.dynamic()
	a := s.startController("a", t.TempDir())
	a.waitLog("successfully acquired lease", 1, 30*time.Second)
	idA := s.waitLeaseHolder(dyn, "a to lead", func(h string) bool { return h != "" })
	b := s.startController("b", t.TempDir())
	b.waitLog("attempting to acquire leader lease", 1, 30*time.Second)

	s.env.Kubectl(t, "apply", "-n", s.ns, "-f", s.file)
	s.waitCR(dyn, "the pause at 10%", crWait, pausedAt10)
	s.checkHead()
	if h := s.leaseHolder(dyn); h != idA {
		t.Errorf("Lease held by %q, want the first instance %q", h, idA)
	}
	for _, line := range []string{"successfully acquired lease", "Starting workers", "msg=committed", "sync requested"} {
		if strings.Contains(b.log(), line) {
			t.Errorf("the waiting instance logged %q while the other led", line)
		}
	}
	if !strings.Contains(a.log(), "msg=committed") {
		t.Errorf("the leader logged no commit")
	}
	a.checkProbes()
	b.checkProbes()
	for series := range b.scrape() {
		if strings.HasPrefix(series, "gitcanary_release_weight") {
			t.Errorf("the waiting instance reports %s", series)
		}
	}

	if code := a.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("the leader exited %d after SIGTERM", code)
	}
	began := time.Now()
	s.waitLeaseHolder(dyn, "b to take the Lease", func(h string) bool { return h != "" && h != idA })
	b.waitLog("successfully acquired lease", 1, 30*time.Second)
	t.Logf("b took the Lease %s after a stopped", time.Since(began).Round(100*time.Millisecond))

	s.approveCR()
	s.waitCR(dyn, "Promoted", crWait, promoted)
	s.checkPromoted()
	if !strings.Contains(b.log(), "msg=committed") {
		t.Errorf("the new leader committed nothing")
	}
	checkMetrics(t, b.scrape(), map[string]string{
		`gitcanary_releases{phase="Promoted"}`:                                               "1",
		fmt.Sprintf(`gitcanary_release_weight{release=%q,version="v2"}`, s.ns+"/reviews-v2"): "100",
	})
}
