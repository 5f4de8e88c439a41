package machine

import (
	"context"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// userFiles are the app path's files outside gitcanary's directory.
func userFiles(a *App) map[string]string {
	out := map[string]string{}
	for p, data := range a.Files {
		if strings.HasPrefix(p, a.Path+"/") && !strings.HasPrefix(p, a.dir()+"/") {
			out[p] = string(data)
		}
	}
	return out
}

// checkHandBack asserts what a release leaves when it ends: after a
// promote the user's files render what runs with no component (the
// hand-back renders what the retirement rendered); after an abandon the
// user's files are byte for byte as before; in both, gitcanary's
// directory keeps only release records.
func checkHandBack(t *testing.T, before *App, states []PlannedState, stable, next string, kind string) {
	t.Helper()
	promoted, abandoned := states[len(states)-2], states[len(states)-1]
	for _, s := range []PlannedState{promoted, abandoned} {
		for p := range s.App.Files {
			if strings.HasPrefix(p, s.App.dir()+"/") && !strings.HasPrefix(p, s.App.dir(overlay.ReleasesDir)+"/") {
				t.Errorf("%s: %s is left in gitcanary's directory", s.Step, p)
			}
		}
		if s.App.State != nil {
			t.Errorf("%s: a state is left", s.Step)
		}
	}
	was, now := userFiles(before), userFiles(abandoned.App)
	for p, data := range was {
		if now[p] != data {
			t.Errorf("abandoned: %s differs from before the release:\n%s\nwas:\n%s", p, now[p], data)
		}
	}
	if len(now) != len(was) {
		t.Errorf("abandoned: %d user files, were %d", len(now), len(was))
	}
	// Promoted: the user's files alone render the new version, and what
	// they render is what the retirement rendered.
	objs, err := overlay.ParseObjects(promoted.Manifests)
	if err != nil {
		t.Fatal(err)
	}
	if len(overlay.Find(objs, kind, next)) != 1 || len(overlay.Find(objs, kind, stable)) != 0 {
		t.Errorf("promoted: %s %s is not the only version", kind, next)
	}
	root, _ := promoted.App.rootKustomization()
	if promoted.App.Files[root] == nil || strings.Contains(string(promoted.App.Files[root]), overlay.Dir) {
		t.Errorf("promoted: the root kustomization still names the component:\n%s", promoted.App.Files[root])
	}
	if string(promoted.App.Files[root]) != string(before.Files[root]) {
		t.Errorf("promoted: the root kustomization changed:\n%s\nwas:\n%s", promoted.App.Files[root], before.Files[root])
	}
}

// TestHandBack: for the fixture, a stable workload named like the app and
// unlabelled, and every example kind but a VM group, a promote hands the
// app back with the user's files describing the new version, and an
// abandon leaves them as they were.
func TestHandBack(t *testing.T) {
	ctx := context.Background()
	kinds := exampleKinds(t)
	tests := []struct {
		name, kind, stable string
		app                func(t *testing.T) *App
		edit               func(r *release.Release)
	}{
		{name: "fixture", kind: "Deployment", stable: "reviews-v1", app: func(t *testing.T) *App { return fixtureApp(t) }},
		{name: "named like the app, unlabelled", kind: "Deployment", stable: "reviews", app: func(t *testing.T) *App {
			a := renamed(t, "reviews")
			a.Files["apps/reviews/deployment.yaml"] = []byte(strings.ReplaceAll(string(a.Files["apps/reviews/deployment.yaml"]), "version: v1", "tier: backend"))
			// Nothing routes to a version yet: no subsets, the route names the host.
			a.Files["apps/reviews/destinationrule.yaml"] = []byte(strings.Replace(string(a.Files["apps/reviews/destinationrule.yaml"]), "  subsets:\n    - name: v1\n      labels:\n        version: v1\n", "", 1))
			a.Files["apps/reviews/virtualservice.yaml"] = []byte(strings.Replace(string(a.Files["apps/reviews/virtualservice.yaml"]), "            subset: v1\n", "", 1))
			return a
		}, edit: func(r *release.Release) { r.Spec.Workload.Name, r.Spec.StableVersion = "reviews", "v1" }},
		{name: "DeploymentConfig", kind: "DeploymentConfig", stable: "reviews-v1", app: func(t *testing.T) *App { return withWorkload(t, "deploymentconfig.yaml") }},
		{name: "StatefulSet", kind: "StatefulSet", stable: "reviews-v1", app: func(t *testing.T) *App { return withWorkload(t, "statefulset.yaml") }},
		{name: "CloneSet", kind: "CloneSet", stable: "reviews-v1", app: func(t *testing.T) *App { return withWorkload(t, "cloneset.yaml") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := tt.app(t)
			r := testRelease(t)
			r.Spec.Workload.Kind = tt.kind
			if tt.edit != nil {
				tt.edit(r)
			}
			states, err := New(Deps{Kinds: kinds}, "reviews-v2", "apps/reviews").Plan(ctx, app, r)
			if err != nil {
				t.Fatal(err)
			}
			checkHandBack(t, app, states, tt.stable, "reviews-v2", tt.kind)
		})
	}
}

// TestHandBackThenEdit: after the hand-back, an edit of the user's
// workload file changes what runs, and the next release starts from the
// user's files.
func TestHandBackThenEdit(t *testing.T) {
	ctx := context.Background()
	states, err := New(Deps{}, "reviews-v2", "apps/reviews").Plan(ctx, fixtureApp(t), testRelease(t))
	if err != nil {
		t.Fatal(err)
	}
	promoted := states[len(states)-2].App
	dep := string(promoted.Files["apps/reviews/deployment.yaml"])
	if !strings.Contains(dep, "name: reviews-v2") || !strings.Contains(dep, "example/reviews:2.0") {
		t.Fatalf("deployment.yaml after the hand-back:\n%s", dep)
	}
	promoted.Files["apps/reviews/deployment.yaml"] = []byte(strings.Replace(dep, "replicas: 2", "replicas: 5", 1))
	out, err := promoted.Build(ctx, &kustomize.Krusty{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	objs, _ := overlay.ParseObjects(out)
	if d := overlay.Find(objs, "Deployment", "reviews-v2"); len(d) != 1 || overlay.Lookup(d[0], ".spec.replicas") != float64(5) {
		t.Errorf("an edit of deployment.yaml after the hand-back does not change what renders: %v", d)
	}
	next, err := New(Deps{}, "reviews-v3", "apps/reviews").Plan(ctx, promoted, testRelease(t, func(r *release.Release) {
		r.Metadata.Name, r.Spec.Workload.Name, r.Spec.Version = "reviews-v3", "reviews-v2", "v3"
		r.Spec.Images[0].NewTag = "3.0"
	}))
	if err != nil {
		t.Fatal(err)
	}
	checkHandBack(t, promoted, next, "reviews-v2", "reviews-v3", "Deployment")
	objs, _ = overlay.ParseObjects(next[0].Manifests)
	if d := overlay.Find(objs, "Deployment", "reviews-v3"); len(d) != 1 || overlay.Lookup(d[0], ".spec.replicas") != float64(5) {
		t.Errorf("the next release's new version does not start from the edited file: %v", d)
	}
}

// TestComponentReferenceRoundTrip: adding the component's reference to a
// root kustomization and removing it gives back the same bytes, whatever
// the file's style; adding touches no other line.
func TestComponentReferenceRoundTrip(t *testing.T) {
	for _, root := range []string{
		"resources:\n  - deployment.yaml\n",
		"resources:\n- deployment.yaml\n# trailing comment\n",
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\ncomponents:\n    - ../shared   # shared labels\nresources: [deployment.yaml]\n",
		"resources: [deployment.yaml]\ncomponents: [../shared]\n",
		"resources:\n  - deployment.yaml",
		"# header\nnamespace: bookinfo  # comment\nimages:\n  - name: x\n    newTag: \"1\"\n",
	} {
		with, err := withComponent([]byte(root))
		if err != nil {
			t.Fatalf("%q: %v", root, err)
		}
		if !strings.Contains(string(with), overlay.Dir) {
			t.Errorf("%q: no reference added:\n%s", root, with)
		}
		for _, line := range strings.Split(root, "\n") {
			// A flow list gets the entry on its own line.
			if !strings.Contains(string(with), line) && !strings.HasPrefix(line, "components: [") {
				t.Errorf("%q: line %q was changed:\n%s", root, line, with)
			}
		}
		again, err := withComponent(with)
		if err != nil || string(again) != string(with) {
			t.Errorf("%q: adding twice changed the file: %v\n%s", root, err, again)
		}
		without, err := withoutComponent(with)
		if err != nil {
			t.Fatalf("%q: %v", root, err)
		}
		if string(without) != root {
			t.Errorf("%q: removing gives\n%q", root, without)
		}
	}
}
