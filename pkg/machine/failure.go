package machine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Class says what to do about an error from git, Argo CD or the API server.
type Class int

const (
	// Fatal: not known to clear by itself; stop and say so. Unknown errors
	// are fatal, so that nothing is retried blindly.
	Fatal Class = iota
	// Transient: the other side could not be reached, was overloaded or
	// did not answer in time; the same request may succeed later.
	Transient
	// Refused: the other side answered no (401, 403, 404, invalid input,
	// a command the release's phase does not allow). Never retried.
	Refused
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Refused:
		return "refused"
	}
	return "fatal"
}

// Classify sorts an error into a Class. It is the one place that knows
// what the errors of git (go-git), Argo CD (gRPC) and the API server
// (client-go) mean; callers branch on the Class. A rejected push is not
// transient here: git.Repo.Apply already fetched and retried it.
func Classify(err error) Class {
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return Fatal
	case refusedSentinel(err):
		return Refused
	case errors.Is(err, ErrGateClosed):
		return Transient // a webhook gate: asked again (GateError.Retry)
	}
	if c, ok := grpcClass(err); ok {
		return c
	}
	if c, ok := apiClass(err); ok {
		return c
	}
	if c, ok := gitHTTPClass(err); ok {
		return c
	}
	if netTransient(err) {
		return Transient
	}
	return Fatal
}

// refusedSentinel: errors that are an answer, not a failure to get one.
func refusedSentinel(err error) bool {
	for _, s := range []error{
		release.ErrInvalid, ErrRefused, ErrExists, ErrNotFound, ErrSuperseded,
		argocd.ErrNotFound, argocd.ErrNotAuthorized, argocd.ErrAutoSync,
		transport.ErrAuthenticationRequired, transport.ErrAuthorizationFailed,
		transport.ErrRepositoryNotFound, transport.ErrEmptyRemoteRepository, transport.ErrInvalidAuthMethod,
		git.ErrNothingToCommit,
	} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// grpcClass reads the status of an Argo CD API error. The apiclient
// already retries Unavailable three times a call; what still fails is an
// outage. Unknown and Internal carry the server's own failures (a bad
// manifest, a refused operation) and are not retried.
func grpcClass(err error) (Class, bool) {
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return 0, false
	}
	switch se.GRPCStatus().Code() {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return Transient, true
	case codes.Unauthenticated, codes.PermissionDenied, codes.NotFound, codes.InvalidArgument,
		codes.AlreadyExists, codes.FailedPrecondition, codes.Unimplemented, codes.OutOfRange:
		return Refused, true
	case codes.Canceled:
		return Fatal, true
	}
	return 0, false // Unknown, Internal…: let the wrapped cause decide
}

// apiClass reads a Kubernetes API status error.
func apiClass(err error) (Class, bool) {
	var se apierrors.APIStatus
	if !errors.As(err, &se) {
		return 0, false
	}
	switch {
	case apierrors.IsServerTimeout(err), apierrors.IsTimeout(err), apierrors.IsTooManyRequests(err),
		apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err), apierrors.IsUnexpectedServerError(err):
		return Transient, true
	case apierrors.IsUnauthorized(err), apierrors.IsForbidden(err), apierrors.IsNotFound(err),
		apierrors.IsInvalid(err), apierrors.IsBadRequest(err), apierrors.IsMethodNotSupported(err):
		return Refused, true
	}
	if code := se.Status().Code; code >= 500 || code == 429 || code == 408 {
		return Transient, true
	}
	return 0, false
}

// gitHTTPClass reads the status of a git smart-HTTP answer: go-git maps
// 401, 403 and 404 to transport sentinels (refusedSentinel) and wraps
// any other status in a plumbing.UnexpectedError, which has no Unwrap.
func gitHTTPClass(err error) (Class, bool) {
	var ue *plumbing.UnexpectedError
	if !errors.As(err, &ue) {
		return 0, false
	}
	var he *githttp.Err
	if !errors.As(ue.Err, &he) {
		return 0, false
	}
	switch code := he.StatusCode(); {
	case code >= 500, code == 429, code == 408:
		return Transient, true
	default:
		return Refused, true
	}
}

// netTransient: the connection could not be made, broke, or timed out.
func netTransient(err error) bool {
	for _, e := range []error{
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ETIMEDOUT,
		io.ErrUnexpectedEOF, context.DeadlineExceeded,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	// A bare EOF is only a broken connection when a request was under way.
	var ue *url.Error
	if errors.Is(err, io.EOF) && errors.As(err, &ue) {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.IsTimeout || dns.IsTemporary
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// Some libraries format the cause with %s (go-git's "sending
	// upload-req message: …", gRPC's transport messages), so the chain is
	// lost and only its text says what happened.
	msg := err.Error()
	for _, s := range []string{
		"connection refused", "connection reset by peer", "broken pipe", "i/o timeout",
		"unexpected EOF", "no route to host", "TLS handshake timeout", "transport is closing",
		"http2: client connection lost", "use of closed network connection",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// Backoff spaces the retries of a transient failure: Min, then doubling up
// to Max, each with ±25% jitter so that many clients do not retry in step.
// The zero value uses DefaultBackoffMin and DefaultBackoffMax.
type Backoff struct {
	Min, Max time.Duration
	n        int
}

// Defaults of Backoff: the first retry after about a second, none more
// than about 15 s after the last, so a recovered server is noticed soon.
const (
	DefaultBackoffMin = time.Second
	DefaultBackoffMax = 15 * time.Second
)

// Next returns the pause before the next retry.
func (b *Backoff) Next() time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = DefaultBackoffMin
	}
	if hi < lo {
		hi = max(lo, DefaultBackoffMax)
	}
	d := lo
	for i := 0; i < b.n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	b.n++
	return d - d/4 + rand.N(d/2+1)
}

// Reset starts the doubling again after a success.
func (b *Backoff) Reset() { b.n = 0 }

// GaveUpError is returned when the context ended while a transient failure
// was being retried; Last is that failure.
type GaveUpError struct {
	Err  error // the context's error
	Last error
}

func (e *GaveUpError) Error() string {
	return fmt.Sprintf("%v; last error: %v", e.Err, e.Last)
}

// Unwrap lets errors.Is find both the context's error and the last failure.
func (e *GaveUpError) Unwrap() []error { return []error{e.Err, e.Last} }

// Retry calls fn until it returns nil or an error that is not Transient,
// or ctx ends (then a *GaveUpError naming the last failure). Before each
// retry it tells retrying the failure and the pause, and sleeps with
// sleep (nil: real time).
func Retry(ctx context.Context, sleep func(context.Context, time.Duration) error, fn func(ctx context.Context) error, retrying func(err error, in time.Duration)) error {
	if sleep == nil {
		sleep = Deps{}.sleep
	}
	var b Backoff
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			if errors.Is(err, ctx.Err()) {
				return err
			}
			return &GaveUpError{Err: ctx.Err(), Last: err}
		}
		if Classify(err) != Transient {
			return err
		}
		d := b.Next()
		var gate *GateError
		if errors.As(err, &gate) {
			d = gate.Retry()
		}
		if retrying != nil {
			retrying(err, d)
		}
		if serr := sleep(ctx, d); serr != nil {
			return &GaveUpError{Err: serr, Last: err}
		}
	}
}
