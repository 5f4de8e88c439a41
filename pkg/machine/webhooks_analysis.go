package machine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gitcanary/gitcanary/pkg/analysis"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/pkg/webhook"
)

// A during-analysis webhook is called once per look of an analysis step,
// when the look has been read (so at most once per look and process; a
// process that resumes an analysis calls from the look due then on). Its
// answer counts like a measurement of Argo Rollouts' web metric, with
// Flagger's reading of the status:
//
//   - 2xx: the look passes;
//   - any other answer below 500: "the answer was no", a failed
//     measurement; with Rollouts' default failureLimit of 0 the analysis
//     is Failed at once (the abort commit, reason AnalysisFailed, the
//     analysis record's reason WebhookFailed);
//   - 5xx, a timeout or no connection: "could not find out", an error,
//     never evidence against the canary; after Rollouts' default
//     consecutiveErrorLimit of 4 errors in a row the analysis is
//     Inconclusive (WebhookUnavailable): a pause that approve ends.
//
// The statistical judge goes on meanwhile: a Failed judgement wins.

// lookCalls are the answers of during-analysis webhooks: by webhook name,
// then look (1-based).
type lookCalls map[string]map[int]webhook.Answer

// hookErrorLimit is Argo Rollouts' consecutiveErrorLimit default.
const hookErrorLimit = 4

// Reasons of an analysis decided by a during-analysis webhook.
const (
	reasonWebhookFailed      = "WebhookFailed"
	reasonWebhookUnavailable = "WebhookUnavailable"
)

// duringAnalysis calls each during-analysis webhook for the last look read,
// once, and returns every answer the process has for the analysis.
func (m *Machine) duringAnalysis(ctx context.Context, rec *release.Release, v view) lookCalls {
	ws := rec.Spec.WebhooksOf(release.DuringAnalysis)
	run := rec.Status.Analysis
	if len(ws) == 0 || rec.Status.Phase != release.Analyzing || run == nil || v.analysis == nil {
		return nil
	}
	read := v.analysis.read()
	h := m.hooks()
	out := lookCalls{}
	for _, w := range ws {
		k := fmt.Sprintf("%s/analysis/%d/%s/%s", m.key(rec), run.Step, run.Start.UTC().Format(time.RFC3339Nano), w.Name)
		h.mu.Lock()
		got := h.looks[k]
		if got == nil {
			got = map[int]webhook.Answer{}
			h.looks[k] = got
		}
		_, done := got[read]
		h.mu.Unlock()
		if read >= 1 && !done {
			p := m.payload(rec, w, fmt.Sprintf("%s/during-analysis/%d/%d", m.name, run.Step, read))
			p.Look, p.Looks = read, run.Looks
			a := m.call(ctx, w, p)
			h.mu.Lock()
			got[read] = a
			h.mu.Unlock()
		}
		h.mu.Lock()
		out[w.Name] = maps.Clone(got)
		h.mu.Unlock()
	}
	return out
}

// onAnalyzingWithHooks is onAnalyzing with the during-analysis webhooks'
// answers: one that says no fails the analysis, errors in a row make it
// Inconclusive.
func onAnalyzingWithHooks(v view) decision {
	if len(v.calls) == 0 || v.analysis == nil || v.rec.Status.Analysis == nil {
		return onAnalyzing(v)
	}
	run := v.rec.Status.Analysis
	out := analysis.Judge(v.rec.Metadata.Name, run, v.analysis.looks)
	if out.Verdict == release.Failed {
		return onAnalyzing(v)
	}
	for _, w := range v.rec.Spec.WebhooksOf(release.DuringAnalysis) {
		got := v.calls[w.Name]
		errs := 0
		for _, k := range slices.Sorted(maps.Keys(got)) {
			a := got[k]
			switch {
			case a.OK():
				errs = 0
				continue
			case a.Unreachable():
				if errs++; errs < hookErrorLimit {
					continue
				}
				out.Verdict, out.Reason = release.Inconclusive, reasonWebhookUnavailable
				out.Message = fmt.Sprintf("analysis of step %d inconclusive at look %d of %d: during-analysis webhook %s %s (%d looks in a row); approve to go on, abort to go back",
					run.Step, k, run.Looks, w.Name, a, errs)
			default:
				out.Verdict, out.Reason = release.Failed, reasonWebhookFailed
				out.Message = fmt.Sprintf("analysis of step %d failed at look %d of %d: during-analysis webhook %s %s", run.Step, k, run.Looks, w.Name, a)
			}
			return commitTo(out.Message, hookVerdict(out))
		}
	}
	return onAnalyzing(v)
}

// hookVerdict commits a webhook's verdict with the evidence read so far;
// a Failed analysis abandons the release with reason AnalysisFailed, as
// the judge's does.
func hookVerdict(out analysis.Outcome) mutation {
	return func(d *draft) error {
		if err := verdict(out)(d); err != nil {
			return err
		}
		if out.Verdict == release.Failed {
			d.reason = "AnalysisFailed"
		}
		return nil
	}
}
