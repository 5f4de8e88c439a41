package machine

import (
	"fmt"
	"time"

	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/pkg/schedule"
)

// The schedule (spec.schedule, docs/schedules.md) holds the commits that
// move a release forward: a step, the first included, and the promotion
// that follows the last. Outside a window such a commit is not made: the
// release waits in its phase, saying when the next window opens, and is
// looked at again then (the controller requeues at that time, the CLI
// idles on ref checks). Nothing on the way back is ever held: an abort,
// an analysis or webhook failure, a sync failure past the deadline. The
// start and the preparation (the new version's workload, at 0% of the
// traffic) are not held either, so that the release shows in git and in
// `status` while it waits. A person's promote or set-weight is refused
// outside a window unless it says --ignore-window, which the commit
// records; an approval is recorded at once and the step it lets through
// waits for the window.

// TrailerWindow records a command a person made outside the release's
// windows with --ignore-window: the state of the schedule it ignored.
const TrailerWindow = "Gitcanary-Window"

// ErrWindowClosed is wrapped by the refusal of a command made outside the
// release's windows.
var ErrWindowClosed = fmt.Errorf("outside the release's windows: %w", ErrRefused)

// WindowState is the state of rec's schedule at now, and its time zone;
// a release without a schedule is always open.
func WindowState(rec *release.Release, now time.Time) (schedule.State, *time.Location, error) {
	s, err := rec.Spec.Schedule.Compile()
	if err != nil {
		return schedule.State{Open: true}, time.UTC, err
	}
	return s.At(now, started(rec, now)), s.Location, nil
}

// started is when the release was started: its first commit.
func started(rec *release.Release, now time.Time) time.Time {
	if rec.Status != nil && len(rec.Status.History) > 0 {
		return rec.Status.History[0].Time
	}
	return now
}

// describeWindow says why a schedule is closed and when it opens.
func describeWindow(st schedule.State, loc *time.Location) string {
	if st.Until.IsZero() {
		return fmt.Sprintf("the schedule is closed (%s) and no window opens within two years", st.Reason)
	}
	return fmt.Sprintf("the schedule is closed (%s) until %s", st.Reason, st.Until.In(loc).Format(time.RFC3339))
}

// forward reports whether a commit with effect eff moves the release
// forward: a later step, or the promotion.
func forward(rec *release.Release, eff effect) bool {
	if eff.phase.Abandoning() || eff.phase.Terminal() {
		return false
	}
	return eff.phase == release.Promoting || eff.step > rec.Status.Step
}

// windowWaitMax bounds a wait for a window that never opens: the release
// is looked at again then (the spec may have changed).
const windowWaitMax = 24 * time.Hour

// windowHold returns the wait of a commit that moves the release forward
// outside its windows, or nil.
func (m *Machine) windowHold(rec *release.Release, app *App, next func() (effect, error)) *Outcome {
	if rec.Spec.Schedule == nil || app.State == nil {
		return nil
	}
	eff, err := next()
	if err != nil || !forward(rec, eff) {
		return nil // the commit itself will fail and say why, or is not held
	}
	now := m.deps.now()
	st, loc, err := WindowState(rec, now)
	if err != nil || st.Open {
		return nil
	}
	wait := windowWaitMax
	if !st.Until.IsZero() {
		wait = min(max(st.Until.Sub(now), time.Second), windowWaitMax)
	}
	return &Outcome{Release: rec, Converged: true, Gated: true, Window: true, Wait: wait,
		Reason: fmt.Sprintf("waiting for the schedule before %s: %s", eff.action, describeWindow(st, loc))}
}

// outsideWindow refuses a person's command that moves the release
// forward outside its windows, or, when ignore is set, records the state
// it ignored in the commit.
func outsideWindow(what string, ignore bool, mut mutation) mutation {
	return func(d *draft) error {
		st, loc, err := WindowState(d.rec, d.now)
		if err != nil || st.Open {
			return mut(d)
		}
		if !ignore {
			return fmt.Errorf("%s: %s; to %s now anyway, add --ignore-window (the commit records it): %w", what, describeWindow(st, loc), what, ErrWindowClosed)
		}
		if err := mut(d); err != nil {
			return err
		}
		d.trailers = append(d.trailers, git.Trailer{Key: TrailerWindow, Value: "ignored: " + describeWindow(st, loc)})
		d.message += "; outside the release's windows (--ignore-window)"
		return nil
	}
}
