package argocd

import (
	"context"
	"errors"
	"strings"
	"testing"

	applicationpkg "github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/argoproj/gitops-engine/pkg/health"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// stubServer records requests and answers with a fixed error.
type stubServer struct {
	err      error
	getReq   *applicationpkg.ApplicationQuery
	syncReq  *applicationpkg.ApplicationSyncRequest
	patchReq *applicationpkg.ApplicationPatchRequest
	response *v1alpha1.Application
	windows  *applicationpkg.ApplicationSyncWindowsResponse
	treeReq  *applicationpkg.ResourcesQuery
	tree     *v1alpha1.ApplicationTree
}

func (s *stubServer) ResourceTree(_ context.Context, in *applicationpkg.ResourcesQuery, _ ...grpc.CallOption) (*v1alpha1.ApplicationTree, error) {
	s.treeReq = in
	return s.tree, s.err
}

func (s *stubServer) GetApplicationSyncWindows(_ context.Context, in *applicationpkg.ApplicationSyncWindowsQuery, _ ...grpc.CallOption) (*applicationpkg.ApplicationSyncWindowsResponse, error) {
	return s.windows, s.err
}

func (s *stubServer) Patch(_ context.Context, in *applicationpkg.ApplicationPatchRequest, _ ...grpc.CallOption) (*v1alpha1.Application, error) {
	s.patchReq = in
	return s.response, s.err
}

func (s *stubServer) Get(_ context.Context, in *applicationpkg.ApplicationQuery, _ ...grpc.CallOption) (*v1alpha1.Application, error) {
	s.getReq = in
	return s.response, s.err
}

func (s *stubServer) Sync(_ context.Context, in *applicationpkg.ApplicationSyncRequest, _ ...grpc.CallOption) (*v1alpha1.Application, error) {
	s.syncReq = in
	return s.response, s.err
}

// The real service client must fit the narrow interface.
var _ applicationServer = applicationpkg.ApplicationServiceClient(nil)

func TestGetRequest(t *testing.T) {
	tests := []struct {
		name, app   string
		refresh     bool
		wantName    string
		wantNS      string
		wantRefresh string
	}{
		{name: "plain", app: "reviews", wantName: "reviews"},
		{name: "refresh", app: "reviews", refresh: true, wantName: "reviews", wantRefresh: "normal"},
		{name: "namespaced", app: "team-a/reviews", wantName: "reviews", wantNS: "team-a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &stubServer{response: &v1alpha1.Application{}}
			if _, err := (&client{apps: s}).Get(context.Background(), tt.app, tt.refresh); err != nil {
				t.Fatal(err)
			}
			if got := s.getReq.GetName(); got != tt.wantName {
				t.Errorf("name = %q, want %q", got, tt.wantName)
			}
			if got := s.getReq.GetAppNamespace(); got != tt.wantNS {
				t.Errorf("appNamespace = %q, want %q", got, tt.wantNS)
			}
			if got := s.getReq.GetRefresh(); got != tt.wantRefresh {
				t.Errorf("refresh = %q, want %q", got, tt.wantRefresh)
			}
		})
	}
}

func TestSyncRequest(t *testing.T) {
	s := &stubServer{response: &v1alpha1.Application{}}
	if err := (&client{apps: s}).Sync(context.Background(), "reviews", rev, true); err != nil {
		t.Fatal(err)
	}
	if s.syncReq.GetName() != "reviews" || s.syncReq.GetRevision() != rev || !s.syncReq.GetPrune() || s.syncReq.AppNamespace != nil {
		t.Errorf("sync request = %v", s.syncReq)
	}
	if err := (&client{apps: s}).Sync(context.Background(), "reviews", "", false); err != nil {
		t.Fatal(err)
	}
	if s.syncReq.Revision != nil || s.syncReq.Prune == nil || *s.syncReq.Prune {
		t.Errorf("sync request without revision = %v", s.syncReq)
	}
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name     string
		call     string // "get" or "sync"
		err      error
		sentinel error
		wantMsg  string
	}{
		{
			name: "operation in progress", call: "sync",
			err:      status.Error(codes.FailedPrecondition, "another operation is already in progress"),
			sentinel: ErrOperationInProgress,
			wantMsg:  `sync application "reviews" to ` + rev + `: another operation is already in progress (FailedPrecondition)`,
		},
		{
			name: "auto-sync refuses a revision", call: "sync",
			err:      status.Error(codes.FailedPrecondition, "Cannot sync to "+rev+": auto-sync currently set to main"),
			sentinel: ErrAutoSync,
			wantMsg:  `sync application "reviews" to ` + rev + `: application has automated sync and cannot be synced to a specific revision (FailedPrecondition: Cannot sync to ` + rev + `: auto-sync currently set to main)`,
		},
		{
			name: "other failed precondition stays unmapped", call: "sync",
			err:     status.Error(codes.FailedPrecondition, "sync window is closed"),
			wantMsg: `sync application "reviews" to ` + rev + `: rpc error: code = FailedPrecondition desc = sync window is closed`,
		},
		{
			name: "not found", call: "get",
			err:      status.Error(codes.NotFound, `applications.argoproj.io "reviews" not found`),
			sentinel: ErrNotFound,
			wantMsg:  `get application "reviews": application not found (NotFound: applications.argoproj.io "reviews" not found)`,
		},
		{
			name: "permission denied on a missing app", call: "get",
			err:      status.Error(codes.PermissionDenied, "permission denied"),
			sentinel: ErrNotFound,
			wantMsg:  `get application "reviews": application not found (PermissionDenied: permission denied)`,
		},
		{
			name: "a sync window refuses", call: "sync",
			err:      status.Error(codes.PermissionDenied, "cannot sync: blocked by sync window"),
			sentinel: ErrSyncWindow,
			wantMsg:  `sync application "reviews" to ` + rev + `: blocked by Argo CD's sync windows (PermissionDenied: cannot sync: blocked by sync window)`,
		},
		{
			name: "an invalid sync window refuses", call: "sync",
			err:      status.Error(codes.PermissionDenied, "cannot sync: invalid sync window: invalid sync windows: cannot parse schedule '@daily'"),
			sentinel: ErrSyncWindow,
			wantMsg:  `sync application "reviews" to ` + rev + `: blocked by Argo CD's sync windows (PermissionDenied: cannot sync: invalid sync window: invalid sync windows: cannot parse schedule '@daily')`,
		},
		{
			name: "unavailable passes through", call: "get",
			err:     status.Error(codes.Unavailable, "connection refused"),
			wantMsg: `get application "reviews": rpc error: code = Unavailable desc = connection refused`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &client{apps: &stubServer{err: tt.err}}
			var err error
			if tt.call == "sync" {
				err = c.Sync(context.Background(), "reviews", rev, false)
			} else {
				_, err = c.Get(context.Background(), "reviews", false)
			}
			if err == nil {
				t.Fatal("want an error")
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("error =\n  %s\nwant\n  %s", err, tt.wantMsg)
			}
			for _, s := range []error{ErrOperationInProgress, ErrNotFound, ErrAutoSync, ErrSyncWindow} {
				if got, want := errors.Is(err, s), s == tt.sentinel; got != want {
					t.Errorf("errors.Is(err, %v) = %v, want %v", s, got, want)
				}
			}
			if got := status.Code(err); got != status.Code(tt.err) {
				t.Errorf("status.Code = %v, want %v (the gRPC status must stay reachable)", got, status.Code(tt.err))
			}
		})
	}
}

func TestNewNeedsServer(t *testing.T) {
	_, _, err := New(context.Background(), Options{AuthToken: "x"})
	if err == nil || !strings.Contains(err.Error(), "ARGOCD_SERVER") {
		t.Errorf("New without server: %v", err)
	}
}

func TestNewUnreachable(t *testing.T) {
	// Nothing listens on port 1 of loopback: the dial fails fast.
	_, _, err := New(context.Background(), Options{Server: "127.0.0.1:1", PlainText: true})
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "connect to Argo CD at 127.0.0.1:1") {
		t.Errorf("New to a closed port: %v", err)
	}
}

func TestNewHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := New(ctx, Options{Server: "127.0.0.1:1", PlainText: true})
	if err == nil {
		t.Fatal("New with a cancelled context: want an error")
	}
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// TestCached: the node of the tree that is the resource, matched by group,
// kind, namespace and name (a ReplicaSet or another namespace's Deployment
// of the same name is not it).
func TestCached(t *testing.T) {
	node := func(group, kind, ns, name, rv string, h string) v1alpha1.ResourceNode {
		n := v1alpha1.ResourceNode{ResourceRef: v1alpha1.ResourceRef{Group: group, Kind: kind, Namespace: ns, Name: name}, ResourceVersion: rv}
		if h != "" {
			n.Health = &v1alpha1.HealthStatus{Status: health.HealthStatusCode(h), Message: "m"}
		}
		return n
	}
	s := &stubServer{tree: &v1alpha1.ApplicationTree{Nodes: []v1alpha1.ResourceNode{
		node("apps", "ReplicaSet", "shop", "reviews-v2", "10", "Healthy"),
		node("apps", "Deployment", "other", "reviews-v2", "11", "Healthy"),
		node("apps", "Deployment", "shop", "reviews-v2", "12", "Progressing"),
	}}}
	c := &client{apps: s}
	got, err := c.Cached(context.Background(), "team-a/reviews", Resource{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "reviews-v2"})
	if err != nil {
		t.Fatal(err)
	}
	want := CachedResource{Found: true, ResourceVersion: "12", Health: "Progressing", HealthMessage: "m"}
	if got != want {
		t.Errorf("Cached = %+v, want %+v", got, want)
	}
	if s.treeReq.GetApplicationName() != "reviews" || s.treeReq.GetAppNamespace() != "team-a" {
		t.Errorf("request = %v", s.treeReq)
	}
	got, err = c.Cached(context.Background(), "reviews", Resource{Group: "apps", Kind: "StatefulSet", Name: "reviews-v2"})
	if err != nil || got.Found {
		t.Errorf("a resource the tree does not have: %+v, %v", got, err)
	}
	s.err = status.Error(codes.PermissionDenied, "permission denied")
	if _, err := c.Cached(context.Background(), "reviews", Resource{Kind: "Deployment", Name: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refused read = %v, want ErrNotFound (Argo CD's answer for an app the token may not see)", err)
	}
}
