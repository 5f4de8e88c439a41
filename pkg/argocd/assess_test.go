package argocd

import (
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/argoproj/gitops-engine/pkg/health"
	synccommon "github.com/argoproj/gitops-engine/pkg/sync/common"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	rev    = "abc1234def5678abc1234def5678abc1234def56"
	oldRev = "0123456789abcdef0123456789abcdef01234567"
)

var t0 = time.Date(2025, 11, 23, 10, 0, 0, 0, time.UTC)

// appBuilder builds Applications for tests; each method returns the builder.
type appBuilder struct{ app *v1alpha1.Application }

func newApp() *appBuilder {
	return &appBuilder{app: &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "reviews", Namespace: "argocd"}}}
}

// converged is the state after a successful sync to r, reassessed and Healthy.
func converged(r string) *appBuilder {
	return newApp().op(r, synccommon.OperationSucceeded, "successfully synced (all tasks run)", t0.Add(2*time.Second)).
		sync(v1alpha1.SyncStatusCodeSynced, r).reconciled(t0.Add(3*time.Second)).health(health.HealthStatusHealthy, "")
}

// op sets the last operation's state; a zero finished time leaves it unset.
func (b *appBuilder) op(r string, phase synccommon.OperationPhase, msg string, finished time.Time) *appBuilder {
	st := &v1alpha1.OperationState{
		Operation: v1alpha1.Operation{Sync: &v1alpha1.SyncOperation{Revision: r}},
		Phase:     phase,
		Message:   msg,
		StartedAt: metav1.NewTime(t0),
	}
	if phase.Completed() {
		st.SyncResult = &v1alpha1.SyncOperationResult{Revision: r}
	}
	if !finished.IsZero() {
		ft := metav1.NewTime(finished)
		st.FinishedAt = &ft
	}
	b.app.Status.OperationState = st
	return b
}

// resolved sets the operation's resolved revision (Argo CD fills it in
// during the sync).
func (b *appBuilder) resolved(r string) *appBuilder {
	b.app.Status.OperationState.SyncResult = &v1alpha1.SyncOperationResult{Revision: r}
	return b
}

// requested sets app.operation, as the API server does on Sync.
func (b *appBuilder) requested(r string) *appBuilder {
	b.app.Operation = &v1alpha1.Operation{Sync: &v1alpha1.SyncOperation{Revision: r}}
	return b
}

func (b *appBuilder) sync(s v1alpha1.SyncStatusCode, r string) *appBuilder {
	b.app.Status.Sync = v1alpha1.SyncStatus{Status: s, Revision: r}
	return b
}

func (b *appBuilder) reconciled(at time.Time) *appBuilder {
	t := metav1.NewTime(at)
	b.app.Status.ReconciledAt = &t
	return b
}

func (b *appBuilder) unreconciled() *appBuilder {
	b.app.Status.ReconciledAt = nil
	return b
}

func (b *appBuilder) health(s health.HealthStatusCode, msg string) *appBuilder {
	b.app.Status.Health = v1alpha1.HealthStatus{Status: s, Message: msg}
	return b
}

func (b *appBuilder) build() *v1alpha1.Application { return b.app }

func TestAssess(t *testing.T) {
	finished := t0.Add(2 * time.Second)
	tests := []struct {
		name string
		app  *v1alpha1.Application
		want Verdict
	}{
		{
			name: "converged",
			app:  converged(rev).build(),
			want: Verdict{State: Converged, Reason: "Synced at abc1234, Healthy"},
		},
		{
			name: "converged with reconciledAt equal to finishedAt",
			app:  converged(rev).reconciled(finished).build(),
			want: Verdict{State: Converged, Reason: "Synced at abc1234, Healthy"},
		},
		{
			name: "never synced",
			app:  newApp().sync(v1alpha1.SyncStatusCodeOutOfSync, rev).build(),
			want: Verdict{State: NeedsSync, Reason: "no sync operation has run yet"},
		},
		{
			name: "last operation was for another revision",
			app:  converged(oldRev).sync(v1alpha1.SyncStatusCodeOutOfSync, rev).build(),
			want: Verdict{State: NeedsSync, Reason: "the last operation applied 0123456, which does not carry abc1234"},
		},
		{
			name: "operation for another revision running",
			app:  newApp().requested(oldRev).op(oldRev, synccommon.OperationRunning, "", time.Time{}).build(),
			want: Verdict{State: Waiting, Reason: "another operation (sync to 0123456) is Running"},
		},
		{
			name: "operation for another revision pending",
			app:  converged(rev).requested(oldRev).build(),
			want: Verdict{State: Waiting, Reason: "another operation (sync to 0123456) is pending"},
		},
		{
			name: "sync requested, not picked up yet",
			app:  converged(oldRev).requested(rev).build(),
			want: Verdict{State: Syncing, Reason: "sync to abc1234 requested, not started yet"},
		},
		{
			name: "operation running",
			app: newApp().requested(rev).op(rev, synccommon.OperationRunning, "waiting for healthy state of apps/Deployment/reviews-v2", time.Time{}).
				sync(v1alpha1.SyncStatusCodeOutOfSync, rev).build(),
			want: Verdict{State: Syncing, Reason: "operation Running for abc1234: waiting for healthy state of apps/Deployment/reviews-v2"},
		},
		{
			name: "operation started without a revision, resolved to ours",
			app:  newApp().requested("").op("", synccommon.OperationRunning, "", time.Time{}).resolved(rev).build(),
			want: Verdict{State: Syncing, Reason: "operation Running for abc1234"},
		},
		{
			name: "operation started without a revision, not resolved yet",
			app:  newApp().requested("").op("", synccommon.OperationRunning, "", time.Time{}).build(),
			want: Verdict{State: Syncing, Reason: "operation Running for an unresolved revision"},
		},
		{
			name: "operation terminating",
			app:  newApp().requested(rev).op(rev, synccommon.OperationTerminating, "", time.Time{}).build(),
			want: Verdict{State: Syncing, Reason: "operation Terminating for abc1234"},
		},
		{
			name: "operation failed",
			app: newApp().op(rev, synccommon.OperationFailed, "one or more objects failed to apply", finished).
				sync(v1alpha1.SyncStatusCodeOutOfSync, rev).reconciled(finished).build(),
			want: Verdict{State: Failed, Reason: "sync to abc1234 failed: one or more objects failed to apply"},
		},
		{
			name: "operation errored",
			app:  newApp().op(rev, synccommon.OperationError, "rpc error: repository not accessible", finished).build(),
			want: Verdict{State: Errored, Reason: "sync to abc1234 errored: rpc error: repository not accessible"},
		},
		{
			name: "degraded after the operation",
			app:  converged(rev).health(health.HealthStatusDegraded, "Deployment reviews-v2 exceeded its progress deadline").build(),
			want: Verdict{State: Failed, Reason: "health Degraded: Deployment reviews-v2 exceeded its progress deadline"},
		},
		{
			name: "degraded, but assessed before the operation finished",
			app:  converged(rev).reconciled(t0).health(health.HealthStatusDegraded, "old").build(),
			want: Verdict{State: Waiting, Reason: "health not reassessed since the sync finished"},
		},
		{
			name: "health stale: reconciled before the operation finished",
			app:  converged(rev).reconciled(finished.Add(-time.Second)).build(),
			want: Verdict{State: Waiting, Reason: "health not reassessed since the sync finished"},
		},
		{
			name: "health never assessed",
			app:  converged(rev).unreconciled().build(),
			want: Verdict{State: Waiting, Reason: "health not reassessed since the sync finished"},
		},
		{
			name: "progressing",
			app:  converged(rev).health(health.HealthStatusProgressing, "Waiting for rollout to finish: 0 of 1 updated replicas are available...").build(),
			want: Verdict{State: Waiting, Reason: "health Progressing: Waiting for rollout to finish: 0 of 1 updated replicas are available..."},
		},
		{
			name: "missing health without message",
			app:  converged(rev).health(health.HealthStatusMissing, "").build(),
			want: Verdict{State: Waiting, Reason: "health Missing"},
		},
		{
			name: "succeeded but still OutOfSync",
			app:  converged(rev).sync(v1alpha1.SyncStatusCodeOutOfSync, rev).build(),
			want: Verdict{State: Waiting, Reason: "sync status OutOfSync at abc1234 after a sync to it"},
		},
		{
			name: "succeeded, Synced but compared with another revision",
			app:  converged(rev).sync(v1alpha1.SyncStatusCodeSynced, oldRev).build(),
			want: Verdict{State: Waiting, Reason: "Argo CD compared at 0123456, which does not carry abc1234"},
		},
		{
			name: "succeeded, sync status unknown",
			app:  converged(rev).sync("", "").build(),
			want: Verdict{State: Waiting, Reason: "sync status Unknown at an unresolved revision"},
		},
		{
			name: "finishedAt missing falls back to startedAt",
			app:  converged(rev).op(rev, synccommon.OperationSucceeded, "", time.Time{}).reconciled(t0).build(),
			want: Verdict{State: Converged, Reason: "Synced at abc1234, Healthy"},
		},
		{
			name: "nil application",
			app:  nil,
			want: Verdict{State: Waiting, Reason: "no application"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Assess(tt.app, Exact(rev))
			if got.State != tt.want.State || got.Reason != tt.want.Reason {
				t.Errorf("Assess =\n  %+v\nwant\n  %+v", got, tt.want)
			}
		})
	}
}

func TestShort(t *testing.T) {
	for in, want := range map[string]string{rev: "abc1234", "main": "main", "": "", "ABC1234DEF5678ABC1234DEF5678ABC1234DEF56": "ABC1234DEF5678ABC1234DEF5678ABC1234DEF56"} {
		if got := short(in); got != want {
			t.Errorf("short(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAssessApplied: Applied holds once the revision is synced and health
// reassessed, whatever the health, so a release on its way out can go on
// while the workload it removes keeps the app Progressing.
func TestAssessApplied(t *testing.T) {
	for _, tc := range []struct {
		name    string
		health  string
		fresh   bool
		synced  bool
		applied bool
	}{
		{"healthy", "Healthy", true, true, true},
		{"progressing", "Progressing", true, true, true},
		{"degraded", "Degraded", true, true, true},
		{"stale health", "Progressing", false, true, false},
		{"out of sync", "Healthy", true, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := converged(rev).health(health.HealthStatusCode(tc.health), "")
			if !tc.fresh {
				b = b.reconciled(t0.Add(time.Second)) // before the operation finished
			}
			if !tc.synced {
				b = b.sync(v1alpha1.SyncStatusCodeOutOfSync, rev)
			}
			if got := Assess(b.build(), Exact(rev)); got.Applied != tc.applied {
				t.Errorf("Applied = %v, want %v (%+v)", got.Applied, tc.applied, got)
			}
		})
	}
}
