package machine

import (
	"fmt"
	"time"

	"github.com/gitcanary/gitcanary/pkg/release"
)

// approvalPoll is how often a release paused until approved looks for the approval.
const approvalPoll = 2 * time.Second

// onStepDone: the route (Routing) or a weight (Progressing) converged; run the next step.
func onStepDone(v view) decision {
	return commitTo("next step", advance)
}

// onPaused ends a pause when it is approved or its time is up.
func onPaused(v view) decision {
	st := v.rec.Status
	step := v.rec.Spec.Steps[st.Step]
	switch {
	case st.Approved:
		return commitTo("pause approved", advance)
	case step.Pause == nil || step.Pause.Duration == nil:
		// An indefinite pause, or an analysis that was Inconclusive.
		d := wait(approvalPoll, "paused at step %d until approved (`gitcanary approve %s`)", st.Step, v.rec.Metadata.Name)
		d.awaiting = true
		return d
	}
	left := st.PausedAt.Add(step.Pause.Duration.Duration).Sub(v.now)
	if left > 0 {
		return wait(left, "paused at step %d for another %s", st.Step, left.Round(time.Second))
	}
	return commitTo("pause over", advance)
}

// inSteps reports whether p is a phase of the steps (a weight, a pause, an
// analysis): where rollback webhooks are polled and the background
// analysis is read.
func inSteps(p release.Phase) bool {
	return p == release.Progressing || p == release.Paused || p == release.Analyzing
}

// advance commits the next step of spec.steps, or the promotion after the last.
func advance(d *draft) error {
	st := d.rec.Status
	i := st.Step + 1
	st.Approved = false
	st.PausedAt = time.Time{}
	if i >= len(d.rec.Spec.Steps) {
		return promoteRoutes("all steps done")(d)
	}
	st.Step = i
	switch step := d.rec.Spec.Steps[i]; {
	case step.SetWeight != nil:
		if err := d.state.SetWeight(d.rec.Spec.Version, *step.SetWeight); err != nil {
			return err
		}
		d.phase, d.action = release.Progressing, fmt.Sprintf("step/%d/weight/%d", i, *step.SetWeight)
		d.message = fmt.Sprintf("step %d: %s gets %d%%", i, d.rec.Spec.Version, *step.SetWeight)
	case step.Pause != nil:
		st.PausedAt = d.now
		d.phase, d.action = release.Paused, fmt.Sprintf("step/%d/pause", i)
		d.message = fmt.Sprintf("step %d: %s", i, step.Describe())
	case step.Analysis != nil:
		if err := startAnalysis(d, i); err != nil {
			return err
		}
	default:
		return fmt.Errorf("step %d: %s cannot be run", i, step.Describe())
	}
	return startBackground(d, i)
}

// setWeight is the manual set-weight: the step cursor stays where it is and
// a pause stays paused.
func setWeight(w int32) mutation {
	return func(d *draft) error {
		st := d.rec.Status
		if err := refuseUnless(st.Phase, "set-weight", release.Routing, release.Progressing, release.Paused, release.Analyzing); err != nil {
			return err
		}
		if err := d.state.SetWeight(d.rec.Spec.Version, w); err != nil {
			return err
		}
		// A pause stays paused; an analysis goes on at the new weight
		// (the judge compares the versions within each look).
		d.phase = release.Progressing
		if st.Phase == release.Paused || st.Phase == release.Analyzing {
			d.phase = st.Phase
		}
		d.action = fmt.Sprintf("set-weight/%d", w)
		d.message = fmt.Sprintf("%s set to %d%% by hand", d.rec.Spec.Version, w)
		return nil
	}
}

// approve ends an indefinite (or timed) pause.
func approve(d *draft) error {
	st := d.rec.Status
	if err := refuseUnless(st.Phase, "approve", release.Paused); err != nil {
		return err
	}
	st.Approved = true
	d.phase, d.action = release.Paused, fmt.Sprintf("approve/step/%d", st.Step)
	d.message = fmt.Sprintf("pause at step %d approved", st.Step)
	return nil
}

func refuseUnless(p release.Phase, cmd string, allowed ...release.Phase) error {
	for _, a := range allowed {
		if p == a {
			return nil
		}
	}
	return fmt.Errorf("%s is not possible while the release is %s (allowed in %v): %w", cmd, p, allowed, ErrRefused)
}
