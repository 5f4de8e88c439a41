package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

// TestScheduleDenyWindowEnds: a release started inside a deny window
// that ends during the test is prepared and routed at once, then waits
// with the branch head still (nothing committed while held), and takes
// its first step once the window is over; it is promoted.
func TestScheduleDenyWindowEnds(t *testing.T) {
	t.Parallel()
	// The window opened this minute (UTC) and lasts until 100 s from now.
	now := time.Now().UTC()
	opened := now.Truncate(time.Minute)
	ends := now.Add(100 * time.Second)
	sched := fmt.Sprintf(`{deny: [{cron: "%d %d * * *", duration: %s}]}`, opened.Minute(), opened.Hour(), ends.Sub(opened).Round(time.Second))
	s := newScenario(t, "sched-deny", templates.ReleaseParams{Steps: "[{setWeight: 50}, {setWeight: 100}]", Schedule: sched})
	code, out := s.cli("start", "-f", s.file, "--wait-for=done", "--timeout=8m")
	if code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	if !strings.Contains(out, "waiting for the schedule before step/0/weight/50: the schedule is closed (in the deny window") {
		t.Errorf("the output does not say what holds the release")
	}
	rec := s.recordAtHead()
	if rec.Status.Phase != release.Promoted {
		t.Fatalf("%s: %s", rec.Status.Phase, rec.Status.Message)
	}
	var route, step time.Time
	for _, e := range rec.Status.History {
		switch e.Action {
		case "route":
			route = e.Time
		case "step/0/weight/50":
			step = e.Time
		}
	}
	windowEnd := opened.Add(ends.Sub(opened).Round(time.Second))
	if !route.Before(windowEnd) || step.Before(windowEnd) {
		t.Errorf("route at %s, step 0 at %s; the window ended at %s", route.Format(time.RFC3339), step.Format(time.RFC3339), windowEnd.Format(time.RFC3339))
	}
}

// TestScheduleAbortInDenyWindow: inside a deny window that never ends
// (every minute opens it for 2h), the release waits before its first step; promote by hand is
// refused (exit 2, nothing committed); an abort is committed and synced
// at once, and the cluster is as before the release.
func TestScheduleAbortInDenyWindow(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "sched-abort", templates.ReleaseParams{Steps: "[{setWeight: 50}, {setWeight: 100}]",
		Schedule: `{deny: [{cron: "* * * * *", duration: 2h}]}`})
	before := s.snapshot()
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=Routing", "--timeout=5m"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	head := s.server.Git(t, "apps.git", "rev-parse", "main")
	code, out := s.cli("promote", "-f", s.file, "--wait-for=none")
	if code != cli.ExitInvalid || !strings.Contains(out, "add --ignore-window") {
		t.Errorf("promote in the deny window exited %d:\n%s", code, out)
	}
	if h := s.server.Git(t, "apps.git", "rev-parse", "main"); h != head {
		t.Fatalf("the refused promote moved the branch")
	}
	if code, out := s.cli("status", "-f", s.file); code != cli.ExitOK || !strings.Contains(out, "closed (in the deny window") {
		t.Errorf("status exited %d:\n%s", code, out)
	}
	// abort exits 0 when the release ends Abandoned: what it asked for.
	if code, _ := s.cli("abort", "-f", s.file, "--wait-for=done", "--timeout=5m"); code != cli.ExitOK {
		t.Fatalf("abort exited %d", code)
	}
	if rec := s.recordAtHead(); rec.Status.Phase != release.Abandoned {
		t.Fatalf("after the abort: %s", rec.Status.Phase)
	}
	if after := s.snapshot(); after != before {
		t.Errorf("cluster after the abort differs from before the release:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
