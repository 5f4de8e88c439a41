package templates

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/gitcanary/gitcanary/pkg/release"
)

func TestApplication(t *testing.T) {
	for _, tt := range []struct {
		name      string
		automated *AutomatedSync
		want      map[string]any // spec.syncPolicy
	}{
		{name: "manual by default"},
		{name: "prune and selfHeal", automated: &AutomatedSync{Prune: true, SelfHeal: true},
			want: map[string]any{"automated": map[string]any{"prune": true, "selfHeal": true}}},
		{name: "no prune", automated: &AutomatedSync{},
			want: map[string]any{"automated": map[string]any{"prune": false, "selfHeal": false}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Application(ApplicationParams{Name: "reviews", RepoURL: "git://127.0.0.1:19418/apps.git", Path: "apps/reviews", Revision: "main", Namespace: "bookinfo", Automated: tt.automated})
			if err != nil {
				t.Fatal(err)
			}
			var app struct {
				Kind string
				Spec struct {
					Source      struct{ RepoURL, Path, TargetRevision string }
					Destination struct{ Namespace string }
					SyncPolicy  map[string]any
				}
			}
			if err := yaml.UnmarshalStrict(out, &app); err != nil && !strings.Contains(err.Error(), "unknown field") {
				t.Fatal(err)
			}
			if app.Kind != "Application" || app.Spec.Source.RepoURL != "git://127.0.0.1:19418/apps.git" || app.Spec.Source.Path != "apps/reviews" || app.Spec.Destination.Namespace != "bookinfo" {
				t.Errorf("rendered %+v\n%s", app, out)
			}
			if !reflect.DeepEqual(app.Spec.SyncPolicy, tt.want) {
				t.Errorf("spec.syncPolicy %v, want %v\n%s", app.Spec.SyncPolicy, tt.want, out)
			}
		})
	}
}

// TestApplicationGrants: the grant annotations as Applications carry them;
// "*" stays a string.
func TestApplicationGrants(t *testing.T) {
	for _, ns := range []string{"", "team-a", "team-a,team-b", "*"} {
		out, err := Application(ApplicationParams{Name: "reviews", RepoURL: "git://127.0.0.1:19418/apps.git", Path: "apps/reviews", Revision: "main", Namespace: "bookinfo", ReleaseNamespaces: ns})
		if err != nil {
			t.Fatal(err)
		}
		var app struct {
			Metadata struct{ Annotations map[string]string }
		}
		if err := yaml.Unmarshal(out, &app); err != nil {
			t.Fatalf("%q: %v\n%s", ns, err, out)
		}
		got, ok := app.Metadata.Annotations["gitcanary.io/release-namespaces"]
		if got != ns || ok != (ns != "") || app.Metadata.Annotations["gitcanary.io/grant"] != "gitcanary" {
			t.Errorf("%q: annotations %v", ns, app.Metadata.Annotations)
		}
	}
}

func TestReleaseIsValid(t *testing.T) {
	for _, p := range []ReleaseParams{
		{RepoURL: "git://127.0.0.1:19418/apps.git"},
		{RepoURL: "git://127.0.0.1/x.git", Name: "r3", Version: "v3", Workload: "reviews-v2", Tag: "never-ready", Steps: "[{pause: {}}]", ProgressDeadline: "20s"},
		{RepoURL: "git://127.0.0.1/x.git", Path: "envs/prod/reviews", Workload: "reviews", StableVersion: "v1"},
		{RepoURL: "git://127.0.0.1/x.git", Kind: "WorkloadGroup", Addresses: []string{"10.0.1.21", "10.0.1.22"}},
	} {
		out, err := Release(p)
		if err != nil {
			t.Fatal(err)
		}
		r, err := release.Parse(out)
		if err == nil {
			err = release.Validate(r, release.ValidateOptions{})
		}
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if want := p.Path; want != "" && r.Spec.Repo.Path != want || want == "" && r.Spec.Repo.Path != "apps/reviews" {
			t.Errorf("path %q", r.Spec.Repo.Path)
		}
		if r.Spec.StableVersion != p.StableVersion {
			t.Errorf("stableVersion %q, want %q", r.Spec.StableVersion, p.StableVersion)
		}
		if w := r.Spec.Workload; !slices.Equal(w.Addresses, p.Addresses) || (len(r.Spec.Images) == 0) != (w.Kind == "WorkloadGroup") {
			t.Errorf("workload %s, addresses %v, images %v", w.Kind, w.Addresses, r.Spec.Images)
		}
		if p.ProgressDeadline != "" && r.Spec.Deadline().String() != "20s" {
			t.Errorf("deadline %s", r.Spec.Deadline())
		}
	}
}
