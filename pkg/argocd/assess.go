package argocd

import (
	"fmt"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/argoproj/gitops-engine/pkg/health"
	synccommon "github.com/argoproj/gitops-engine/pkg/sync/common"
)

// Assess judges, from one snapshot of the Application, how far Argo CD is
// from having converged on revision (DESIGN §1). It is pure: the caller
// decides what to do about the verdict.
//
// An operation is "for revision" when its resolved revision
// (syncResult.revision) is revision, or, while Argo CD has not resolved one
// yet, when the requested revision is. A sync started without a revision is
// therefore recognised only once Argo CD has resolved it.
//
// Health counts only if Argo CD reassessed it after the operation finished
// (status.reconciledAt ≥ operationState.finishedAt, equal included, both have
// second precision): right after a sync the health still describes the old
// manifests. That applies to Degraded too, so a workload that was Degraded
// before a fix is not reported Failed while the fix is being rolled out.
func Assess(app *v1alpha1.Application, revision string) Verdict {
	if app == nil {
		return Verdict{State: Waiting, Reason: "no application"}
	}
	st := app.Status.OperationState
	running := st != nil && !st.Phase.Completed()

	// A requested operation nobody picked up yet (app.operation set, no
	// running state for it).
	if app.Operation != nil && !running {
		req := requestedRevision(app.Operation)
		if req == revision {
			return Verdict{State: Syncing, Reason: fmt.Sprintf("sync to %s requested, not started yet", short(revision))}
		}
		return Verdict{State: NeedsSync, Reason: fmt.Sprintf("another operation (sync to %s) is pending; a sync to %s will be refused until it finishes", revisionLabel(req), short(revision))}
	}
	if running {
		opRev := operationRevision(st)
		if opRev == revision {
			return Verdict{State: Syncing, Reason: withMessage(fmt.Sprintf("operation %s for %s", st.Phase, short(revision)), st.Message)}
		}
		return Verdict{State: NeedsSync, Reason: fmt.Sprintf("another operation (sync to %s) is %s; a sync to %s will be refused until it finishes", revisionLabel(opRev), st.Phase, short(revision))}
	}
	if st == nil {
		return Verdict{State: NeedsSync, Reason: "no sync operation has run yet"}
	}
	if opRev := operationRevision(st); opRev != revision {
		return Verdict{State: NeedsSync, Reason: fmt.Sprintf("last operation was for %s, not %s", revisionLabel(opRev), short(revision))}
	}

	// The last operation, finished, was for revision.
	switch st.Phase {
	case synccommon.OperationFailed, synccommon.OperationError:
		return Verdict{State: Failed, Reason: withMessage(fmt.Sprintf("sync to %s %s", short(revision), phaseWord(st.Phase)), st.Message)}
	case synccommon.OperationSucceeded:
	default:
		return Verdict{State: Waiting, Reason: fmt.Sprintf("operation phase %q is unknown", st.Phase)}
	}

	finished := st.FinishedAt
	if finished == nil {
		// Argo CD always sets it on completion; fall back to the start rather
		// than waiting forever.
		finished = &st.StartedAt
	}
	fresh := app.Status.ReconciledAt != nil && !app.Status.ReconciledAt.Before(finished)
	s := app.Status.Sync
	synced := s.Status == v1alpha1.SyncStatusCodeSynced && s.Revision == revision
	applied := synced && fresh
	h := app.Status.Health
	if fresh && h.Status == health.HealthStatusDegraded {
		return Verdict{State: Failed, Reason: withMessage("health Degraded", h.Message), Applied: applied}
	}
	if !synced {
		return Verdict{State: Waiting, Reason: fmt.Sprintf("sync status %s at %s", orUnknown(string(s.Status)), revisionLabel(s.Revision))}
	}
	if !fresh {
		return Verdict{State: Waiting, Reason: "health not reassessed since the sync finished"}
	}
	if h.Status != health.HealthStatusHealthy {
		return Verdict{State: Waiting, Reason: withMessage("health "+orUnknown(string(h.Status)), h.Message), Applied: true}
	}
	return Verdict{State: Converged, Reason: fmt.Sprintf("Synced at %s, Healthy", short(revision)), Applied: true}
}

// operationRevision is the revision an operation syncs: the resolved one once
// Argo CD has it, else the requested one.
func operationRevision(st *v1alpha1.OperationState) string {
	if st.SyncResult != nil && st.SyncResult.Revision != "" {
		return st.SyncResult.Revision
	}
	return requestedRevision(&st.Operation)
}

func requestedRevision(op *v1alpha1.Operation) string {
	if op == nil || op.Sync == nil {
		return ""
	}
	return op.Sync.Revision
}

// short abbreviates a commit hash the way git does; other revisions (branch
// names) are left alone.
func short(rev string) string {
	if len(rev) == 40 && isHex(rev) {
		return rev[:7]
	}
	return rev
}

func isHex(s string) bool {
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}

func revisionLabel(rev string) string {
	if rev == "" {
		return "an unresolved revision"
	}
	return short(rev)
}

func phaseWord(p synccommon.OperationPhase) string {
	if p == synccommon.OperationError {
		return "errored"
	}
	return "failed"
}

func withMessage(s, msg string) string {
	if msg == "" {
		return s
	}
	return s + ": " + msg
}

func orUnknown(s string) string {
	if s == "" {
		return "Unknown"
	}
	return s
}
