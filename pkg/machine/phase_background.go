package machine

import (
	"fmt"
	"time"

	"github.com/gitcanary/gitcanary/pkg/analysis"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// The background analysis (spec.analysis.background) starts in the
// commit of its starting step and records its schedule in
// status.background. From then until the promotion its looks are read
// whenever the release's last commit has converged in a phase of the
// steps (Progressing, Paused, Analyzing), whatever that phase is waiting
// for; it is never restarted, not by a manual set-weight nor by a later
// step. It has no horizon, so only the judge's sequential test decides,
// and only to fail: a failure is the abort commit at once (reason
// AnalysisFailed, the evidence in background.yaml), preempting a pause, a
// weight step's wait or another analysis. Looks that cannot be read are
// never evidence: the release goes on, and they are read when the metrics
// store answers again. The promotion closes the run as Successful.

// backgroundRuns reports whether the release's background analysis is
// running: started, not decided, and the release in a step phase.
func backgroundRuns(rec *release.Release) bool {
	b := rec.Status.Background
	return b != nil && b.Verdict == "" && inSteps(rec.Status.Phase)
}

// startBackground is the part of advance that starts the background
// analysis, in the commit of the first step at or past its starting step.
func startBackground(d *draft, i int) error {
	a := d.rec.Spec.Analysis
	if a == nil || a.Background == nil || i < a.Background.StartingStep || d.rec.Status.Background != nil {
		return nil
	}
	s := d.analysis
	s.ReadFile = d.app.source(nil).ReadFile // templates, from the commit the background analysis starts on
	run, err := analysis.ResolveBackground(d.rec.Spec, i, stableVersion(d), d.now, s)
	if err != nil {
		return err
	}
	d.rec.Status.Background = run
	d.message += fmt.Sprintf("; background analysis of %s against %s, one look every %s", run.Canary, run.Stable, run.Interval.Duration)
	return nil
}

// endBackground closes a running background analysis at the promotion.
func endBackground(d *draft) {
	b := d.rec.Status.Background
	if b == nil || b.Verdict != "" {
		return
	}
	run := *b
	run.Verdict, run.Reason, run.Message = release.Successful, "ReleasePromoted", "no failure until the promotion"
	d.rec.Status.Background = &run
}

// background lets the background analysis preempt the phase's decision d:
// a failure is the abort commit; otherwise a wait ends in time for its
// next look.
func background(v view, d decision) decision {
	f := v.background
	if f == nil || !backgroundRuns(v.rec) {
		return d
	}
	run := v.rec.Status.Background
	out := analysis.Judge(v.rec.Metadata.Name, run, f.looks)
	if out.Verdict == release.Failed {
		return commitTo(out.Message, backgroundFailed(out))
	}
	if d.kind != doWait {
		return d
	}
	next := analysis.NextDue(run, f.read()).Sub(v.now)
	if f.err != nil {
		// Not evidence: read again in an interval.
		next = run.Interval.Duration
	}
	next = max(next, time.Second)
	if d.awaiting {
		d.wake = next
	} else if d.wait <= 0 || next < d.wait {
		d.wait = next
	}
	return d
}

// backgroundFailed commits the background analysis's failure: the abort,
// with the evidence.
func backgroundFailed(out analysis.Outcome) mutation {
	return func(d *draft) error {
		st := d.rec.Status
		if err := refuseUnless(st.Phase, "record the background analysis's failure", release.Progressing, release.Paused, release.Analyzing); err != nil {
			return err
		}
		if st.Background == nil {
			return fmt.Errorf("record the background analysis's failure: the release has none running")
		}
		run := *st.Background
		run.Verdict, run.Reason, run.Message, run.Look = out.Verdict, out.Reason, out.Message, out.Look
		if err := recordEvidence(d, &run, out); err != nil {
			return err
		}
		st.Background = &run
		if err := abandon(out.Reason, out.Message)(d); err != nil {
			return err
		}
		d.action = "background/failed"
		return nil
	}
}
