// Package machinetest is a release's surroundings for tests of code that
// drives releases (the state machine, the controller): the fixture app in
// a real git server on loopback, and a scripted Argo CD that applies each
// synced revision's render to an in-memory cluster.
package machinetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitcanary/gitcanary/fixtures"
	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/argocd/argocdtest"
	"github.com/gitcanary/gitcanary/pkg/git/gittest"
	"github.com/gitcanary/gitcanary/pkg/kube/kubetest"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/overlay"
)

// Namespace is where the scripted Argo CD deploys the app.
const Namespace = "bookinfo"

// Clock is a fake clock that Sleep advances: timed pauses and deadlines
// pass without real waiting.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the fake time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// Sleep advances the fake time by d at once.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

// World holds the git server (repository apps.git with the fixture app at
// apps/reviews, deployed by Application "reviews"), Argo CD and the cluster.
type World struct {
	T       testing.TB
	Server  *gittest.Server
	URL     string
	Argo    *argocdtest.Fake
	Cluster *kubetest.Fake
	Clock   *Clock
	// Before is the app's render before any release.
	Before []byte

	mu       sync.Mutex
	rendered map[string][]byte // by commit
}

// New builds a world with the app deployed at its stable version.
func New(t testing.TB) *World {
	t.Helper()
	w := &World{T: t, Server: gittest.NewServer(t), Argo: argocdtest.New(), Cluster: kubetest.New(),
		Clock: &Clock{now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}}
	w.URL = w.Server.CreateRepoFS(t, "apps.git", fixtures.Apps, "")
	w.Argo.Clock = w.Clock.Now
	w.Argo.AddApp("reviews")
	// Deployed from the repository's app path, its syncs granted to the
	// default instance, as docs/install.md has users set it up.
	w.Argo.SetSource("reviews", w.URL, "apps/reviews", "main")
	if err := w.Argo.Annotate(context.Background(), "reviews", map[string]string{argocd.GrantAnnotation: argocd.DefaultInstance}); err != nil {
		t.Fatal(err)
	}
	w.Argo.Resolve = func(string) (string, error) {
		return w.Server.Git(w.T, "apps.git", "rev-parse", "main"), nil
	}
	w.Argo.Differs = func(_, from, to string) bool { return string(w.ManifestsAt(from)) != string(w.ManifestsAt(to)) }
	w.Argo.ResourcesAt = func(_, revision string) []v1alpha1.ResourceStatus {
		objs, err := w.RenderAt(revision)
		if err != nil {
			return nil
		}
		var out []v1alpha1.ResourceStatus
		for _, o := range objs {
			gvk := o.GroupVersionKind()
			out = append(out, v1alpha1.ResourceStatus{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: o.GetNamespace(), Name: o.GetName()})
		}
		return out
	}
	w.Argo.OnSync = func(name, revision string, prune bool) error {
		out, err := w.RenderAt(revision)
		if err != nil {
			return err
		}
		return w.Cluster.Apply(out, prune)
	}
	objs, err := w.RenderAt("main")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Cluster.Apply(objs, false); err != nil {
		t.Fatal(err)
	}
	w.Before = w.ManifestsAt("main")
	return w
}

// ManifestsAt renders apps/reviews at a revision of apps.git; renders of
// commits are remembered.
func (w *World) ManifestsAt(rev string) []byte {
	w.T.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if out, ok := w.rendered[rev]; ok {
		return out
	}
	out := w.manifestsAt(rev)
	if len(rev) == 40 {
		if w.rendered == nil {
			w.rendered = map[string][]byte{}
		}
		w.rendered[rev] = out
	}
	return out
}

func (w *World) manifestsAt(rev string) []byte {
	files := map[string][]byte{}
	for _, p := range strings.Fields(w.Server.Git(w.T, "apps.git", "ls-tree", "-r", "--name-only", rev)) {
		files[p] = []byte(w.Server.Git(w.T, "apps.git", "show", rev+":"+p))
	}
	fsys, err := kustomize.InMemory(files)
	if err != nil {
		w.T.Fatal(err)
	}
	out, err := (&kustomize.Krusty{}).Build(context.Background(), fsys, kustomize.Root+"/apps/reviews")
	if err != nil {
		w.T.Fatal(err)
	}
	return out
}

// RenderAt is ManifestsAt as objects in Namespace, as Argo CD applies them.
func (w *World) RenderAt(rev string) ([]*unstructured.Unstructured, error) {
	objs, err := overlay.ParseObjects(w.ManifestsAt(rev))
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, o := range objs {
		u := &unstructured.Unstructured{Object: o}
		u.SetNamespace(Namespace) // Argo CD's destination namespace
		out = append(out, u)
	}
	return out, nil
}

// Actions lists the Gitcanary-Action trailers on the branch, oldest first.
func (w *World) Actions() []string {
	w.T.Helper()
	out := w.Server.Git(w.T, "apps.git", "log", "--reverse", "--format=%(trailers:key=Gitcanary-Action,valueonly)", "main")
	return strings.Fields(out)
}
