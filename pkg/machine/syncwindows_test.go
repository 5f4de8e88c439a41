package machine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"

	"github.com/gitcanary/gitcanary/pkg/release"
)

// freeze is an Argo CD deny window from 11:00 to 12:10 UTC every day; the
// world's clock starts at 12:00, so it ends ten minutes in.
func freeze(manualSync bool) v1alpha1.SyncWindow {
	return v1alpha1.SyncWindow{Kind: "deny", Schedule: "0 11 * * *", Duration: "70m", Applications: []string{"*"}, ManualSync: manualSync}
}

var freezeEnds = time.Date(2026, 11, 23, 12, 10, 0, 0, time.UTC)

func stepsRelease(t *testing.T) *release.Release {
	return testRelease(t, func(r *release.Release) {
		r.Spec.Steps = []release.Step{{SetWeight: ptr(int32(20))}, {SetWeight: ptr(int32(60))}}
	})
}

// TestSyncWindowHoldsCommits: while Argo CD's deny window refuses syncs,
// nothing more is committed (git never gets ahead of what Argo CD may
// apply); the release waits saying which window and until when, then
// runs to the end once it opens.
func TestSyncWindowHoldsCommits(t *testing.T) {
	w := newWorld(t)
	// From 12:01 to 12:10: the release's pause of five minutes ends inside.
	w.Argo.SetSyncWindows(v1alpha1.SyncWindow{Kind: "deny", Schedule: "1 12 * * *", Duration: "9m", Applications: []string{"reviews"}})
	m := w.machine(t)
	ctx := context.Background()
	r := testRelease(t, func(r *release.Release) {
		r.Spec.Steps = []release.Step{
			{SetWeight: ptr(int32(20))},
			{Pause: &release.Pause{Duration: &release.Duration{Duration: 5 * time.Minute}}},
			{SetWeight: ptr(int32(60))},
		}
	})
	if _, err := m.Start(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, held := runHeld(t, m, release.Promoted)
	if len(held) == 0 {
		t.Fatal("no outcome said Argo CD's sync windows held the release")
	}
	want := `waiting for Argo CD's sync windows before step/2/weight/60: Argo CD's deny sync window "1 12 * * *" for 9m of project default refuses syncs until 2026-11-23T12:10:00Z`
	if held[0].Reason != want || held[0].Wait <= 0 || held[0].Wait > syncWindowRecheck {
		t.Errorf("held: %q, wait %s\nwant %q", held[0].Reason, held[0].Wait, want)
	}
	if at := entryTime(t, got, "step/1/pause"); !at.Before(time.Date(2026, 11, 23, 12, 1, 0, 0, time.UTC)) {
		t.Errorf("the pause began at %s, not before the window", at)
	}
	if at := entryTime(t, got, "step/2/weight/60"); at.Before(freezeEnds) {
		t.Errorf("step 2 committed at %s, inside the window (it ends at %s)", at, freezeEnds)
	}
	if a := strings.Join(w.Actions(), " "); a != "start route step/0/weight/20 step/1/pause step/2/weight/60 promote retire promoted" {
		t.Errorf("commits %s", a)
	}
}

// TestSyncWindowAbort: an abort inside a deny window is committed at
// once. With manualSync on the window Argo CD applies it at once (every
// sync gitcanary asks for is manual); without, the release waits in
// Abandoning, saying why, and reaches the cluster when the window ends.
func TestSyncWindowAbort(t *testing.T) {
	for _, manualSync := range []bool{true, false} {
		t.Run(map[bool]string{true: "manualSync", false: "no manualSync"}[manualSync], func(t *testing.T) {
			w := newWorld(t)
			m := w.machine(t)
			ctx := context.Background()
			if _, err := m.Start(ctx, stepsRelease(t)); err != nil {
				t.Fatal(err)
			}
			run(t, m, untilPhase(release.Progressing, 0))
			w.Argo.SetSyncWindows(freeze(manualSync))
			if _, err := m.Abort(ctx, "incident"); err != nil {
				t.Fatal(err)
			}
			_, held := runHeld(t, m, release.Abandoned)
			mustRoute(t, w.Cluster, "v1=100")
			if manualSync {
				if len(held) > 0 || !w.Clock.Now().Before(freezeEnds) {
					t.Errorf("held %+v, ended at %s: a manualSync window lets the abort through", held, w.Clock.Now())
				}
				return
			}
			// The abort's sync is refused, or waits behind the step's
			// operation the window holds (it had not finished).
			if len(held) == 0 || !strings.Contains(held[0].Reason, `Argo CD refuses to sync`) && !strings.Contains(held[0].Reason, "holds Argo CD's running operation") ||
				!strings.Contains(held[0].Reason, `refuses syncs until 2026-11-23T12:10:00Z`) {
				t.Errorf("held: %+v", held)
			}
			if w.Clock.Now().Before(freezeEnds) {
				t.Errorf("abandoned at %s, inside the window", w.Clock.Now())
			}
		})
	}
}

// TestSyncWindowStopsTheDeadline: a window that starts between the commit
// and its sync holds the commit for longer than the progress deadline;
// the release waits and, once the window ends, goes on instead of being
// abandoned for the deadline.
func TestSyncWindowStopsTheDeadline(t *testing.T) {
	w := newWorld(t)
	m := w.machine(t)
	ctx := context.Background()
	r := stepsRelease(t)
	r.Spec.ProgressDeadline = &release.Duration{Duration: 2 * time.Minute}
	if _, err := m.Start(ctx, r); err != nil {
		t.Fatal(err)
	}
	run(t, m, untilPhase(release.Progressing, 0))
	var held int
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	got, err := m.Run(ctx, untilDone, func(o Outcome) {
		if o.Did == "commit" && o.Release.Status.Step == 0 && held == 0 {
			// The window starts once step 1 is committed: its sync is refused.
			w.Argo.SetSyncWindows(v1alpha1.SyncWindow{Kind: "deny", Schedule: "* * * * *", Duration: "2m", Applications: []string{"*"}})
			held = -1
		}
		if o.Window {
			held++
			if o.Release.Status.Phase == release.Progressing && held > 2*int(r.Spec.Deadline()/syncWindowRecheck)+2 {
				w.Argo.SetSyncWindows() // removed by a person, after more than the deadline
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != release.Promoted {
		t.Fatalf("phase %s %s: %s", got.Status.Phase, got.Status.Reason, got.Status.Message)
	}
	if held <= 0 {
		t.Fatal("the window never held the sync")
	}
}
