package e2e

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

// setSyncWindows replaces the sync windows of the bed's AppProject
// "default" with one deny window for app that is always active (every
// minute opens it for two hours); none when on is false. It is the only
// test that writes the project's windows, and its window names its own
// Application only, so the scenarios running beside it are not touched.
func (s *scenario) setSyncWindows(app string, on, manualSync bool) {
	s.t.Helper()
	windows := []map[string]any{}
	if on {
		windows = append(windows, map[string]any{"kind": "deny", "schedule": "* * * * *", "duration": "2h", "applications": []string{app}, "manualSync": manualSync})
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"syncWindows": windows}})
	if err != nil {
		s.t.Fatal(err)
	}
	s.env.Kubectl(s.t, "-n", "argocd", "patch", "appproject", "default", "--type", "merge", "-p", string(patch))
	// argocd-server reads projects from an informer: wait until it answers
	// with the new windows, so that what the test drives next meets them.
	deadline := time.Now().Add(time.Minute)
	for {
		w, err := s.argo.SyncWindows(context.Background(), app)
		if err == nil && len(w.Windows) == map[bool]int{true: 1, false: 0}[on] && w.CanSync == (!on || manualSync) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("Argo CD does not show the project's new sync windows after a minute: %+v %v", w, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestArgoCDSyncWindows: the bed's AppProject gets a deny window for the
// release's Application while a bot pushes to the same branch.
//   - Without manualSync, the step after the pause waits, saying which
//     window holds it; gitcanary commits nothing meanwhile (the bot's
//     commits land).
//   - With manualSync (every sync gitcanary asks for is manual), the
//     release goes on to its final pause.
//   - Without manualSync again, an abort is committed at once but Argo CD
//     refuses its sync: the release waits in Abandoning, saying so, and
//     the cluster keeps the canary's weight.
//   - With manualSync, the abort reaches the cluster.
func TestArgoCDSyncWindows(t *testing.T) {
	t.Parallel()
	p := templates.ReleaseParams{Steps: "[{setWeight: 20}, {pause: {duration: 20s}}, {setWeight: 60}, {pause: {}}]", ProgressDeadline: writerDeadline}
	s := newScenario(t, "syncwin", p, withMonorepo())
	app := s.rel.Spec.ArgoCD.Application
	t.Cleanup(func() { s.setSyncWindows(app, false, false) })
	ctx := context.Background()
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	m := s.machine()
	// Stop in the pause before its end: an outcome that committed the next
	// step (the pause over, on a loaded machine) would be past it.
	s.drive(m, func(o machine.Outcome) bool {
		return o.Converged && o.Did == "" && o.Release.Status.Phase == release.Paused
	})
	s.setSyncWindows(app, true, false)
	b := s.startBot()

	var held machine.Outcome
	r := s.drive(m, func(o machine.Outcome) bool { held = o; return o.Window })
	actions := strings.Join(s.actions(), " ")
	want := `waiting for Argo CD's sync windows before step/2/weight/60: Argo CD's deny sync window "* * * * *" for 2h of project default refuses syncs`
	if r.Status.Phase != release.Paused || !strings.HasPrefix(held.Reason, want) {
		t.Errorf("held in %s: %q\nwant %q", r.Status.Phase, held.Reason, want)
	}
	if actions != "start route step/0/weight/20 step/1/pause" {
		t.Errorf("commits %s", actions)
	}
	if got := s.routes(ctx); got != "v1=80,v2=20" {
		t.Errorf("routes %s while held", got)
	}
	// lint --live and doctor say so.
	closed := `now, Argo CD's deny sync window "* * * * *" for 2h of project default refuses syncs`
	if _, out := s.cli("lint", "-f", s.file, "--live"); !strings.Contains(out, "warning: "+closed) {
		t.Errorf("lint --live does not warn of the window")
	}
	if _, out := s.cli("doctor", "-f", s.file); !strings.Contains(out, "[warn] Argo CD sync windows") || !strings.Contains(out, closed) {
		t.Errorf("doctor does not warn of the window")
	}
	if _, out := s.cli("status", "-f", s.file); !regexp.MustCompile(`(?m)^Sync windows: +Argo CD's deny sync window "\* \* \* \* \*" for 2h of project default refuses syncs`).MatchString(out) {
		t.Errorf("status does not show the window:\n%s", out)
	}

	s.setSyncWindows(app, true, true)
	r = s.drive(m, func(o machine.Outcome) bool { return o.Converged && o.Release.Status.Step == 3 })
	if got := s.routes(ctx); got != "v1=40,v2=60" {
		t.Errorf("routes %s with the window's manualSync", got)
	}

	s.setSyncWindows(app, true, false)
	code, out := s.cli("abort", "-f", s.file, "--reason", "incident", "--wait-for=done", "--timeout=20s")
	if code != cli.ExitTimeout || !strings.Contains(out, "Argo CD refuses to sync") || !strings.Contains(out, `deny sync window "* * * * *" for 2h of project default refuses syncs`) {
		t.Errorf("abort inside the window: exit %d, want %d and the output naming the window", code, cli.ExitTimeout)
	}
	if rec := s.recordAtHead(); rec.Status.Phase != release.Abandoning {
		t.Errorf("after the abort: %s", rec.Status.Phase)
	}
	if got := s.routes(ctx); got != "v1=40,v2=60" {
		t.Errorf("routes %s: Argo CD applied the abort inside the window", got)
	}

	s.setSyncWindows(app, true, true)
	r = s.drive(m, done)
	if r.Status.Phase != release.Abandoned {
		t.Fatalf("phase %s: %s %s", r.Status.Phase, r.Status.Reason, r.Status.Message)
	}
	if got := s.routes(ctx); got != "v1=100" {
		t.Errorf("routes %s after the abort", got)
	}
	b.stopAtLeast(1)
	s.checkBotCommitsKept(b)
}
