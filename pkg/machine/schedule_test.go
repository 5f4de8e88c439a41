package machine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/release"
)

// freezeRelease: 20%, a pause of a minute, 60%, with a deny window from
// 11:00 to 12:10 UTC every day. The world's clock starts at 12:00, so
// the release waits ten minutes of fake time (every wait of the idle loop
// is a ref check against the loopback git server: an hour's wait would
// make the test slow for no further coverage).
func freezeRelease(t *testing.T) *release.Release {
	return testRelease(t, func(r *release.Release) {
		r.Spec.Steps = []release.Step{
			{SetWeight: ptr(int32(20))},
			{Pause: &release.Pause{Duration: &release.Duration{Duration: time.Minute}}},
			{SetWeight: ptr(int32(60))},
		}
		r.Spec.Schedule = &release.Schedule{Deny: []release.ScheduleWindow{{Cron: "0 11 * * *", Duration: &release.Duration{Duration: 70 * time.Minute}}}}
	})
}

// entryTime is when the release's history recorded action.
func entryTime(t *testing.T, rec *release.Release, action string) time.Time {
	t.Helper()
	for _, e := range rec.Status.History {
		if e.Action == action {
			return e.Time
		}
	}
	t.Fatalf("no %s in the history", action)
	return time.Time{}
}

// TestWindowHoldsSteps: started inside a deny window, the release is
// prepared and routed (no traffic moves), its first step waits for the
// window's end, saying so, and the rest follows.
func TestWindowHoldsSteps(t *testing.T) {
	w := newWorld(t)
	m := w.machine(t)
	if _, err := m.Start(context.Background(), freezeRelease(t)); err != nil {
		t.Fatal(err)
	}
	got, held := runHeld(t, m, release.Promoted)
	open := time.Date(2026, 11, 23, 12, 10, 0, 0, time.UTC)
	if at := entryTime(t, got, "route"); !at.Before(open) {
		t.Errorf("route committed at %s: the preparation is not held", at)
	}
	if at := entryTime(t, got, "step/0/weight/20"); at.Before(open) {
		t.Errorf("step 0 committed at %s, inside the deny window", at)
	}
	if len(held) == 0 {
		t.Fatal("no outcome said the schedule held the release")
	}
	want := `waiting for the schedule before step/0/weight/20: the schedule is closed (in the deny window "0 11 * * *" (1h10m0s)) until 2026-11-23T12:10:00Z`
	if held[0].Reason != want || !held[0].Gated || held[0].Wait <= 0 || held[0].Wait > 10*time.Minute {
		t.Errorf("held: %q, wait %s\nwant %q", held[0].Reason, held[0].Wait, want)
	}
	if a := strings.Join(w.Actions(), " "); a != "start route step/0/weight/20 step/1/pause step/2/weight/60 promote retire promoted" {
		t.Errorf("commits %s", a)
	}
}

// runHeld drives the release to its end, which must be phase want, and
// returns it with the outcomes a window held (Outcome.Window).
func runHeld(t *testing.T, m *Machine, want release.Phase) (*release.Release, []Outcome) {
	t.Helper()
	var held []Outcome
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	got, err := m.Run(ctx, untilDone, func(o Outcome) {
		if o.Window {
			held = append(held, o)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != want {
		t.Fatalf("phase %s: %s", got.Status.Phase, got.Status.Message)
	}
	return got, held
}

// TestWindowNeverHoldsTheWayBack: inside the deny window an abort is
// committed and driven to the end at once.
func TestWindowNeverHoldsTheWayBack(t *testing.T) {
	w := newWorld(t)
	m := w.machine(t)
	ctx := context.Background()
	if _, err := m.Start(ctx, freezeRelease(t)); err != nil {
		t.Fatal(err)
	}
	run(t, m, untilPhase(release.Routing, -1))
	if _, err := m.Abort(ctx, "incident"); err != nil {
		t.Fatal(err)
	}
	got := run(t, m, untilDone)
	if got.Status.Phase != release.Abandoned || !w.Clock.Now().Before(time.Date(2026, 11, 23, 12, 10, 0, 0, time.UTC)) {
		t.Fatalf("phase %s at %s", got.Status.Phase, w.Clock.Now())
	}
}

// TestWindowCommandsByHand: promote and set-weight by hand outside a
// window are refused, nothing committed, unless --ignore-window, which
// the commit records.
func TestWindowCommandsByHand(t *testing.T) {
	w := newWorld(t)
	m := w.machine(t)
	ctx := context.Background()
	if _, err := m.Start(ctx, freezeRelease(t)); err != nil {
		t.Fatal(err)
	}
	run(t, m, untilPhase(release.Routing, -1))
	before := strings.Join(w.Actions(), " ")
	for _, cmd := range []func() error{
		func() error { _, err := m.Promote(ctx); return err },
		func() error { _, err := m.SetWeight(ctx, 50); return err },
	} {
		err := cmd()
		if !errors.Is(err, ErrWindowClosed) || !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "until 2026-11-23T12:10:00Z; to") || !strings.Contains(err.Error(), "add --ignore-window") {
			t.Errorf("outside the window: %v", err)
		}
	}
	if after := strings.Join(w.Actions(), " "); after != before {
		t.Fatalf("commits after refusals: %s", after)
	}
	res, err := m.SetWeightWith(ctx, 50, CommandOptions{IgnoreWindow: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Commit.Trailer(TrailerWindow); !strings.HasPrefix(got, `ignored: the schedule is closed (in the deny window "0 11 * * *"`) {
		t.Errorf("trailer %s: %q", TrailerWindow, got)
	}
}
