package machine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/pkg/config"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// renamed is the fixture app with its stable Deployment renamed, as many
// public samples name it: exactly like the app (and its host).
func renamed(t *testing.T, name string) *App {
	t.Helper()
	app := fixtureApp(t)
	app.Files["apps/reviews/deployment.yaml"] = []byte(strings.Replace(string(app.Files["apps/reviews/deployment.yaml"]), "name: reviews-v1", "name: "+name, 1))
	return app
}

// TestPlanWorkloadNamedLikeTheApp: the stable Deployment is named
// "reviews", the app's name. The patches gitcanary aims at it (the
// version label while the release runs, the deletion at promote) must not
// reach the new copy reviews-v2: before templates carried their final
// name, kustomize matched reviews-v2 by its earlier name and the promoted
// render had no Deployment at all.
func TestPlanWorkloadNamedLikeTheApp(t *testing.T) {
	ctx := context.Background()
	for _, stableVersion := range []string{"", "v1"} {
		app := renamed(t, "reviews")
		if stableVersion != "" {
			// Unlabelled: gitcanary labels the stable's pod template.
			app.Files["apps/reviews/deployment.yaml"] = []byte(strings.ReplaceAll(string(app.Files["apps/reviews/deployment.yaml"]), "version: v1", "tier: backend"))
		}
		r := testRelease(t, func(r *release.Release) {
			r.Spec.Workload.Name = "reviews"
			r.Spec.StableVersion = stableVersion
		})
		states, err := New(Deps{}, "reviews-v2", "apps/reviews").Plan(ctx, app, r)
		if err != nil {
			t.Fatalf("stableVersion %q: %v", stableVersion, err)
		}
		for _, s := range states {
			objs, err := overlay.ParseObjects(s.Manifests)
			if err != nil {
				t.Fatal(err)
			}
			v2 := overlay.Find(objs, "Deployment", "reviews-v2")
			stable := overlay.Find(objs, "Deployment", "reviews")
			switch s.Step {
			case "abandoned":
				if len(v2) != 0 || len(stable) != 1 {
					t.Errorf("stableVersion %q, state %s: reviews-v2 %d, reviews %d; want 0 and 1", stableVersion, s.Step, len(v2), len(stable))
				}
			case "promoted":
				if len(v2) != 1 || len(stable) != 0 {
					t.Fatalf("stableVersion %q, state %s: reviews-v2 %d, reviews %d; want 1 and 0", stableVersion, s.Step, len(v2), len(stable))
				}
			default:
				if len(v2) != 1 || len(stable) != 1 {
					t.Fatalf("stableVersion %q, state %s: reviews-v2 %d, reviews %d; want 1 each", stableVersion, s.Step, len(v2), len(stable))
				}
				if got := overlay.Lookup(stable[0], ".spec.template.metadata.labels.version"); stableVersion != "" && got != "v1" {
					t.Errorf("stableVersion %q, state %s: stable pod template version %v, want v1", stableVersion, s.Step, got)
				}
			}
			if len(v2) == 1 {
				for _, p := range []string{".metadata.labels.version", ".spec.selector.matchLabels.version", ".spec.template.metadata.labels.version"} {
					if got := overlay.Lookup(v2[0], p); got != "v2" {
						t.Errorf("stableVersion %q, state %s: reviews-v2 %s = %v, want v2", stableVersion, s.Step, p, got)
					}
				}
			}
		}
	}
}

// TestPlanNewNameTaken: an object of the workload's kind already named
// like the new version is refused in one sentence, exit 2, before any
// kustomize build of the release.
func TestPlanNewNameTaken(t *testing.T) {
	app := fixtureApp(t)
	dep := string(app.Files["apps/reviews/deployment.yaml"])
	app.Files["apps/reviews/deployment.yaml"] = []byte(dep + "---\n" + strings.ReplaceAll(dep, "v1", "v2"))
	_, err := New(Deps{}, "reviews-v2", "apps/reviews").Plan(context.Background(), app, testRelease(t))
	want := "Deployment reviews-v2 already exists in apps/reviews, and the new version's workload would have its name: choose another spec.version, or remove or rename the existing Deployment: invalid release"
	if err == nil || err.Error() != want || !errors.Is(err, release.ErrInvalid) {
		t.Fatalf("Plan: %v\nwant: %s", err, want)
	}
}

// TestPlanPlainMapSelector: a DeploymentConfig configured as DCE's config
// format describes it, with no selector path, keeps a plain-map selector
// (spec.selector: {app, version}) on its new version instead of growing a
// matchLabels inside it, which the API server rejects.
func TestPlanPlainMapSelector(t *testing.T) {
	f, err := config.Parse([]byte(`customWorkloads:
  - name: deploymentconfigs
    resourceSchema: {group: apps.openshift.io, version: v1, kind: DeploymentConfig, resource: deploymentconfigs}
    path: {podTemplate: .spec.template, replicas: .spec.replicas, statusReadyReplicas: .status.availableReplicas}
`), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kinds, err := f.Kinds()
	if err != nil {
		t.Fatal(err)
	}
	app := withWorkload(t, "deploymentconfig.yaml")
	r := testRelease(t)
	r.Spec.Workload.Kind = "DeploymentConfig"
	states, err := New(Deps{Kinds: kinds}, "reviews-v2", "apps/reviews").Plan(context.Background(), app, r)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := overlay.ParseObjects(states[0].Manifests)
	if err != nil {
		t.Fatal(err)
	}
	v2 := overlay.Find(objs, "DeploymentConfig", "reviews-v2")
	if len(v2) != 1 {
		t.Fatalf("no DeploymentConfig reviews-v2 in:\n%s", states[0].Manifests)
	}
	sel, _ := overlay.Lookup(v2[0], ".spec.selector").(map[string]any)
	if len(sel) != 2 || sel["app"] != "reviews" || sel["version"] != "v2" {
		t.Errorf("reviews-v2 spec.selector = %v, want {app: reviews, version: v2}", sel)
	}
}

// TestPlanUnlabelledGroupRefused: spec.stableVersion on a WorkloadGroup
// without a version label is refused: Istio copies a group's labels into
// a WorkloadEntry only when a VM registers, so the running VMs would stay
// out of the stable subset.
func TestPlanUnlabelledGroupRefused(t *testing.T) {
	app := withWorkload(t, "workloadgroup.yaml")
	app.Files["apps/reviews/deployment.yaml"] = []byte(strings.ReplaceAll(string(app.Files["apps/reviews/deployment.yaml"]), "version: v1", "tier: backend"))
	r := testRelease(t)
	r.Spec.Workload.Kind = "WorkloadGroup"
	r.Spec.Images = nil
	r.Spec.StableVersion = "v1"
	_, err := New(Deps{Kinds: exampleKinds(t)}, "reviews-v2", "apps/reviews").Plan(context.Background(), app, r)
	if err == nil || !errors.Is(err, release.ErrInvalid) || !strings.Contains(err.Error(), "Istio copies a group's labels into a WorkloadEntry only when the VM registers") {
		t.Fatalf("Plan: %v", err)
	}
}
