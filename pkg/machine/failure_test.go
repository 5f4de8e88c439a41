package machine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// gitHTTP is go-git's error for an unexpected HTTP status of a git server.
func gitHTTP(code int) error {
	req, _ := http.NewRequest("GET", "https://git.example/apps.git/info/refs", nil)
	return plumbing.NewUnexpectedError(&githttp.Err{Response: &http.Response{StatusCode: code, Request: req}})
}

func dialErr(errno syscall.Errno) error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
}

var gr = schema.GroupResource{Group: "apps", Resource: "deployments"}

// The classification table: what each side says, as the libraries
// gitcanary uses return it, and whether gitcanary tries again.
func TestClassify(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want Class
	}{
		// git (go-git)
		{"git:// server down", fmt.Errorf("fetch main from git://127.0.0.1:9418/apps.git: %w", dialErr(syscall.ECONNREFUSED)), Transient},
		{"git connection reset", fmt.Errorf("push: %w", dialErr(syscall.ECONNRESET)), Transient},
		{"git server closed before its refs", fmt.Errorf("fetch: %w", io.ErrUnexpectedEOF), Transient},
		{"git error text only (go-git formats with %s)", errors.New("sending upload-req message: write tcp 127.0.0.1:1->127.0.0.1:2: write: broken pipe"), Transient},
		{"git https 503", fmt.Errorf("fetch: %w", gitHTTP(503)), Transient},
		{"git https 502", gitHTTP(502), Transient},
		{"git https 429", gitHTTP(429), Transient},
		{"git https 400", gitHTTP(400), Refused},
		{"git https 401", fmt.Errorf("fetch: %w: ", transport.ErrAuthenticationRequired), Refused},
		{"git https 403", fmt.Errorf("fetch: %w: ", transport.ErrAuthorizationFailed), Refused},
		{"git repository not found", fmt.Errorf("fetch: %w", transport.ErrRepositoryNotFound), Refused},
		{"git push rejected every time", fmt.Errorf("%w 5 times; last: branch moved", git.ErrPushRejected), Fatal},
		{"git branch missing", errors.New(`fetch main from git://h/apps.git: branch "main" does not exist`), Fatal},
		{"http EOF mid-request", &url.Error{Op: "Get", URL: "https://git.example", Err: io.EOF}, Transient},
		{"a bare EOF (a file, not a connection)", fmt.Errorf("read record: %w", io.EOF), Fatal},
		{"dns timeout", &net.DNSError{Err: "timeout", Name: "git.example", IsTimeout: true}, Transient},
		{"dns no such host", &net.DNSError{Err: "no such host", Name: "git.exmaple", IsNotFound: true}, Fatal},
		// Argo CD (gRPC)
		{"argocd unavailable", status.Error(codes.Unavailable, "connection error: desc = \"transport: Error while dialing: dial tcp 127.0.0.1:8080: connect: connection refused\""), Transient},
		{"argocd deadline", fmt.Errorf("get application %q: %w", "reviews", status.Error(codes.DeadlineExceeded, "context deadline exceeded")), Transient},
		{"argocd overloaded", status.Error(codes.ResourceExhausted, "too many requests"), Transient},
		{"argocd 401", status.Error(codes.Unauthenticated, "invalid session: token is expired"), Refused},
		{"argocd 403", status.Error(codes.PermissionDenied, "permission denied"), Refused},
		{"argocd not found (sentinel)", fmt.Errorf("get application %q: %w", "reviews", argocd.ErrNotFound), Refused},
		{"argocd not granted", fmt.Errorf("sync: %w", argocd.ErrNotAuthorized), Refused},
		{"argocd invalid argument", status.Error(codes.InvalidArgument, "application spec is invalid"), Refused},
		{"argocd internal (its own failure)", status.Error(codes.Internal, "error setting app operation"), Fatal},
		{"argocd unknown", status.Error(codes.Unknown, "application controller failed"), Fatal},
		{"argocd connect refused", fmt.Errorf("connect to Argo CD at 127.0.0.1:8080: %w", dialErr(syscall.ECONNREFUSED)), Transient},
		{"argocd connect timed out", fmt.Errorf("connect to Argo CD at 127.0.0.1:8080: %w", context.DeadlineExceeded), Transient},
		// API server (client-go)
		{"api server down", &url.Error{Op: "Get", URL: "https://127.0.0.1:6443/apis", Err: dialErr(syscall.ECONNREFUSED)}, Transient},
		{"api 503", apierrors.NewServiceUnavailable("etcd is down"), Transient},
		{"api 500", apierrors.NewInternalError(errors.New("boom")), Transient},
		{"api 504", apierrors.NewTimeoutError("slow", 1), Transient},
		{"api 429", apierrors.NewTooManyRequests("slow down", 1), Transient},
		{"api server timeout", apierrors.NewServerTimeout(gr, "get", 1), Transient},
		{"api 401", apierrors.NewUnauthorized("token expired"), Refused},
		{"api 403", apierrors.NewForbidden(gr, "reviews", errors.New("RBAC")), Refused},
		{"api 404", apierrors.NewNotFound(gr, "reviews"), Refused},
		{"api 422", apierrors.NewInvalid(schema.GroupKind{Kind: "Deployment"}, "x", nil), Refused},
		// gitcanary's own answers
		{"invalid input", fmt.Errorf("spec.steps[0]: %w", release.ErrInvalid), Refused},
		{"command refused in the phase", fmt.Errorf("approve: %w", ErrRefused), Refused},
		{"release not found", ErrNotFound, Refused},
		{"superseded", ErrSuperseded, Refused},
		{"canceled", context.Canceled, Fatal},
		{"anything else", errors.New("kustomize build failed"), Fatal},
		{"nil", nil, Fatal},
	}
	for _, c := range cases {
		if got := Classify(c.err); got != c.want {
			t.Errorf("%s: Classify(%v) = %s, want %s", c.name, c.err, got, c.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	var b Backoff
	// Each pause is within ±25% of 1 s, 2 s, 4 s, 8 s, then 15 s for good.
	for i, base := range []time.Duration{1, 2, 4, 8, 15, 15, 15} {
		base *= time.Second
		d := b.Next()
		if d < base-base/4 || d > base+base/4 {
			t.Errorf("retry %d: %s, want %s ±25%%", i+1, d, base)
		}
	}
	b.Reset()
	if d := b.Next(); d > 1250*time.Millisecond {
		t.Errorf("after Reset: %s, want about 1s", d)
	}
	small := Backoff{Min: 10 * time.Millisecond, Max: 40 * time.Millisecond}
	for i := 0; i < 5; i++ {
		if d := small.Next(); d > 50*time.Millisecond {
			t.Errorf("Backoff{10ms, 40ms} retry %d: %s, over the cap", i+1, d)
		}
	}
}

// Retry retries transient failures only, and names the last one when the
// context ends first.
func TestRetry(t *testing.T) {
	var slept []time.Duration
	sleep := func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return ctx.Err() }
	down := dialErr(syscall.ECONNREFUSED)

	calls := 0
	var seen []error
	err := Retry(context.Background(), sleep, func(context.Context) error {
		if calls++; calls < 4 {
			return down
		}
		return nil
	}, func(err error, _ time.Duration) { seen = append(seen, err) })
	if err != nil || calls != 4 || len(seen) != 3 || len(slept) != 3 {
		t.Errorf("three failures then success: err %v, %d calls, %d reported, %d sleeps", err, calls, len(seen), len(slept))
	}

	calls = 0
	err = Retry(context.Background(), sleep, func(context.Context) error {
		calls++
		return fmt.Errorf("get application: %w", status.Error(codes.Unauthenticated, "token expired"))
	}, nil)
	if calls != 1 || Classify(err) != Refused {
		t.Errorf("a refusal: %d calls, err %v; want 1 call and the refusal", calls, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	calls = 0
	err = Retry(ctx, sleep, func(context.Context) error {
		if calls++; calls == 3 {
			cancel()
		}
		return fmt.Errorf("fetch main from git://127.0.0.1:1/apps.git: %w", down)
	}, nil)
	var gaveUp *GaveUpError
	if !errors.As(err, &gaveUp) || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "last error: fetch main from git://127.0.0.1:1/apps.git") {
		t.Errorf("context ended while retrying: %v; want a GaveUpError naming the fetch", err)
	}
}
