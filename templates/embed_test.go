package templates

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/gitcanary/gitcanary/pkg/release"
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

func TestReleaseIsValid(t *testing.T) {
	for _, p := range []ReleaseParams{
		{RepoURL: "git://127.0.0.1:19418/apps.git"},
		{RepoURL: "git://127.0.0.1/x.git", Name: "r3", Version: "v3", Workload: "reviews-v2", Tag: "never-ready", Steps: "[{pause: {}}]", ProgressDeadline: "20s"},
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
		if p.ProgressDeadline != "" && r.Spec.Deadline().String() != "20s" {
			t.Errorf("deadline %s", r.Spec.Deadline())
		}
	}
}
