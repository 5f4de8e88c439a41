package machine

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitcanary/gitcanary/fixtures"
	"github.com/gitcanary/gitcanary/pkg/argocd/argocdtest"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/git/gittest"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/kube/kubetest"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// clock is a fake clock that Sleep advances: timed pauses and deadlines
// pass without real waiting.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

// world is a release's surroundings: a real git server on loopback and a
// scripted Argo CD that applies each synced revision's render to an
// in-memory cluster.
type world struct {
	t       testing.TB
	server  *gittest.Server
	url     string
	cache   string
	argo    *argocdtest.Fake
	cluster *kubetest.Fake
	clock   *clock
	before  []byte // the app's render before any release
}

const namespace = "bookinfo"

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{t: t, server: gittest.NewServer(t), cache: t.TempDir(), argo: argocdtest.New(), cluster: kubetest.New(),
		clock: &clock{now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}}
	w.url = w.server.CreateRepoFS(t, "apps.git", fixtures.Apps, "")
	w.argo.Clock = w.clock.Now
	w.argo.AddApp("reviews")
	w.argo.OnSync = func(name, revision string, prune bool) error {
		out, err := w.renderAt(revision)
		if err != nil {
			return err
		}
		return w.cluster.Apply(out, prune)
	}
	objs, err := w.renderAt("main") // the app as it runs before any release
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cluster.Apply(objs, false); err != nil {
		t.Fatal(err)
	}
	w.before = w.manifestsAt("main")
	return w
}

func (w *world) manifestsAt(rev string) []byte {
	w.t.Helper()
	files := map[string][]byte{}
	for _, p := range strings.Fields(w.server.Git(w.t, "apps.git", "ls-tree", "-r", "--name-only", rev)) {
		files[p] = []byte(w.server.Git(w.t, "apps.git", "show", rev+":"+p))
	}
	app, err := NewApp(rev, "apps/reviews", files)
	if err != nil {
		w.t.Fatal(err)
	}
	out, err := app.Build(context.Background(), &kustomize.Krusty{}, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

func (w *world) renderAt(rev string) ([]*unstructured.Unstructured, error) {
	objs, err := overlay.ParseObjects(w.manifestsAt(rev))
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, o := range objs {
		u := &unstructured.Unstructured{Object: o}
		u.SetNamespace(namespace) // Argo CD's destination namespace
		out = append(out, u)
	}
	return out, nil
}

func (w *world) machine(t testing.TB) *Machine {
	t.Helper()
	repo, err := git.Open(context.Background(), git.Options{URL: w.url, Branch: "main", CacheDir: w.cache})
	if err != nil {
		t.Fatal(err)
	}
	return New(Deps{Repo: repo, Argo: w.argo, Cluster: w.cluster, Clock: w.clock.Now, Sleep: w.clock.Sleep}, "reviews-v2", "apps/reviews")
}

func ref(name string) kube.Ref {
	return kube.Ref{Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments", Namespace: namespace, Name: name}
}

// actions lists the Gitcanary-Action trailers on the branch, oldest first.
func (w *world) actions() []string {
	w.t.Helper()
	out := w.server.Git(w.t, "apps.git", "log", "--reverse", "--format=%(trailers:key=Gitcanary-Action,valueonly)", "main")
	return strings.Fields(out)
}

func run(t *testing.T, m *Machine, until Until) *release.Release {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := m.Run(ctx, until, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func untilDone(o Outcome) bool { return o.Done }

func untilPhase(p release.Phase, step int) Until {
	return func(o Outcome) bool { return o.Release.Status.Phase == p && o.Release.Status.Step == step }
}

func mustExist(t *testing.T, c *kubetest.Fake, name string, want bool) {
	t.Helper()
	ok, err := c.Exists(context.Background(), ref(name))
	if err != nil {
		t.Fatal(err)
	}
	if ok != want {
		t.Errorf("Deployment %s exists = %v, want %v", name, ok, want)
	}
}

func mustRoute(t *testing.T, c *kubetest.Fake, want string) {
	t.Helper()
	routes, found, err := c.VirtualServiceRoutes(context.Background(), namespace, "reviews")
	if err != nil || !found {
		t.Fatalf("VirtualService reviews: found=%v err=%v", found, err)
	}
	var parts []string
	for _, d := range routes[0] {
		parts = append(parts, fmt.Sprintf("%s=%d", d.Subset, d.Weight))
	}
	if got := strings.Join(parts, ","); got != want {
		t.Errorf("cluster routes %s, want %s", got, want)
	}
}

func TestReleaseToPromote(t *testing.T) {
	w := newWorld(t)
	m := w.machine(t)
	ctx := context.Background()
	r := testRelease(t)
	if _, err := m.Start(ctx, r); err != nil {
		t.Fatal(err)
	}
	// The indefinite pause at step 3 waits for an approval.
	got := run(t, m, untilPhase(release.Paused, 3))
	if release.FormatWeights(got.Status.Weights) != "v1=50,v2=50" {
		t.Fatalf("paused with weights %s", release.FormatWeights(got.Status.Weights))
	}
	mustRoute(t, w.cluster, "v1=50,v2=50")
	if _, err := m.Approve(ctx); err != nil {
		t.Fatal(err)
	}
	got = run(t, m, untilDone)
	if got.Status.Phase != release.Promoted {
		t.Fatalf("phase %s, want Promoted", got.Status.Phase)
	}
	want := "start route step/0/weight/10 step/1/pause step/2/weight/50 step/3/pause approve/step/3 step/4/weight/100 promote retire promoted"
	if a := strings.Join(w.actions(), " "); a != want {
		t.Errorf("commits:\n got %s\nwant %s", a, want)
	}
	mustExist(t, w.cluster, "reviews-v1", false)
	mustExist(t, w.cluster, "reviews-v2", true)
	mustRoute(t, w.cluster, "v2=100")
	// Every commit was synced exactly once, in order; only the retirement pruned.
	syncs := w.argo.Syncs()
	if len(syncs) != len(strings.Fields(want)) {
		t.Errorf("%d syncs for %d commits", len(syncs), len(strings.Fields(want)))
	}
	for i, s := range syncs {
		if s.Prune != (i == len(syncs)-2) {
			t.Errorf("sync %d (%s) prune=%v", i, s.Revision[:8], s.Prune)
		}
	}
	// What git holds renders exactly as plan said it would.
	states, err := New(Deps{}, "reviews-v2", "apps/reviews").Plan(ctx, fixtureApp(t), r)
	if err != nil {
		t.Fatal(err)
	}
	if head := w.manifestsAt("main"); !bytes.Equal(head, states[len(states)-2].Manifests) {
		t.Errorf("promoted head renders differently from plan's promoted state:\n%s", head)
	}
}

func TestAbandonAtFiftyPercent(t *testing.T) {
	w := newWorld(t)
	m := w.machine(t)
	ctx := context.Background()
	if _, err := m.Start(ctx, testRelease(t)); err != nil {
		t.Fatal(err)
	}
	run(t, m, untilPhase(release.Paused, 3))
	if _, err := m.Abort(ctx, "error budget burning"); err != nil {
		t.Fatal(err)
	}
	got := run(t, m, untilDone)
	if got.Status.Phase != release.Abandoned || got.Status.Reason != "Aborted" || got.Status.Message != "error budget burning" {
		t.Fatalf("status %+v", got.Status)
	}
	if head := w.manifestsAt("main"); !bytes.Equal(head, w.before) {
		t.Errorf("after abandon the app renders differently from before:\n%s", head)
	}
	mustExist(t, w.cluster, "reviews-v2", false)
	mustExist(t, w.cluster, "reviews-v1", true)
	mustRoute(t, w.cluster, "v1=100")
	acts := w.actions()
	if tail := strings.Join(acts[len(acts)-3:], " "); tail != "abort revert abandoned" {
		t.Errorf("last commits %s", tail)
	}
}

func TestBrokenCanaryAbandonsAtDeadline(t *testing.T) {
	w := newWorld(t)
	w.cluster.HoldReady(ref("reviews-v2"), 0)
	m := w.machine(t)
	r := testRelease(t, func(r *release.Release) {
		r.Spec.ProgressDeadline = &release.Duration{Duration: 30 * time.Second}
	})
	if _, err := m.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	got := run(t, m, untilDone)
	if got.Status.Phase != release.Abandoned || got.Status.Reason != "ProgressDeadlineExceeded" {
		t.Fatalf("phase %s reason %s", got.Status.Phase, got.Status.Reason)
	}
	if !strings.Contains(got.Status.Message, "reviews-v2 has 0 of 2 replicas ready") {
		t.Errorf("message does not say why: %q", got.Status.Message)
	}
	if a := strings.Join(w.actions(), " "); a != "start abort revert abandoned" {
		t.Errorf("the broken canary advanced: %s", a)
	}
	mustExist(t, w.cluster, "reviews-v2", false)
}

func TestAbortPreemptsTimedPause(t *testing.T) {
	w := newWorld(t)
	m := w.machine(t)
	ctx := context.Background()
	r := testRelease(t, func(r *release.Release) {
		r.Spec.Steps[1].Pause.Duration.Duration = 24 * time.Hour
	})
	if _, err := m.Start(ctx, r); err != nil {
		t.Fatal(err)
	}
	paused := run(t, m, untilPhase(release.Paused, 1))
	if _, err := m.Abort(ctx, ""); err != nil {
		t.Fatal(err)
	}
	got := run(t, m, untilDone)
	if got.Status.Phase != release.Abandoned {
		t.Fatalf("phase %s", got.Status.Phase)
	}
	if waited := w.clock.Now().Sub(paused.Status.PausedAt); waited >= 24*time.Hour {
		t.Errorf("abort waited for the pause: %s", waited)
	}
}

func TestManualSetWeightAndApprove(t *testing.T) {
	w := newWorld(t)
	m := w.machine(t)
	ctx := context.Background()
	if _, err := m.Start(ctx, testRelease(t)); err != nil {
		t.Fatal(err)
	}
	run(t, m, untilPhase(release.Paused, 3))
	if _, err := m.SetWeight(ctx, 70); err != nil {
		t.Fatal(err)
	}
	// Step until the manual weight has converged: the machine then waits for approval.
	for range 10 {
		out, err := m.Step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if out.Did == "" && strings.Contains(out.Reason, "until approved") {
			break
		}
	}
	mustRoute(t, w.cluster, "v1=30,v2=70")
	if _, err := m.SetWeight(ctx, 101); err == nil {
		t.Error("set-weight 101 accepted")
	}
	if _, err := m.Approve(ctx); err != nil {
		t.Fatal(err)
	}
	got := run(t, m, untilDone)
	if got.Status.Phase != release.Promoted {
		t.Fatalf("phase %s", got.Status.Phase)
	}
	if _, err := m.Approve(ctx); err == nil || !strings.Contains(err.Error(), "not possible while the release is Promoted") {
		t.Errorf("approve after promotion: %v", err)
	}
}

func TestResumeFromGitAlone(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	first := w.machine(t)
	if _, err := first.Start(ctx, testRelease(t)); err != nil {
		t.Fatal(err)
	}
	for range 4 { // sync, check, commit, sync… then the process "dies"
		if _, err := first.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	w.cache = t.TempDir() // a new process elsewhere: no local state at all
	second := w.machine(t)
	run(t, second, untilPhase(release.Paused, 3))
	if _, err := second.Approve(ctx); err != nil {
		t.Fatal(err)
	}
	got := run(t, second, untilDone)
	if got.Status.Phase != release.Promoted {
		t.Fatalf("phase %s", got.Status.Phase)
	}
	seen := map[string]bool{}
	for _, a := range w.actions() {
		if seen[a] {
			t.Errorf("action %s committed twice", a)
		}
		seen[a] = true
	}
}
