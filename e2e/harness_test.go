package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gitcanary/gitcanary/e2e/testbed"
	"github.com/gitcanary/gitcanary/fixtures"
	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/git/gittest"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

// scenario is one release on the test bed, isolated in its own namespace,
// git server and manual-sync Argo CD Application.
type scenario struct {
	t       testing.TB
	env     testbed.Env
	ns      string
	apps    fs.FS // the app repository seeded, fixtures.Apps unless an option changes it
	server  *gittest.Server
	url     string
	cache   string
	file    string
	rel     *release.Release
	argo    argocd.Client
	cluster kube.Cluster
	phases  []release.Phase // phases seen converged, in order
}

func randSuffix() string {
	b := make([]byte, 3)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// option changes a scenario before its app is seeded and deployed.
type option func(*scenario)

// withFile seeds the app repository with the file at path (e.g.
// apps/reviews/deployment.yaml) replaced by data.
func withFile(path string, data []byte) option {
	return func(s *scenario) {
		files := fstest.MapFS{path: {Data: data}}
		err := fs.WalkDir(s.apps, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || p == path {
				return err
			}
			b, err := fs.ReadFile(s.apps, p)
			files[p] = &fstest.MapFile{Data: b}
			return err
		})
		if err != nil {
			s.t.Fatal(err)
		}
		s.apps = files
	}
}

// newScenario deploys the fixture app at its stable version and writes a
// Release file of it with the given parameters (repository, Application and
// namespace are filled in).
func newScenario(t testing.TB, name string, p templates.ReleaseParams, opts ...option) *scenario {
	env := testbed.Require(t)
	ctx := context.Background()
	s := &scenario{t: t, env: env, ns: name + "-" + randSuffix(), apps: fixtures.Apps, server: gittest.NewServer(t), cache: t.TempDir()}
	for _, o := range opts {
		o(s)
	}
	s.url = s.server.CreateRepoFS(t, "apps.git", s.apps, "")
	env.Kubectl(t, "create", "namespace", s.ns)
	app, err := templates.Application(templates.ApplicationParams{Name: s.ns, RepoURL: s.url, Path: "apps/reviews", Revision: "main", Namespace: s.ns})
	if err != nil {
		t.Fatal(err)
	}
	appFile := filepath.Join(t.TempDir(), "app.yaml")
	if err := os.WriteFile(appFile, app, 0o644); err != nil {
		t.Fatal(err)
	}
	env.Kubectl(t, "apply", "-f", appFile)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := env.KubectlE(context.Background(), "get", "deploy,pods,virtualservices,destinationrules", "-n", s.ns, "-o", "wide")
			t.Logf("cluster at the end:\n%s", out)
		}
		env.KubectlE(context.Background(), "delete", "application", "-n", "argocd", s.ns, "--wait=false")
		env.KubectlE(context.Background(), "delete", "namespace", s.ns, "--wait=false")
	})
	client, closer, err := argocd.New(ctx, argocd.Options{Server: env.ArgoServer, AuthToken: env.ArgoToken, PlainText: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closer.Close() })
	s.argo = client
	cfg, err := kube.Config(env.Kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.cluster, err = kube.NewCluster(cfg, kube.NewKinds()); err != nil {
		t.Fatal(err)
	}
	s.syncAndWait(s.head())
	s.file = filepath.Join(t.TempDir(), "release.yaml")
	p.RepoURL, p.Application, p.Namespace = s.url, s.ns, s.ns
	out, err := templates.Release(p)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(out)
	if err := os.WriteFile(s.file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if s.rel, err = release.Parse([]byte(doc)); err != nil {
		t.Fatal(err)
	}
	return s
}

// release renders another Release of the scenario's app.
func (s *scenario) release(p templates.ReleaseParams) *release.Release {
	s.t.Helper()
	p.RepoURL, p.Application, p.Namespace = s.url, s.ns, s.ns
	out, err := templates.Release(p)
	if err != nil {
		s.t.Fatal(err)
	}
	r, err := release.Parse(out)
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

func (s *scenario) head() string { return s.server.Git(s.t, "apps.git", "rev-parse", "main") }

// syncAndWait syncs the Application to rev and waits until Argo CD says it converged.
func (s *scenario) syncAndWait(rev string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	synced := false
	var last argocd.Verdict
	for ctx.Err() == nil {
		app, err := s.argo.Get(ctx, s.ns, !synced)
		if err == nil {
			last = argocd.Assess(app, argocd.Exact(rev))
			switch last.State {
			case argocd.Converged:
				return
			case argocd.NeedsSync:
				if err := s.argo.Sync(ctx, s.ns, rev, false); err == nil {
					synced = true
				}
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	s.t.Fatalf("Argo CD did not converge on %s: %s %s", rev[:8], last.State, last.Reason)
}

// deps wires a machine to the test bed, as the CLI does.
func (s *scenario) machine() *machine.Machine {
	s.t.Helper()
	repo, err := git.Open(context.Background(), git.Options{URL: s.url, Branch: "main", CacheDir: s.cache})
	if err != nil {
		s.t.Fatal(err)
	}
	return machine.New(machine.Deps{Repo: repo, Argo: s.argo, Cluster: s.cluster, Builder: &kustomize.Krusty{}, Kinds: kube.NewKinds(), Clock: time.Now}, "reviews-v2", "apps/reviews")
}

// cli runs the gitcanary command line in-process against the test bed.
func (s *scenario) cli(args ...string) (int, string) {
	var out bytes.Buffer
	base := []string{"--cache-dir", s.cache, "--server", s.env.ArgoServer, "--auth-token", s.env.ArgoToken, "--plaintext", "--kubeconfig", s.env.Kubeconfig}
	code := cli.Main(context.Background(), append(base, args...), &out, &out)
	s.t.Logf("gitcanary %s → %d\n%s", strings.Join(args, " "), code, out.String())
	return code, out.String()
}

// drive runs the release until until holds, checking git, Argo CD and
// the cluster every time a commit has converged.
func (s *scenario) drive(m *machine.Machine, until machine.Until) *release.Release {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, err := m.Run(ctx, until, func(o machine.Outcome) {
		if o.Converged {
			s.checkConverged(ctx, o.Release)
		}
	})
	if err != nil {
		s.t.Fatalf("driving the release: %v", err)
	}
	return r
}

// synced reads the release's record at the commit Argo CD last synced.
func (s *scenario) synced(ctx context.Context) *release.Release {
	s.t.Helper()
	app, err := s.argo.Get(ctx, s.ns, false)
	if err != nil {
		s.t.Fatal(err)
	}
	st := app.Status.OperationState
	if st == nil || st.SyncResult == nil {
		s.t.Fatalf("Argo CD has synced nothing of %s", s.ns)
	}
	rec, err := release.Parse([]byte(s.server.Git(s.t, "apps.git", "show", st.SyncResult.Revision+":apps/reviews/.gitcanary/releases/reviews-v2.yaml")))
	if err != nil {
		s.t.Fatal(err)
	}
	return rec
}

// checkConverged asserts the three views agree after a phase converged:
// git's record, Argo CD at the head commit, the cluster's weights.
func (s *scenario) checkConverged(ctx context.Context, rec *release.Release) {
	s.t.Helper()
	if n := len(s.phases); n == 0 || s.phases[n-1] != rec.Status.Phase {
		s.phases = append(s.phases, rec.Status.Phase)
	}
	// The report comes after the decision was carried out, so the head may
	// already hold the next commit: check the commit that converged.
	commit := s.commitOf(rec.Status.Seq)
	inGit, err := release.Parse([]byte(s.server.Git(s.t, "apps.git", "show", commit+":apps/reviews/.gitcanary/releases/reviews-v2.yaml")))
	if err != nil {
		s.t.Fatal(err)
	}
	if inGit.Status.Phase != rec.Status.Phase {
		s.t.Errorf("git at %s has %s, the machine saw %s", commit[:8], inGit.Status.Phase, rec.Status.Phase)
	}
	app, err := s.argo.Get(ctx, s.ns, false)
	if err != nil {
		s.t.Fatal(err)
	}
	if v := argocd.Assess(app, argocd.Exact(commit)); v.State != argocd.Converged {
		s.t.Errorf("%s: Argo CD not converged at %s: %s %s", rec.Status.Phase, commit[:8], v.State, v.Reason)
	}
	if got, want := s.routes(ctx), release.FormatWeights(rec.Status.Weights); got != want {
		s.t.Errorf("%s: cluster routes %s, git says %s", rec.Status.Phase, got, want)
	}
}

// commitOf finds the release's commit with Gitcanary-Seq seq.
func (s *scenario) commitOf(seq int) string {
	s.t.Helper()
	out := s.server.Git(s.t, "apps.git", "log", "--format=%H %(trailers:key=Gitcanary-Seq,valueonly,separator=)", "main")
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] == fmt.Sprint(seq) {
			return f[0]
		}
	}
	s.t.Fatalf("no commit with Gitcanary-Seq %d", seq)
	return ""
}

// routes reads the VirtualService's first HTTP route from the cluster: "v1=90,v2=10".
func (s *scenario) routes(ctx context.Context) string {
	routes, found, err := s.cluster.VirtualServiceRoutes(ctx, s.ns, "reviews")
	if err != nil || !found || len(routes) == 0 {
		s.t.Fatalf("VirtualService reviews: found=%v err=%v", found, err)
	}
	var parts []string
	for _, d := range routes[0] {
		parts = append(parts, fmt.Sprintf("%s=%d", d.Subset, d.Weight))
	}
	return strings.Join(parts, ",")
}

func (s *scenario) exists(name string) bool {
	return s.existsAs(kube.Ref{Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments"}, name)
}

// existsAs reports whether the scenario's namespace has an object of
// kind's group, version and resource named name.
func (s *scenario) existsAs(kind kube.Ref, name string) bool {
	kind.Namespace, kind.Name = s.ns, name
	ok, err := s.cluster.Exists(context.Background(), kind)
	if err != nil {
		s.t.Fatal(err)
	}
	return ok
}

// snapshot describes the namespace's app objects: kinds, names and the
// specs that matter, to compare the cluster before and after a release.
func (s *scenario) snapshot() string {
	out := s.env.Kubectl(s.t, "get", "deployments,services,destinationrules,virtualservices,gateways", "-n", s.ns, "-o", "json")
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		s.t.Fatal(err)
	}
	var lines []string
	for _, it := range list.Items {
		meta := it["metadata"].(map[string]any)
		spec := it["spec"]
		if it["kind"] == "Deployment" {
			spec = it["spec"].(map[string]any)["template"]
		}
		if it["kind"] == "Service" {
			spec = it["spec"].(map[string]any)["selector"]
		}
		b, _ := json.Marshal(spec)
		lines = append(lines, fmt.Sprintf("%s/%s %s", it["kind"], meta["name"], b))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// actions lists the release's Gitcanary-Action trailers, oldest first.
func (s *scenario) actions() []string {
	out := s.server.Git(s.t, "apps.git", "log", "--reverse", "--format=%(trailers:key=Gitcanary-Action,valueonly)", "main")
	return strings.Fields(out)
}

// seqs lists the Gitcanary-Seq trailers, oldest first.
func (s *scenario) seqs() []string {
	out := s.server.Git(s.t, "apps.git", "log", "--reverse", "--format=%(trailers:key=Gitcanary-Seq,valueonly)", "main")
	return strings.Fields(out)
}
