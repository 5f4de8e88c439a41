package machine

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// TestPlanUnlabelledStable: a stable workload without a `version` label
// gets one on its pod template (not its selector) while the release runs,
// and loses it again when the release is abandoned.
func TestPlanUnlabelledStable(t *testing.T) {
	ctx := context.Background()
	app := fixtureApp(t)
	var kept []string
	for _, line := range strings.Split(string(app.Files["apps/reviews/deployment.yaml"]), "\n") {
		if strings.TrimSpace(line) != "version: v1" {
			kept = append(kept, line)
		}
	}
	app.Files["apps/reviews/deployment.yaml"] = []byte(strings.Join(kept, "\n"))
	dr := strings.Replace(string(app.Files["apps/reviews/destinationrule.yaml"]), "  subsets:\n    - name: v1\n      labels:\n        version: v1\n", "", 1)
	app.Files["apps/reviews/destinationrule.yaml"] = []byte(dr)
	// Without a version label nothing can route to subset v1 yet: the
	// route names the host alone.
	vs := strings.Replace(string(app.Files["apps/reviews/virtualservice.yaml"]), "            subset: v1\n", "", 1)
	app.Files["apps/reviews/virtualservice.yaml"] = []byte(vs)
	before, err := app.Build(ctx, &kustomize.Krusty{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := New(Deps{}, "reviews-v2", "apps/reviews")
	if _, err := m.Plan(ctx, app, testRelease(t)); err == nil || !strings.Contains(err.Error(), "set spec.stableVersion") {
		t.Fatalf("without stableVersion: %v", err)
	}
	states, err := m.Plan(ctx, app, testRelease(t, func(r *release.Release) { r.Spec.StableVersion = "v1" }))
	if err != nil {
		t.Fatal(err)
	}
	objs, _ := overlay.ParseObjects(states[0].Manifests)
	stable := overlay.Find(objs, "Deployment", "reviews-v1")[0]
	if overlay.Lookup(stable, ".spec.template.metadata.labels.version") != "v1" {
		t.Error("the stable pod template did not get version: v1")
	}
	if overlay.Lookup(stable, ".spec.selector.matchLabels.version") != nil {
		t.Error("the stable selector (immutable) was changed")
	}
	golden(t, "plan-unlabelled/0.yaml", states[0].Manifests)
	if ab := states[len(states)-1].Manifests; !bytes.Equal(ab, before) {
		t.Errorf("abandoned render differs from before:\n%s", ab)
	}
}

// TestPlanSecondRelease: a release on top of a promoted one starts from
// the managed version (reviews-v2) and, abandoned, leaves the app exactly
// as the first release's promotion left it.
func TestPlanSecondRelease(t *testing.T) {
	ctx := context.Background()
	first, err := New(Deps{}, "reviews-v2", "apps/reviews").Plan(ctx, fixtureApp(t), testRelease(t))
	if err != nil {
		t.Fatal(err)
	}
	promoted := first[len(first)-2]
	r := testRelease(t, func(r *release.Release) {
		r.Metadata.Name = "reviews-v3"
		r.Spec.Version = "v3"
		r.Spec.Workload.Name = "reviews-v2"
		r.Spec.Images[0].NewTag = "3.0"
	})
	states, err := New(Deps{}, "reviews-v3", "apps/reviews").Plan(ctx, promoted.App, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		golden(t, "plan-second/"+s.Step+".yaml", s.Manifests)
	}
	objs, _ := overlay.ParseObjects(states[1].Manifests)
	v3 := overlay.Find(objs, "Deployment", "reviews-v3")
	if len(v3) != 1 || !strings.Contains(string(states[1].Manifests), "example/reviews:3.0") {
		t.Fatalf("state 1 lacks reviews-v3 with image 3.0")
	}
	if overlay.Find(objs, "Deployment", "reviews-v1") != nil {
		t.Error("the retired reviews-v1 came back")
	}
	if ab := states[len(states)-1].Manifests; !bytes.Equal(ab, promoted.Manifests) {
		t.Errorf("abandoning v3 does not restore the promoted v2 render:\n%s", ab)
	}
	final, _ := overlay.ParseObjects(states[len(states)-2].Manifests)
	if len(overlay.Find(final, "Deployment", "")) != 1 || len(overlay.Find(final, "Deployment", "reviews-v3")) != 1 {
		t.Error("after promoting v3 only reviews-v3 should run")
	}
	// A third release named like the first is refused: names are unique per app path.
	if _, err := New(Deps{}, "reviews-v2", "apps/reviews").Plan(ctx, states[len(states)-2].App, testRelease(t)); err == nil {
		t.Error("reusing a release name was accepted")
	}
}
