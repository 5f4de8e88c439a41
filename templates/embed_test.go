package templates

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestApplication(t *testing.T) {
	out, err := Application(ApplicationParams{Name: "reviews", RepoURL: "git://127.0.0.1:19418/apps.git", Path: "apps/reviews", Revision: "main", Namespace: "bookinfo"})
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
	if app.Spec.SyncPolicy != nil {
		t.Error("the Application must not auto-sync")
	}
}
