package machine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/fixtures"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// sampleApp is one of the public sample apps of fixtures.Samples.
func sampleApp(t *testing.T, name string) *App {
	t.Helper()
	files, err := kustomize.FromFS(fixtures.Samples, "apps")
	if err != nil {
		t.Fatal(err)
	}
	app, err := NewApp("fixture", "apps/"+name, files)
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// sampleDoc is fixtures.Samples' Release file releases/<name>.yaml.
func sampleDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(fixtures.Samples, "releases/"+name+".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sampleRelease is a Release of a sample app, as its user would write it.
func sampleRelease(t *testing.T, doc string) *release.Release {
	t.Helper()
	r, err := release.Parse([]byte(doc))
	if err == nil {
		err = release.Validate(r, release.ValidateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPlanHelloworld: Istio's helloworld sample as it ships, beside our
// mesh VirtualService: two VirtualServices route the host (the gateway's
// /hello without a subset, the mesh one to subset v1). Both are split at
// every step and both send all to v3 after the promote, so no route is
// left on the removed subset v1; helloworld-v2, a version the release does
// not touch, keeps its subset. A release named v2 collides with the
// shipped helloworld-v2 and is refused.
func TestPlanHelloworld(t *testing.T) {
	ctx := context.Background()
	app := sampleApp(t, "helloworld")
	helloworldV3 := sampleDoc(t, "helloworld-v3")
	states, err := New(Deps{}, "helloworld-v3", "apps/helloworld").Plan(ctx, app, sampleRelease(t, helloworldV3))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		objs, err := overlay.ParseObjects(s.Manifests)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"1": "v1=80,v3=20", "2": "v1=0,v3=100", "promoted": "v3=100", "abandoned": ""}[s.Step]
		for _, name := range []string{"helloworld", "helloworld-mesh"} {
			vs := overlay.Find(objs, "VirtualService", name)
			if len(vs) != 1 {
				t.Fatalf("state %s: VirtualService %s rendered %d times", s.Step, name, len(vs))
			}
			if got := weightsOf(vs[0]); want != "" && got != want {
				t.Errorf("state %s: VirtualService %s routes %s, want %s", s.Step, name, got, want)
			}
		}
		if s.Step == "promoted" && len(overlay.Find(objs, "Deployment", "helloworld-v2")) != 1 {
			t.Errorf("promoted: helloworld-v2, which the release does not manage, is gone")
		}
	}
	checkHandBack(t, app, states, "helloworld-v1", "helloworld-v3", "Deployment")
	if gw := string(states[len(states)-2].App.Files["apps/helloworld/helloworld-gateway.yaml"]); !strings.Contains(gw, "subset: v3") {
		t.Errorf("the gateway's VirtualService is not handed back routing v3:\n%s", gw)
	}

	v2 := strings.NewReplacer("helloworld-v3", "helloworld-v2", "version: v3", "version: v2").Replace(helloworldV3)
	_, err = New(Deps{}, "helloworld-v2", "apps/helloworld").Plan(ctx, app, sampleRelease(t, v2))
	if err == nil || !errors.Is(err, release.ErrInvalid) || !strings.Contains(err.Error(), "Deployment helloworld-v2 already exists in apps/helloworld") {
		t.Errorf("a release of v2 beside the shipped helloworld-v2: %v", err)
	}
}

// weightsOf formats a VirtualService's first route as "v1=80,v3=20".
func weightsOf(vs overlay.Object) string {
	http, _ := overlay.Lookup(vs, ".spec.http").([]any)
	if len(http) == 0 {
		return ""
	}
	var parts []string
	for _, d := range http[0].(map[string]any)["route"].([]any) {
		dm := d.(map[string]any)
		subset, _ := overlay.Lookup(dm, ".destination.subset").(string)
		w, _ := dm["weight"].(float64)
		parts = append(parts, fmt.Sprintf("%s=%d", subset, int(w)))
	}
	return strings.Join(parts, ",")
}

// TestPlanProductCatalog: Online Boutique's productcatalogservice as it
// ships: a Deployment named exactly like its Service and app label, with
// no version label, a bare image and a container not named after the
// app. Every state keeps both Deployments while both run, the new one
// selecting only its own pods; the promote hands back a file that is the
// new version.
func TestPlanProductCatalog(t *testing.T) {
	ctx := context.Background()
	app := sampleApp(t, "productcatalog")
	states, err := New(Deps{}, "productcatalogservice-v2", "apps/productcatalog").Plan(ctx, app, sampleRelease(t, sampleDoc(t, "productcatalogservice-v2")))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states[:len(states)-2] {
		objs, _ := overlay.ParseObjects(s.Manifests)
		stable := overlay.Find(objs, "Deployment", "productcatalogservice")
		v2 := overlay.Find(objs, "Deployment", "productcatalogservice-v2")
		if len(stable) != 1 || len(v2) != 1 {
			t.Fatalf("state %s: productcatalogservice %d, -v2 %d; want one each", s.Step, len(stable), len(v2))
		}
		if overlay.Lookup(stable[0], ".spec.template.metadata.labels.version") != "v1" || overlay.Lookup(v2[0], ".spec.template.metadata.labels.version") != "v2" ||
			overlay.Lookup(v2[0], ".spec.selector.matchLabels.version") != "v2" {
			t.Errorf("state %s: version labels stable %v, new %v (selector %v)", s.Step, overlay.Lookup(stable[0], ".spec.template.metadata.labels"),
				overlay.Lookup(v2[0], ".spec.template.metadata.labels"), overlay.Lookup(v2[0], ".spec.selector"))
		}
	}
	checkHandBack(t, app, states, "productcatalogservice", "productcatalogservice-v2", "Deployment")
	dep := string(states[len(states)-2].App.Files["apps/productcatalog/productcatalogservice.yaml"])
	if !strings.Contains(dep, "name: productcatalogservice-v2") || !strings.Contains(dep, "image: productcatalogservice:2.0") || !strings.Contains(dep, "Copyright 2018 Google LLC") {
		t.Errorf("productcatalogservice.yaml after the promote:\n%s", dep)
	}
}

// TestPlanEveryVirtualService: a gateway VirtualService beside the mesh
// one, both routing the host to the stable subset (the gateway one with
// an HTTP and a TCP route). Even with spec.traffic.virtualService naming
// the mesh one, the release splits both and, promoted, neither routes to
// the removed subset v1.
func TestPlanEveryVirtualService(t *testing.T) {
	ctx := context.Background()
	app := fixtureApp(t)
	app.Files["apps/reviews/gateway-routes.yaml"] = []byte(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews-edge
spec:
  hosts: ["reviews.example.com"]
  gateways: [bookinfo-gateway]
  http:
    - match: [{uri: {prefix: /reviews}}]
      route:
        - destination: {host: reviews, subset: v1, port: {number: 9080}}
  tcp:
    - match: [{port: 31400}]
      route:
        - destination: {host: reviews, subset: v1, port: {number: 9080}}
`)
	app.Files["apps/reviews/kustomization.yaml"] = []byte(strings.Replace(string(app.Files["apps/reviews/kustomization.yaml"]), "  - virtualservice.yaml\n", "  - virtualservice.yaml\n  - gateway-routes.yaml\n", 1))
	r := testRelease(t, func(r *release.Release) { r.Spec.Traffic.VirtualService = "reviews" })
	states, err := New(Deps{}, "reviews-v2", "apps/reviews").Plan(ctx, app, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		objs, _ := overlay.ParseObjects(s.Manifests)
		edge := overlay.Find(objs, "VirtualService", "reviews-edge")[0]
		want := map[string]string{"0": "v1=100,v2=0", "1": "v1=90,v2=10", "promoted": "v2=100", "abandoned": "v1=0"}[s.Step]
		if s.Step == "abandoned" {
			want = "v1=0" // the user's own route: one destination, no weight
		}
		if want == "" {
			continue
		}
		if got := weightsOf(edge); got != want {
			t.Errorf("state %s: reviews-edge http routes %s, want %s", s.Step, got, want)
		}
		tcp, _ := overlay.Lookup(edge, ".spec.tcp").([]any)
		dests := tcp[0].(map[string]any)["route"].([]any)
		if last := overlay.Lookup(dests[len(dests)-1].(map[string]any), ".destination.subset"); s.Step != "abandoned" && last != "v2" {
			t.Errorf("state %s: reviews-edge tcp route %v is not split", s.Step, dests)
		}
	}
	checkHandBack(t, app, states, "reviews-v1", "reviews-v2", "Deployment")
}
