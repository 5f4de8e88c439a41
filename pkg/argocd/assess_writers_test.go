package argocd

import (
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/argoproj/gitops-engine/pkg/health"
	synccommon "github.com/argoproj/gitops-engine/pkg/sync/common"
)

// head is the branch head after another writer's commit on top of rev.
const head = "fedcba9876543210fedcba9876543210fedcba98"

var (
	canary = Resource{Group: "apps", Kind: "Deployment", Namespace: "bookinfo", Name: "reviews-v2"}
	vs     = Resource{Group: "networking.istio.io", Kind: "VirtualService", Namespace: "bookinfo", Name: "reviews"}
)

func (b *appBuilder) resources(rs ...v1alpha1.ResourceStatus) *appBuilder {
	b.app.Status.Resources = rs
	return b
}

func (b *appBuilder) condition(typ, msg string) *appBuilder {
	b.app.Status.Conditions = append(b.app.Status.Conditions, v1alpha1.ApplicationCondition{Type: typ, Message: msg})
	return b
}

func (b *appBuilder) failedOn(r Resource, msg string) *appBuilder {
	b.app.Status.OperationState.SyncResult.Resources = append(b.app.Status.OperationState.SyncResult.Resources,
		&v1alpha1.ResourceResult{Group: r.Group, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, Status: synccommon.ResultCodeSyncFailed, Message: msg})
	return b
}

func (b *appBuilder) pruneOp() *appBuilder {
	b.app.Status.OperationState.Operation.Sync.Prune = true
	return b
}

func resStatus(r Resource, sync v1alpha1.SyncStatusCode, h health.HealthStatusCode) v1alpha1.ResourceStatus {
	rs := v1alpha1.ResourceStatus{Group: r.Group, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, Status: sync}
	if h != "" {
		rs.Health = &v1alpha1.HealthStatus{Status: h}
	}
	return rs
}

// TestAssessAmongWriters: Argo CD reports the branch head, which other
// writers move; a head that carries the release's commit is as good as
// the commit, and only the release's own resources decide.
func TestAssessAmongWriters(t *testing.T) {
	finished := t0.Add(2 * time.Second)
	carried := Target{Commit: rev, Carried: map[string]bool{head: true}, Resources: []Resource{canary, vs}}
	notCarried := Target{Commit: rev, Carried: map[string]bool{head: false}, Resources: []Resource{canary, vs}}
	ours := []v1alpha1.ResourceStatus{resStatus(canary, v1alpha1.SyncStatusCodeSynced, health.HealthStatusHealthy), resStatus(vs, v1alpha1.SyncStatusCodeSynced, "")}
	other := Resource{Kind: "ConfigMap", Namespace: "bookinfo", Name: "other"}
	tests := []struct {
		name   string
		app    *v1alpha1.Application
		target Target
		want   Verdict
	}{
		{
			name:   "a foreign commit moved the head after our sync: still converged",
			app:    converged(rev).sync(v1alpha1.SyncStatusCodeSynced, head).resources(ours...).build(),
			target: carried,
			want:   Verdict{State: Converged, Reason: "applied at abc1234, its resources Healthy"},
		},
		{
			name:   "the operation applied the head, which carries the commit",
			app:    converged(head).resources(ours...).build(),
			target: carried,
			want:   Verdict{State: Converged, Reason: "applied at fedcba9, its resources Healthy"},
		},
		{
			name:   "the operation applied a head that changed what the release owns",
			app:    converged(head).resources(ours...).build(),
			target: notCarried,
			want:   Verdict{State: NeedsSync, Reason: "the last operation applied fedcba9, which does not carry abc1234"},
		},
		{
			name:   "someone else's resource is Degraded and OutOfSync: not ours",
			app:    converged(rev).sync(v1alpha1.SyncStatusCodeOutOfSync, head).health(health.HealthStatusDegraded, "").resources(append(ours, resStatus(other, v1alpha1.SyncStatusCodeOutOfSync, health.HealthStatusDegraded))...).build(),
			target: carried,
			want:   Verdict{State: Converged, Reason: "applied at abc1234, its resources Healthy"},
		},
		{
			name:   "our workload is Degraded",
			app:    converged(rev).resources(resStatus(canary, v1alpha1.SyncStatusCodeSynced, health.HealthStatusDegraded), resStatus(vs, v1alpha1.SyncStatusCodeSynced, "")).build(),
			target: carried,
			want:   Verdict{State: Failed, Reason: "Deployment reviews-v2 is Degraded"},
		},
		{
			name:   "our workload is Progressing",
			app:    converged(rev).resources(resStatus(canary, v1alpha1.SyncStatusCodeSynced, health.HealthStatusProgressing), resStatus(vs, v1alpha1.SyncStatusCodeSynced, "")).build(),
			target: carried,
			want:   Verdict{State: Waiting, Reason: "Deployment reviews-v2 is Progressing"},
		},
		{
			name:   "our VirtualService is OutOfSync at a newer head (a manual app): sync it",
			app:    converged(rev).sync(v1alpha1.SyncStatusCodeOutOfSync, head).resources(resStatus(canary, v1alpha1.SyncStatusCodeSynced, health.HealthStatusHealthy), resStatus(vs, v1alpha1.SyncStatusCodeOutOfSync, "")).build(),
			target: carried,
			want:   Verdict{State: NeedsSync, Reason: "VirtualService reviews is OutOfSync at fedcba9"},
		},
		{
			name:   "our VirtualService is OutOfSync at the revision just synced: do not sync again",
			app:    converged(rev).resources(resStatus(canary, v1alpha1.SyncStatusCodeSynced, health.HealthStatusHealthy), resStatus(vs, v1alpha1.SyncStatusCodeOutOfSync, "")).build(),
			target: carried,
			want:   Verdict{State: Waiting, Reason: "VirtualService reviews is OutOfSync at abc1234 after a sync to it"},
		},
		{
			name:   "pruning needed, the last operation did not prune (automated, prune off)",
			app:    converged(rev).resources(append(ours, v1alpha1.ResourceStatus{Group: "apps", Kind: "Deployment", Name: "reviews-v1", Status: v1alpha1.SyncStatusCodeOutOfSync, RequiresPruning: true})...).build(),
			target: Target{Commit: rev, Resources: []Resource{canary, vs}, Prune: true},
			want:   Verdict{State: NeedsSync, Reason: "Deployment reviews-v1 is not in git and still in the cluster"},
		},
		{
			name:   "pruning needed although the last operation pruned at that revision",
			app:    converged(rev).pruneOp().resources(append(ours, v1alpha1.ResourceStatus{Group: "apps", Kind: "Deployment", Name: "reviews-v1", Status: v1alpha1.SyncStatusCodeOutOfSync, RequiresPruning: true})...).build(),
			target: Target{Commit: rev, Resources: []Resource{canary, vs}, Prune: true},
			want:   Verdict{State: Waiting, Reason: "Deployment reviews-v1 is not in git and still in the cluster after a sync to it"},
		},
		{
			name:   "Argo CD cannot compare (repo-server down)",
			app:    converged(rev).resources(ours...).condition(v1alpha1.ApplicationConditionComparisonError, "rpc error: connection refused").build(),
			target: carried,
			want:   Verdict{State: Errored, Reason: "Argo CD cannot compare the app with git: rpc error: connection refused"},
		},
		{
			name:   "the sync failed on our workload",
			app:    newApp().op(rev, synccommon.OperationFailed, "one or more objects failed to apply", finished).failedOn(canary, "admission webhook denied").build(),
			target: carried,
			want:   Verdict{State: Failed, Reason: "sync to abc1234 failed on Deployment reviews-v2: admission webhook denied: one or more objects failed to apply"},
		},
		{
			name:   "the sync failed on someone else's resource",
			app:    newApp().op(rev, synccommon.OperationFailed, "one or more objects failed to apply", finished).failedOn(other, "quota exceeded").build(),
			target: carried,
			want:   Verdict{State: Errored, Reason: "sync to abc1234 failed: one or more objects failed to apply"},
		},
		{
			name:   "a sync of the target revision requested, not resolved yet",
			app:    converged(oldRev).requested("").build(),
			target: carried,
			want:   Verdict{State: Syncing, Reason: "sync to its target revision requested, not started yet"},
		},
		{
			name:   "an operation by auto-sync running at the head",
			app:    converged(oldRev).op(head, synccommon.OperationRunning, "", time.Time{}).build(),
			target: carried,
			want:   Verdict{State: Syncing, Reason: "operation Running for fedcba9"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Assess(tt.app, tt.target)
			if got.State != tt.want.State || got.Reason != tt.want.Reason {
				t.Errorf("Assess =\n  %+v\nwant\n  %+v", got, tt.want)
			}
		})
	}
}

func TestRevisions(t *testing.T) {
	app := converged(rev).sync(v1alpha1.SyncStatusCodeSynced, head).requested("main").build()
	got := Revisions(app)
	if len(got) != 2 || got[0] != rev || got[1] != head {
		t.Errorf("Revisions = %v, want [%s %s]", got, rev, head)
	}
}
