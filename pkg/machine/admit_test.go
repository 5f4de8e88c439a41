package machine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/pkg/argocd"
)

// TestStartAdmits: start reads the Application before its first commit
// and commits nothing when it does not grant the starter or does not
// deploy what the release commits to; once fixed, the same start commits.
func TestStartAdmits(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	url := testRelease(t).Spec.Repo.URL
	commits := len(w.Server.Commits(t, "apps.git"))
	team := StartOptions{Grant: argocd.Grant{Namespace: "team-a"}}
	refused := []struct {
		name     string
		setup    func()
		opts     StartOptions
		sentinel error
		msg      string
	}{
		{name: "another path", setup: func() { w.Argo.SetSource("reviews", url, "apps/ratings", "main") },
			sentinel: argocd.ErrMismatch, msg: `Application reviews: spec.source.path is "apps/ratings" but the release's spec.repo.path is "apps/reviews"`},
		{name: "HEAD without a default branch reader", setup: func() { w.Argo.SetSource("reviews", url, "apps/reviews", "HEAD") },
			sentinel: argocd.ErrMismatch, msg: "spec.source.targetRevision is HEAD (the repository's default branch), which gitcanary cannot read here"},
		{name: "HEAD is master", setup: func() { w.Argo.SetSource("reviews", url, "apps/reviews", "HEAD") },
			opts:     StartOptions{DefaultBranch: func(context.Context) (string, error) { return "master", nil }},
			sentinel: argocd.ErrMismatch, msg: `the repository's default branch "master", but the release's spec.repo.branch is "main"`},
		{name: "namespace not granted", setup: func() { w.Argo.SetSource("reviews", url, "apps/reviews", "main") }, opts: team,
			sentinel: argocd.ErrNotAuthorized, msg: `add the annotation gitcanary.io/release-namespaces: team-a to let Release resources in namespace "team-a" drive it (it has none)`},
		{name: "another instance", opts: StartOptions{Grant: argocd.Grant{Instance: "gitcanary-prod"}},
			sentinel: argocd.ErrNotAuthorized, msg: `add the annotation gitcanary.io/grant: gitcanary,gitcanary-prod`},
	}
	for _, tt := range refused {
		if tt.setup != nil {
			tt.setup()
		}
		_, err := w.machine(t).StartWith(ctx, testRelease(t), tt.opts)
		if !errors.Is(err, tt.sentinel) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: err = %v\nwant %v containing %s", tt.name, err, tt.sentinel, tt.msg)
		}
		if n := len(w.Server.Commits(t, "apps.git")); n != commits {
			t.Fatalf("%s: refused, yet %d commits (was %d)", tt.name, n, commits)
		}
	}
	if err := w.Argo.Annotate(ctx, "reviews", map[string]string{argocd.NamespacesAnnotation: "team-a"}); err != nil {
		t.Fatal(err)
	}
	w.Argo.SetSource("reviews", url, "apps/reviews", "HEAD")
	team.DefaultBranch = func(context.Context) (string, error) { return "main", nil }
	if _, err := w.machine(t).StartWith(ctx, testRelease(t), team); err != nil {
		t.Fatalf("granted, HEAD the default branch main: %v", err)
	}
	if n := len(w.Server.Commits(t, "apps.git")); n != commits+1 {
		t.Errorf("%d commits after the admitted start, want %d", n, commits+1)
	}
}
