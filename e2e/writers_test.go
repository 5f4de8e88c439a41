package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/controller"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

// Releases in a repository gitcanary does not write alone (issue 10): a
// bot commits to another app every 2–3 s, a person edits a file of the
// released app. Each release must end as asked, with every converged phase
// checked against Argo CD and the cluster, and nobody's commit lost.

// writerDeadline is short enough that a release stuck on another writer's
// commit is abandoned (and the scenario fails) within minutes, and long
// enough for any honest step on a busy 2-core machine.
const writerDeadline = "3m"

// TestBotDuringPromote: a release driven to Promoted while a bot pushes to
// apps/other every 2–3 s.
func TestBotDuringPromote(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "bot-promote", templates.ReleaseParams{
		Steps:            "[{setWeight: 10}, {pause: {duration: 10s}}, {setWeight: 50}, {pause: {duration: 5s}}, {setWeight: 100}]",
		ProgressDeadline: writerDeadline,
	}, withMonorepo(), withEndpointChecks())
	b := s.startBot()
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	r := s.drive(s.machine(), done)
	b.stopAtLeast(3)
	if r.Status.Phase != release.Promoted {
		t.Fatalf("phase %s: %s %s", r.Status.Phase, r.Status.Reason, r.Status.Message)
	}
	s.checkNotAbandoned()
	if s.exists("reviews-v1") || !s.exists("reviews-v2") {
		t.Errorf("after promote: reviews-v1 exists=%v, reviews-v2 exists=%v", s.exists("reviews-v1"), s.exists("reviews-v2"))
	}
	if got := s.routes(context.Background()); got != "v2=100" {
		t.Errorf("cluster routes %s", got)
	}
	s.checkBotCommitsKept(b)
}

// TestBotDuringAbort: a release aborted in its pause while a bot pushes:
// it is Abandoned for the reason given, and the cluster is as before.
func TestBotDuringAbort(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "bot-abort", templates.ReleaseParams{
		Steps:            "[{setWeight: 10}, {setWeight: 50}, {pause: {}}, {setWeight: 100}]",
		ProgressDeadline: writerDeadline,
	}, withMonorepo(), withEndpointChecks())
	before := s.snapshot()
	b := s.startBot()
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	r := s.drive(s.machine(), awaiting)
	if got := release.FormatWeights(r.Status.Weights); r.Status.Phase != release.Paused || got != "v1=50,v2=50" {
		t.Fatalf("waiting at %s %s (%s %s), want Paused v1=50,v2=50", r.Status.Phase, got, r.Status.Reason, r.Status.Message)
	}
	time.Sleep(6 * time.Second) // the bot commits while the release waits
	if code, _ := s.cli("abort", "-f", s.file, "--reason", "latency regression", "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("abort exited %d", code)
	}
	r = s.drive(s.machine(), done)
	b.stopAtLeast(3)
	if r.Status.Phase != release.Abandoned || r.Status.Reason != "Aborted" || r.Status.Message != "latency regression" {
		t.Errorf("record %s %s %q, want Abandoned Aborted \"latency regression\"", r.Status.Phase, r.Status.Reason, r.Status.Message)
	}
	if after := s.snapshot(); after != before {
		t.Errorf("cluster after abandon differs from before the release:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	s.checkBotCommitsKept(b)
}

// TestBotDuringControllerRelease: `gitcanary run` drives a Release resource
// into its pause, waits there while the bot pushes, and promotes it once
// approved.
func TestBotDuringControllerRelease(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "bot-ctrl", templates.ReleaseParams{Steps: pauseSteps, ProgressDeadline: writerDeadline}, withMonorepo())
	installReleaseCRD(t, s.env)
	dyn := s.dynamic()
	s.startController("a", s.cache)
	b := s.startBot()
	s.env.Kubectl(t, "apply", "-n", s.ns, "-f", s.file)

	s.waitCR(dyn, "the pause at 10%", 3*time.Minute, pausedAt10)
	time.Sleep(8 * time.Second) // the bot commits while the release waits
	if st, err := s.crStatus(dyn); err != nil || !pausedAt10(st) {
		t.Fatalf("after 8 s in the pause the Release is %s %s (%v), conditions %s", st.Phase, release.FormatWeights(st.Weights), err, conditions(st))
	}
	if rec := s.checkHead(); release.FormatWeights(rec.Status.Weights) != "v1=90,v2=10" {
		t.Errorf("paused at %s", release.FormatWeights(rec.Status.Weights))
	}
	s.approveCR()
	s.waitCR(dyn, "Promoted", 3*time.Minute, func(st controller.Status) bool { return promoted(st) || st.Phase == release.Abandoned })
	b.stopAtLeast(3)
	s.checkPromoted()
	s.checkNotAbandoned()
	want := "start route step/0/weight/10 step/1/pause approve/step/1 step/2/weight/60 promote retire promoted"
	if got := strings.Join(s.actions(), " "); got != want {
		t.Errorf("commits %s, want %s", got, want)
	}
	s.checkBotCommitsKept(b)
}

// TestPersonEditsReleasedPath: during the release's pause a person changes
// a ConfigMap value in the released app path and syncs the Application, as
// people do. The edit reaches the cluster and stays there through the rest
// of the release: no sync of gitcanary's rolls it back.
func TestPersonEditsReleasedPath(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "person", templates.ReleaseParams{
		Steps:            "[{setWeight: 10}, {pause: {}}, {setWeight: 50}, {setWeight: 100}]",
		ProgressDeadline: writerDeadline,
	}, withMonorepo(), withEndpointChecks())
	ctx := context.Background()
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	if r := s.drive(s.machine(), awaiting); r.Status.Phase != release.Paused {
		t.Fatalf("waiting at %s (%s %s), want Paused", r.Status.Phase, r.Status.Reason, r.Status.Message)
	}

	edit, _, err := s.newWriter("person").commit(ctx, s.path+"/settings.yaml", setValue("greeting", "bonjour"), "reviews: greet in French")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.argo.Sync(ctx, s.ns, "", false); err != nil { // the person syncs the app, as the Argo CD UI does
		t.Fatal(err)
	}
	s.waitConfigValue("reviews-settings", "greeting", "bonjour", time.Minute)
	watch := s.watchConfigValue("reviews-settings", "greeting", "bonjour")
	// A driver looks at the paused release again, as a CI job that resumes
	// it or `gitcanary run` does: its commit is applied, nothing to sync.
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=approval", "--timeout=1m"); code != cli.ExitOK {
		t.Errorf("start again in the pause exited %d, want %d at once", code, cli.ExitOK)
	}
	if seen := watch(); len(seen) > 0 {
		t.Errorf("the person's edit was undone while the release was paused: the cluster's reviews-settings greeting was also %s", strings.Join(seen, ", "))
	}
	watch = s.watchConfigValue("reviews-settings", "greeting", "bonjour")

	if code, _ := s.cli("approve", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("approve exited %d", code)
	}
	r := s.drive(s.machine(), done)
	if r.Status.Phase != release.Promoted {
		t.Fatalf("phase %s: %s %s", r.Status.Phase, r.Status.Reason, r.Status.Message)
	}
	// Once more after the end: a later start of the finished release must not undo it either.
	s.cli("start", "-f", s.file, "--timeout=1m")
	time.Sleep(3 * time.Second)
	if seen := watch(); len(seen) > 0 {
		t.Errorf("the person's edit did not stay: the cluster's reviews-settings greeting was also %s", strings.Join(seen, ", "))
	}
	app, err := s.argo.Get(ctx, s.ns, true)
	if err != nil {
		t.Fatal(err)
	}
	if f := s.argoFacts(app, edit); !f.Contains || f.Phase != "Succeeded" {
		t.Errorf("Argo CD's last operation lacks the person's edit %.8s: %s", edit, f)
	}
}

// checkNotAbandoned asserts that the release's record at the head never
// went into Abandoning.
func (s *scenario) checkNotAbandoned() {
	s.t.Helper()
	rec := s.recordAtHead()
	if rec == nil {
		s.t.Fatalf("no record of %s in %s", s.name(), s.path)
	}
	for _, e := range rec.Status.History {
		if e.Phase == release.Abandoning {
			s.t.Errorf("the release was abandoned by mistake at seq %d: %s %s; commits %v", e.Seq, rec.Status.Reason, rec.Status.Message, s.actions())
		}
	}
}

// checkBotCommitsKept asserts every commit the bot pushed is on the branch
// (nobody forced a push over it) and its last value is the file's.
func (s *scenario) checkBotCommitsKept(b *bot) {
	s.t.Helper()
	n := len(strings.Fields(s.server.Git(s.t, "apps.git", "log", "--format=%ae", "--author=bot@localhost", "main", "--", otherConfigMap)))
	b.mu.Lock()
	pushed := b.pushes
	b.mu.Unlock()
	if n != pushed {
		s.t.Errorf("the branch has %d of the bot's commits, it pushed %d", n, pushed)
	}
	if want := fmt.Sprintf("counter: %q", fmt.Sprint(pushed)); !strings.Contains(string(s.server.ReadFile(s.t, "apps.git", otherConfigMap)), want) {
		s.t.Errorf("%s at the head lacks %s", otherConfigMap, want)
	}
}

var configMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// configValue reads data[key] of ConfigMap name in the scenario's namespace.
func (s *scenario) configValue(ctx context.Context, name, key string) (string, error) {
	u, err := s.dynamic().Resource(configMapsGVR).Namespace(s.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	v, _, err := unstructured.NestedString(u.Object, "data", key)
	return v, err
}

// waitConfigValue waits until the cluster's ConfigMap has data[key] == want.
func (s *scenario) waitConfigValue(name, key, want string, timeout time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, err := s.configValue(context.Background(), name, key)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("ConfigMap %s has %s=%q (%v) after %s, want %q", name, key, got, err, timeout, want)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// watchConfigValue polls the cluster's ConfigMap every 200 ms until the
// returned function is called, which stops it and returns the other values
// seen, one entry per run of equal samples ("(missing)" when the ConfigMap
// or key was gone), e.g. `"hello" from 11:53:00.4 to 11:53:59.7 (300 samples)`.
func (s *scenario) watchConfigValue(name, key, want string) func() []string {
	ctx, cancel := context.WithCancel(context.Background())
	type run struct {
		value       string
		first, last time.Time
		n           int
	}
	var mu sync.Mutex
	var runs []run
	done := make(chan struct{})
	go func() {
		defer close(done)
		prev := want
		for ctx.Err() == nil {
			got, err := s.configValue(ctx, name, key)
			if ctx.Err() != nil {
				return
			}
			v := fmt.Sprintf("%q", got)
			if err != nil {
				v = "(missing)"
			}
			now := time.Now()
			mu.Lock()
			switch {
			case err == nil && got == want:
			case v == prev && len(runs) > 0:
				runs[len(runs)-1].last, runs[len(runs)-1].n = now, runs[len(runs)-1].n+1
			default:
				runs = append(runs, run{value: v, first: now, last: now, n: 1})
			}
			mu.Unlock()
			prev = v
			time.Sleep(200 * time.Millisecond)
		}
	}()
	stop := func() []string {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, r := range runs {
			out = append(out, fmt.Sprintf("%s from %s to %s (%d samples)", r.value, r.first.Format("15:04:05.0"), r.last.Format("15:04:05.0"), r.n))
		}
		return out
	}
	s.t.Cleanup(func() { stop() })
	return stop
}
