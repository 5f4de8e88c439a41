package release

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Status is what gitcanary has done so far. It is committed with every
// change, so any process can resume a release from git alone.
type Status struct {
	Phase Phase `json:"phase"`
	// Step is the index in spec.steps of the step in progress.
	Step int `json:"step"`
	// Seq counts the commits made for this release; the next one is Seq+1.
	Seq int `json:"seq"`
	// Action is the Gitcanary-Action trailer of the last commit.
	Action string `json:"action"`
	// Weights are the traffic weights the last commit routes, by version.
	Weights []Weight `json:"weights,omitempty"`
	// PausedAt is when the current pause step began.
	PausedAt time.Time `json:"pausedAt,omitzero"`
	// Approved is set when the current pause has been approved.
	Approved bool `json:"approved,omitempty"`
	// StableVersion is the version the release moves traffic away from.
	StableVersion string `json:"stableVersion,omitempty"`
	// Reason and Message explain the last phase change (e.g. why it was abandoned).
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Control is what of spec.control gitcanary has acted on.
	Control *Control `json:"control,omitempty"`
	// Analysis is the analysis of the current or last analysis step.
	Analysis *AnalysisRun `json:"analysis,omitempty"`
	// Background is the background analysis (spec.analysis.background)
	// once the release has reached its starting step.
	Background *AnalysisRun `json:"background,omitempty"`
	History    []Entry      `json:"history,omitempty"`
}

// Weight is the share of traffic one version receives.
type Weight struct {
	Version string `json:"version"`
	Weight  int32  `json:"weight"`
}

// Entry is one commit of the release, as recorded in its own history.
type Entry struct {
	Seq     int       `json:"seq"`
	Action  string    `json:"action"`
	Phase   Phase     `json:"phase"`
	Weights string    `json:"weights,omitempty"`
	Time    time.Time `json:"time"`
	Message string    `json:"message,omitempty"`
}

// FormatWeights renders weights as "v1=90,v2=10" in the given order.
func FormatWeights(ws []Weight) string {
	parts := make([]string, 0, len(ws))
	for _, w := range ws {
		parts = append(parts, fmt.Sprintf("%s=%d", w.Version, w.Weight))
	}
	return strings.Join(parts, ",")
}

// WeightOf returns the weight of version, 0 when it has no route.
func WeightOf(ws []Weight, version string) int32 {
	for _, w := range ws {
		if w.Version == version {
			return w.Weight
		}
	}
	return 0
}

// SortedWeights returns a copy ordered by version name, for comparisons.
func SortedWeights(ws []Weight) []Weight {
	out := append([]Weight(nil), ws...)
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// Record appends a history entry for the commit that moves the release to
// phase with action, and updates the summary fields. It returns the new Seq.
func (s *Status) Record(action string, phase Phase, now time.Time, message string) int {
	s.Seq++
	s.Action = action
	s.Phase = phase
	s.History = append(s.History, Entry{
		Seq: s.Seq, Action: action, Phase: phase,
		Weights: FormatWeights(s.Weights), Time: now.UTC(), Message: message,
	})
	return s.Seq
}
