package machine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/pkg/config"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/release"
	"sigs.k8s.io/yaml"
)

// exampleKinds are the built-in kinds plus examples/config's custom ones.
func exampleKinds(t *testing.T) *kube.Kinds {
	t.Helper()
	f, err := config.Load("../../examples/config/custom-workloads.yaml", true)
	if err != nil {
		t.Fatal(err)
	}
	kinds, err := f.Kinds()
	if err != nil {
		t.Fatal(err)
	}
	return kinds
}

// withWorkload is the fixture app with its Deployment replaced by an
// example workload of examples/workloads.
func withWorkload(t *testing.T, example string) *App {
	t.Helper()
	data, err := os.ReadFile("../../examples/workloads/" + example)
	if err != nil {
		t.Fatal(err)
	}
	app := fixtureApp(t)
	app.Files["apps/reviews/deployment.yaml"] = data
	return app
}

// TestPlanKinds renders a release of every kind of examples/workloads:
// goldens of the prepared and promoted states, and an abandoned render
// equal to the app before the release.
func TestPlanKinds(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		example, kind string
		edit          func(*release.Release)
		check         func(t *testing.T, prepared []overlay.Object)
	}{
		{example: "deploymentconfig.yaml", kind: "DeploymentConfig", check: func(t *testing.T, objs []overlay.Object) {
			v2 := overlay.Find(objs, "DeploymentConfig", "reviews-v2")
			if len(v2) != 1 || overlay.Lookup(v2[0], ".spec.selector.version") != "v2" ||
				overlay.Lookup(v2[0], ".spec.template.spec.containers") == nil ||
				!strings.Contains(string(mustYAML(t, v2[0])), "example/reviews:2.0") {
				t.Errorf("DeploymentConfig reviews-v2 = %v", v2)
			}
		}},
		{example: "cloneset.yaml", kind: "CloneSet"},
		{example: "statefulset.yaml", kind: "StatefulSet"},
		{example: "daemonset.yaml", kind: "DaemonSet"},
		{example: "workloadgroup.yaml", kind: "WorkloadGroup", edit: func(r *release.Release) {
			r.Spec.Images = nil
			r.Spec.Workload.Addresses = []string{"10.0.1.21", "10.0.1.22"}
		}, check: func(t *testing.T, objs []overlay.Object) {
			g := overlay.Find(objs, "WorkloadGroup", "reviews-v2")
			if len(g) != 1 || overlay.Lookup(g[0], ".spec.metadata.labels.version") != "v2" || overlay.Lookup(g[0], ".spec.metadata.annotations") != nil {
				t.Errorf("WorkloadGroup reviews-v2 = %v", g)
			}
			for _, name := range []string{"reviews-v2-1", "reviews-v2-2"} {
				e := overlay.Find(objs, "WorkloadEntry", name)
				if len(e) != 1 || overlay.Lookup(e[0], ".spec.labels.version") != "v2" || overlay.Lookup(e[0], ".spec.serviceAccount") != "reviews" {
					t.Errorf("WorkloadEntry %s = %v", name, e)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			app := withWorkload(t, tt.example)
			before, err := app.Build(ctx, &kustomize.Krusty{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := testRelease(t)
			r.Spec.Workload.Kind = tt.kind
			if tt.edit != nil {
				tt.edit(r)
			}
			kinds := exampleKinds(t)
			if err := release.Validate(r, release.ValidateOptions{KnownKind: kinds.Known}); err != nil {
				t.Fatal(err)
			}
			states, err := New(Deps{Kinds: kinds}, "reviews-v2", "apps/reviews").Plan(ctx, app, r)
			if err != nil {
				t.Fatal(err)
			}
			dir := "plan-kinds/" + strings.ToLower(tt.kind) + "/"
			for _, s := range states {
				switch s.Step {
				case "0", "promoted":
					golden(t, dir+s.Step+".yaml", s.Manifests)
				case "abandoned":
					if !bytes.Equal(s.Manifests, before) {
						t.Errorf("abandoned render differs from before:\n%s", s.Manifests)
					}
				}
			}
			if tt.check != nil {
				objs, err := overlay.ParseObjects(states[0].Manifests)
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, objs)
			}
			promoted, err := overlay.ParseObjects(states[len(states)-2].Manifests)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range promoted {
				if o.Name() == "reviews-v1" || strings.HasPrefix(o.Name(), "reviews-vm-") {
					t.Errorf("promoted render still has %s %s", o.Kind(), o.Name())
				}
			}
		})
	}
}

func mustYAML(t *testing.T, o overlay.Object) []byte {
	t.Helper()
	data, err := yaml.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestPlanGenerateRoutingAndAliases: an app with no DestinationRule or
// VirtualService is refused, or with --generate-routing gets both in the
// first commit; aliases add a ServiceEntry each and join the
// VirtualService's hosts, stay after a promote and leave with an abandon.
func TestPlanGenerateRoutingAndAliases(t *testing.T) {
	ctx := context.Background()
	app := fixtureApp(t)
	k := string(app.Files["apps/reviews/kustomization.yaml"])
	k = strings.Replace(strings.Replace(k, "  - destinationrule.yaml\n", "", 1), "  - virtualservice.yaml\n", "", 1)
	app.Files["apps/reviews/kustomization.yaml"] = []byte(k)
	r := testRelease(t, func(r *release.Release) { r.Spec.Traffic.Aliases = []string{"reviews-api", "reviews.legacy"} })
	m := New(Deps{}, "reviews-v2", "apps/reviews")

	_, err := m.Plan(ctx, app, r)
	want := "no DestinationRule for host reviews in apps/reviews; add one, or start with --generate-routing to have gitcanary write it"
	if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, release.ErrInvalid) {
		t.Fatalf("without --generate-routing: %v\nwant %s (invalid input)", err, want)
	}

	states, err := m.PlanWith(ctx, app, r, StartOptions{GenerateRouting: true})
	if err != nil {
		t.Fatal(err)
	}
	prepared := states[0].App
	golden(t, "plan-routing/gitcanary-routing.yaml", prepared.Files["apps/reviews/"+RoutingFile])
	if !strings.Contains(string(prepared.Files["apps/reviews/kustomization.yaml"]), "- "+RoutingFile) {
		t.Errorf("root kustomization does not list %s:\n%s", RoutingFile, prepared.Files["apps/reviews/kustomization.yaml"])
	}
	for _, s := range states {
		objs, err := overlay.ParseObjects(s.Manifests)
		if err != nil {
			t.Fatal(err)
		}
		ses := overlay.Find(objs, "ServiceEntry", "")
		vs := overlay.Find(objs, "VirtualService", "reviews")
		if len(vs) != 1 {
			t.Fatalf("state %s: VirtualService reviews: %v", s.Step, vs)
		}
		hosts, _ := yaml.Marshal(overlay.Lookup(vs[0], ".spec.hosts"))
		switch s.Step {
		case "0", "promoted":
			golden(t, "plan-routing/"+s.Step+".yaml", s.Manifests)
			if len(ses) != 2 || string(hosts) != "- reviews\n- reviews-api\n- reviews.legacy\n" {
				t.Errorf("state %s: %d ServiceEntries, VirtualService hosts %s", s.Step, len(ses), hosts)
			}
		case "abandoned":
			if len(ses) != 0 || string(hosts) != "- reviews\n" || len(overlay.Find(objs, "DestinationRule", "reviews")) != 1 {
				t.Errorf("abandoned: %d ServiceEntries, VirtualService hosts %s; want the generated routing alone", len(ses), hosts)
			}
		}
	}
}

// TestPlanGeneratedRoutingAbandonKeepsLabel: an unlabelled stable workload
// adopted with stableVersion and --generate-routing, then abandoned. The
// generated VirtualService (now the user's) routes 100% to subset v1, so
// the stable pods keep version: v1; without it the subset would be empty.
func TestPlanGeneratedRoutingAbandonKeepsLabel(t *testing.T) {
	ctx := context.Background()
	app := fixtureApp(t)
	k := string(app.Files["apps/reviews/kustomization.yaml"])
	k = strings.Replace(strings.Replace(k, "  - destinationrule.yaml\n", "", 1), "  - virtualservice.yaml\n", "", 1)
	app.Files["apps/reviews/kustomization.yaml"] = []byte(k)
	var kept []string
	for _, line := range strings.Split(string(app.Files["apps/reviews/deployment.yaml"]), "\n") {
		if strings.TrimSpace(line) != "version: v1" {
			kept = append(kept, line)
		}
	}
	app.Files["apps/reviews/deployment.yaml"] = []byte(strings.Join(kept, "\n"))
	r := testRelease(t, func(r *release.Release) { r.Spec.StableVersion = "v1" })
	states, err := New(Deps{}, "reviews-v2", "apps/reviews").PlanWith(ctx, app, r, StartOptions{GenerateRouting: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		objs, err := overlay.ParseObjects(s.Manifests)
		if err != nil {
			t.Fatal(err)
		}
		stable := overlay.Find(objs, "Deployment", "reviews-v1")
		if s.Step == "promoted" {
			continue
		}
		if len(stable) != 1 || overlay.Lookup(stable[0], ".spec.template.metadata.labels.version") != "v1" {
			t.Errorf("state %s: the stable pods lost version: v1 while the generated route sends them traffic by subset", s.Step)
		}
	}
}
