package trafficsim

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
)

func pod(name, version string, ready bool) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": "reviews", "version": version, "pod-template-hash": "abc"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "reviews-" + version + "-abc"}}},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example/reviews:" + version + ".0"}}},
		Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}},
	}
}

func istio(kind, name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1", "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": "ns"}, "spec": spec,
	}}
}

func reader(objs ...runtime.Object) *Reader {
	core := fake.NewSimpleClientset(append([]runtime.Object{&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "reviews", Namespace: "ns"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "reviews"}},
	}}, objs...)...)
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}:  "VirtualServiceList",
		{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"}: "DestinationRuleList",
	},
		istio("DestinationRule", "reviews", map[string]any{"host": "reviews", "subsets": []any{
			map[string]any{"name": "v1", "labels": map[string]any{"version": "v1"}},
			map[string]any{"name": "v2", "labels": map[string]any{"version": "v2"}},
		}}),
		istio("VirtualService", "reviews", map[string]any{"hosts": []any{"reviews"}, "http": []any{
			map[string]any{"match": []any{map[string]any{"headers": map[string]any{}}}, "route": []any{map[string]any{"destination": map[string]any{"host": "reviews", "subset": "v2"}}}},
			map[string]any{"route": []any{
				map[string]any{"destination": map[string]any{"host": "reviews", "subset": "v1"}, "weight": int64(75)},
				map[string]any{"destination": map[string]any{"host": "reviews.ns.svc.cluster.local", "subset": "v2"}, "weight": int64(25)},
			}},
		}}),
	)
	return &Reader{Core: core, Dynamic: dyn}
}

func TestRead(t *testing.T) {
	r := reader(pod("a", "v1", true), pod("b", "v1", false), pod("c", "v2", true))
	top, err := r.Read(context.Background(), "ns", "reviews")
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Routes) != 2 || top.Routes[0] != (Route{"v1", 75}) || top.Routes[1] != (Route{"v2", 25}) {
		t.Fatalf("routes %+v: want the unmatched route's 75/25", top.Routes)
	}
	if len(top.Endpoints["v1"]) != 1 || top.Endpoints["v1"][0].Name != "a" || len(top.Endpoints["v2"]) != 1 || len(top.Pods) != 3 {
		t.Fatalf("endpoints %+v, pods %d: want the ready pods only as endpoints", top.Endpoints, len(top.Pods))
	}
	if p := top.Endpoints["v1"][0]; p.Workload != "reviews-v1" || p.ImageTag != "v1.0" || p.CanonicalRev != "v1" {
		t.Fatalf("pod %+v", p)
	}
}

func TestTrafficAndExposition(t *testing.T) {
	sim := New(Config{Namespace: "ns", Service: "reviews", RPS: 1000, Seed: 1, Profiles: map[string]Profile{
		"v2":         {ErrorRate: 0.2, Burst: 4},
		"image:v1.0": {Latency: 300 * time.Millisecond, Sigma: 0.01},
	}}, reader(pod("a", "v1", true), pod("c", "v2", true)))
	if err := sim.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	// No ticks from here: the test drives generation.
	sim.stop()
	sim.done.Wait()
	sim.generate(10 * time.Second)

	snap := sim.Snapshot()
	v1, v2 := snap.Generated["v1"], snap.Generated["v2"]
	if v1.Requests+v2.Requests < 10000 || v1.Requests < 7000 || v1.Requests > 8000 {
		t.Fatalf("v1 %d, v2 %d of 10000: want about 75/25", v1.Requests, v2.Requests)
	}
	if v1.Errors != 0 || v2.Errors < 300 || v2.Errors > 700 {
		t.Fatalf("errors v1 %d, v2 %d: want about 20%% of v2", v1.Errors, v2.Errors)
	}
	if i := Bucket(250); v1.Buckets[i] != 0 || v1.Buckets[Bucket(500)] != v1.Requests {
		t.Fatalf("v1 latency buckets %v: want all between 250 and 500 ms", v1.Buckets)
	}

	body := scrape(t, sim)
	for _, want := range []string{
		"# TYPE istio_requests_total counter",
		`reporter="destination"`, `destination_workload="reviews-v2"`, `destination_version="v2"`, `response_code="503"`,
		`destination_service="reviews.ns.svc.cluster.local"`, `pod="a"`, `le="+Inf"`, "istio_request_duration_milliseconds_count{",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the exposition has no %s", want)
		}
	}

	// A restarted sidecar's series go and what was not scraped is lost.
	sim.generate(time.Second)
	sim.RestartProxy("a")
	snap2 := sim.Snapshot()
	if lost := snap2.Lost["v1"].Requests; lost != snap2.Generated["v1"].Requests-v1.Requests {
		t.Fatalf("lost %d, want the %d generated since the scrape", lost, snap2.Generated["v1"].Requests-v1.Requests)
	}
	if strings.Contains(scrape(t, sim), `pod="a"`) {
		t.Fatal("the restarted pod is still exported before its next request")
	}
}

func scrape(t *testing.T, sim *Sim) string {
	t.Helper()
	resp, err := http.Get("http://" + sim.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
