package argocdtest

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/gitops-engine/pkg/health"

	"github.com/gitcanary/gitcanary/pkg/argocd"
)

const (
	rev1 = "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	rev2 = "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// stepClock advances one second per call, so each lifecycle step has its
// own timestamp.
func stepClock() func() time.Time {
	t := time.Date(2025, 11, 23, 10, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Second); return t }
}

// assess Gets the app and returns Assess's verdict for rev.
func assess(t *testing.T, f *Fake, rev string) argocd.Verdict {
	t.Helper()
	app, err := f.Get(context.Background(), "reviews", false)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return argocd.Assess(app, argocd.Exact(rev))
}

func peek(t *testing.T, f *Fake, rev string) argocd.Verdict {
	t.Helper()
	app, ok := f.Peek("reviews")
	if !ok {
		t.Fatal("Peek: no app")
	}
	return argocd.Assess(app, argocd.Exact(rev))
}

func syncTo(t *testing.T, f *Fake, rev string, prune bool) {
	t.Helper()
	if err := f.Sync(context.Background(), "reviews", rev, prune); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

func wantState(t *testing.T, got argocd.Verdict, want argocd.State, reason string) {
	t.Helper()
	if got.State != want || !strings.Contains(got.Reason, reason) {
		t.Errorf("verdict = %+v, want %s with reason containing %q", got, want, reason)
	}
}

func TestFakeLifecycle(t *testing.T) {
	f := New()
	f.Clock = stepClock()
	f.AddApp("reviews")

	wantState(t, peek(t, f, rev1), argocd.NeedsSync, "no sync operation")
	syncTo(t, f, rev1, false)
	wantState(t, peek(t, f, rev1), argocd.Syncing, "operation Running")
	wantState(t, assess(t, f, rev1), argocd.Converged, "Synced at 1111111")

	// The next revision: the previous operation does not count for it.
	wantState(t, assess(t, f, rev2), argocd.NeedsSync, "the last operation applied 1111111")
	syncTo(t, f, rev2, true)
	wantState(t, assess(t, f, rev2), argocd.Converged, "")

	if want := []string{rev1, rev2}; !reflect.DeepEqual(f.Revisions("reviews"), want) {
		t.Errorf("Revisions = %v, want %v", f.Revisions("reviews"), want)
	}
	if want := []bool{false, true}; !reflect.DeepEqual(f.Prunes("reviews"), want) {
		t.Errorf("Prunes = %v, want %v", f.Prunes("reviews"), want)
	}
	want := []SyncCall{{"reviews", rev1, false}, {"reviews", rev2, true}}
	if got := f.Syncs(); !reflect.DeepEqual(got, want) {
		t.Errorf("Syncs = %+v, want %+v", got, want)
	}
}

func TestFakeTimestamps(t *testing.T) {
	f := New()
	f.Clock = stepClock()
	f.AddApp("reviews")
	syncTo(t, f, rev1, false)
	app, _ := f.Get(context.Background(), "reviews", false)
	st := app.Status.OperationState
	if st.FinishedAt == nil || st.FinishedAt.Before(&st.StartedAt) {
		t.Errorf("finishedAt %v before startedAt %v", st.FinishedAt, st.StartedAt)
	}
	if app.Status.ReconciledAt.Before(st.FinishedAt) {
		t.Errorf("reconciledAt %v before finishedAt %v", app.Status.ReconciledAt, st.FinishedAt)
	}
	if app.Operation != nil {
		t.Errorf("app.operation = %+v after the operation finished, want nil", app.Operation)
	}
	if ns := st.FinishedAt.Nanosecond(); ns != 0 {
		t.Errorf("finishedAt has sub-second precision (%d ns); Argo CD's has none", ns)
	}
}

func TestFakeFrozenClockStillConverges(t *testing.T) {
	frozen := time.Date(2025, 11, 23, 10, 0, 0, 0, time.UTC)
	f := New()
	f.Clock = func() time.Time { return frozen }
	f.AddApp("reviews")
	syncTo(t, f, rev1, false)
	wantState(t, assess(t, f, rev1), argocd.Converged, "")
}

func TestFakeGetsToFinish(t *testing.T) {
	f := New()
	f.Clock = stepClock()
	f.GetsToFinish = 3
	f.AddApp("reviews")
	syncTo(t, f, rev1, false)
	wantState(t, assess(t, f, rev1), argocd.Syncing, "Running")
	wantState(t, assess(t, f, rev1), argocd.Syncing, "Running")
	wantState(t, assess(t, f, rev1), argocd.Converged, "")
}

func TestFakeGetsToReassess(t *testing.T) {
	f := New()
	f.Clock = stepClock()
	f.AddApp("reviews")
	syncTo(t, f, rev1, false)
	wantState(t, assess(t, f, rev1), argocd.Converged, "")

	f.GetsToReassess = 2
	syncTo(t, f, rev2, false)
	// Finished, but the last comparison was of rev1.
	wantState(t, assess(t, f, rev2), argocd.Waiting, "health not reassessed")
	app, _ := f.Peek("reviews")
	if !app.Status.ReconciledAt.Before(app.Status.OperationState.FinishedAt) {
		t.Errorf("reconciledAt %v not before finishedAt %v while stale", app.Status.ReconciledAt, app.Status.OperationState.FinishedAt)
	}
	wantState(t, assess(t, f, rev2), argocd.Waiting, "health not reassessed")
	wantState(t, assess(t, f, rev2), argocd.Converged, "")
}

func TestFakeStaleHealthWithFrozenClock(t *testing.T) {
	frozen := time.Date(2025, 11, 23, 10, 0, 0, 0, time.UTC)
	f := New()
	f.Clock = func() time.Time { return frozen }
	f.GetsToReassess = 1
	f.AddApp("reviews")
	syncTo(t, f, rev1, false)
	wantState(t, assess(t, f, rev1), argocd.Waiting, "health not reassessed")
	app, _ := f.Peek("reviews")
	if !app.Status.ReconciledAt.Before(app.Status.OperationState.FinishedAt) {
		t.Error("stale reconciledAt must be before finishedAt even with a frozen clock")
	}
	wantState(t, assess(t, f, rev1), argocd.Converged, "")
}

func TestFakeOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		outcome Outcome
		message string
		want    argocd.State
		reason  string
	}{
		{"succeed", Succeed, "", argocd.Converged, "Healthy"},
		{"fail operation", FailOperation, "", argocd.Failed, "sync to 1111111 failed: one or more objects failed to apply"},
		{"fail operation with message", FailOperation, "ComparisonError: boom", argocd.Failed, "failed: ComparisonError: boom"},
		{"stay progressing", StayProgressing, "", argocd.Waiting, "health Progressing: Waiting for rollout"},
		{"go degraded", GoDegraded, "", argocd.Failed, "health Degraded: Deployment has timed out progressing."},
		{"go degraded with message", GoDegraded, "reviews-v2 crash-looping", argocd.Failed, "health Degraded: reviews-v2 crash-looping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New()
			f.Clock = stepClock()
			f.AddApp("reviews")
			f.Script(rev1, tt.outcome, tt.message)
			syncTo(t, f, rev1, false)
			wantState(t, assess(t, f, rev1), tt.want, tt.reason)
			// Another revision is unaffected by rev1's script.
			syncTo(t, f, rev2, false)
			wantState(t, assess(t, f, rev2), argocd.Converged, "")
		})
	}
}

func TestFakeSetHealthEndsProgressing(t *testing.T) {
	f := New()
	f.Clock = stepClock()
	f.AddApp("reviews")
	f.Script(rev1, StayProgressing, "")
	syncTo(t, f, rev1, false)
	wantState(t, assess(t, f, rev1), argocd.Waiting, "Progressing")
	wantState(t, assess(t, f, rev1), argocd.Waiting, "Progressing")
	f.SetHealth("reviews", health.HealthStatusHealthy, "")
	wantState(t, assess(t, f, rev1), argocd.Converged, "")
}

func TestFakeOperationInProgress(t *testing.T) {
	f := New()
	f.GetsToFinish = 2
	f.AddApp("reviews")
	syncTo(t, f, rev1, false)
	err := f.Sync(context.Background(), "reviews", rev2, false)
	if !errors.Is(err, argocd.ErrOperationInProgress) {
		t.Fatalf("second Sync = %v, want ErrOperationInProgress", err)
	}
	if got := f.Revisions("reviews"); !reflect.DeepEqual(got, []string{rev1}) {
		t.Errorf("refused Sync was recorded: %v", got)
	}
	assess(t, f, rev1) // Running
	wantState(t, assess(t, f, rev1), argocd.Converged, "")
	syncTo(t, f, rev2, false) // accepted once finished
}

func TestFakeOnSync(t *testing.T) {
	f := New()
	f.Clock = stepClock()
	f.AddApp("reviews")
	var calls []SyncCall
	f.OnSync = func(name, rev string, prune bool) error {
		calls = append(calls, SyncCall{name, rev, prune})
		// The hook may call back into the fake.
		if _, ok := f.Peek(name); !ok {
			t.Error("Peek from the hook failed")
		}
		if rev == rev2 {
			return errors.New(`admission webhook denied VirtualService "reviews"`)
		}
		return nil
	}
	syncTo(t, f, rev1, true)
	wantState(t, assess(t, f, rev1), argocd.Converged, "")
	syncTo(t, f, rev2, false)
	wantState(t, assess(t, f, rev2), argocd.Failed, `reason: admission webhook denied VirtualService "reviews"`)
	if want := []SyncCall{{"reviews", rev1, true}, {"reviews", rev2, false}}; !reflect.DeepEqual(calls, want) {
		t.Errorf("hook calls = %+v, want %+v", calls, want)
	}
}

func TestFakeErrors(t *testing.T) {
	f := New()
	f.AddApp("reviews")
	if _, err := f.Get(context.Background(), "ratings", false); !errors.Is(err, argocd.ErrNotFound) {
		t.Errorf("Get unknown app = %v, want ErrNotFound", err)
	}
	if err := f.Sync(context.Background(), "ratings", rev1, false); !errors.Is(err, argocd.ErrNotFound) {
		t.Errorf("Sync unknown app = %v, want ErrNotFound", err)
	}
	boom := errors.New("connection reset")
	f.FailNext(boom)
	if err := f.Sync(context.Background(), "reviews", rev1, false); !errors.Is(err, boom) {
		t.Errorf("Sync after FailNext = %v, want %v", err, boom)
	}
	if len(f.Syncs()) != 0 {
		t.Error("a failed Sync was recorded")
	}
	f.FailNext(boom)
	if _, err := f.Get(context.Background(), "reviews", false); !errors.Is(err, boom) {
		t.Errorf("Get after FailNext = %v, want %v", err, boom)
	}
	if _, err := f.Get(context.Background(), "reviews", false); err != nil {
		t.Errorf("FailNext affected a second call: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Get(ctx, "reviews", false); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context = %v", err)
	}
}

func TestFakeGetReturnsCopies(t *testing.T) {
	f := New()
	f.AddApp("reviews")
	app, _ := f.Get(context.Background(), "reviews", false)
	app.Status.Health.Status = health.HealthStatusHealthy
	again, _ := f.Peek("reviews")
	if again.Status.Health.Status == health.HealthStatusHealthy {
		t.Error("mutating a returned Application changed the fake's state")
	}
}

// TestFakeBranchHead: as Argo CD does, a sync without a revision applies
// the branch head as resolved at that moment, a refresh compares at the
// head another writer moved, and an automated app syncs a new head by
// itself, once; a revision named on an automated app is refused.
func TestFakeBranchHead(t *testing.T) {
	ctx := context.Background()
	head := rev1
	f := New()
	f.Clock = stepClock()
	f.Resolve = func(string) (string, error) { return head, nil }
	f.AddApp("reviews")
	syncTo(t, f, "", false)
	app, _ := f.Get(ctx, "reviews", false)
	if got := app.Status.OperationState.SyncResult.Revision; got != rev1 {
		t.Fatalf("a sync of the target revision applied %q, want the head %s", got, rev1)
	}

	head = rev2 // another writer pushes
	app, _ = f.Get(ctx, "reviews", true)
	if app.Status.Sync.Revision != rev2 || app.Status.Sync.Status != "OutOfSync" {
		t.Errorf("after a refresh sync = %+v, want OutOfSync at the head %s", app.Status.Sync, rev2)
	}

	f.SetAutomated("reviews", false)
	if err := f.Sync(ctx, "reviews", rev2, false); !errors.Is(err, argocd.ErrAutoSync) {
		t.Errorf("Sync(rev2) on an automated app = %v, want ErrAutoSync", err)
	}
	app, _ = f.Get(ctx, "reviews", true)
	if st := app.Status.OperationState; st == nil || st.Operation.Sync.Revision != rev2 || !st.Operation.InitiatedBy.Automated {
		t.Fatalf("an automated app did not sync the new head by itself: %+v", st)
	}
	app, _ = f.Get(ctx, "reviews", true)
	if app.Status.Sync.Status != "Synced" || app.Status.Sync.Revision != rev2 {
		t.Errorf("after the automated sync: %+v, want Synced at %s", app.Status.Sync, rev2)
	}
	if n := len(f.Syncs()); n != 1 {
		t.Errorf("Syncs = %d, want only gitcanary's one (automated operations are not Sync calls)", n)
	}
}
