package argocd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient"
	applicationpkg "github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	projectpkg "github.com/argoproj/argo-cd/v2/pkg/apiclient/project"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrAutoSync means Argo CD refused a sync to a specific revision because the
// application has automated sync on ("auto-sync currently set to main").
// Callers can sync without a revision instead, or use a manual-sync app.
var ErrAutoSync = errors.New("application has automated sync and cannot be synced to a specific revision")

// New connects to the Argo CD API server. The io.Closer closes the
// connection. ctx bounds the connection attempt only: the apiclient probes
// the server (and may retry with gRPC-web) without a deadline of its own.
func New(ctx context.Context, o Options) (Client, io.Closer, error) {
	if o.Server == "" {
		return nil, nil, fmt.Errorf("connect to Argo CD: no server address; set %s or --server", EnvServer)
	}
	type conn struct {
		closer io.Closer
		apps   applicationpkg.ApplicationServiceClient
		projs  projectpkg.ProjectServiceClient
		err    error
	}
	done := make(chan conn, 1)
	go func() {
		api, err := apiclient.NewClient(&apiclient.ClientOptions{
			ServerAddr: o.Server,
			AuthToken:  o.AuthToken,
			PlainText:  o.PlainText,
			Insecure:   o.Insecure,
			GRPCWeb:    o.GRPCWeb,
			UserAgent:  "gitcanary",
		})
		if err != nil {
			done <- conn{err: err}
			return
		}
		closer, apps, err := api.NewApplicationClient()
		if err != nil {
			done <- conn{closer: closer, err: err}
			return
		}
		pcloser, projs, err := api.NewProjectClient()
		done <- conn{closer: closers{closer, pcloser}, apps: apps, projs: projs, err: err}
	}()
	select {
	case c := <-done:
		if c.err != nil {
			if c.closer != nil {
				_ = c.closer.Close()
			}
			return nil, nil, fmt.Errorf("connect to Argo CD at %s: %w", o.Server, c.err)
		}
		return &client{apps: c.apps, projs: c.projs}, c.closer, nil
	case <-ctx.Done():
		go func() { // close whatever the abandoned attempt opens
			if c := <-done; c.closer != nil {
				_ = c.closer.Close()
			}
		}()
		return nil, nil, fmt.Errorf("connect to Argo CD at %s: %w", o.Server, ctx.Err())
	}
}

// client implements Client over the apiclient's ApplicationService (and
// ProjectService, for sync windows).
type client struct {
	apps  applicationServer
	projs projectServer
}

// closers closes each of its non-nil closers.
type closers []io.Closer

func (cs closers) Close() error {
	var errs []error
	for _, c := range cs {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// projectServer is the part of projectpkg.ProjectServiceClient used here.
type projectServer interface {
	Get(ctx context.Context, in *projectpkg.ProjectQuery, opts ...grpc.CallOption) (*v1alpha1.AppProject, error)
}

// applicationServer is the part of applicationpkg.ApplicationServiceClient
// used here, so tests can stand in for it.
type applicationServer interface {
	Get(ctx context.Context, in *applicationpkg.ApplicationQuery, opts ...grpc.CallOption) (*v1alpha1.Application, error)
	Sync(ctx context.Context, in *applicationpkg.ApplicationSyncRequest, opts ...grpc.CallOption) (*v1alpha1.Application, error)
	Patch(ctx context.Context, in *applicationpkg.ApplicationPatchRequest, opts ...grpc.CallOption) (*v1alpha1.Application, error)
	GetApplicationSyncWindows(ctx context.Context, in *applicationpkg.ApplicationSyncWindowsQuery, opts ...grpc.CallOption) (*applicationpkg.ApplicationSyncWindowsResponse, error)
	ResourceTree(ctx context.Context, in *applicationpkg.ResourcesQuery, opts ...grpc.CallOption) (*v1alpha1.ApplicationTree, error)
}

// Get implements Client. name may be "namespace/name" for applications
// outside Argo CD's own namespace.
func (c *client) Get(ctx context.Context, name string, refresh bool) (*v1alpha1.Application, error) {
	ns, n := splitName(name)
	q := &applicationpkg.ApplicationQuery{Name: &n}
	if ns != "" {
		q.AppNamespace = &ns
	}
	if refresh {
		r := string(v1alpha1.RefreshTypeNormal)
		q.Refresh = &r
	}
	app, err := c.apps.Get(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("get application %q: %w", name, classify(err))
	}
	return app, nil
}

// Sync implements Client. An empty revision syncs to the app's target
// revision (what automated-sync apps require).
func (c *client) Sync(ctx context.Context, name, revision string, prune bool) error {
	ns, n := splitName(name)
	req := &applicationpkg.ApplicationSyncRequest{Name: &n, Prune: &prune}
	if ns != "" {
		req.AppNamespace = &ns
	}
	if revision != "" {
		req.Revision = &revision
	}
	if _, err := c.apps.Sync(ctx, req); err != nil {
		return fmt.Errorf("sync application %q to %s: %w", name, revisionOrTarget(revision), classify(err))
	}
	return nil
}

// Annotate implements Client with a JSON merge patch of the metadata.
func (c *client) Annotate(ctx context.Context, name string, annotations map[string]string) error {
	ns, n := splitName(name)
	values := map[string]any{}
	for k, v := range annotations {
		if v == "" {
			values[k] = nil
		} else {
			values[k] = v
		}
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": values}})
	if err != nil {
		return err
	}
	p, typ := string(patch), "merge"
	req := &applicationpkg.ApplicationPatchRequest{Name: &n, Patch: &p, PatchType: &typ}
	if ns != "" {
		req.AppNamespace = &ns
	}
	if _, err := c.apps.Patch(ctx, req); err != nil {
		return fmt.Errorf("annotate application %q: %w", name, classify(err))
	}
	return nil
}

func splitName(name string) (namespace, app string) {
	if ns, n, ok := strings.Cut(name, "/"); ok {
		return ns, n
	}
	return "", name
}

func revisionOrTarget(rev string) string {
	if rev == "" {
		return "its target revision"
	}
	return rev
}

// classify maps the gRPC statuses callers branch on to sentinels, keeping
// the server's message. Argo CD answers PermissionDenied for a missing app
// when the request names no project, so it cannot tell "missing" from "not
// allowed"; both become ErrNotFound, whose doc says so.
func classify(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	msg := st.Message()
	switch {
	case st.Code() == codes.FailedPrecondition && strings.Contains(msg, "another operation is already in progress"):
		return &apiError{sentinel: ErrOperationInProgress, err: err}
	case st.Code() == codes.FailedPrecondition && strings.Contains(msg, "auto-sync currently set to"):
		return &apiError{sentinel: ErrAutoSync, err: err}
	case st.Code() == codes.PermissionDenied && strings.HasPrefix(msg, "cannot sync: "):
		// A sync window (or an invalid one); RBAC refusals share the code.
		return &apiError{sentinel: ErrSyncWindow, err: err}
	case st.Code() == codes.NotFound, st.Code() == codes.PermissionDenied:
		return &apiError{sentinel: ErrNotFound, err: err}
	}
	return err
}

// apiError is a sentinel plus the gRPC error it was recognised in: errors.Is
// matches the sentinel, status.FromError still finds the status.
type apiError struct {
	sentinel error
	err      error
}

func (e *apiError) Error() string {
	st, _ := status.FromError(e.err)
	if st.Message() == e.sentinel.Error() {
		return fmt.Sprintf("%s (%s)", e.sentinel, st.Code())
	}
	return fmt.Sprintf("%s (%s: %s)", e.sentinel, st.Code(), st.Message())
}

func (e *apiError) Unwrap() []error { return []error{e.sentinel, e.err} }

// SyncWindows implements Client: Argo CD's verdict for a manual sync now
// (GetApplicationSyncWindows, which needs only "applications, get"), and,
// when windows apply, the project's windows in full (with their time
// zones; "projects, get"), else the Application API's list of them.
func (c *client) SyncWindows(ctx context.Context, name string) (*SyncWindows, error) {
	ns, n := splitName(name)
	q := &applicationpkg.ApplicationSyncWindowsQuery{Name: &n}
	if ns != "" {
		q.AppNamespace = &ns
	}
	resp, err := c.apps.GetApplicationSyncWindows(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read the sync windows of application %q: %w", name, classify(err))
	}
	out := &SyncWindows{CanSync: resp.GetCanSync()}
	if len(resp.AssignedWindows) == 0 {
		return out, nil
	}
	app, err := c.Get(ctx, name, false)
	if err != nil {
		return nil, err
	}
	out.Project = app.Spec.GetProject()
	if c.projs != nil {
		proj, err := c.projs.Get(ctx, &projectpkg.ProjectQuery{Name: out.Project})
		if err == nil {
			if matched := proj.Spec.SyncWindows.Matches(app); matched != nil {
				for _, w := range *matched {
					out.Windows = append(out.Windows, *w)
				}
			}
			return out, nil
		}
	}
	out.NoTimeZones = true
	for _, w := range resp.AssignedWindows {
		out.Windows = append(out.Windows, v1alpha1.SyncWindow{Kind: w.GetKind(), Schedule: w.GetSchedule(), Duration: w.GetDuration(), ManualSync: w.GetManualSync()})
	}
	return out, nil
}

// Cached implements Client with the ResourceTree API ("applications, get"),
// which the API server answers from the tree the application controller
// stored at its last reconciliation of the app.
func (c *client) Cached(ctx context.Context, name string, r Resource) (CachedResource, error) {
	ns, n := splitName(name)
	q := &applicationpkg.ResourcesQuery{ApplicationName: &n}
	if ns != "" {
		q.AppNamespace = &ns
	}
	tree, err := c.apps.ResourceTree(ctx, q)
	if err != nil {
		return CachedResource{}, fmt.Errorf("read the resource tree of application %q: %w", name, classify(err))
	}
	for _, node := range tree.Nodes {
		if !same(r, node.Group, node.Kind, node.Namespace, node.Name) {
			continue
		}
		out := CachedResource{Found: true, ResourceVersion: node.ResourceVersion}
		if node.Health != nil {
			out.Health, out.HealthMessage = string(node.Health.Status), node.Health.Message
		}
		return out, nil
	}
	return CachedResource{}, nil
}
