package release

import (
	"fmt"
	"slices"
)

// Phase is where a release stands. Each phase names the last action that
// was committed; the release leaves it only once that commit has converged
// in the cluster (or an abort preempts it).
type Phase string

// The phases, in the order a release normally goes through them.
const (
	// Preparing: the new version's workload and subset are committed; no traffic.
	Preparing Phase = "Preparing"
	// Routing: the route to the new subset is committed at weight 0.
	Routing Phase = "Routing"
	// Progressing: a setWeight (from a step or by hand) is committed.
	Progressing Phase = "Progressing"
	// Paused: a pause step began; it ends when its time is up or it is
	// approved. An analysis whose verdict is Inconclusive also pauses
	// (status.analysis says so); approve ends it.
	Paused Phase = "Paused"
	// Analyzing: an analysis step began; it ends with a verdict.
	Analyzing Phase = "Analyzing"
	// Promoting: the new version routes 100% and older routes are removed.
	Promoting Phase = "Promoting"
	// Retiring: older versions' subsets and workloads are removed.
	Retiring Phase = "Retiring"
	// Promoted: done; the new version is the stable one.
	Promoted Phase = "Promoted"
	// Abandoning: the stable version routes 100% and the new route is removed.
	Abandoning Phase = "Abandoning"
	// Reverting: everything the release created is removed.
	Reverting Phase = "Reverting"
	// Abandoned: done; the app renders exactly as before the release.
	Abandoned Phase = "Abandoned"
)

// Transitions is the declared table of which phase may follow which. The
// empty phase is a release that has not started. A phase may follow itself
// (a further weight step, a manual set-weight, an approval).
var Transitions = map[Phase][]Phase{
	"":          {Preparing},
	Preparing:   {Routing, Abandoning},
	Routing:     {Progressing, Paused, Analyzing, Promoting, Abandoning},
	Progressing: {Progressing, Paused, Analyzing, Promoting, Abandoning},
	Paused:      {Paused, Progressing, Analyzing, Promoting, Abandoning},
	Analyzing:   {Analyzing, Progressing, Paused, Promoting, Abandoning},
	Promoting:   {Retiring, Abandoning},
	Retiring:    {Promoted},
	Abandoning:  {Reverting},
	Reverting:   {Abandoned},
	Promoted:    nil,
	Abandoned:   nil,
}

// Terminal reports whether the release is over.
func (p Phase) Terminal() bool { return p == Promoted || p == Abandoned }

// CanAbandon reports whether the transition table lets the release be
// abandoned from this phase: a failure in any other phase has nothing to
// fall back to and stalls instead.
func (p Phase) CanAbandon() bool { return slices.Contains(Transitions[p], Abandoning) }

// Abandoning reports whether the release is on its way out.
func (p Phase) Abandoning() bool { return p == Abandoning || p == Reverting || p == Abandoned }

// CanMoveTo checks the transition table.
func (p Phase) CanMoveTo(next Phase) error {
	if slices.Contains(Transitions[p], next) {
		return nil
	}
	from := string(p)
	if from == "" {
		from = "not started"
	}
	return fmt.Errorf("a release cannot go from %s to %s", from, next)
}
