package release

import (
	"fmt"
	"slices"
)

// CheckRecord validates a record read back from git before anything acts
// on it. A record is written by gitcanary, but it lives in a repository
// that people and bots edit: a hand edit, a bad merge or a truncated file
// must be an error naming the field, never an index out of range three
// calls later. The spec is checked as Validate does (any workload kind:
// the kind was checked against the configuration that started the
// release), the status against the spec.
func CheckRecord(r *Release) error {
	v := &validator{}
	if err := Validate(r, ValidateOptions{AllowStatus: true, KnownKind: func(string) bool { return true }}); err != nil {
		inv, ok := err.(*InvalidError)
		if !ok {
			return err
		}
		v.errs = append(v.errs, inv.Errors...)
	}
	v.status(r)
	if len(v.errs) == 0 {
		return nil
	}
	return &InvalidError{Errors: v.errs}
}

// phases are the phases a record can be in: every key of Transitions but
// the empty one, which names a release that has no record yet.
func knownPhase(p Phase) bool {
	_, ok := Transitions[p]
	return ok && p != ""
}

func (v *validator) status(r *Release) {
	st := r.Status
	if st == nil {
		v.add("status", "is missing: a record is written by gitcanary with its status; restore the file from the commit that last changed it")
		return
	}
	if !knownPhase(st.Phase) {
		phases := make([]string, 0, len(Transitions))
		for p := range Transitions {
			if p != "" {
				phases = append(phases, string(p))
			}
		}
		slices.Sort(phases)
		v.add("status.phase", "%q is not a phase; one of %v", st.Phase, phases)
	}
	// -1 is before the first step; the last step stays current through promotion.
	if st.Step < -1 || st.Step >= len(r.Spec.Steps) {
		v.add("status.step", "%d is out of range: spec.steps has %d entries (-1 is before the first)", st.Step, len(r.Spec.Steps))
	} else if st.Phase == Paused && (st.Step < 0 || r.Spec.Steps[st.Step].Pause == nil) && !st.Analysis.Inconclusive(st.Step) {
		v.add("status.step", "%d is not a pause step, but the phase is Paused", st.Step)
	} else if st.Phase == Analyzing && (st.Step < 0 || r.Spec.Steps[st.Step].Analysis == nil) {
		v.add("status.step", "%d is not an analysis step, but the phase is Analyzing", st.Step)
	} else if st.Phase == Analyzing && (st.Analysis == nil || st.Analysis.Step != st.Step) {
		v.add("status.analysis", "is missing or of another step, but the phase is Analyzing at step %d", st.Step)
	}
	if b := st.Background; b != nil && !b.Background {
		v.add("status.background.background", "must be true: status.background holds the background analysis")
	}
	if st.Seq < 1 {
		v.add("status.seq", "must be at least 1 (the record's first commit), got %d", st.Seq)
	}
	for i, w := range st.Weights {
		if w.Weight < 0 || w.Weight > 100 {
			v.add(fmt.Sprintf("status.weights[%d].weight", i), "must be between 0 and 100, got %d", w.Weight)
		}
	}
}
