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
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/gitcanary/gitcanary/e2e/testbed"
	"github.com/gitcanary/gitcanary/fixtures"
	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/git/gittest"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

// scenario is one release on the test bed, isolated in its own namespace,
// git server and Argo CD Application (manual sync unless an option says
// otherwise). The Application and the namespace share one name, ns.
type scenario struct {
	t         testing.TB
	env       testbed.Env
	ns        string
	path      string // the app path released, apps/reviews unless an option changes it
	apps      fs.FS  // the app repository seeded, fixtures.Apps unless an option changes it
	doc       []byte // the Release as its user wrote it (withRelease); nil: templates.Release
	automated *templates.AutomatedSync
	// ungranted leaves gitcanary.io/release-namespaces off the
	// Application; by default it grants the scenario's namespace, where
	// controller scenarios put their Release resources.
	ungranted bool
	endpoints bool // checkConverged also checks the EndpointSlices behind routed subsets
	// procEnv is added to the environment of every gitcanary process the
	// scenario starts (the binary and the controller).
	procEnv []string
	server  *gittest.Server
	url     string
	cache   string
	file    string
	rel     *release.Release
	argo    argocd.Client
	cluster kube.Cluster
	dyn     dynamic.Interface
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
	return withFiles(map[string][]byte{path: data})
}

// withFiles seeds the app repository with files added or replaced; a nil
// value removes that file.
func withFiles(files map[string][]byte) option {
	return func(s *scenario) {
		out := fstest.MapFS{}
		for p, b := range filesUnder(s.t, s.apps, ".") {
			out[p] = &fstest.MapFile{Data: b}
		}
		for p, b := range files {
			if b == nil {
				delete(out, p)
			} else {
				out[p] = &fstest.MapFile{Data: b}
			}
		}
		s.apps = out
	}
}

// filesUnder reads every file of fsys under dir, by path in fsys.
func filesUnder(t testing.TB, fsys fs.FS, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		files[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// withSample seeds the repository with the sample app apps/<name> of
// fixtures.Samples alone, as its project ships it, and releases that path.
// Give the Release with withRelease.
func withSample(name string) option {
	return func(s *scenario) {
		s.path = "apps/" + name
		s.apps = fstest.MapFS{}
		withFiles(filesUnder(s.t, fixtures.Samples, s.path))(s)
	}
}

// withRelease makes doc, a Release as its user would write it (say a
// sample's, fixtures.Samples' releases/), the scenario's Release, in place
// of the ReleaseParams given to newScenario.
func withRelease(doc []byte) option {
	return func(s *scenario) { s.doc = doc }
}

// newScenario deploys the fixture app at its stable version and writes a
// Release file of it with the given parameters, or the document given with
// withRelease (repository, app path, Application and namespace are filled
// in).
func newScenario(t testing.TB, name string, p templates.ReleaseParams, opts ...option) *scenario {
	env := testbed.Require(t)
	ctx := context.Background()
	s := &scenario{t: t, env: env, ns: name + "-" + randSuffix(), path: "apps/reviews", apps: fixtures.Apps, server: gittest.NewServer(t), cache: t.TempDir()}
	for _, o := range opts {
		o(s)
	}
	s.url = s.server.CreateRepoFS(t, "apps.git", s.apps, "")
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
	s.deploy()
	if s.doc != nil {
		s.writeReleaseDoc(s.doc)
	} else {
		s.writeRelease(p)
	}
	return s
}

// deploy creates the scenario's namespace and its Application of s.path,
// and waits until Argo CD has applied the branch head.
func (s *scenario) deploy() {
	t, env := s.t, s.env
	t.Helper()
	env.Kubectl(t, "create", "namespace", s.ns)
	grant := s.ns
	if s.ungranted {
		grant = ""
	}
	app, err := templates.Application(templates.ApplicationParams{Name: s.ns, RepoURL: s.url, Path: s.path, Revision: "main", Namespace: s.ns, Automated: s.automated, ReleaseNamespaces: grant})
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
	s.syncAndWait(s.head())
}

// writeRelease writes the scenario's Release file with the given
// parameters (repository, app path, Application and namespace filled in)
// and makes it the release the scenario's helpers look at.
func (s *scenario) writeRelease(p templates.ReleaseParams) {
	s.t.Helper()
	p.RepoURL, p.Path, p.Application, p.Namespace = s.url, s.path, s.ns, s.ns
	out, err := templates.Release(p)
	if err != nil {
		s.t.Fatal(err)
	}
	s.writeReleaseFile(out)
}

// writeReleaseDoc writes doc, a Release as its user would write it, as the
// scenario's Release file, with the scenario's repository, app path,
// Application and namespace.
func (s *scenario) writeReleaseDoc(doc []byte) {
	s.t.Helper()
	r, err := release.Parse(doc)
	if err != nil {
		s.t.Fatal(err)
	}
	r.Spec.Repo.URL, r.Spec.Repo.Path, r.Spec.ArgoCD.Application, r.Spec.Workload.Namespace = s.url, s.path, s.ns, s.ns
	out, err := release.Marshal(r)
	if err != nil {
		s.t.Fatal(err)
	}
	s.writeReleaseFile(out)
}

// writeReleaseFile writes out as the scenario's Release file and makes it
// the release the scenario's helpers look at.
func (s *scenario) writeReleaseFile(out []byte) {
	t := s.t
	t.Helper()
	s.file = filepath.Join(t.TempDir(), "release.yaml")
	if err := os.WriteFile(s.file, out, 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	if s.rel, err = release.Parse(out); err != nil {
		t.Fatal(err)
	}
}

// name is the name of the scenario's release.
func (s *scenario) name() string { return s.rel.Metadata.Name }

// recordPath is where git holds the record of the scenario's release.
func (s *scenario) recordPath() string {
	return s.path + "/.gitcanary/releases/" + s.name() + ".yaml"
}

// release renders another Release of the scenario's app.
func (s *scenario) release(p templates.ReleaseParams) *release.Release {
	s.t.Helper()
	p.RepoURL, p.Path, p.Application, p.Namespace = s.url, s.path, s.ns, s.ns
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

// syncAndWait waits until Argo CD has applied rev and found the app
// Synced and Healthy after it, syncing the Application's target revision
// (the branch head, which contains rev) when its last operation lacks rev.
// An automated-sync Application may sync by itself first.
func (s *scenario) syncAndWait(rev string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	refresh := true
	why := "not looked at yet"
	for ctx.Err() == nil {
		app, err := s.argo.Get(ctx, s.ns, refresh)
		refresh = false
		if err != nil {
			why = err.Error()
		} else {
			f := s.argoFacts(app, rev)
			why = f.String()
			switch {
			case f.Applied && f.Fresh && f.Sync == "Synced" && f.Health == "Healthy":
				return
			case !f.Applied && !f.Running:
				// Refused while another operation runs (an automated sync): look again.
				s.argo.Sync(ctx, s.ns, "", false)
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	s.t.Fatalf("Argo CD did not apply %s: %s", rev[:8], why)
}

// deps wires a machine to the test bed, as the CLI does.
func (s *scenario) machine() *machine.Machine {
	s.t.Helper()
	repo, err := git.Open(context.Background(), git.Options{URL: s.url, Branch: "main", CacheDir: s.cache})
	if err != nil {
		s.t.Fatal(err)
	}
	return machine.New(machine.Deps{Repo: repo, Argo: s.argo, Cluster: s.cluster, Builder: &kustomize.Krusty{}, Kinds: kube.NewKinds(), Clock: time.Now}, s.name(), s.path)
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
	var recent []string // the last lines logged
	r, err := m.Run(ctx, until, func(o machine.Outcome) {
		// What the release does, once per change (a retry loop of up to
		// four lines once): why it waits, what it did.
		what := o.Reason
		if o.Did != "" {
			what = o.Did + " " + git.ShortHash(o.Commit)
		}
		if line := fmt.Sprintf("%s %s | %s", o.Release.Status.Phase, release.FormatWeights(o.Release.Status.Weights), what); !slices.Contains(recent, line) {
			s.t.Logf("%s: %s", s.name(), line)
			recent = append(recent, line)
			if len(recent) > 4 {
				recent = recent[1:]
			}
		}
		if o.Converged || o.Done && o.Release.Status.Phase.Terminal() {
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
	rec, err := release.Parse([]byte(s.server.Git(s.t, "apps.git", "show", st.SyncResult.Revision+":"+s.recordPath())))
	if err != nil {
		s.t.Fatal(err)
	}
	return rec
}

// checkConverged asserts the three views agree after a phase converged:
// git's record, Argo CD (its last operation applied a revision containing
// the release's commit, gitcanary's files unchanged since; for a finished
// release, see checkFinished), the weights in the cluster of every
// VirtualService the release splits and, with s.endpoints, ready endpoints
// behind every routed subset.
func (s *scenario) checkConverged(ctx context.Context, rec *release.Release) {
	s.t.Helper()
	if n := len(s.phases); n == 0 || s.phases[n-1] != rec.Status.Phase {
		s.phases = append(s.phases, rec.Status.Phase)
	}
	// The report comes after the decision was carried out, so the head may
	// already hold the next commit: check the commit that converged.
	commit := s.commitOf(rec.Status.Seq)
	inGit, err := release.Parse([]byte(s.server.Git(s.t, "apps.git", "show", commit+":"+s.recordPath())))
	if err != nil {
		s.t.Fatal(err)
	}
	if inGit.Status.Phase != rec.Status.Phase {
		s.t.Errorf("git at %s has %s, the machine saw %s", commit[:8], inGit.Status.Phase, rec.Status.Phase)
	}
	if rec.Status.Phase.Terminal() {
		s.checkFinished(ctx, rec.Status.Phase, commit)
	} else if moved := s.checkApplied(ctx, rec.Status.Phase, commit); moved {
		return // Argo CD already applied the release's next commit: the cluster shows that one
	}
	want := release.FormatWeights(rec.Status.Weights)
	for _, vs := range s.splitVirtualServices(rec.Status.Seq) {
		if got := s.routesOf(ctx, vs); got != want {
			s.t.Errorf("%s: cluster's VirtualService %s routes %s, git says %s", rec.Status.Phase, vs.Name, got, want)
		}
	}
	if s.endpoints {
		s.checkEndpoints(ctx, rec.Status.Phase)
	}
}

// commitOf finds the release's commit with Gitcanary-Seq seq: among the
// commits that touch the app path, the one naming the release and seq.
func (s *scenario) commitOf(seq int) string {
	s.t.Helper()
	for _, c := range s.releaseCommits() {
		if c.seq == fmt.Sprint(seq) {
			return c.hash
		}
	}
	s.t.Fatalf("no commit of %s in %s with Gitcanary-Seq %d", s.name(), s.path, seq)
	return ""
}

// releaseCommit is one commit of the scenario's release.
type releaseCommit struct{ hash, seq, action, path string }

// releaseCommits lists the commits of the scenario's release, oldest
// first: those changing the app path whose Gitcanary-Release trailer
// names it. Other writers, other releases and the same release name in
// other app paths are left out.
func (s *scenario) releaseCommits() []releaseCommit {
	s.t.Helper()
	const f = "%H%x09%(trailers:key=Gitcanary-Release,valueonly,separator=)%x09%(trailers:key=Gitcanary-Seq,valueonly,separator=)%x09%(trailers:key=Gitcanary-Action,valueonly,separator=)%x09%(trailers:key=Gitcanary-Path,valueonly,separator=)"
	out := s.server.Git(s.t, "apps.git", "log", "--reverse", "--format="+f, "main", "--", s.path)
	var cs []releaseCommit
	for _, line := range strings.Split(out, "\n") {
		if p := strings.Split(line, "\t"); len(p) == 5 && p[1] == s.name() {
			cs = append(cs, releaseCommit{hash: p[0], seq: p[2], action: p[3], path: p[4]})
		}
	}
	return cs
}

// splitVirtualServices lists the VirtualServices whose routes the release
// splits, as git's state says at the release's commit with Gitcanary-Seq
// seq or, when that commit handed the app back (no state), at its last
// commit before that with a state.
func (s *scenario) splitVirtualServices(seq int) []overlay.ObjectRef {
	s.t.Helper()
	file := s.path + "/" + overlay.Dir + "/" + overlay.StateFile
	cs := s.releaseCommits()
	for i := len(cs) - 1; i >= 0; i-- {
		if n, _ := strconv.Atoi(cs[i].seq); n > seq || s.server.Git(s.t, "apps.git", "ls-tree", "--name-only", cs[i].hash, "--", file) == "" {
			continue
		}
		var st overlay.State
		if err := yaml.Unmarshal([]byte(s.server.Git(s.t, "apps.git", "show", cs[i].hash+":"+file)), &st); err != nil {
			s.t.Fatalf("%s at %.8s: %v", file, cs[i].hash, err)
		}
		return st.Routing.AllVirtualServices()
	}
	s.t.Fatalf("no commit of %s up to Gitcanary-Seq %d has %s", s.name(), seq, file)
	return nil
}

// routes reads the first HTTP route of the VirtualService named like the
// release's app from the cluster: "v1=90,v2=10".
func (s *scenario) routes(ctx context.Context) string {
	return s.routesOf(ctx, overlay.ObjectRef{Name: s.rel.Spec.AppName()})
}

// routesOf reads the first HTTP route of VirtualService vs (in the
// scenario's namespace unless it names one) from the cluster.
func (s *scenario) routesOf(ctx context.Context, vs overlay.ObjectRef) string {
	s.t.Helper()
	ns := s.ns
	if vs.Namespace != "" {
		ns = vs.Namespace
	}
	routes, found, err := s.cluster.VirtualServiceRoutes(ctx, ns, vs.Name)
	if err != nil || !found || len(routes) == 0 {
		s.t.Fatalf("VirtualService %s in %s: found=%v err=%v", vs.Name, ns, found, err)
	}
	return formatRoute(routes[0])
}

// formatRoute formats a route's destinations by subset: "v1=90,v2=10".
func formatRoute(route []kube.Route) string {
	var parts []string
	for _, d := range route {
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
	out := s.env.Kubectl(s.t, "get", "deployments,statefulsets,daemonsets,workloadgroups,workloadentries,services,destinationrules,virtualservices,gateways", "-n", s.ns, "-o", "json")
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
		switch it["kind"] {
		case "Deployment", "StatefulSet", "DaemonSet":
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
	var out []string
	for _, c := range s.releaseCommits() {
		out = append(out, c.action)
	}
	return out
}

// seqs lists the release's Gitcanary-Seq trailers, oldest first.
func (s *scenario) seqs() []string {
	var out []string
	for _, c := range s.releaseCommits() {
		out = append(out, c.seq)
	}
	return out
}
