package machine

import (
	"context"
	"fmt"
	"time"

	"github.com/gitcanary/gitcanary/pkg/analysis"
	"github.com/gitcanary/gitcanary/pkg/fault"
	"github.com/gitcanary/gitcanary/pkg/prom"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// An analysis step commits its schedule (phase Analyzing, status.analysis),
// then waits: each look is read once its end is the run's lag in the past,
// and the judge decides on the looks read so far. Only the verdict is a
// commit: Successful runs the next step, Failed abandons the release
// (reason AnalysisFailed), Inconclusive pauses it until approved. The
// verdict's commit carries the evidence file.

// unavailableAfter is how many intervals past the horizon looks that
// cannot be read are waited for before the analysis is Inconclusive:
// Argo Rollouts' consecutiveErrorLimit default, 4.
const unavailableAfter = 4

// analysisFacts are the looks read for the view.
type analysisFacts struct {
	looks [][]analysis.Look // by metric, then look
	err   error             // why the next due look could not be read
	// pending: a query or web metric's look waits for its source
	// (analysis_observe.go).
	pending error
}

// read is how many looks were read (every metric has as many).
func (f *analysisFacts) read() int {
	if len(f.looks) == 0 {
		return 0
	}
	return len(f.looks[0])
}

// startAnalysis is the part of advance for an analysis step.
func startAnalysis(d *draft, i int) error {
	s := d.analysis
	s.ReadFile = d.app.source(nil).ReadFile // templates, from the commit the analysis starts on
	run, err := analysis.Resolve(d.rec.Spec, i, stableVersion(d), d.now, s)
	if err != nil {
		return err
	}
	d.rec.Status.Analysis = run
	d.phase, d.action = release.Analyzing, fmt.Sprintf("step/%d/analysis", i)
	d.message = fmt.Sprintf("step %d: analysis of %s against %s, %d looks every %s", i, run.Canary, run.Stable, run.Looks, run.Interval.Duration)
	return nil
}

// stableVersion is the version the canary is compared with: the other
// version with the most traffic.
func stableVersion(d *draft) string {
	best, w := d.state.OriginalVersion, int32(-1)
	for _, v := range d.state.Weights() {
		if v.Version != d.rec.Spec.Version && v.Weight > w {
			best, w = v.Version, v.Weight
		}
	}
	return best
}

// measure reads the looks of run that are due, through the process's
// cache of looks (Deps.Looks).
func (m *Machine) measure(ctx context.Context, run *release.AnalysisRun, now time.Time) *analysisFacts {
	f := &analysisFacts{looks: make([][]analysis.Look, len(run.Metrics))}
	src, err := m.source(run)
	if err != nil {
		f.err = err
		return f
	}
	defer m.observeConditions(ctx, src, run, now, f)
	due := analysis.Due(run, now)
	for k := 1; k <= due; k++ {
		looks, read, err := m.deps.Looks.Measure(ctx, src, m.name, run, k)
		if err != nil {
			f.err = err
			return f
		}
		if read {
			m.logLook(run, k, looks)
			fault.Point(fault.AfterLook)
		}
		for i := range f.looks {
			f.looks[i] = append(f.looks[i], looks[i])
		}
	}
	return f
}

// logLook logs the counts of a look just read, one line per metric: what
// the verdict's evidence will hold, whichever process commits it.
func (m *Machine) logLook(run *release.AnalysisRun, k int, looks []analysis.Look) {
	for i, l := range looks {
		m.deps.log().Info("analysis look read", "release", m.name, "analysis", analysis.Title(run), "look", k,
			"metric", run.Metrics[i].Name, "canary", fmt.Sprintf("%d/%d", l.Canary.Bad, l.Canary.Total), "stable", fmt.Sprintf("%d/%d", l.Stable.Bad, l.Stable.Total))
	}
}

func (m *Machine) source(run *release.AnalysisRun) (analysis.Source, error) {
	if m.deps.Metrics == nil {
		return nil, fmt.Errorf("no metrics source: %w", prom.ErrUnavailable)
	}
	return m.deps.Metrics(run)
}

// onAnalyzing judges the looks read so far.
func onAnalyzing(v view) decision {
	run := v.rec.Status.Analysis
	f := v.analysis
	if f == nil {
		return wait(errorPoll, "analysis: no looks read")
	}
	out := analysis.Judge(v.rec.Metadata.Name, run, f.looks)
	read := out.Look
	if out.Verdict == "" && f.err != nil {
		// Prometheus down is never evidence: the look is read again until
		// a few intervals past the horizon, then the analysis is
		// Inconclusive. A query it refuses will not change: at once.
		giveUp := run.LookEnd(run.Looks).Add(run.Lag.Duration + unavailableAfter*run.Interval.Duration)
		if analysis.Unavailable(f.err) && v.now.Before(giveUp) {
			// Once an interval, not at errorPoll: the counts wait in
			// Prometheus (or its scrape targets) meanwhile.
			next := min(run.Interval.Duration, giveUp.Sub(v.now)+time.Second)
			d := wait(next, "analysis: look %d of %d cannot be read yet: %v", read+1, run.Looks, f.err)
			d.errored = true
			return d
		}
		out = analysis.Unreadable(v.rec.Metadata.Name, run, f.looks, f.err)
	}
	if out.Verdict == "" && f.pending != nil {
		return waitPending(run, read, f.pending)
	}
	if out.Verdict == "" {
		next := analysis.NextDue(run, read).Sub(v.now)
		return wait(max(next, 0), "analysis of step %d: look %d of %d in %s", run.Step, read+1, run.Looks, next.Round(time.Second))
	}
	return commitTo(out.Message, verdict(out))
}

// verdict commits an analysis's outcome with its evidence.
func verdict(out analysis.Outcome) mutation {
	return func(d *draft) error {
		st := d.rec.Status
		if err := refuseUnless(st.Phase, "record an analysis verdict", release.Analyzing); err != nil {
			return err
		}
		run := *st.Analysis
		run.Verdict, run.Reason, run.Message, run.Look = out.Verdict, out.Reason, out.Message, out.Look
		if err := recordEvidence(d, &run, out); err != nil {
			return err
		}
		st.Analysis = &run
		switch out.Verdict {
		case release.Failed:
			if err := abandon(out.Reason, out.Message)(d); err != nil {
				return err
			}
			d.action = fmt.Sprintf("step/%d/analysis/failed", run.Step)
			return nil
		case release.Inconclusive:
			st.PausedAt = d.now
			d.phase, d.action, d.reason, d.message = release.Paused, fmt.Sprintf("step/%d/analysis/inconclusive", run.Step), out.Reason, out.Message
			return nil
		}
		if err := advance(d); err != nil {
			return err
		}
		d.message = out.Message + "; " + d.message
		return nil
	}
}

// recordEvidence writes the evidence of run's verdict into the commit
// and names its file in run.
func recordEvidence(d *draft, run *release.AnalysisRun, out analysis.Outcome) error {
	run.Evidence = d.app.dir(analysis.FileOf(d.rec.Metadata.Name, run))
	out.Evidence.Run = run
	data, err := out.Evidence.Marshal()
	if err != nil {
		return err
	}
	if d.extra == nil {
		d.extra = map[string][]byte{}
	}
	d.extra[run.Evidence] = data
	return nil
}
