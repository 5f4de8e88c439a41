package argocd

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	applicationpkg "github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	versionpkg "github.com/argoproj/argo-cd/v2/pkg/apiclient/version"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// wireServer answers like argocd-server for a few applications, checking
// the token the apiclient sends in the "token" metadata key.
type wireServer struct {
	applicationpkg.UnimplementedApplicationServiceServer
	token    string
	refresh  chan string
	syncReqs chan *applicationpkg.ApplicationSyncRequest
}

func (s *wireServer) authorized(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	if got := md.Get("token"); len(got) != 1 || got[0] != s.token {
		return status.Error(codes.Unauthenticated, "invalid session")
	}
	return nil
}

func (s *wireServer) Get(ctx context.Context, q *applicationpkg.ApplicationQuery) (*v1alpha1.Application, error) {
	if err := s.authorized(ctx); err != nil {
		return nil, err
	}
	s.refresh <- q.GetRefresh()
	if q.GetName() != "reviews" {
		return nil, status.Error(codes.PermissionDenied, "permission denied")
	}
	return &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "reviews"}}, nil
}

func (s *wireServer) Sync(ctx context.Context, req *applicationpkg.ApplicationSyncRequest) (*v1alpha1.Application, error) {
	if err := s.authorized(ctx); err != nil {
		return nil, err
	}
	s.syncReqs <- req
	if req.GetRevision() == "busy" {
		return nil, status.Error(codes.FailedPrecondition, "another operation is already in progress")
	}
	return &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: req.GetName()}}, nil
}

type versionServer struct{}

func (versionServer) Version(context.Context, *emptypb.Empty) (*versionpkg.VersionMessage, error) {
	return &versionpkg.VersionMessage{Version: "v2.14.21"}, nil
}

// TestClientOverGRPC runs New, Get and Sync against a gRPC server on
// loopback speaking Argo CD's application service, so the apiclient wiring
// (plaintext, token metadata, status codes over the wire) is exercised.
func TestClientOverGRPC(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	ws := &wireServer{token: "test-token", refresh: make(chan string, 10), syncReqs: make(chan *applicationpkg.ApplicationSyncRequest, 10)}
	applicationpkg.RegisterApplicationServiceServer(srv, ws)
	versionpkg.RegisterVersionServiceServer(srv, versionServer{})
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, closer, err := New(ctx, Options{Server: lis.Addr().String(), AuthToken: "test-token", PlainText: true})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer closer.Close()

	app, err := c.Get(ctx, "reviews", true)
	if err != nil || app.Name != "reviews" {
		t.Fatalf("Get = %v, %v", app, err)
	}
	if r := <-ws.refresh; r != "normal" {
		t.Errorf("refresh sent = %q, want normal", r)
	}
	_, err = c.Get(ctx, "ratings", false)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a missing app = %v, want ErrNotFound", err)
	}

	if err := c.Sync(ctx, "reviews", rev, true); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	req := <-ws.syncReqs
	if req.GetName() != "reviews" || req.GetRevision() != rev || !req.GetPrune() {
		t.Errorf("sync request = %v", req)
	}
	err = c.Sync(ctx, "reviews", "busy", false)
	if !errors.Is(err, ErrOperationInProgress) {
		t.Errorf("Sync while busy = %v, want ErrOperationInProgress", err)
	}

	bad, badCloser, err := New(ctx, Options{Server: lis.Addr().String(), AuthToken: "wrong", PlainText: true})
	if err != nil {
		t.Fatalf("New with a wrong token: %v", err)
	}
	defer badCloser.Close()
	if _, err := bad.Get(ctx, "reviews", false); status.Code(err) != codes.Unauthenticated {
		t.Errorf("Get with a wrong token = %v, want Unauthenticated", err)
	}
}
