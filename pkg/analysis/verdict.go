package analysis

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/gitcanary/gitcanary/pkg/judge"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Evidence is the whole record of one analysis: the schedule, every
// metric's counts per look and the judge's verdict on each. It is
// committed with the verdict under .gitcanary/analysis/<release>/.
type Evidence struct {
	Release string               `json:"release"`
	Run     *release.AnalysisRun `json:"run"`
	Metrics []MetricEvidence     `json:"metrics"`
}

// MetricEvidence is one metric's looks and verdict: the judge's for a
// compare metric, the conditions' and limits' (Result) for a query or
// web metric.
type MetricEvidence struct {
	Name    string        `json:"name"`
	Kind    string        `json:"kind,omitempty"`
	Verdict judge.Verdict `json:"verdict,omitzero"`
	Result  *Assessment   `json:"result,omitempty"`
	DryRun  bool          `json:"dryRun,omitempty"`
	Looks   []Look        `json:"looks"`
}

// Decision is the metric's decision, whatever its kind.
func (m MetricEvidence) Decision() judge.Decision {
	if m.Result != nil {
		return m.Result.Decision
	}
	return m.Verdict.Decision
}

// Summary says in a few words what the metric's verdict rests on.
func (m MetricEvidence) Summary() string {
	if r := m.Result; r != nil {
		s := fmt.Sprintf("%s %s", m.Kind, r.Reason)
		if r.DryRun {
			s += " (dry run)"
		}
		return s
	}
	return fmt.Sprintf("θ̂=%.2f", m.Verdict.ThetaHat)
}

// Outcome is the analysis's decision after the looks read so far.
type Outcome struct {
	// Verdict is "" while the analysis goes on, else release.Successful,
	// release.Failed or release.Inconclusive.
	Verdict string
	Reason  string
	Message string
	// Look is the number of looks the decision was taken on.
	Look     int
	Evidence Evidence
}

// Judge decides on looks[metric][look] (each metric's looks read in order
// from 1; a query or web metric may lag while its source is retried). A
// metric that fails fails the analysis at once: a compare metric the
// judge fails, a query or web metric past its failureLimit. At the
// horizon, every metric must be Successful for the analysis to be, else
// it is Inconclusive with the first such metric's reason. Dry-run
// metrics are judged and recorded but decide nothing.
func Judge(name string, run *release.AnalysisRun, looks [][]Look) Outcome {
	out := Outcome{Evidence: Evidence{Release: name, Run: run}}
	// The analysis is at look n when every metric has read n looks.
	n := -1
	for i := range run.Metrics {
		if i >= len(looks) {
			n = 0
		} else if n < 0 || len(looks[i]) < n {
			n = len(looks[i])
		}
	}
	n = max(n, 0)
	out.Look = n
	cfg := judge.Config{Alpha: run.Alpha, Detect: run.Detect, Power: 0.95, Looks: run.Looks}
	var failed, unsure []string
	for i, m := range run.Metrics {
		var ls []Look
		if i < len(looks) {
			ls = looks[i]
		}
		me := MetricEvidence{Name: m.Name, Looks: ls, DryRun: m.DryRun}
		var why string
		if kind := m.Kind(); kind != release.KindCompare {
			ls = slices.Clone(ls) // assess records each look's phase
			a := assess(m, ls, run.Looks)
			me.Kind, me.Result, me.Looks, why = kind, &a, ls, a.Message
		} else {
			me.Verdict = judge.Judge(cfg, judgeLooks(ls))
			why = describe(me.Verdict)
		}
		out.Evidence.Metrics = append(out.Evidence.Metrics, me)
		if m.DryRun {
			// Recorded and shown, never deciding.
			continue
		}
		switch me.Decision() {
		case judge.Failed:
			failed = append(failed, fmt.Sprintf("%s: %s", m.Name, why))
			if me.Result != nil {
				out.Look = max(out.Look, me.Result.Look)
			}
		case judge.Inconclusive:
			unsure = append(unsure, fmt.Sprintf("%s: %s", m.Name, why))
		}
	}
	switch {
	case len(failed) > 0:
		out.Verdict, out.Reason = release.Failed, "AnalysisFailed"
		out.Message = fmt.Sprintf("%s failed at look %s: %s", Title(run), lookOf(run, out.Look), strings.Join(failed, "; "))
	case n < run.Looks:
		// Not at the horizon: go on.
	case len(unsure) > 0:
		out.Verdict, out.Reason = release.Inconclusive, reasonOf(out.Evidence.Metrics)
		out.Message = fmt.Sprintf("%s inconclusive after %d looks: %s; approve to go on, abort to go back", Title(run), n, strings.Join(unsure, "; "))
	default:
		out.Verdict, out.Reason = release.Successful, "AnalysisSuccessful"
		out.Message = fmt.Sprintf("%s successful after %d looks", Title(run), n)
	}
	return out
}

// Title names run in messages: "analysis of step 2", or "background
// analysis (from step 1)".
func Title(run *release.AnalysisRun) string {
	if run.Background {
		return fmt.Sprintf("background analysis (from step %d)", run.Step)
	}
	return fmt.Sprintf("analysis of step %d", run.Step)
}

// lookOf is "k of n", or "k" for the background analysis, which has no horizon.
func lookOf(run *release.AnalysisRun, k int) string {
	if run.Background {
		return fmt.Sprint(k)
	}
	return fmt.Sprintf("%d of %d", k, run.Looks)
}

// judgeLooks converts a metric's looks for the judge.
func judgeLooks(looks []Look) []judge.Look {
	out := make([]judge.Look, len(looks))
	for i, l := range looks {
		out[i] = judge.Look{Canary: l.Canary, Stable: l.Stable, CanarySub: l.CanarySub, StableSub: l.StableSub}
	}
	return out
}

// Reasons of an analysis whose looks could not be read.
const (
	reasonUnavailable = "MetricsUnavailable" // Prometheus did not answer in time
	reasonInvalid     = "MetricsInvalid"     // Prometheus refused a query, or the counters disagree
)

// Unreadable is the outcome of an analysis whose looks could not be read
// (Prometheus down past the wait, or a query it refuses): Inconclusive,
// never a failure.
func Unreadable(name string, run *release.AnalysisRun, looks [][]Look, cause error) Outcome {
	out := Judge(name, run, looks)
	if out.Verdict == release.Failed {
		return out
	}
	out.Verdict, out.Reason = release.Inconclusive, reasonUnavailable
	if !Unavailable(cause) {
		out.Reason = reasonInvalid
	}
	out.Message = fmt.Sprintf("%s inconclusive: look %d could not be read (%v); approve to go on, abort to go back", Title(run), out.Look+1, cause)
	return out
}

func describe(v judge.Verdict) string {
	s := fmt.Sprintf("θ̂=%.2f [%.2f, %.2f]", v.ThetaHat, v.ThetaLo, v.ThetaHi)
	if v.Reason != "" {
		s = v.Reason + ", " + s
	}
	return s
}

func reasonOf(ms []MetricEvidence) string {
	for _, m := range ms {
		switch {
		case m.DryRun:
		case m.Result != nil && m.Result.Decision == judge.Inconclusive:
			return m.Result.Reason
		case m.Result == nil && m.Verdict.Decision == judge.Inconclusive && m.Verdict.Reason != "":
			return m.Verdict.Reason
		}
	}
	return "AnalysisInconclusive"
}

// Dir is the directory of a release's evidence files, in gitcanary's
// directory of the app path.
func Dir(release string) string { return path.Join("analysis", release) }

// File is the evidence file of one step, relative to gitcanary's directory.
func File(release string, step int) string {
	return path.Join(Dir(release), fmt.Sprintf("step-%d.yaml", step))
}

// BackgroundFile is the evidence file of the background analysis,
// relative to gitcanary's directory.
func BackgroundFile(release string) string {
	return path.Join(Dir(release), "background.yaml")
}

// FileOf is the evidence file of run.
func FileOf(release string, run *release.AnalysisRun) string {
	if run.Background {
		return BackgroundFile(release)
	}
	return File(release, run.Step)
}

// Marshal writes evidence as YAML.
func (e Evidence) Marshal() ([]byte, error) { return yaml.Marshal(e) }

// ParseEvidence reads an evidence file.
func ParseEvidence(data []byte) (*Evidence, error) {
	var e Evidence
	if err := yaml.UnmarshalStrict(data, &e); err != nil {
		return nil, err
	}
	if e.Run == nil {
		return nil, fmt.Errorf("no run: %w", release.ErrInvalid)
	}
	return &e, nil
}

// Replay judges the counts of an evidence file again, as the analysis
// did when it committed them: same schedule, same looks, the judge of
// this build. An analysis that ended because its looks could not be read
// replays to the same Inconclusive: the counts it had did not decide.
func Replay(name string, e *Evidence) Outcome {
	run := *e.Run
	run.Verdict, run.Reason, run.Message, run.Look, run.Evidence = "", "", "", 0, ""
	looks := make([][]Look, len(run.Metrics))
	for i, m := range run.Metrics {
		for _, me := range e.Metrics {
			if me.Name == m.Name {
				looks[i] = me.Looks
			}
		}
	}
	out := Judge(name, &run, looks)
	if out.Verdict == "" && (e.Run.Reason == reasonUnavailable || e.Run.Reason == reasonInvalid) {
		out.Verdict, out.Reason, out.Message = release.Inconclusive, e.Run.Reason, e.Run.Message
	}
	// A during-analysis webhook's answer is not in the counts: its verdict
	// stands unless the counts fail the canary by themselves.
	if strings.HasPrefix(e.Run.Reason, "Webhook") && out.Verdict != release.Failed {
		out.Verdict, out.Reason, out.Message = e.Run.Verdict, e.Run.Reason, e.Run.Message
	}
	return out
}
