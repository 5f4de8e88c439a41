// Package argocd talks to Argo CD through its gRPC apiclient and judges,
// purely, whether an Application has converged on a revision.
package argocd

import (
	"context"
	"errors"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
)

// Client is the part of Argo CD gitcanary uses.
type Client interface {
	// Get returns the Application; refresh asks Argo CD to compare with git first.
	Get(ctx context.Context, name string, refresh bool) (*v1alpha1.Application, error)
	// Sync starts a sync operation to revision, or to the app's target
	// revision when revision is "" (what gitcanary does: it never syncs an
	// older commit than the branch head); prune deletes live objects that
	// git no longer has. ErrOperationInProgress when another operation is
	// running.
	Sync(ctx context.Context, name, revision string, prune bool) error
	// Annotate merges annotations into the Application's metadata (an
	// empty value removes one).
	Annotate(ctx context.Context, name string, annotations map[string]string) error
	// SyncWindows reads what the Application's project's sync windows say
	// about syncing it (syncwindows.go).
	SyncWindows(ctx context.Context, name string) (*SyncWindows, error)
	// Cached returns the object of the Application's resource tree that
	// is r: the version of it in Argo CD's cache of the cluster as of the
	// app's last reconciliation, and the health Argo CD gave it then.
	Cached(ctx context.Context, name string, r Resource) (CachedResource, error)
}

// CachedResource is one object of an Application's resource tree.
type CachedResource struct {
	// Found: the tree has the object.
	Found           bool
	ResourceVersion string
	// Health is empty for kinds Argo CD has no health check for.
	Health, HealthMessage string
}

// ErrOperationInProgress means Argo CD is already running an operation on the app.
var ErrOperationInProgress = errors.New("another operation is already in progress")

// ErrNotFound means the Application does not exist (or is not visible to the token).
var ErrNotFound = errors.New("application not found")

// State is the verdict of Assess.
type State string

const (
	// NeedsSync: no sync operation for this revision has been started yet.
	NeedsSync State = "NeedsSync"
	// Syncing: an operation for this revision is running.
	Syncing State = "Syncing"
	// Waiting: the operation finished but health or sync status is not there yet.
	Waiting State = "Waiting"
	// Converged: revision, Synced, Succeeded, fresh health and Healthy all hold.
	Converged State = "Converged"
	// Failed: the answer was no: the operation failed on one of the
	// target's resources, or one of them is Degraded.
	Failed State = "Failed"
	// Errored: Argo CD could not find out (a ComparisonError, an operation
	// that errored or failed on something else); wait and retry.
	Errored State = "Errored"
)

// Verdict is what Assess concludes, with a reason a user can read.
type Verdict struct {
	State  State
	Reason string
	// Applied: the operation for the revision succeeded, the app is Synced
	// at it and health was reassessed since, whatever that health is. A
	// release on its way out accepts this: the new version it is removing
	// may be what makes the app unhealthy.
	Applied bool
	// Resync: an operation that carried the commit ended in error; a new
	// sync may succeed. Since is when it finished, to space the retries.
	Resync bool
	Since  time.Time
	// Blocked: the running operation (the commit's, or one before it that
	// the commit's sync waits for) is held by a sync window; it goes on
	// when a window opens.
	Blocked bool
	// Unhealthy is the target's resource whose health, neither Healthy
	// nor Degraded, keeps an applied commit Waiting (zero otherwise).
	Unhealthy Resource
}
