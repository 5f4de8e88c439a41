package machine

import (
	"context"
	"time"

	"github.com/gitcanary/gitcanary/pkg/analysis"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Query and web metrics are read look by look beside the compare
// metrics' counts (analysis.Cache.Observe): a look whose source cannot
// answer is read again until the next look is due, then it counts as an
// Error towards the metric's consecutiveErrorLimit. Never evidence
// against the canary.

// pendingRetry is how often a query or web metric's look is read again
// while its source does not answer.
const pendingRetry = 10 * time.Second

// observeConditions reads the due looks of run's query and web metrics into f.
func (m *Machine) observeConditions(ctx context.Context, src analysis.Source, run *release.AnalysisRun, now time.Time, f *analysisFacts) {
	f.pending = m.deps.Looks.Observe(ctx, src, m.deps.Analysis.Web, m.name, run, now, f.looks)
}

// waitPending waits to read again a look whose source did not answer.
func waitPending(run *release.AnalysisRun, read int, err error) decision {
	d := wait(min(pendingRetry, run.Interval.Duration), "analysis: look %d of %d cannot be read yet: %v", read+1, run.Looks, err)
	d.errored = true
	return d
}
