package argocd_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitcanary/gitcanary/pkg/argocd"
)

const repo = "https://git.example/org/apps.git"

// admitted is an Application that deploys what want commits to, granted
// to the default instance and to namespace team-a.
func admitted() *v1alpha1.Application {
	return &v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "reviews", Namespace: "argocd", Annotations: map[string]string{
			argocd.GrantAnnotation: "gitcanary", argocd.NamespacesAnnotation: "team-a"}},
		Spec: v1alpha1.ApplicationSpec{Source: &v1alpha1.ApplicationSource{RepoURL: repo, Path: "apps/reviews", TargetRevision: "main"}},
	}
}

var want = argocd.Want{RepoURL: repo, Path: "apps/reviews", Branch: "main"}

func defaultBranch(name string, err error) func() (string, error) {
	return func() (string, error) { return name, err }
}

func TestAdmit(t *testing.T) {
	team := argocd.Grant{Namespace: "team-a"}
	tests := []struct {
		name     string
		edit     func(*v1alpha1.Application)
		grant    argocd.Grant
		want     func(*argocd.Want)
		err      string // the whole message; "" admits
		sentinel error
	}{
		{name: "as released", grant: team},
		{name: "manual sync, no namespace (CLI)", edit: func(a *v1alpha1.Application) { delete(a.Annotations, argocd.NamespacesAnnotation) }},
		{name: "automated, prune and selfHeal", grant: team, edit: func(a *v1alpha1.Application) {
			a.Spec.SyncPolicy = &v1alpha1.SyncPolicy{Automated: &v1alpha1.SyncPolicyAutomated{Prune: true, SelfHeal: true}}
		}},
		{name: "automated, no prune", grant: team, edit: func(a *v1alpha1.Application) {
			a.Spec.SyncPolicy = &v1alpha1.SyncPolicy{Automated: &v1alpha1.SyncPolicyAutomated{}}
		}},
		{name: "url spelled differently", grant: team, edit: func(a *v1alpha1.Application) { a.Spec.Source.RepoURL = "HTTPS://Git.Example:443/org/apps/" }},
		{name: "path spelled differently", grant: team, edit: func(a *v1alpha1.Application) { a.Spec.Source.Path = "./apps/reviews/" }},
		{name: "full branch ref", grant: team, edit: func(a *v1alpha1.Application) { a.Spec.Source.TargetRevision = "refs/heads/main" }},
		{name: "kustomize version only", grant: team, edit: func(a *v1alpha1.Application) {
			a.Spec.Source.Kustomize = &v1alpha1.ApplicationSourceKustomize{Version: "v5.4.3"}
		}},
		{name: "HEAD, the default branch", grant: team, edit: func(a *v1alpha1.Application) { a.Spec.Source.TargetRevision = "HEAD" },
			want: func(w *argocd.Want) { w.DefaultBranch = defaultBranch("main", nil) }},
		{name: "empty, the default branch", grant: team, edit: func(a *v1alpha1.Application) { a.Spec.Source.TargetRevision = "" },
			want: func(w *argocd.Want) { w.DefaultBranch = defaultBranch("main", nil) }},

		{name: "no instance grant", grant: team, edit: func(a *v1alpha1.Application) { delete(a.Annotations, argocd.GrantAnnotation) },
			err:      `Application reviews: add the annotation gitcanary.io/grant: gitcanary to let gitcanary instance "gitcanary" sync it (it has none)`,
			sentinel: argocd.ErrNotAuthorized},
		{name: "another instance", grant: argocd.Grant{Instance: "gitcanary-prod", Namespace: "team-a"},
			err:      `Application reviews: add the annotation gitcanary.io/grant: gitcanary,gitcanary-prod to let gitcanary instance "gitcanary-prod" sync it (it has "gitcanary")`,
			sentinel: argocd.ErrNotAuthorized},
		{name: "namespace not granted", grant: argocd.Grant{Namespace: "team-b"},
			err:      `Application reviews: add the annotation gitcanary.io/release-namespaces: team-a,team-b to let Release resources in namespace "team-b" drive it (it has "team-a")`,
			sentinel: argocd.ErrNotAuthorized},
		{name: "other repository", grant: team, edit: func(a *v1alpha1.Application) { a.Spec.Source.RepoURL = "https://git.example/org/other.git" },
			err:      `Application reviews: spec.source.repoURL is "https://git.example/org/other.git" but the release's spec.repo.url is "https://git.example/org/apps.git": gitcanary would commit to a repository the Application does not deploy`,
			sentinel: argocd.ErrMismatch},
		{name: "path case differs", grant: team, edit: func(a *v1alpha1.Application) { a.Spec.Source.RepoURL = "https://git.example/Org/apps.git" },
			err:      `Application reviews: spec.source.repoURL is "https://git.example/Org/apps.git" but the release's spec.repo.url is "https://git.example/org/apps.git": gitcanary would commit to a repository the Application does not deploy`,
			sentinel: argocd.ErrMismatch},
		{name: "other path", grant: team, edit: func(a *v1alpha1.Application) { a.Spec.Source.Path = "apps/ratings" },
			err:      `Application reviews: spec.source.path is "apps/ratings" but the release's spec.repo.path is "apps/reviews": gitcanary would commit to a path the Application does not deploy`,
			sentinel: argocd.ErrMismatch},
		{name: "other branch", grant: team, edit: func(a *v1alpha1.Application) { a.Spec.Source.TargetRevision = "release-1" },
			err:      `Application reviews: spec.source.targetRevision is "release-1" but the release's spec.repo.branch is "main": Argo CD must deploy the branch gitcanary commits to (a tag or another branch never shows the release's commits); set one to the other`,
			sentinel: argocd.ErrMismatch},
		{name: "pinned to a tag", grant: team, edit: func(a *v1alpha1.Application) { a.Spec.Source.TargetRevision = "refs/tags/v1.2.0" },
			err:      `Application reviews: spec.source.targetRevision is the tag "v1.2.0" but the release's spec.repo.branch is "main": a tag pins what Argo CD deploys, so it would never deploy the release's commits; set targetRevision: main`,
			sentinel: argocd.ErrMismatch},
		{name: "pinned to a commit", grant: team, edit: func(a *v1alpha1.Application) { a.Spec.Source.TargetRevision = "4f2c1e9a7b" },
			err:      `Application reviews: spec.source.targetRevision is "4f2c1e9a7b", a commit, but the release's spec.repo.branch is "main": a pinned commit never shows the release's commits; set targetRevision: main`,
			sentinel: argocd.ErrMismatch},
		{name: "HEAD is another branch", grant: team, edit: func(a *v1alpha1.Application) { a.Spec.Source.TargetRevision = "HEAD" },
			want:     func(w *argocd.Want) { w.DefaultBranch = defaultBranch("master", nil) },
			err:      `Application reviews: spec.source.targetRevision is HEAD, the repository's default branch "master", but the release's spec.repo.branch is "main": Argo CD would never deploy the release's commits`,
			sentinel: argocd.ErrMismatch},
		{name: "HEAD unknown", grant: team, edit: func(a *v1alpha1.Application) { a.Spec.Source.TargetRevision = "" },
			want:     func(w *argocd.Want) { w.DefaultBranch = defaultBranch("", errors.New("the server does not say")) },
			err:      `Application reviews: spec.source.targetRevision is empty (the repository's default branch), which gitcanary cannot read (the server does not say): set it to main, the release's spec.repo.branch`,
			sentinel: argocd.ErrMismatch},
		{name: "HEAD without a way to read it", grant: team, edit: func(a *v1alpha1.Application) { a.Spec.Source.TargetRevision = "HEAD" },
			err:      `Application reviews: spec.source.targetRevision is HEAD (the repository's default branch), which gitcanary cannot read here: set it to main, the release's spec.repo.branch`,
			sentinel: argocd.ErrMismatch},
		{name: "several sources", grant: team, edit: func(a *v1alpha1.Application) {
			a.Spec.Sources = v1alpha1.ApplicationSources{*a.Spec.Source, {RepoURL: repo, Path: "values", Ref: "values"}}
			a.Spec.Source = nil
		},
			err:      `Application reviews: spec.sources has 2 sources: gitcanary commits to and syncs an Application of one spec.source, the release's app path`,
			sentinel: argocd.ErrMismatch},
		{name: "no source", grant: team, edit: func(a *v1alpha1.Application) { a.Spec.Source = nil },
			err:      `Application reviews: spec.source is not set: gitcanary releases an Application whose spec.source is the release's app path`,
			sentinel: argocd.ErrMismatch},
		{name: "a Helm chart", grant: team, edit: func(a *v1alpha1.Application) { a.Spec.Source.Chart, a.Spec.Source.Path = "reviews", "" },
			err: `Application reviews: spec.source.chart is "reviews": a Helm chart from a chart repository, not an app path gitcanary can commit to; ` +
				`spec.source.path is "" but the release's spec.repo.path is "apps/reviews": gitcanary would commit to a path the Application does not deploy`,
			sentinel: argocd.ErrMismatch},
		{name: "rendered by Helm", grant: team, edit: func(a *v1alpha1.Application) { a.Spec.Source.Helm = &v1alpha1.ApplicationSourceHelm{} },
			err:      `Application reviews: spec.source.helm is set: Argo CD would render the app path with Helm, and gitcanary renders it with kustomize; remove it (the app path is a kustomization)`,
			sentinel: argocd.ErrMismatch},
		{name: "plain directory", grant: team, edit: func(a *v1alpha1.Application) {
			a.Spec.Source.Directory = &v1alpha1.ApplicationSourceDirectory{Recurse: true}
		},
			err:      `Application reviews: spec.source.directory is set: Argo CD would render the app path with Directory, and gitcanary renders it with kustomize; remove it (the app path is a kustomization)`,
			sentinel: argocd.ErrMismatch},
		{name: "kustomize options", grant: team, edit: func(a *v1alpha1.Application) {
			a.Spec.Source.Kustomize = &v1alpha1.ApplicationSourceKustomize{NamePrefix: "prod-", Images: v1alpha1.KustomizeImages{"example/reviews:1.9"}}
		},
			err:      `Application reviews: spec.source.kustomize sets namePrefix, images: Argo CD applies them over the app path, so what it deploys would differ from what gitcanary plans and checks; move them into the app path's kustomization`,
			sentinel: argocd.ErrMismatch},
		{name: "everything at once", grant: argocd.Grant{Namespace: "team-b"}, edit: func(a *v1alpha1.Application) {
			a.Spec.Source.Path, a.Spec.Source.TargetRevision = "apps/ratings", "v1.0"
		},
			err: `Application reviews: add the annotation gitcanary.io/release-namespaces: team-a,team-b to let Release resources in namespace "team-b" drive it (it has "team-a"); ` +
				`spec.source.path is "apps/ratings" but the release's spec.repo.path is "apps/reviews": gitcanary would commit to a path the Application does not deploy; ` +
				`spec.source.targetRevision is "v1.0" but the release's spec.repo.branch is "main": Argo CD must deploy the branch gitcanary commits to (a tag or another branch never shows the release's commits); set one to the other`,
			sentinel: argocd.ErrNotAuthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, w := admitted(), want
			if tt.edit != nil {
				tt.edit(app)
			}
			if tt.want != nil {
				tt.want(&w)
			}
			err := argocd.Admit(app, tt.grant, w)
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.err != "" && err == nil:
				t.Errorf("admitted, want %s", tt.err)
			case tt.err != "" && err.Error() != tt.err:
				t.Errorf("err = %v\nwant  %s", err, tt.err)
			case tt.err != "" && !errors.Is(err, tt.sentinel):
				t.Errorf("err %v is not %v", err, tt.sentinel)
			}
		})
	}
}

// TestAdmitBothSentinels: a refusal for a grant and a source is both.
func TestAdmitBothSentinels(t *testing.T) {
	app := admitted()
	app.Spec.Source.Path = "apps/ratings"
	err := argocd.Admit(app, argocd.Grant{Namespace: "team-b"}, want)
	if !errors.Is(err, argocd.ErrNotAuthorized) || !errors.Is(err, argocd.ErrMismatch) {
		t.Errorf("err %v: want both ErrNotAuthorized and ErrMismatch", err)
	}
}

func TestSameRepo(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"https://git.example/org/apps.git", "https://git.example/org/apps", true},
		{"https://git.example/org/apps/", "https://git.example/org/apps.git", true},
		{"https://GIT.example/org/apps", "https://git.example/org/apps", true},
		{"HTTPS://git.example:443/org/apps", "https://git.example/org/apps", true},
		{"https://user:secret@git.example/org/apps", "https://git.example/org/apps", true},
		{"git@github.com:org/apps.git", "ssh://git@github.com/org/apps", true},
		{"git@github.com:org/apps.git", "ssh://github.com:22/org/apps", true},
		{"git://127.0.0.1:9418/apps.git", "git://127.0.0.1/apps", true},
		{"git://127.0.0.1:19418/apps.git", "git://127.0.0.1/apps", false},
		{"https://git.example/org/apps", "http://git.example/org/apps", false},
		{"https://git.example/Org/apps", "https://git.example/org/apps", false},
		{"https://git.example/org/apps", "https://git.example/org/apps2", false},
		{"file:///srv/git/apps.git", "file:///srv/git/apps", true},
		{"/srv/git/apps.git/", "/srv/git/apps", true},
		{"", "https://git.example/org/apps", false},
	}
	for _, tt := range tests {
		if got := argocd.SameRepo(tt.a, tt.b); got != tt.same {
			t.Errorf("SameRepo(%q, %q) = %v, want %v (%q, %q)", tt.a, tt.b, got, tt.same, argocd.NormalizeRepoURL(tt.a), argocd.NormalizeRepoURL(tt.b))
		}
		if strings.Contains(argocd.NormalizeRepoURL(tt.a), "secret") {
			t.Errorf("NormalizeRepoURL(%q) keeps the password", tt.a)
		}
	}
}
