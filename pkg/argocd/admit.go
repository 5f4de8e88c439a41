package argocd

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
)

// ErrMismatch means the Application does not deploy what the release
// commits to (repository, path, branch), or deploys it in a way gitcanary
// cannot drive (several sources, Helm, a pinned revision).
var ErrMismatch = errors.New("the Application does not deploy what the release commits to")

// Want is what a release commits to: its Application must deploy exactly
// this, or Argo CD would never apply the release's commits, or gitcanary
// would push where the Application's owner never pointed it.
type Want struct {
	RepoURL string // spec.repo.url
	Path    string // spec.repo.path
	Branch  string // spec.repo.branch (defaulted)
	// DefaultBranch reads the repository's default branch (what Argo CD
	// deploys for targetRevision HEAD or empty). It is called only for such
	// an Application; nil refuses it.
	DefaultBranch func() (string, error)
}

// Admit checks, before a release's first commit, that its Application
// grants g and deploys w, the way gitcanary drives it: one source, the
// release's repository, path and branch, rendered by kustomize as
// gitcanary renders it. The error lists every problem, each naming the
// Application's field with both values; it wraps ErrNotAuthorized when a
// grant is missing and ErrMismatch for anything else. Every sync policy
// (manual, automated with prune and selfHeal on or off) is driven.
func Admit(app *v1alpha1.Application, g Grant, w Want) error {
	var grants, problems []string
	for _, p := range []string{g.problem(app), g.namespaceProblem(app)} {
		if p != "" {
			grants = append(grants, p)
		}
	}
	problems = append(problems, sourceProblems(&app.Spec, w)...)
	if len(grants)+len(problems) == 0 {
		return nil
	}
	var sentinels []error
	if len(grants) > 0 {
		sentinels = append(sentinels, ErrNotAuthorized)
	}
	if len(problems) > 0 {
		sentinels = append(sentinels, ErrMismatch)
	}
	return &RefusedError{Application: app.Name, Problems: append(grants, problems...), sentinels: sentinels}
}

// RefusedError is Admit's refusal: every problem found.
type RefusedError struct {
	Application string
	Problems    []string
	sentinels   []error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("Application %s: %s", e.Application, strings.Join(e.Problems, "; "))
}

// Unwrap lets errors.Is find ErrNotAuthorized and ErrMismatch.
func (e *RefusedError) Unwrap() []error { return e.sentinels }

// sourceProblems compares the Application's source with what the release
// commits to.
func sourceProblems(spec *v1alpha1.ApplicationSpec, w Want) []string {
	if spec.HasMultipleSources() {
		return []string{fmt.Sprintf("spec.sources has %d sources: gitcanary commits to and syncs an Application of one spec.source, the release's app path", len(spec.Sources))}
	}
	src := spec.Source
	if src == nil {
		return []string{"spec.source is not set: gitcanary releases an Application whose spec.source is the release's app path"}
	}
	var out []string
	if src.Chart != "" {
		out = append(out, fmt.Sprintf("spec.source.chart is %q: a Helm chart from a chart repository, not an app path gitcanary can commit to", src.Chart))
	}
	if kind := renderer(src); kind != "" {
		out = append(out, fmt.Sprintf("spec.source.%s is set: Argo CD would render the app path with %s, and gitcanary renders it with kustomize; remove it (the app path is a kustomization)", strings.ToLower(kind), kind))
	}
	if opts := kustomizeOptions(src.Kustomize); len(opts) > 0 {
		out = append(out, fmt.Sprintf("spec.source.kustomize sets %s: Argo CD applies them over the app path, so what it deploys would differ from what gitcanary plans and checks; move them into the app path's kustomization",
			strings.Join(opts, ", ")))
	}
	if !SameRepo(src.RepoURL, w.RepoURL) {
		out = append(out, fmt.Sprintf("spec.source.repoURL is %q but the release's spec.repo.url is %q: gitcanary would commit to a repository the Application does not deploy",
			src.RepoURL, w.RepoURL))
	}
	if cleanPath(src.Path) != cleanPath(w.Path) {
		out = append(out, fmt.Sprintf("spec.source.path is %q but the release's spec.repo.path is %q: gitcanary would commit to a path the Application does not deploy",
			src.Path, w.Path))
	}
	if p := revisionProblem(src.TargetRevision, w); p != "" {
		out = append(out, p)
	}
	return out
}

// renderer names the source type an Application sets explicitly when it
// is not kustomize's: Argo CD then renders the path with that tool
// (ApplicationSource.ExplicitType), whatever files the path holds.
func renderer(src *v1alpha1.ApplicationSource) string {
	switch {
	case src.Helm != nil:
		return "Helm"
	case src.Plugin != nil:
		return "Plugin"
	case src.Directory != nil:
		return "Directory"
	}
	return ""
}

// kustomizeOptions lists the options of spec.source.kustomize that change
// what Argo CD renders: it applies them with `kustomize edit` before the
// build. The kustomize version and the Kubernetes version and APIs given
// to Helm charts inflated by kustomize do not change gitcanary's objects.
func kustomizeOptions(k *v1alpha1.ApplicationSourceKustomize) []string {
	if k == nil {
		return nil
	}
	var out []string
	for _, o := range []struct {
		name string
		set  bool
	}{
		{"namePrefix", k.NamePrefix != ""}, {"nameSuffix", k.NameSuffix != ""}, {"images", len(k.Images) > 0},
		{"commonLabels", len(k.CommonLabels) > 0}, {"commonAnnotations", len(k.CommonAnnotations) > 0},
		{"namespace", k.Namespace != ""}, {"replicas", len(k.Replicas) > 0}, {"patches", len(k.Patches) > 0},
		{"components", len(k.Components) > 0},
	} {
		if o.set {
			out = append(out, o.name)
		}
	}
	return out
}

// commitLike is what Argo CD takes for a commit when no ref has the name
// (util/git: 7 or more hexadecimal digits).
var commitLike = regexp.MustCompile(`^[0-9A-Fa-f]{7,64}$`)

// revisionProblem compares targetRevision with the release's branch. Argo
// CD resolves a targetRevision against the repository's refs by full or
// short name (refs/heads/main or main); HEAD or empty is the default
// branch, the remote's HEAD.
func revisionProblem(rev string, w Want) string {
	branch := w.Branch
	switch {
	case rev == branch, rev == "refs/heads/"+branch:
		return ""
	case rev == "" || rev == "HEAD":
		if w.DefaultBranch == nil {
			return fmt.Sprintf("spec.source.targetRevision is %s (the repository's default branch), which gitcanary cannot read here: set it to %s, the release's spec.repo.branch",
				orHead(rev), branch)
		}
		def, err := w.DefaultBranch()
		if err != nil {
			return fmt.Sprintf("spec.source.targetRevision is %s (the repository's default branch), which gitcanary cannot read (%v): set it to %s, the release's spec.repo.branch",
				orHead(rev), err, branch)
		}
		if def != branch {
			return fmt.Sprintf("spec.source.targetRevision is %s, the repository's default branch %q, but the release's spec.repo.branch is %q: Argo CD would never deploy the release's commits",
				orHead(rev), def, branch)
		}
		return ""
	case strings.HasPrefix(rev, "refs/tags/"):
		return fmt.Sprintf("spec.source.targetRevision is the tag %q but the release's spec.repo.branch is %q: a tag pins what Argo CD deploys, so it would never deploy the release's commits; set targetRevision: %s",
			strings.TrimPrefix(rev, "refs/tags/"), branch, branch)
	case commitLike.MatchString(rev):
		return fmt.Sprintf("spec.source.targetRevision is %q, a commit, but the release's spec.repo.branch is %q: a pinned commit never shows the release's commits; set targetRevision: %s",
			rev, branch, branch)
	}
	return fmt.Sprintf("spec.source.targetRevision is %q but the release's spec.repo.branch is %q: Argo CD must deploy the branch gitcanary commits to (a tag or another branch never shows the release's commits); set one to the other",
		rev, branch)
}

func orHead(rev string) string {
	if rev == "" {
		return "empty"
	}
	return rev
}

// cleanPath is an app path as Argo CD reads it: relative to the
// repository's root, "." for the root itself.
func cleanPath(p string) string {
	return path.Clean("./" + strings.Trim(strings.TrimSpace(p), "/"))
}

// SameRepo reports whether two repository URLs name the same repository:
// the scheme and host are compared without case and without a default
// port, user info (credentials, an SSH user) is ignored, and the path is
// compared with case but without a trailing slash or .git suffix.
// scp-like addresses (git@host:org/repo) are SSH URLs. Argo CD compares
// the whole URL without case (util/git SameURL); gitcanary keeps the
// path's case, because git servers that serve files (git daemon, a file
// path) tell Apps.git from apps.git.
func SameRepo(a, b string) bool { return NormalizeRepoURL(a) == NormalizeRepoURL(b) }

var scpLike = regexp.MustCompile(`^(?:[^@/:]+@)?([^/:]+):(.*)$`)

// NormalizeRepoURL is the form of a repository URL SameRepo compares.
func NormalizeRepoURL(raw string) string {
	s := strings.TrimSpace(raw)
	if !strings.Contains(s, "://") {
		if m := scpLike.FindStringSubmatch(s); m != nil && len(m[1]) > 1 { // not a Windows drive letter
			s = "ssh://" + m[1] + "/" + strings.TrimPrefix(m[2], "/")
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return trimRepoPath(path.Clean(s))
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.User = nil
	host := strings.ToLower(u.Hostname())
	if port := u.Port(); port != "" && port != defaultPorts[u.Scheme] {
		host += ":" + port
	}
	u.Host = host
	u.Path = trimRepoPath(u.Path)
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u.String()
}

var defaultPorts = map[string]string{"http": "80", "https": "443", "ssh": "22", "git": "9418"}

func trimRepoPath(p string) string {
	p = strings.TrimRight(p, "/")
	p = strings.TrimSuffix(p, ".git")
	return strings.TrimRight(p, "/")
}
