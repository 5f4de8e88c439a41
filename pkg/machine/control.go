package machine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// errNoControl: spec.control asks for nothing the release can do now.
var errNoControl = errors.New("nothing to act on")

// Control acts on spec.control: the first request gitcanary has not acted
// on that the release's phase allows, as one commit that also records it
// in status.control. Requests wait for a phase that allows them (an
// approval given early ends the next pause; a weight asked while
// preparing is routed once the route exists) and are dropped when the
// release has ended. Approvals end pauses that wait for one (`pause: {}`);
// a timed pause runs its course. acted is false when there was nothing to do.
func (m *Machine) Control(ctx context.Context, want *release.Control) (res git.Result, acted bool, err error) {
	if want == nil {
		return git.Result{}, false, nil
	}
	res, err = m.commitNow(ctx, func(d *draft) error {
		mut, handled := pendingControl(d.rec, *want, d.now)
		if mut == nil {
			return errNoControl
		}
		if err := mut(d); err != nil {
			return err
		}
		d.rec.Status.Control = &handled
		return nil
	})
	if errors.Is(err, errNoControl) {
		return git.Result{}, false, nil
	}
	return res, err == nil, err
}

// ControlPending reports whether Control would act on want for the release
// as rec records it, so a caller that has just loaded the record can skip
// Control's fetch and edit when there is nothing to do.
func ControlPending(rec *release.Release, want *release.Control, now time.Time) bool {
	if want == nil || rec.Status == nil {
		return false
	}
	mut, _ := pendingControl(rec, *want, now)
	return mut != nil
}

// pendingControl returns the mutation for the first request of want not
// yet acted on that rec's phase allows, and status.control after it; nil
// when there is none.
func pendingControl(rec *release.Release, want release.Control, now time.Time) (mutation, release.Control) {
	st := rec.Status
	// A promote or a weight asked through spec.control waits for the
	// release's windows, as the steps do (the CLI's --ignore-window has
	// no counterpart here).
	open := func() bool { st, _, err := WindowState(rec, now); return err != nil || st.Open }
	var done release.Control
	if st.Control != nil {
		done = *st.Control
	}
	in := func(ps ...release.Phase) bool {
		for _, p := range ps {
			if st.Phase == p {
				return true
			}
		}
		return false
	}
	switch {
	case want.Abort && !done.Abort && in(release.Preparing, release.Routing, release.Progressing, release.Paused, release.Analyzing, release.Promoting):
		done.Abort = true
		return abandon("Aborted", "aborted through spec.control.abort"), done
	case want.Promote && !done.Promote && in(release.Routing, release.Progressing, release.Paused, release.Analyzing) && open():
		done.Promote = true
		return promoteRoutes("promoted through spec.control.promote"), done
	case want.Weight != nil && (done.Weight == nil || *done.Weight != *want.Weight) && in(release.Routing, release.Progressing, release.Paused, release.Analyzing) && open():
		w := *want.Weight
		done.Weight = &w
		return setWeight(w), done
	case want.Approvals > done.Approvals && awaitsApproval(rec):
		done.Approvals++
		return func(d *draft) error {
			if err := approve(d); err != nil {
				return err
			}
			d.message = fmt.Sprintf("%s (approval %d of spec.control)", d.message, done.Approvals)
			return nil
		}, done
	}
	return nil, done
}

// awaitsApproval reports whether the release is in a pause without a
// duration, or paused by an Inconclusive analysis.
func awaitsApproval(rec *release.Release) bool {
	st := rec.Status
	if st.Phase != release.Paused || st.Step < 0 || st.Step >= len(rec.Spec.Steps) {
		return false
	}
	p := rec.Spec.Steps[st.Step].Pause
	return (p != nil && p.Duration == nil) || st.Analysis.Inconclusive(st.Step)
}
