package cli

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	applicationpkg "github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	versionpkg "github.com/argoproj/argo-cd/v2/pkg/apiclient/version"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitcanary/gitcanary/pkg/argocd"
)

// appServer stands in for argocd-server's application service, for the
// one call `start --wait-for=none` makes: Get of the release's
// Application. Like argocd-server 2.14 (server/application Get), it
// answers an Application it does not have, or may not show, with
// PermissionDenied rather than NotFound. Anything else is unimplemented:
// a start that only commits must not sync.
type appServer struct {
	applicationpkg.UnimplementedApplicationServiceServer
	mu  sync.Mutex
	app *v1alpha1.Application
}

func (s *appServer) Get(_ context.Context, q *applicationpkg.ApplicationQuery) (*v1alpha1.Application, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.app == nil || q.GetName() != s.app.Name {
		return nil, status.Error(codes.PermissionDenied, "permission denied")
	}
	return s.app.DeepCopy(), nil
}

func (s *appServer) set(app *v1alpha1.Application) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.app = app
}

type versionServer struct{}

func (versionServer) Version(context.Context, *emptypb.Empty) (*versionpkg.VersionMessage, error) {
	return &versionpkg.VersionMessage{Version: "v2.14.21"}, nil
}

// serveApps starts the stand-in on loopback and returns it and its address.
func serveApps(t *testing.T) (*appServer, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	as := &appServer{}
	applicationpkg.RegisterApplicationServiceServer(srv, as)
	versionpkg.RegisterVersionServiceServer(srv, versionServer{})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return as, lis.Addr().String()
}

// TestStartChecksApplication: `start` reads the release's Application
// before its first commit; each refusal exits 2 naming the Application's
// field and both values, and commits nothing. An Application that
// deploys the release's path, granted to the instance, is started.
func TestStartChecksApplication(t *testing.T) {
	w := newCLIWorld(t)
	as, addr := serveApps(t)
	app := func(edit func(*v1alpha1.Application)) *v1alpha1.Application {
		a := &v1alpha1.Application{
			ObjectMeta: metav1.ObjectMeta{Name: "reviews", Namespace: "argocd", Annotations: map[string]string{argocd.GrantAnnotation: "gitcanary"}},
			Spec:       v1alpha1.ApplicationSpec{Source: &v1alpha1.ApplicationSource{RepoURL: w.url, Path: "apps/reviews", TargetRevision: "main"}},
		}
		if edit != nil {
			edit(a)
		}
		return a
	}
	start := func(extra ...string) (int, string, string) {
		return w.run(append([]string{"--server", addr, "--plaintext", "--auth-token", "t", "start", "-f", w.file, "--wait-for=none"}, extra...)...)
	}
	commits := len(w.server.Commits(t, "apps.git"))
	refused := []struct {
		name string
		app  *v1alpha1.Application
		args []string
		msg  string
	}{
		{name: "not granted", app: app(func(a *v1alpha1.Application) { a.Annotations = nil }),
			msg: `Application reviews: add the annotation gitcanary.io/grant: gitcanary to let gitcanary instance "gitcanary" sync it (it has none)`},
		{name: "granted to another instance", app: app(nil), args: []string{"--instance", "gitcanary-prod"},
			msg: `Application reviews: add the annotation gitcanary.io/grant: gitcanary,gitcanary-prod to let gitcanary instance "gitcanary-prod" sync it (it has "gitcanary")`},
		{name: "another repository", app: app(func(a *v1alpha1.Application) { a.Spec.Source.RepoURL = "https://git.example/apps.git" }),
			msg: `Application reviews: spec.source.repoURL is "https://git.example/apps.git" but the release's spec.repo.url is "` + w.url + `"`},
		{name: "another path", app: app(func(a *v1alpha1.Application) { a.Spec.Source.Path = "apps/ratings" }),
			msg: `Application reviews: spec.source.path is "apps/ratings" but the release's spec.repo.path is "apps/reviews"`},
		{name: "a tag", app: app(func(a *v1alpha1.Application) { a.Spec.Source.TargetRevision = "refs/tags/v1" }),
			msg: `Application reviews: spec.source.targetRevision is the tag "v1" but the release's spec.repo.branch is "main"`},
		{name: "several sources", app: app(func(a *v1alpha1.Application) {
			a.Spec.Sources, a.Spec.Source = v1alpha1.ApplicationSources{*a.Spec.Source, *a.Spec.Source}, nil
		}),
			msg: `Application reviews: spec.sources has 2 sources`},
	}
	for _, tt := range refused {
		as.set(tt.app)
		code, out, errs := start(tt.args...)
		if code != ExitInvalid || !strings.Contains(errs, tt.msg) {
			t.Errorf("%s: exit %d\n%s%s\nwant exit 2 and %s", tt.name, code, out, errs, tt.msg)
		}
		if n := len(w.server.Commits(t, "apps.git")); n != commits {
			t.Fatalf("%s: refused, yet %d commits (was %d)", tt.name, n, commits)
		}
	}

	// HEAD is the repository's default branch, read from the git server:
	// another branch there refuses, main admits.
	as.set(app(func(a *v1alpha1.Application) { a.Spec.Source.TargetRevision = "HEAD" }))
	w.server.Git(t, "apps.git", "branch", "release-1", "main")
	w.server.Git(t, "apps.git", "symbolic-ref", "HEAD", "refs/heads/release-1")
	if code, _, errs := start(); code != ExitInvalid || !strings.Contains(errs, `spec.source.targetRevision is HEAD, the repository's default branch "release-1", but the release's spec.repo.branch is "main"`) {
		t.Errorf("HEAD is release-1: exit %d %s", code, errs)
	}
	w.server.Git(t, "apps.git", "symbolic-ref", "HEAD", "refs/heads/main")
	if code, out, errs := start(); code != ExitOK || !strings.Contains(out, "reviews-v2: started") {
		t.Fatalf("admitted: exit %d %s %s", code, out, errs)
	}
	if n := len(w.server.Commits(t, "apps.git")); n != commits+1 {
		t.Errorf("%d commits after the admitted start, want %d", n, commits+1)
	}
}

// TestStartWithoutArgoCD: a start that only commits, with no Argo CD
// server, says that it checked no Application and commits.
func TestStartWithoutArgoCD(t *testing.T) {
	w := newCLIWorld(t)
	code, out, errs := w.run("start", "-f", w.file, "--wait-for=none")
	if code != ExitOK || !strings.Contains(out, "reviews-v2: Application reviews not checked before the first commit: no Argo CD server") {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
}
