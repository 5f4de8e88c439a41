package kubetest

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gitcanary/gitcanary/pkg/kube"
)

var ctx = context.Background()

func manifests(t *testing.T, docs ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, d := range docs {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(d), &u.Object); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func deployment(name, replicas, image string) string {
	return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `, namespace: bookinfo}
spec:
  replicas: ` + replicas + `
  selector: {matchLabels: {app: reviews, version: ` + name + `}}
  template:
    metadata: {labels: {app: reviews, version: ` + name + `}}
    spec: {containers: [{name: reviews, image: ` + image + `}]}
`
}

const virtualService = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 90
    - destination: {host: reviews, subset: v2}
      weight: 10
`

const destinationRule = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec: {host: reviews}
`

func dep(name string) kube.Ref {
	return kube.Ref{Group: "apps", Kind: "Deployment", Namespace: "bookinfo", Name: name}
}

func TestSetters(t *testing.T) {
	f := New()
	f.SetWorkload(dep("reviews-v1"), kube.WorkloadStatus{Found: true, Replicas: 2, ReadyReplicas: 1})
	f.SetRoutes("bookinfo", "reviews", [][]kube.Route{{{Host: "reviews", Subset: "v1", Weight: 100}}})
	dr := kube.Ref{Group: "networking.istio.io", Kind: "DestinationRule", Namespace: "bookinfo", Name: "reviews"}
	f.SetExists(dr, true)

	st, err := f.Workload(ctx, dep("reviews-v1"))
	if err != nil || st != (kube.WorkloadStatus{Found: true, Replicas: 2, ReadyReplicas: 1}) {
		t.Errorf("Workload = %+v, %v", st, err)
	}
	if st, _ := f.Workload(ctx, dep("reviews-v2")); st.Found {
		t.Error("unknown workload reported found")
	}
	routes, found, err := f.VirtualServiceRoutes(ctx, "bookinfo", "reviews")
	if err != nil || !found || routes[0][0].Weight != 100 {
		t.Errorf("VirtualServiceRoutes = %v, %v, %v", routes, found, err)
	}
	routes[0][0].Weight = 1 // callers get copies
	if again, _, _ := f.VirtualServiceRoutes(ctx, "bookinfo", "reviews"); again[0][0].Weight != 100 {
		t.Error("mutating returned routes changed the fake")
	}
	if _, found, _ := f.VirtualServiceRoutes(ctx, "bookinfo", "ratings"); found {
		t.Error("unknown VirtualService reported found")
	}
	for _, ref := range []kube.Ref{dr, dep("reviews-v1"), {Group: "networking.istio.io", Kind: "VirtualService", Namespace: "bookinfo", Name: "reviews"}} {
		if ok, _ := f.Exists(ctx, ref); !ok {
			t.Errorf("Exists(%v) = false", ref)
		}
	}
	f.SetWorkload(dep("reviews-v1"), kube.WorkloadStatus{})
	f.SetExists(dr, false)
	if ok, _ := f.Exists(ctx, dep("reviews-v1")); ok {
		t.Error("workload set to not found still exists")
	}
	if ok, _ := f.Exists(ctx, dr); ok {
		t.Error("deleted object still exists")
	}
}

func TestApply(t *testing.T) {
	f := New()
	objs := manifests(t, deployment("reviews-v1", "3", "reviews:1.0"), virtualService, destinationRule)
	if err := f.Apply(objs, false); err != nil {
		t.Fatal(err)
	}
	st, _ := f.Workload(ctx, dep("reviews-v1"))
	if want := (kube.WorkloadStatus{Found: true, Generation: 1, ObservedGeneration: 1, Replicas: 3, ReadyReplicas: 3, ResourceVersion: "1", Health: "Healthy"}); st != want {
		t.Errorf("Workload = %+v, want %+v", st, want)
	}
	routes, found, _ := f.VirtualServiceRoutes(ctx, "bookinfo", "reviews")
	want := [][]kube.Route{{{Host: "reviews", Subset: "v1", Weight: 90}, {Host: "reviews", Subset: "v2", Weight: 10}}}
	if !found || !reflect.DeepEqual(routes, want) {
		t.Errorf("routes = %v (found %v), want %v", routes, found, want)
	}
	if n := len(f.Objects()); n != 3 {
		t.Errorf("Objects = %v, want 3", f.Objects())
	}

	// Same manifests: generation stays; a changed image bumps it.
	if err := f.Apply(manifests(t, deployment("reviews-v1", "3", "reviews:1.0")), false); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.Workload(ctx, dep("reviews-v1")); st.Generation != 1 || st.ResourceVersion != "1" {
		t.Errorf("unchanged apply: generation %d, resourceVersion %s, want 1 and 1", st.Generation, st.ResourceVersion)
	}
	if err := f.Apply(manifests(t, deployment("reviews-v1", "3", "reviews:1.1")), false); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.Workload(ctx, dep("reviews-v1")); st.Generation != 2 || st.ObservedGeneration != 2 {
		t.Errorf("changed apply: %+v, want generation 2 observed", st)
	}
	// Pods that never pass their probe: Progressing, as Argo CD's check says.
	f.HoldReady(dep("reviews-v1"), 1)
	st, _ = f.Workload(ctx, dep("reviews-v1"))
	if st.Health != "Progressing" || st.HealthMessage != "Waiting for rollout to finish: 1 of 3 updated replicas are available..." || st.ResourceVersion == "1" {
		t.Errorf("held at 1 ready: %+v, want Progressing at a new resourceVersion", st)
	}
	if n := len(f.Objects()); n != 3 {
		t.Errorf("apply without prune removed objects: %v", f.Objects())
	}
}

func TestApplyPrune(t *testing.T) {
	f := New()
	outside := kube.Ref{Group: "", Kind: "Service", Namespace: "bookinfo", Name: "reviews"}
	f.SetExists(outside, true)
	if err := f.Apply(manifests(t, deployment("reviews-v1", "1", "r:1"), deployment("reviews-v2", "1", "r:2"), virtualService), false); err != nil {
		t.Fatal(err)
	}
	if err := f.Apply(manifests(t, deployment("reviews-v2", "1", "r:2")), true); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[kube.Ref]bool{
		dep("reviews-v1"): false,
		dep("reviews-v2"): true,
		{Group: "networking.istio.io", Kind: "VirtualService", Namespace: "bookinfo", Name: "reviews"}: false,
		outside: true,
	} {
		if got, _ := f.Exists(ctx, ref); got != want {
			t.Errorf("after prune Exists(%s) = %v, want %v", ref.Name+" "+ref.Kind, got, want)
		}
	}
	if st, _ := f.Workload(ctx, dep("reviews-v1")); st.Found {
		t.Error("pruned workload still found")
	}
}

func TestHoldReady(t *testing.T) {
	f := New()
	f.HoldReady(dep("reviews-v2"), 0)
	if err := f.Apply(manifests(t, deployment("reviews-v2", "2", "r:2")), false); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.Workload(ctx, dep("reviews-v2")); st.ReadyReplicas != 0 || st.Replicas != 2 {
		t.Errorf("held workload = %+v, want 0/2 ready", st)
	}
	f.HoldReady(dep("reviews-v2"), -1)
	if st, _ := f.Workload(ctx, dep("reviews-v2")); st.ReadyReplicas != 2 {
		t.Errorf("released workload = %+v, want 2/2 ready", st)
	}
}

func TestApplyRejectsUnreadableWorkload(t *testing.T) {
	f := New()
	bad := manifests(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: broken, namespace: bookinfo}
spec: {replicas: 1}
`, destinationRule)
	err := f.Apply(bad, false)
	if err == nil || !strings.Contains(err.Error(), "Deployment bookinfo/broken: .spec.template not found") {
		t.Fatalf("Apply = %v", err)
	}
	if n := len(f.Objects()); n != 0 {
		t.Errorf("failed Apply changed the cluster: %v", f.Objects())
	}
}

func TestCustomKind(t *testing.T) {
	kinds := kube.NewKinds()
	if err := kinds.Register(kube.Kind{
		Group: "apps.openshift.io", Version: "v1", Kind: "DeploymentConfig", Resource: "deploymentconfigs",
		PodTemplate: ".spec.template", Selector: ".spec.selector", Replicas: ".spec.replicas", ReadyReplicas: ".status.availableReplicas",
		Name: "deploymentconfigs",
	}); err != nil {
		t.Fatal(err)
	}
	f := NewWithKinds(kinds)
	err := f.Apply(manifests(t, `
apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata: {name: reviews, namespace: bookinfo}
spec: {replicas: 4, selector: {app: reviews}, template: {}}
`), false)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Workload(ctx, kube.Ref{Group: "apps.openshift.io", Kind: "DeploymentConfig", Namespace: "bookinfo", Name: "reviews"})
	if st.Replicas != 4 || st.ReadyReplicas != 4 {
		t.Errorf("custom kind workload = %+v", st)
	}
}

func TestFailNext(t *testing.T) {
	f := New()
	boom := errors.New("apiserver unavailable")
	f.FailNext(boom)
	if _, err := f.Exists(ctx, dep("x")); !errors.Is(err, boom) {
		t.Errorf("Exists after FailNext = %v", err)
	}
	if _, err := f.Exists(ctx, dep("x")); err != nil {
		t.Errorf("second call still fails: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := f.VirtualServiceRoutes(cancelled, "bookinfo", "reviews"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

const (
	reviewsService = `
apiVersion: v1
kind: Service
metadata: {name: reviews}
spec: {selector: {app: reviews}, ports: [{port: 9080}]}
`
	reviewsRule = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`
)

// reviews is Deployment reviews-<version> whose pods carry app and version.
func reviews(version, replicas string) string {
	return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews-` + version + `}
spec:
  replicas: ` + replicas + `
  selector: {matchLabels: {app: reviews, version: ` + version + `}}
  template: {metadata: {labels: {app: reviews, version: ` + version + `}}, spec: {containers: [{name: reviews, image: r:1}]}}
`
}

// unversioned is a Deployment whose pods lost their version label.
const unversioned = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews-v1}
spec:
  replicas: 2
  selector: {matchLabels: {app: reviews}}
  template: {metadata: {labels: {app: reviews}}, spec: {containers: [{name: reviews, image: r:1}]}}
`

func vm(name, healthy string) string {
	doc := `
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ` + name + `, annotations: {proxy.istio.io/health-checks-enabled: "true"}}
spec: {address: 10.0.0.9, labels: {app: reviews, version: v2}}
`
	if healthy != "" {
		doc += "status: {conditions: [{type: Healthy, status: \"" + healthy + "\"}]}\n"
	}
	return doc
}

func noNamespace(t *testing.T, docs ...string) []*unstructured.Unstructured {
	objs := manifests(t, docs...)
	for _, o := range objs {
		o.SetNamespace("")
	}
	return objs
}

func TestSubsetEndpoints(t *testing.T) {
	v1 := map[string]string{"version": "v1"}
	v2 := map[string]string{"version": "v2"}
	tests := []struct {
		name      string
		docs      []string
		hold      int64 // ready replicas of reviews-v1; -1 for all
		namespace string
		host      string
		subset    string
		want      kube.SubsetStatus
	}{
		{name: "ready replicas stand for ready pods", docs: []string{reviews("v1", "3"), reviews("v2", "1")}, hold: -1, subset: "v1",
			want: kube.SubsetStatus{DestinationRule: "reviews", Found: true, Labels: v1, Service: "reviews", Ready: 3, Total: 3}},
		{name: "held back replicas are not ready", docs: []string{reviews("v1", "3"), reviews("v2", "1")}, hold: 1, subset: "v1",
			want: kube.SubsetStatus{DestinationRule: "reviews", Found: true, Labels: v1, Service: "reviews", Ready: 1, Total: 3}},
		{name: "version label removed: the subset selects nothing", docs: []string{unversioned}, hold: -1, subset: "v1",
			want: kube.SubsetStatus{DestinationRule: "reviews", Found: true, Labels: v1, Service: "reviews",
				Describe: "subset v1 (version=v1) of reviews selects 0 ready of 0 endpoints"}},
		{name: "VM entries by Istio's health rule", docs: []string{vm("a", "True"), vm("b", "False"), vm("c", "")}, hold: -1, subset: "v2",
			host: "reviews.bookinfo.svc.cluster.local",
			want: kube.SubsetStatus{DestinationRule: "reviews", Found: true, Labels: v2, Service: "reviews", Ready: 1, Total: 3}},
		{name: "missing subset", hold: -1, subset: "v3",
			want: kube.SubsetStatus{DestinationRule: "reviews", Describe: "DestinationRule reviews in bookinfo has no subset v3"}},
		{name: "another namespace sees nothing", docs: []string{reviews("v1", "3"), reviews("v2", "1")}, hold: -1, subset: "v1", namespace: "other",
			want: kube.SubsetStatus{Describe: "no DestinationRule in other has host reviews"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New()
			f.HoldReady(dep("reviews-v1"), tt.hold)
			docs := append([]string{reviewsService, reviewsRule}, tt.docs...)
			if err := f.ApplyTo("bookinfo", noNamespace(t, docs...), false); err != nil {
				t.Fatal(err)
			}
			ns, host := tt.namespace, tt.host
			if ns == "" {
				ns = "bookinfo"
			}
			if host == "" {
				host = "reviews"
			}
			got, err := f.SubsetEndpoints(ctx, ns, host, tt.subset)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SubsetEndpoints =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestApplyToKeepsNamespaces(t *testing.T) {
	f := New()
	objs := noNamespace(t, reviews("v1", "1"), `
apiVersion: v1
kind: Namespace
metadata: {name: bookinfo}
`)
	elsewhere := manifests(t, reviews("v2", "1"))
	elsewhere[0].SetNamespace("tools")
	if err := f.ApplyTo("bookinfo", append(objs, elsewhere...), false); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[kube.Ref]bool{
		dep("reviews-v1"): true,
		{Group: "apps", Kind: "Deployment", Namespace: "other", Name: "reviews-v1"}: false,
		{Group: "apps", Kind: "Deployment", Namespace: "tools", Name: "reviews-v2"}: true,
		dep("reviews-v2"):                                            false,
		{Kind: "Namespace", Name: "bookinfo"}:                        true,
		{Kind: "Namespace", Namespace: "bookinfo", Name: "bookinfo"}: false,
	} {
		if got, _ := f.Exists(ctx, ref); got != want {
			t.Errorf("Exists(%+v) = %v, want %v", ref, got, want)
		}
	}
	if objs[0].GetNamespace() != "" {
		t.Error("ApplyTo changed the caller's object")
	}
}
