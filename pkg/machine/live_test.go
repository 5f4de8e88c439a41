package machine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// TestStartChecksTheLiveCluster: with a cluster, the first commit waits
// for nothing but checks the stable workload there, and reads the
// namespace's labels to decide how the new version is injected.
func TestStartChecksTheLiveCluster(t *testing.T) {
	ctx := context.Background()
	stable := kube.Ref{Group: "apps", Kind: "Deployment", Namespace: namespace, Name: "reviews-v1"}

	t.Run("stable workload not in the cluster", func(t *testing.T) {
		w := newWorld(t)
		w.Cluster.SetWorkload(stable, kube.WorkloadStatus{})
		_, err := w.machine(t).Start(ctx, testRelease(t))
		want := "Deployment bookinfo/reviews-v1 is in git but not in the cluster: sync the Argo CD Application before a release"
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, release.ErrInvalid) {
			t.Fatalf("Start: %v\nwant %s (invalid input)", err, want)
		}
		if n := len(w.Server.Commits(t, "apps.git")); n != 1 {
			t.Errorf("%d commits; want none made", n-1)
		}
	})

	t.Run("another app's VirtualService routes the stable subset", func(t *testing.T) {
		w := newWorld(t)
		// An edge team's VirtualService, not in apps/reviews, sends
		// /reviews to the stable subset: a promote would strand it.
		w.Cluster.SetRoutes("edge", "shop", [][]kube.Route{{{Host: "reviews." + namespace + ".svc.cluster.local", Subset: "v1", Weight: 100}}})
		// One in another namespace naming its own "reviews" is not it.
		w.Cluster.SetRoutes("other", "reviews", [][]kube.Route{{{Host: "reviews", Subset: "v1", Weight: 100}}})
		_, err := w.machine(t).Start(ctx, testRelease(t))
		want := "VirtualService edge/shop in the cluster routes host reviews to subset v1, which a promote removes, and apps/reviews does not render it, so gitcanary cannot split it: " +
			"move that route into apps/reviews, or make it route the host without a subset: invalid release"
		if err == nil || !strings.HasSuffix(err.Error(), want) || !errors.Is(err, release.ErrInvalid) {
			t.Fatalf("Start: %v\nwant %s", err, want)
		}
		if n := len(w.Server.Commits(t, "apps.git")); n != 1 {
			t.Errorf("%d commits; want none made", n-1)
		}
	})

	t.Run("custom kind path does not resolve", func(t *testing.T) {
		w := newWorld(t)
		kinds := kube.NewKinds()
		dep, _ := kinds.Lookup("apps", "Deployment")
		// A config that redescribes Deployments under another group, read
		// through a misspelt ready path.
		dep.Group, dep.Name, dep.ReadyReplicas = "example.com", "deployments", ".status.readyReplica"
		if err := kinds.Register(dep); err != nil {
			t.Fatal(err)
		}
		w.Cluster.SetWorkload(kube.Ref{Group: "example.com", Kind: "Deployment", Namespace: namespace, Name: "reviews-v1"},
			kube.WorkloadStatus{Found: true, Replicas: 2, Unresolved: ".status.readyReplica"})
		m := w.machine(t)
		m.deps.Kinds = kinds
		app := fixtureApp(t)
		app.Files["apps/reviews/deployment.yaml"] = []byte(strings.Replace(string(app.Files["apps/reviews/deployment.yaml"]), "apiVersion: apps/v1", "apiVersion: example.com/v1", 1))
		w.Server.Push(t, "apps.git", map[string][]byte{"apps/reviews/deployment.yaml": app.Files["apps/reviews/deployment.yaml"]}, "a custom kind")
		_, err := m.Start(ctx, testRelease(t))
		want := "Deployment bookinfo/reviews-v1: path .status.readyReplica of custom workload deployments does not resolve in the live object; check customWorkloads in the config file"
		if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, release.ErrInvalid) {
			t.Fatalf("Start: %v\nwant %s (invalid input)", err, want)
		}
		if n := len(w.Server.Commits(t, "apps.git")); n != 2 {
			t.Errorf("%d commits; want none made by gitcanary", n-2)
		}
	})

	// The fixture's own template has the annotation, which the new version
	// keeps; the label is gitcanary's, added only when the namespace does
	// not inject by itself.
	for _, tt := range []struct {
		name   string
		labels map[string]string
		label  bool
	}{
		{"no injection label", nil, true},
		{"istio-injection=enabled", map[string]string{"istio-injection": "enabled"}, false},
		{"istio.io/rev=canary", map[string]string{"istio.io/rev": "canary"}, false},
	} {
		t.Run("namespace with "+tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.Cluster.SetNamespaceLabels(namespace, tt.labels)
			if _, err := w.machine(t).Start(ctx, testRelease(t)); err != nil {
				t.Fatal(err)
			}
			objs, err := overlay.ParseObjects(w.ManifestsAt("main"))
			if err != nil {
				t.Fatal(err)
			}
			v2 := overlay.Find(objs, "Deployment", "reviews-v2")[0]
			_, annotated := overlay.Lookup(v2, ".spec.template.metadata.annotations").(map[string]any)[overlay.InjectAnnotation]
			_, labelled := overlay.Lookup(v2, ".spec.template.metadata.labels").(map[string]any)[overlay.InjectAnnotation]
			if !annotated || labelled != tt.label {
				t.Errorf("namespace labels %v: inject annotation %v, label %v; want annotation true, label %v", tt.labels, annotated, labelled, tt.label)
			}
		})
	}
}
