// Package argocdtest provides a scripted in-memory Argo CD for unit tests of
// code that drives argocd.Client, such as the release state machine.
package argocdtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/argoproj/gitops-engine/pkg/health"
	synccommon "github.com/argoproj/gitops-engine/pkg/sync/common"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitcanary/gitcanary/pkg/argocd"
)

// Outcome is how the fake ends an operation for a revision.
type Outcome int

const (
	// Succeed: operation Succeeded, Synced at the revision, Healthy.
	Succeed Outcome = iota
	// FailOperation: operation Failed; sync status stays OutOfSync.
	FailOperation
	// StayProgressing: operation Succeeded and Synced, health Progressing
	// until the test calls SetHealth.
	StayProgressing
	// GoDegraded: operation Succeeded and Synced, health Degraded.
	GoDegraded
)

// SyncCall is one recorded Sync.
type SyncCall struct {
	Name     string
	Revision string
	Prune    bool
}

// Fake is an argocd.Client that plays Argo CD's operation lifecycle:
//
//	Sync      → app.operation set, operationState Running
//	N-th Get  → operation finished (Succeeded or Failed), finishedAt = now
//	then      → (after GetsToReassess more Gets) sync status and health
//	            reassessed, reconciledAt = now ≥ finishedAt
//
// What it models of Argo CD 2.14 (server/application/application.go Sync,
// controller/appcontroller.go autoSync, read before writing this):
//
//   - A Sync without a revision syncs the app's target revision, which the
//     API server resolves to a commit (Resolve, the branch head) before it
//     records the operation: operation.sync.revision and
//     syncResult.revision are that commit, not the branch name.
//   - A Sync naming a revision on an app with automated sync is refused
//     ("auto-sync currently set to main"); without a revision it is allowed.
//   - Every comparison (a refresh, and reassessing after an operation)
//     sets status.sync.revision to the target revision's commit as resolved
//     then: the branch head, which other writers move all the time, not the
//     commit gitcanary last synced.
//   - An app with automated sync starts an operation by itself when a
//     refresh finds the head's manifests differ from what its last
//     operation applied (Differs), once per head commit, with prune as its
//     policy says.
//   - Sync windows (SetSyncWindows, argocd.SyncWindows for their
//     semantics): a Sync they refuse is an ErrSyncWindow and starts
//     nothing; an operation running while they refuse stays Running with
//     argocd.BlockedOperationMessage; automated sync is skipped while
//     they refuse a non-manual sync. The project is "default" and every
//     window applies to every app.
//   - status.resources lists the objects at the compared revision
//     (ResourcesAt); workload kinds carry the scripted health, routing
//     objects none (Argo CD has no health check for them).
//
// Times have second precision, like Argo CD's. Set the exported fields before
// the fake is used; the methods are safe for concurrent use.
type Fake struct {
	// Resolve returns the commit an app's target revision points at (the
	// branch head); nil leaves an empty revision empty.
	Resolve func(name string) (string, error)
	// Differs reports whether the manifests at commit to differ from
	// those at from, for automated sync and sync status; nil: they differ
	// whenever the commits do.
	Differs func(name, from, to string) bool
	// ResourcesAt lists the app's objects at a commit for status.resources;
	// nil leaves status.resources empty.
	ResourcesAt func(name, revision string) []v1alpha1.ResourceStatus
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
	// OnSync runs on every accepted Sync, e.g. to apply the revision's
	// manifests to a fake cluster. An error makes the operation fail with it
	// as the message, as a failed apply does in Argo CD.
	OnSync func(name, revision string, prune bool) error
	// GetsToFinish is which Get after a Sync finishes the operation; 0 or 1
	// means the next one. Earlier Gets see it Running.
	GetsToFinish int
	// GetsToReassess is how many Gets after the operation finished Argo CD
	// takes to reassess sync status and health; 0 means on the same Get.
	// Until then health is stale (reconciledAt < finishedAt).
	GetsToReassess int

	mu       sync.Mutex
	windows  []v1alpha1.SyncWindow
	apps     map[string]*fakeApp
	scripts  map[string]script
	syncs    []SyncCall
	nextErrs []error
	cached   map[cacheKey]argocd.CachedResource // tree.go
}

var _ argocd.Client = (*Fake)(nil)

type stage int

const (
	idle stage = iota
	running
	reassessing
)

type fakeApp struct {
	app *v1alpha1.Application
	// automated sync policy; autoTried is the head it last auto-synced.
	automated, autoPrune bool
	autoTried            string
	stage                stage
	gets                 int    // Gets seen in the current stage
	result               script // how the current operation ends
	hookErr              error  // OnSync's error for the current operation
}

type script struct {
	outcome Outcome
	message string
}

// New returns a Fake with no applications.
func New() *Fake {
	return &Fake{apps: map[string]*fakeApp{}, scripts: map[string]script{}}
}

// AddApp creates an application that has never been synced (sync status
// OutOfSync, health Missing, no operation).
func (f *Fake) AddApp(name string) {
	f.SetApp(&v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "argocd"},
		Status: v1alpha1.ApplicationStatus{
			Sync:   v1alpha1.SyncStatus{Status: v1alpha1.SyncStatusCodeOutOfSync},
			Health: v1alpha1.HealthStatus{Status: health.HealthStatusMissing},
		},
	})
}

// SetApp puts an application in the exact state given (a copy is kept),
// e.g. one built to resume from. Its name is app.Name.
func (f *Fake) SetApp(app *v1alpha1.Application) {
	f.mu.Lock()
	defer f.mu.Unlock()
	app = app.DeepCopy()
	st := idle
	if op := app.Status.OperationState; op != nil && !op.Phase.Completed() {
		st = running
	} else if app.Operation != nil {
		// Requested but not started: start it, so finish has a state to end.
		app.Status.OperationState = &v1alpha1.OperationState{
			Operation: *app.Operation.DeepCopy(), Phase: synccommon.OperationRunning, StartedAt: *f.now(),
		}
		st = running
	}
	f.apps[app.Name] = &fakeApp{app: app, stage: st, result: f.scripts[revisionOf(app)]}
}

// SetSource makes an app deploy path of repoURL at revision, as its
// spec.source does (what gitcanary checks before a release's first commit).
func (f *Fake) SetSource(name, repoURL, path, revision string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.apps[name]
	if !ok {
		panic(fmt.Sprintf("argocdtest: SetSource of unknown application %q", name))
	}
	a.app.Spec.Source = &v1alpha1.ApplicationSource{RepoURL: repoURL, Path: path, TargetRevision: revision}
}

// SetAutomated gives an app an automated sync policy (prune as given), as
// spec.syncPolicy.automated does.
func (f *Fake) SetAutomated(name string, prune bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.apps[name]
	if !ok {
		panic(fmt.Sprintf("argocdtest: SetAutomated of unknown application %q", name))
	}
	a.automated, a.autoPrune = true, prune
	a.app.Spec.SyncPolicy = &v1alpha1.SyncPolicy{Automated: &v1alpha1.SyncPolicyAutomated{Prune: prune, SelfHeal: true}}
}

// Script sets how operations for revision end; message overrides the
// default operation or health message. Unscripted revisions Succeed.
func (f *Fake) Script(revision string, outcome Outcome, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scripts[revision] = script{outcome: outcome, message: message}
}

// SetHealth changes an application's health as a reassessment at Clock()
// would, e.g. to let a StayProgressing app become Healthy.
func (f *Fake) SetHealth(name string, status health.HealthStatusCode, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.apps[name]
	if !ok {
		panic(fmt.Sprintf("argocdtest: SetHealth of unknown application %q", name))
	}
	a.app.Status.Health = v1alpha1.HealthStatus{Status: status, Message: message}
	a.app.Status.ReconciledAt = f.now()
}

// FailNext makes the next Get or Sync return err without other effect.
func (f *Fake) FailNext(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextErrs = append(f.nextErrs, err)
}

// Syncs returns every accepted Sync, in order.
func (f *Fake) Syncs() []SyncCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]SyncCall(nil), f.syncs...)
}

// Revisions returns the revisions an application was synced to, in order.
func (f *Fake) Revisions(name string) []string {
	var out []string
	for _, s := range f.Syncs() {
		if s.Name == name {
			out = append(out, s.Revision)
		}
	}
	return out
}

// Prunes returns the prune flag of each Sync of an application, in order.
func (f *Fake) Prunes(name string) []bool {
	var out []bool
	for _, s := range f.Syncs() {
		if s.Name == name {
			out = append(out, s.Prune)
		}
	}
	return out
}

// Peek returns a copy of the application without advancing its lifecycle.
func (f *Fake) Peek(name string) (*v1alpha1.Application, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.apps[name]
	if !ok {
		return nil, false
	}
	return a.app.DeepCopy(), true
}

// Get implements argocd.Client. Every Get moves the lifecycle on by one step
// (refresh or not), then returns a copy.
func (f *Fake) Get(ctx context.Context, name string, refresh bool) (*v1alpha1.Application, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.popErr(); err != nil {
		return nil, fmt.Errorf("get application %q: %w", name, err)
	}
	a, ok := f.apps[name]
	if !ok {
		return nil, fmt.Errorf("get application %q: %w", name, argocd.ErrNotFound)
	}
	f.advance(a)
	if refresh && a.stage == idle {
		f.compare(a)
		f.autoSync(name, a)
	}
	return a.app.DeepCopy(), nil
}

// compare plays a comparison: sync status at the target revision's commit.
// Called with f.mu held.
func (f *Fake) compare(a *fakeApp) {
	if f.Resolve == nil {
		return
	}
	head, err := f.Resolve(a.app.Name)
	if err != nil {
		a.app.Status.Conditions = []v1alpha1.ApplicationCondition{{Type: v1alpha1.ApplicationConditionComparisonError, Message: err.Error()}}
		return
	}
	a.app.Status.Conditions = nil
	code := v1alpha1.SyncStatusCodeSynced
	if applied := lastApplied(a.app); applied == "" || f.differs(a.app.Name, applied, head) {
		code = v1alpha1.SyncStatusCodeOutOfSync
	}
	a.app.Status.Sync = v1alpha1.SyncStatus{Status: code, Revision: head}
	if f.ResourcesAt != nil {
		a.app.Status.Resources = f.resources(a, head, code)
	}
	a.app.Status.ReconciledAt = f.now()
}

// autoSync starts an operation on an automated app that is OutOfSync at a
// head it has not tried yet. Called with f.mu held.
func (f *Fake) autoSync(name string, a *fakeApp) {
	s := a.app.Status.Sync
	if !a.automated || s.Status != v1alpha1.SyncStatusCodeOutOfSync || s.Revision == a.autoTried || f.blocked(false) {
		return
	}
	a.autoTried = s.Revision
	f.start(a, name, s.Revision, a.autoPrune, "automated sync policy")
}

func (f *Fake) differs(name, from, to string) bool {
	if f.Differs == nil {
		return from != to
	}
	return f.Differs(name, from, to)
}

// lastApplied is the commit the app's last successful operation applied.
func lastApplied(app *v1alpha1.Application) string {
	st := app.Status.OperationState
	if st == nil || st.Phase != synccommon.OperationSucceeded || st.SyncResult == nil {
		return ""
	}
	return st.SyncResult.Revision
}

// Annotate implements argocd.Client.
func (f *Fake) Annotate(ctx context.Context, name string, annotations map[string]string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.apps[name]
	if !ok {
		return fmt.Errorf("annotate application %q: %w", name, argocd.ErrNotFound)
	}
	if a.app.Annotations == nil {
		a.app.Annotations = map[string]string{}
	}
	for k, v := range annotations {
		if v == "" {
			delete(a.app.Annotations, k)
		} else {
			a.app.Annotations[k] = v
		}
	}
	return nil
}

// SetSyncWindows replaces the project's sync windows.
func (f *Fake) SetSyncWindows(ws ...v1alpha1.SyncWindow) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.windows = ws
}

// SyncWindows implements argocd.Client.
func (f *Fake) SyncWindows(ctx context.Context, name string) (*argocd.SyncWindows, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.apps[name]; !ok {
		return nil, fmt.Errorf("read the sync windows of application %q: %w", name, argocd.ErrNotFound)
	}
	w := &argocd.SyncWindows{Project: "default", Windows: slices.Clone(f.windows)}
	ok, err := w.CanSyncAt(f.now().Time, true)
	w.CanSync = ok && err == nil
	return w, nil
}

// blocked reports whether the windows refuse a sync now. Called with f.mu held.
func (f *Fake) blocked(manual bool) bool {
	if len(f.windows) == 0 {
		return false
	}
	ok, err := (&argocd.SyncWindows{Windows: f.windows}).CanSyncAt(f.now().Time, manual)
	return !ok || err != nil
}

// Sync implements argocd.Client.
func (f *Fake) Sync(ctx context.Context, name, revision string, prune bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	if err := f.popErr(); err != nil {
		f.mu.Unlock()
		return fmt.Errorf("sync application %q to %s: %w", name, revision, err)
	}
	a, ok := f.apps[name]
	if !ok {
		f.mu.Unlock()
		return fmt.Errorf("sync application %q to %s: %w", name, revision, argocd.ErrNotFound)
	}
	if f.blocked(true) {
		f.mu.Unlock()
		return fmt.Errorf("sync application %q to %s: %w", name, revision, argocd.ErrSyncWindow)
	}
	if a.stage == running {
		f.mu.Unlock()
		return fmt.Errorf("sync application %q to %s: %w", name, revision, argocd.ErrOperationInProgress)
	}
	if revision != "" && a.automated {
		f.mu.Unlock()
		return fmt.Errorf("sync application %q to %s: %w", name, revision, argocd.ErrAutoSync)
	}
	resolved := revision
	if resolved == "" && f.Resolve != nil {
		var err error
		if resolved, err = f.Resolve(name); err != nil {
			f.mu.Unlock()
			return fmt.Errorf("sync application %q: error resolving repo revision: %w", name, err)
		}
	}
	f.syncs = append(f.syncs, SyncCall{Name: name, Revision: revision, Prune: prune})
	f.start(a, "gitcanary", resolved, prune, "")
	hook := f.OnSync
	f.mu.Unlock()

	// The hook runs unlocked so it may call back into the fake.
	if hook != nil {
		if err := hook(name, resolved, prune); err != nil {
			f.mu.Lock()
			a.hookErr = err
			f.mu.Unlock()
		}
	}
	return nil
}

// start records a running operation to revision. Called with f.mu held.
func (f *Fake) start(a *fakeApp, user, revision string, prune bool, automated string) {
	op := v1alpha1.Operation{
		Sync:        &v1alpha1.SyncOperation{Revision: revision, Prune: prune},
		InitiatedBy: v1alpha1.OperationInitiator{Username: user, Automated: automated != ""},
	}
	a.app.Operation = op.DeepCopy()
	a.app.Status.OperationState = &v1alpha1.OperationState{
		Operation: op,
		Phase:     synccommon.OperationRunning,
		Message:   "waiting for completion of hook and sync",
		StartedAt: *f.now(),
	}
	a.stage, a.gets, a.hookErr = running, 0, nil
	a.result = f.scripts[revision]
	if automated != "" && f.OnSync != nil {
		// Argo CD applies an automated operation as it does any other.
		hook := f.OnSync
		name := a.app.Name
		f.mu.Unlock()
		err := hook(name, revision, prune)
		f.mu.Lock()
		a.hookErr = err
	}
}

func (f *Fake) popErr() error {
	if len(f.nextErrs) == 0 {
		return nil
	}
	err := f.nextErrs[0]
	f.nextErrs = f.nextErrs[1:]
	return err
}

// advance moves an app one Get along its lifecycle. Called with f.mu held.
func (f *Fake) advance(a *fakeApp) {
	switch a.stage {
	case running:
		if f.blocked(!a.app.Status.OperationState.Operation.InitiatedBy.Automated) {
			a.app.Status.OperationState.Message = argocd.BlockedOperationMessage
			return
		}
		a.gets++
		if a.gets >= max(f.GetsToFinish, 1) {
			f.finish(a)
		}
	case reassessing:
		a.gets++
		if a.gets >= f.GetsToReassess {
			f.reassess(a)
		}
	}
}

func (f *Fake) finish(a *fakeApp) {
	st := a.app.Status.OperationState
	rev := revisionOf(a.app)
	now := f.now()
	st.FinishedAt = now
	st.SyncResult = &v1alpha1.SyncOperationResult{Revision: rev}
	a.app.Operation = nil

	if a.hookErr != nil || a.result.outcome == FailOperation {
		st.Phase = synccommon.OperationFailed
		st.Message = "one or more objects failed to apply"
		if a.hookErr != nil {
			st.Message += ", reason: " + a.hookErr.Error()
		} else if a.result.message != "" {
			st.Message = a.result.message
		}
		a.app.Status.Sync = v1alpha1.SyncStatus{Status: v1alpha1.SyncStatusCodeOutOfSync, Revision: rev}
		a.app.Status.ReconciledAt = now
		a.stage = idle
		return
	}
	st.Phase = synccommon.OperationSucceeded
	st.Message = "successfully synced (all tasks run)"
	if f.GetsToReassess <= 0 {
		f.reassess(a)
		return
	}
	// Health and sync status still describe the previous comparison, made
	// before the operation finished.
	if r := a.app.Status.ReconciledAt; r == nil || !r.Before(now) {
		stale := metav1.NewTime(now.Add(-time.Second))
		a.app.Status.ReconciledAt = &stale
	}
	a.stage, a.gets = reassessing, 0
}

func (f *Fake) reassess(a *fakeApp) {
	rev := revisionOf(a.app)
	a.app.Status.Sync = v1alpha1.SyncStatus{Status: v1alpha1.SyncStatusCodeSynced, Revision: rev}
	a.app.Status.ReconciledAt = f.now()
	defer func() {
		// Argo CD compares at the head once more after the operation.
		if f.Resolve != nil {
			f.compare(a)
		} else if f.ResourcesAt != nil {
			a.app.Status.Resources = f.resources(a, rev, v1alpha1.SyncStatusCodeSynced)
		}
	}()
	h := v1alpha1.HealthStatus{Status: health.HealthStatusHealthy}
	switch a.result.outcome {
	case StayProgressing:
		h = v1alpha1.HealthStatus{Status: health.HealthStatusProgressing, Message: "Waiting for rollout to finish: 0 of 1 updated replicas are available..."}
	case GoDegraded:
		h = v1alpha1.HealthStatus{Status: health.HealthStatusDegraded, Message: "Deployment has timed out progressing."}
	}
	if a.result.message != "" && h.Status != health.HealthStatusHealthy {
		h.Message = a.result.message
	}
	a.app.Status.Health = h
	a.stage = idle
}

// resources lists the app's objects at rev with the scripted health on
// workloads. Called with f.mu held.
func (f *Fake) resources(a *fakeApp, rev string, code v1alpha1.SyncStatusCode) []v1alpha1.ResourceStatus {
	rs := f.ResourcesAt(a.app.Name, rev)
	for i := range rs {
		if rs[i].Status == "" {
			rs[i].Status = code
		}
		if isWorkload(rs[i].Kind) && rs[i].Health == nil {
			h := a.app.Status.Health
			rs[i].Health = &v1alpha1.HealthStatus{Status: h.Status, Message: h.Message}
		}
	}
	f.cachedHealth(a, rs) // tree.go
	return rs
}

// isWorkload: kinds Argo CD has a health check for among those the fake serves.
func isWorkload(kind string) bool {
	switch kind {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "WorkloadGroup", "DeploymentConfig", "CloneSet":
		return true
	}
	return false
}

// now is Clock() truncated to seconds, as Argo CD's timestamps are.
func (f *Fake) now() *metav1.Time {
	clock := f.Clock
	if clock == nil {
		clock = time.Now
	}
	t := metav1.NewTime(clock().Truncate(time.Second))
	return &t
}

// revisionOf is the revision of the app's current (or last) operation.
func revisionOf(app *v1alpha1.Application) string {
	if st := app.Status.OperationState; st != nil && st.Operation.Sync != nil {
		return st.Operation.Sync.Revision
	}
	if app.Operation != nil && app.Operation.Sync != nil {
		return app.Operation.Sync.Revision
	}
	return ""
}
