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
		done <- conn{closer: closer, apps: apps, err: err}
	}()
	select {
	case c := <-done:
		if c.err != nil {
			if c.closer != nil {
				_ = c.closer.Close()
			}
			return nil, nil, fmt.Errorf("connect to Argo CD at %s: %w", o.Server, c.err)
		}
		return &client{apps: c.apps}, c.closer, nil
	case <-ctx.Done():
		go func() { // close whatever the abandoned attempt opens
			if c := <-done; c.closer != nil {
				_ = c.closer.Close()
			}
		}()
		return nil, nil, fmt.Errorf("connect to Argo CD at %s: %w", o.Server, ctx.Err())
	}
}

// client implements Client over the apiclient's ApplicationService.
type client struct {
	apps applicationServer
}

// applicationServer is the part of applicationpkg.ApplicationServiceClient
// used here, so tests can stand in for it.
type applicationServer interface {
	Get(ctx context.Context, in *applicationpkg.ApplicationQuery, opts ...grpc.CallOption) (*v1alpha1.Application, error)
	Sync(ctx context.Context, in *applicationpkg.ApplicationSyncRequest, opts ...grpc.CallOption) (*v1alpha1.Application, error)
	Patch(ctx context.Context, in *applicationpkg.ApplicationPatchRequest, opts ...grpc.CallOption) (*v1alpha1.Application, error)
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
