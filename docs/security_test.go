package docs

import (
	"os"
	"strings"
	"testing"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// TestSecurityExample: security.md's Application admits its Release
// resource, as start and the controller's first reconcile check it, and
// refuses a Release resource of another namespace.
func TestSecurityExample(t *testing.T) {
	data, err := os.ReadFile("security.md")
	if err != nil {
		t.Fatal(err)
	}
	var app *v1alpha1.Application
	var rel *release.Release
	for _, m := range yamlBlock.FindAllStringSubmatch(string(data), -1) {
		switch {
		case strings.Contains(m[1], "kind: Application"):
			app = &v1alpha1.Application{}
			if err := yaml.UnmarshalStrict([]byte(m[1]), app); err != nil {
				t.Fatalf("the Application example: %v", err)
			}
		case strings.Contains(m[1], "kind: Release"):
			if rel, err = release.Parse([]byte(m[1])); err != nil {
				t.Fatal(err)
			}
		}
	}
	if app == nil || rel == nil {
		t.Fatal("security.md needs an Application and a Release example")
	}
	want := argocd.Want{RepoURL: rel.Spec.Repo.URL, Path: rel.Spec.Repo.Path, Branch: rel.Spec.Repo.BranchOrDefault()}
	if err := argocd.Admit(app, argocd.Grant{Namespace: rel.Metadata.Namespace}, want); err != nil {
		t.Errorf("the example Release is refused: %v", err)
	}
	if err := argocd.Admit(app, argocd.Grant{Namespace: "team-z"}, want); err == nil || !strings.Contains(err.Error(), "gitcanary.io/release-namespaces: bookinfo,team-z") {
		t.Errorf("a Release of another namespace: %v", err)
	}
}
