package doctor

import (
	"context"
	"errors"
	"fmt"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"path"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/redact"
)

const argoRemedy = "check that --server (ARGOCD_SERVER) is argocd-server's host:port and that --plaintext, --insecure and --grpc-web match how it is served, as for the argocd CLI"

// argo checks that the Argo CD API answers, by reading the Application:
// "not found" is an answer, a refused token or no connection is not.
func (s *state) argo(ctx context.Context) Result {
	switch {
	case s.env.ArgoErr != nil:
		return fail(argoRemedy, "%v", s.env.ArgoErr)
	case s.env.Argo == nil:
		return fail("pass --server HOST:PORT and --auth-token TOKEN, or set ARGOCD_SERVER and ARGOCD_AUTH_TOKEN",
			"no Argo CD server given")
	case s.env.App == "":
		return skip("no Application named, and the API is checked by reading it: pass --app NAME or -f RELEASE")
	}
	s.app, s.appErr = s.env.Argo.Get(ctx, s.env.App, false)
	switch {
	case s.appErr == nil, errors.Is(s.appErr, argocd.ErrNotFound):
		return ok("%s answers", s.env.ArgoServer)
	case status.Code(s.appErr) == codes.Unauthenticated:
		return fail("pass a valid API token with --auth-token or ARGOCD_AUTH_TOKEN (`argocd account generate-token --account ACCOUNT`)",
			"%s refused the token: %v", s.env.ArgoServer, s.appErr)
	}
	return fail(argoRemedy, "cannot reach Argo CD at %s: %v", s.env.ArgoServer, s.appErr)
}

func (s *state) application(context.Context) Result {
	name := s.env.App
	if s.appErr != nil {
		// The server's text is left out: for a missing app it is a
		// PermissionDenied naming the token's issue time, which says nothing more.
		return fail("create the Application (its source path the app path), or name the one that deploys the app with --app or spec.argocd.application",
			"Application %s not found, or the token may not read it", name)
	}
	spec := &s.app.Spec
	if spec.HasMultipleSources() {
		return fail("deploy the app path with an Application of one spec.source, and name it with --app or spec.argocd.application",
			"Application %s has %d sources (spec.sources): gitcanary commits to and syncs one source", name, len(spec.Sources))
	}
	instance := s.env.Instance
	if instance == "" {
		instance = argocd.DefaultInstance
	}
	grant := s.app.Annotations[argocd.GrantAnnotation]
	if !slices.Contains(strings.Split(strings.ReplaceAll(grant, " ", ""), ","), instance) {
		return fail(fmt.Sprintf("annotate Application %s with %s: %s (comma-separate several instances)", name, argocd.GrantAnnotation, instance),
			"Application %s does not grant gitcanary instance %q its syncs (%s is %q)", name, instance, argocd.GrantAnnotation, grant)
	}
	src := spec.GetSource()
	return ok("%s deploys %s path %s at %s, %s, granted to %s", name, redact.URL(src.RepoURL), src.Path, orHEAD(src.TargetRevision), syncPolicy(spec.SyncPolicy), instance)
}

// syncPolicy describes an Application's sync policy; gitcanary works with
// either (docs/lifecycle.md#automated-sync).
func syncPolicy(p *v1alpha1.SyncPolicy) string {
	if p == nil || p.Automated == nil {
		return "manual sync"
	}
	return fmt.Sprintf("automated sync (prune %s, selfHeal %s)", onOff(p.Automated.Prune), onOff(p.Automated.SelfHeal))
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func orHEAD(rev string) string {
	if rev == "" {
		return "HEAD"
	}
	return rev
}

// Source says which app path of which repository to render.
type Source struct {
	RepoURL string
	Branch  string
	Path    string
}

// Rendered is what rendering an app path produced.
type Rendered struct {
	Commit  string // the branch head that was rendered
	Objects int
}

// Renderer renders the app path at the head of a branch, as Argo CD would.
type Renderer interface {
	Render(ctx context.Context, src Source) (Rendered, error)
}

// ErrFetch marks render errors in reaching the repository or the branch,
// as opposed to the app path not building.
var ErrFetch = errors.New("cannot read the repository")

func (s *state) render(ctx context.Context) Result {
	src := s.app.Spec.GetSource()
	branch, note := src.TargetRevision, ""
	if branch == "" || branch == "HEAD" {
		// gitcanary commits to a branch; render the one the release names.
		branch = "main"
		if s.env.Release != nil {
			branch = s.env.Release.Spec.Repo.BranchOrDefault()
		}
		note = fmt.Sprintf(" (targetRevision %s: read branch %s)", orHEAD(src.TargetRevision), branch)
	}
	out, err := s.env.Renderer.Render(ctx, Source{RepoURL: src.RepoURL, Branch: branch, Path: src.Path})
	if errors.Is(err, ErrFetch) {
		return fail("check the repoURL and that gitcanary may read it (GITCANARY_GIT_USERNAME and GITCANARY_GIT_PASSWORD for http(s)); targetRevision must be a branch, the one gitcanary commits to",
			"%v", err)
	}
	if err != nil {
		return fail(fmt.Sprintf("fix the kustomization: `kustomize build %s` in a checkout of branch %s shows the same error", src.Path, branch),
			"%v", err)
	}
	return ok("%s at %s (%s): %d objects%s", src.Path, branch, git.ShortHash(out.Commit), out.Objects, note)
}

// source compares the release file's spec.repo with the Application's source.
func (s *state) source(context.Context) Result {
	r := s.env.Release
	if r == nil {
		return skip("no release file: pass -f RELEASE to compare its spec.repo with the Application")
	}
	src := s.app.Spec.GetSource()
	var diffs []string
	if !argocd.SameRepo(r.Spec.Repo.URL, src.RepoURL) {
		diffs = append(diffs, fmt.Sprintf("spec.repo.url is %s, the Application's repoURL %s", redact.URL(r.Spec.Repo.URL), redact.URL(src.RepoURL)))
	}
	if path.Clean(r.Spec.Repo.Path) != path.Clean(src.Path) {
		diffs = append(diffs, fmt.Sprintf("spec.repo.path is %s, the Application's path %s", r.Spec.Repo.Path, src.Path))
	}
	if rev := src.TargetRevision; rev != "" && rev != "HEAD" && rev != r.Spec.Repo.BranchOrDefault() {
		diffs = append(diffs, fmt.Sprintf("spec.repo.branch is %s, the Application's targetRevision %s", r.Spec.Repo.BranchOrDefault(), rev))
	}
	if len(diffs) > 0 {
		// start refuses such a release (docs/security.md), so this fails too.
		return fail(fmt.Sprintf("make spec.repo of release %s name what Application %s deploys: gitcanary commits to spec.repo, Argo CD deploys its source, and start refuses a release whose Application deploys something else", r.Metadata.Name, s.env.App),
			"%s", strings.Join(diffs, "; "))
	}
	return ok("release %s commits to what Application %s deploys", r.Metadata.Name, s.env.App)
}
