package overlay

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/gitcanary/gitcanary/pkg/release"
)

func obj(t *testing.T, doc string) Object {
	t.Helper()
	var o Object
	if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
		t.Fatal(err)
	}
	return o
}

func testState() *State {
	return Adopt(WorkloadRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "reviews-v1", PodTemplate: ".spec.template", Selector: ".spec.selector.matchLabels"},
		"v1", Routing{Host: "reviews", VirtualService: "reviews", DestinationRule: "reviews"})
}

func testSpec() release.Spec {
	return release.Spec{Workload: release.Workload{Name: "reviews-v1"}, Version: "v2",
		Images: []release.Image{{Name: "example/reviews", NewTag: "2.0"}}, Traffic: release.Traffic{Host: "reviews"}}
}

// TestTesterRouteLeftAlone: a header route to another subset is not the
// traffic gitcanary splits; only the default route gets the weights.
func TestTesterRouteLeftAlone(t *testing.T) {
	vs := obj(t, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v3}}]
  - route: [{destination: {host: reviews.bookinfo.svc.cluster.local, subset: v1}}]
`)
	st := testState()
	if err := st.Begin("reviews-v2", testSpec(), BeginOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := st.Route("v2"); err != nil {
		t.Fatal(err)
	}
	if err := st.SetWeight("v2", 25); err != nil {
		t.Fatal(err)
	}
	ops, err := virtualServicePatch(st, vs, true)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := yaml.Marshal(ops)
	got := string(out)
	for _, want := range []string{"subset: v3", "exact: jason", "host: reviews.bookinfo.svc.cluster.local\n        subset: v1\n      weight: 75", "subset: v2\n      weight: 25"} {
		if !strings.Contains(got, want) {
			t.Errorf("patch lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, "weight:") != 2 {
		t.Errorf("the tester route got weights:\n%s", got)
	}
}

func TestVirtualServiceWithoutSplittableRoute(t *testing.T) {
	vs := obj(t, `kind: VirtualService
metadata: {name: reviews}
spec:
  http: [{route: [{destination: {host: ratings}}]}]
`)
	_, err := virtualServicePatch(testState(), vs, true)
	if err == nil || !strings.Contains(err.Error(), "VirtualService reviews has no route that sends all its traffic to host reviews") {
		t.Errorf("err = %v", err)
	}
}

func TestDestinationRuleRejectsUnknownField(t *testing.T) {
	dr := obj(t, `kind: DestinationRule
metadata: {name: reviews}
spec: {host: reviews, subsetz: []}
`)
	if _, err := destinationRulePatch(testState(), dr); err == nil || !strings.Contains(err.Error(), "DestinationRule reviews: spec:") {
		t.Errorf("err = %v", err)
	}
}

func TestTransitionsKeepInvariants(t *testing.T) {
	st := testState()
	if !st.Pristine() {
		t.Fatal("an adopted app that nothing changed must be pristine")
	}
	if err := st.Begin("r", testSpec(), BeginOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := st.Begin("other", testSpec(), BeginOptions{}); err == nil || !strings.Contains(err.Error(), "already in progress") {
		t.Errorf("second Begin: %v", err)
	}
	if err := st.SetWeight("v2", 10); err == nil {
		t.Error("a weight for a version without a route was accepted")
	}
	st.Route("v2")
	if err := st.SetWeight("v2", 101); err == nil {
		t.Error("weight 101 accepted")
	}
	if err := st.Retire("v2"); err == nil {
		t.Error("retired the old version before the new one carried 100%")
	}
	st.SetWeight("v2", 40)
	if err := st.Check(); err != nil || release.FormatWeights(st.Weights()) != "v1=60,v2=40" {
		t.Fatalf("weights %s, %v", release.FormatWeights(st.Weights()), err)
	}
	abandoned := st.Clone()
	abandoned.AbandonRoutes()
	abandoned.Revert()
	if !abandoned.Pristine() {
		t.Errorf("abandon did not restore the pristine state: %+v", abandoned)
	}
	st.PromoteRoutes("v2")
	if err := st.Retire("v2"); err != nil {
		t.Fatal(err)
	}
	if !st.OriginalRetired || st.Active != "r" || len(st.Versions) != 1 || st.Versions[0].Version != "v2" || st.Check() != nil {
		t.Errorf("after retire: %+v", st)
	}
	// The marker holds until the release is recorded Promoted.
	if err := st.Begin("r3", release.Spec{Workload: release.Workload{Name: "reviews-v2"}, Version: "v3", Traffic: release.Traffic{Host: "reviews"}}, BeginOptions{}); err == nil || !strings.Contains(err.Error(), "already in progress") {
		t.Errorf("a release started while the last one was retiring: %v", err)
	}
	st.End()
	if err := st.Begin("r3", release.Spec{Workload: release.Workload{Name: "reviews-v2"}, Version: "v1", Traffic: release.Traffic{Host: "reviews"}}, BeginOptions{}); err == nil {
		t.Error("a retired version name was reused")
	}
}

func TestSameHost(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"reviews", "reviews", true},
		{"reviews", "reviews.bookinfo.svc.cluster.local", true},
		{"reviews.bookinfo", "reviews", true},
		{"reviews", "reviews2", false},
		{"ratings", "reviews", false},
	} {
		if got := SameHost(tc.a, tc.b); got != tc.want {
			t.Errorf("SameHost(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

func TestTemplateNeedsPodTemplateLabels(t *testing.T) {
	ref := testState().Workload
	noLabels := obj(t, "kind: Deployment\nmetadata: {name: reviews-v1}\nspec: {template: {spec: {}}}\n")
	if _, err := Template(noLabels, "reviews", ref); err == nil || !strings.Contains(err.Error(), "the pod template at .spec.template has no labels") {
		t.Errorf("err = %v", err)
	}
	ok := obj(t, "kind: Deployment\nmetadata: {name: reviews-v1, uid: x, resourceVersion: '1'}\nspec: {selector: {matchLabels: {app: reviews}}, template: {metadata: {labels: {app: reviews}}}}\nstatus: {readyReplicas: 1}\n")
	out, err := Template(ok, "reviews", ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"uid:", "resourceVersion", "status:", "reviews-v1"} {
		if strings.Contains(string(out), gone) {
			t.Errorf("template keeps %q:\n%s", gone, out)
		}
	}
}
