package argocd

import (
	"fmt"
	"strings"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/argoproj/gitops-engine/pkg/health"
	synccommon "github.com/argoproj/gitops-engine/pkg/sync/common"
)

// Target is what a release needs Argo CD to have applied: its last commit,
// which of the revisions Argo CD reports carry that commit, and the
// resources whose health is the release's.
type Target struct {
	// Commit is the release's last commit.
	Commit string
	// Carried says, for each revision in Revisions(app), whether it
	// contains Commit (is it or a descendant) with everything the release
	// owns as it is at Commit. Other writers commit to the branch all the
	// time, and Argo CD reports the branch head, not Commit. A revision
	// missing from the map is taken to carry Commit only when it equals it.
	Carried map[string]bool
	// Resources the release owns or changes. Their sync status and health
	// are the release's; other resources of the app are someone else's.
	// Empty: the whole app's health counts.
	Resources []Resource
	// Prune: the commit removes objects, so it is applied only once Argo
	// CD has pruned them (nothing left that requires pruning).
	Prune bool
}

// Resource names an object of an Application.
type Resource struct{ Group, Kind, Namespace, Name string }

func (r Resource) String() string { return r.Kind + " " + r.Name }

// Exact is the target of a commit whose only carrier is itself.
func Exact(commit string) Target { return Target{Commit: commit} }

// Revisions lists the revisions of app a Target's Carried must answer for:
// the running or last operation's, the requested one's, and the one sync
// status was compared at. Branch names and empty revisions are left out.
func Revisions(app *v1alpha1.Application) []string {
	if app == nil {
		return nil
	}
	var out []string
	add := func(r string) {
		if len(r) == 40 && isHex(r) && !contains(out, r) {
			out = append(out, r)
		}
	}
	if app.Operation != nil {
		add(requestedRevision(app.Operation))
	}
	if st := app.Status.OperationState; st != nil {
		add(operationRevision(st))
	}
	add(app.Status.Sync.Revision)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (t Target) carries(rev string) bool {
	if rev == t.Commit {
		return true
	}
	return t.Carried[rev]
}

// Assess judges, from one snapshot of the Application, how far Argo CD is
// from having applied the target (DESIGN §1). It is pure: the caller
// decides what to do about the verdict.
//
// The commit is applied when Argo CD's last operation Succeeded on a
// revision that carries it, health was reassessed after that operation
// finished (status.reconciledAt ≥ operationState.finishedAt: right after a
// sync the health still describes the old manifests), and, at the revision
// sync status was compared at, the target's resources are Synced (and none
// requires pruning when the target prunes). Then the target's resources
// decide health: Degraded is Failed, anything short of Healthy waits.
//
// Failed is "the answer was no": the operation failed on one of the
// target's resources, or one of them is Degraded. What keeps Argo CD from
// answering (a ComparisonError, an operation that errored, a failure of
// some other resource) is Errored: wait, and retry.
func Assess(app *v1alpha1.Application, t Target) Verdict {
	if app == nil {
		return Verdict{State: Waiting, Reason: "no application"}
	}
	st := app.Status.OperationState
	running := st != nil && !st.Phase.Completed()

	// A requested operation nobody picked up yet (app.operation set, no
	// running state for it).
	if app.Operation != nil && !running {
		req := requestedRevision(app.Operation)
		if req == "" || !isCommit(req) || t.carries(req) {
			return Verdict{State: Syncing, Reason: fmt.Sprintf("sync to %s requested, not started yet", short(revisionOrTarget(req)))}
		}
		return Verdict{State: Waiting, Reason: fmt.Sprintf("another operation (sync to %s) is pending", short(req))}
	}
	if running {
		opRev := operationRevision(st)
		if opRev == "" || !isCommit(opRev) || t.carries(opRev) {
			v := Verdict{State: Syncing, Reason: withMessage(fmt.Sprintf("operation %s for %s", st.Phase, revisionLabel(opRev)), st.Message)}
			v.Blocked = strings.HasPrefix(st.Message, BlockedOperationMessage)
			return v
		}
		return Verdict{State: Waiting, Reason: withMessage(fmt.Sprintf("another operation (sync to %s) is %s", short(opRev), st.Phase), st.Message),
			Blocked: strings.HasPrefix(st.Message, BlockedOperationMessage)}
	}
	if c := comparisonError(app); c != "" {
		return Verdict{State: Errored, Reason: "Argo CD cannot compare the app with git: " + c, Since: finishedAt(st)}
	}
	if st == nil {
		return Verdict{State: NeedsSync, Reason: "no sync operation has run yet"}
	}
	opRev := operationRevision(st)
	if !t.carries(opRev) {
		return Verdict{State: NeedsSync, Reason: fmt.Sprintf("the last operation applied %s, which does not carry %s", revisionLabel(opRev), short(t.Commit))}
	}

	// The last operation, finished, applied a revision carrying the commit.
	switch st.Phase {
	case synccommon.OperationFailed, synccommon.OperationError:
		if r := failedResource(st, t.Resources); r != "" {
			return Verdict{State: Failed, Reason: withMessage(fmt.Sprintf("sync to %s failed on %s", short(opRev), r), st.Message)}
		}
		if len(t.Resources) == 0 && st.Phase == synccommon.OperationFailed {
			// The whole app is the target's.
			return Verdict{State: Failed, Reason: withMessage(fmt.Sprintf("sync to %s failed", short(opRev)), st.Message)}
		}
		return Verdict{State: Errored, Reason: withMessage(fmt.Sprintf("sync to %s %s", short(opRev), phaseWord(st.Phase)), st.Message), Resync: true, Since: finishedAt(st)}
	case synccommon.OperationSucceeded:
	default:
		return Verdict{State: Waiting, Reason: fmt.Sprintf("operation phase %q is unknown", st.Phase)}
	}

	finished := finishedAt(st)
	if app.Status.ReconciledAt == nil || app.Status.ReconciledAt.Time.Before(finished) {
		return Verdict{State: Waiting, Reason: "health not reassessed since the sync finished"}
	}
	s := app.Status.Sync
	if s.Revision != "" && !t.carries(s.Revision) {
		// Compared at an older revision than the operation's (a stale
		// resolution of the branch), or at a newer one that changed what
		// the release owns, which the caller finds in git: wait.
		return Verdict{State: Waiting, Reason: fmt.Sprintf("Argo CD compared at %s, which does not carry %s", short(s.Revision), short(t.Commit))}
	}
	resources := owned(app, t.Resources)
	if len(t.Resources) == 0 && s.Status != v1alpha1.SyncStatusCodeSynced {
		return resync(st, s.Revision, false, fmt.Sprintf("sync status %s at %s", orUnknown(string(s.Status)), revisionLabel(s.Revision)))
	}
	for _, r := range resources {
		if r.Status == v1alpha1.SyncStatusCodeOutOfSync && !r.RequiresPruning {
			return resync(st, s.Revision, false, fmt.Sprintf("%s %s is %s at %s", r.Kind, r.Name, r.Status, revisionLabel(s.Revision)))
		}
	}
	if t.Prune {
		for _, r := range app.Status.Resources {
			if r.RequiresPruning {
				return resync(st, s.Revision, true, fmt.Sprintf("%s %s is not in git and still in the cluster", r.Kind, r.Name))
			}
		}
	}

	// Applied; now health.
	if len(t.Resources) == 0 {
		h := app.Status.Health
		switch h.Status {
		case health.HealthStatusHealthy:
			return Verdict{State: Converged, Reason: fmt.Sprintf("Synced at %s, Healthy", short(opRev)), Applied: true}
		case health.HealthStatusDegraded:
			return Verdict{State: Failed, Reason: withMessage("health Degraded", h.Message), Applied: true}
		}
		return Verdict{State: Waiting, Reason: withMessage("health "+orUnknown(string(h.Status)), h.Message), Applied: true}
	}
	for _, want := range t.Resources {
		r := find(resources, want)
		if r == nil {
			continue // removed by the commit, or not tracked by Argo CD: the cluster check decides
		}
		if r.Health == nil {
			continue // no health check for its kind (VirtualService, DestinationRule)
		}
		switch r.Health.Status {
		case health.HealthStatusHealthy:
		case health.HealthStatusDegraded:
			return Verdict{State: Failed, Reason: withMessage(fmt.Sprintf("%s %s is Degraded", r.Kind, r.Name), r.Health.Message), Applied: true}
		default:
			return Verdict{State: Waiting, Reason: withMessage(fmt.Sprintf("%s %s is %s", r.Kind, r.Name, orUnknown(string(r.Health.Status))), r.Health.Message), Applied: true,
				Unhealthy: Resource{Group: r.Group, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}}
		}
	}
	return Verdict{State: Converged, Reason: fmt.Sprintf("applied at %s, its resources Healthy", short(opRev)), Applied: true}
}

// resync is the verdict when the last operation's result is not what sync
// status shows at rev: sync again, unless Argo CD already ran an operation
// at rev (with prune, when pruning is what is missing), in which case a
// new sync would do the same: wait.
func resync(st *v1alpha1.OperationState, rev string, prune bool, reason string) Verdict {
	if rev == "" {
		return Verdict{State: Waiting, Reason: reason}
	}
	tried := operationRevision(st) == rev
	if prune && (st.Operation.Sync == nil || !st.Operation.Sync.Prune) {
		tried = false
	}
	if tried {
		return Verdict{State: Waiting, Reason: reason + " after a sync to it"}
	}
	return Verdict{State: NeedsSync, Reason: reason}
}

// comparisonError is the message of a condition that means Argo CD could
// not render or compare the app (repo-server down, git unreachable).
func comparisonError(app *v1alpha1.Application) string {
	for _, c := range app.Status.Conditions {
		switch c.Type {
		case v1alpha1.ApplicationConditionComparisonError, v1alpha1.ApplicationConditionUnknownError:
			return c.Message
		}
	}
	return ""
}

// failedResource names the first of the target's resources the operation
// failed on, or "".
func failedResource(st *v1alpha1.OperationState, want []Resource) string {
	if st.SyncResult == nil {
		return ""
	}
	for _, r := range st.SyncResult.Resources {
		if r == nil || r.Status != synccommon.ResultCodeSyncFailed {
			continue
		}
		for _, w := range want {
			if same(w, r.Group, r.Kind, r.Namespace, r.Name) {
				return withMessage(w.String(), r.Message)
			}
		}
	}
	return ""
}

// owned returns the app's resource statuses for the target's resources.
func owned(app *v1alpha1.Application, want []Resource) []v1alpha1.ResourceStatus {
	var out []v1alpha1.ResourceStatus
	for _, r := range app.Status.Resources {
		for _, w := range want {
			if same(w, r.Group, r.Kind, r.Namespace, r.Name) {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

func find(rs []v1alpha1.ResourceStatus, w Resource) *v1alpha1.ResourceStatus {
	for i := range rs {
		if same(w, rs[i].Group, rs[i].Kind, rs[i].Namespace, rs[i].Name) {
			return &rs[i]
		}
	}
	return nil
}

// same matches a resource by group, kind, name and, when both name one,
// namespace.
func same(w Resource, group, kind, ns, name string) bool {
	return w.Group == group && w.Kind == kind && w.Name == name && (w.Namespace == "" || ns == "" || w.Namespace == ns)
}

func finishedAt(st *v1alpha1.OperationState) time.Time {
	if st == nil {
		return time.Time{}
	}
	if st.FinishedAt != nil {
		return st.FinishedAt.Time
	}
	// Argo CD always sets it on completion; fall back to the start rather
	// than waiting forever.
	return st.StartedAt.Time
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
	if isCommit(rev) {
		return rev[:7]
	}
	return rev
}

func isCommit(rev string) bool { return len(rev) == 40 && isHex(rev) }

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
	msg = strings.TrimSpace(msg)
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

// OperationStart is when Argo CD started the app's current or last sync
// operation, if that operation carries the target's commit; zero otherwise.
func OperationStart(app *v1alpha1.Application, t Target) time.Time {
	st := app.Status.OperationState
	if st == nil || !t.carries(operationRevision(st)) {
		return time.Time{}
	}
	return st.StartedAt.Time
}
