package machine

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/kube/kubetest"
	"github.com/gitcanary/gitcanary/pkg/machine/machinetest"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// world is machinetest's World plus the machine's own clone cache.
type world struct {
	*machinetest.World
	cache string
}

const namespace = machinetest.Namespace

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{World: machinetest.New(t), cache: t.TempDir()}
	// The machine reads the repository through Deps.Repo; its Application
	// names it as testRelease's spec.repo.url does, as admit checks.
	w.Argo.SetSource("reviews", testRelease(t).Spec.Repo.URL, "apps/reviews", "main")
	return w
}

func (w *world) machine(t testing.TB) *Machine {
	t.Helper()
	repo, err := git.Open(context.Background(), git.Options{URL: w.URL, Branch: "main", CacheDir: w.cache})
	if err != nil {
		t.Fatal(err)
	}
	return New(Deps{Repo: repo, Argo: w.Argo, Cluster: w.Cluster, Clock: w.Clock.Now, Sleep: w.Clock.Sleep}, "reviews-v2", "apps/reviews")
}

func ref(name string) kube.Ref {
	return kube.Ref{Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments", Namespace: namespace, Name: name}
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
	mustRoute(t, w.Cluster, "v1=50,v2=50")
	if _, err := m.Approve(ctx); err != nil {
		t.Fatal(err)
	}
	got = run(t, m, untilDone)
	if got.Status.Phase != release.Promoted {
		t.Fatalf("phase %s, want Promoted", got.Status.Phase)
	}
	app, _ := w.Argo.Peek("reviews")
	if a := app.Annotations; a[argocd.AnnotationRelease] != "reviews-v2" || a[argocd.AnnotationPhase] != "Promoted" || a[argocd.AnnotationWeights] != "v2=100" {
		t.Errorf("Application annotations %v; want the promoted release", a)
	}
	want := "start route step/0/weight/10 step/1/pause step/2/weight/50 step/3/pause approve/step/3 step/4/weight/100 promote retire promoted"
	if a := strings.Join(w.Actions(), " "); a != want {
		t.Errorf("commits:\n got %s\nwant %s", a, want)
	}
	mustExist(t, w.Cluster, "reviews-v1", false)
	mustExist(t, w.Cluster, "reviews-v2", true)
	mustRoute(t, w.Cluster, "v2=100")
	// Every commit but the final record was synced exactly once, in
	// order, to the target revision; only the retirement pruned.
	syncs := w.Argo.Syncs()
	if len(syncs) != len(strings.Fields(want))-1 {
		t.Errorf("%d syncs for %d commits", len(syncs), len(strings.Fields(want)))
	}
	for i, s := range syncs {
		if s.Prune != (i == len(syncs)-1) || s.Revision != "" {
			t.Errorf("sync %d to %q prune=%v; want the target revision, prune only at the end", i, s.Revision, s.Prune)
		}
	}
	// What git holds renders exactly as plan said it would.
	states, err := New(Deps{}, "reviews-v2", "apps/reviews").Plan(ctx, fixtureApp(t), r)
	if err != nil {
		t.Fatal(err)
	}
	if head := w.ManifestsAt("main"); !bytes.Equal(head, states[len(states)-2].Manifests) {
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
	if head := w.ManifestsAt("main"); !bytes.Equal(head, w.Before) {
		t.Errorf("after abandon the app renders differently from before:\n%s", head)
	}
	mustExist(t, w.Cluster, "reviews-v2", false)
	mustExist(t, w.Cluster, "reviews-v1", true)
	mustRoute(t, w.Cluster, "v1=100")
	acts := w.Actions()
	if tail := strings.Join(acts[len(acts)-3:], " "); tail != "abort revert abandoned" {
		t.Errorf("last commits %s", tail)
	}
}

func TestBrokenCanaryAbandonsAtDeadline(t *testing.T) {
	w := newWorld(t)
	w.Cluster.HoldReady(ref("reviews-v2"), 0)
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
	if a := strings.Join(w.Actions(), " "); a != "start abort revert abandoned" {
		t.Errorf("the broken canary advanced: %s", a)
	}
	mustExist(t, w.Cluster, "reviews-v2", false)
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
	if waited := w.Clock.Now().Sub(paused.Status.PausedAt); waited >= 24*time.Hour {
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
	mustRoute(t, w.Cluster, "v1=30,v2=70")
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
	for _, a := range w.Actions() {
		if seen[a] {
			t.Errorf("action %s committed twice", a)
		}
		seen[a] = true
	}
}
