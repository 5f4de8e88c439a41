package deploy

import (
	"context"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/overlay"
)

// TestInstallBuilds builds deploy/install with kustomize, as
// `kubectl apply -k deploy/install` would, and checks what it installs.
func TestInstallBuilds(t *testing.T) {
	files, err := kustomize.FromFS(os.DirFS("."), ".")
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := kustomize.InMemory(files)
	if err != nil {
		t.Fatal(err)
	}
	out, err := (&kustomize.Krusty{}).Build(context.Background(), fsys, kustomize.Root+"/install")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := overlay.ParseObjects(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.Kind()+" "+o.Namespace()+"/"+o.Name())
	}
	sort.Strings(got)
	want := []string{
		"ClusterRole /gitcanary",
		"ClusterRoleBinding /gitcanary",
		"CustomResourceDefinition /releases.gitcanary.io",
		"Deployment gitcanary-system/gitcanary",
		"Namespace /gitcanary-system",
		"Role gitcanary-system/gitcanary-leader-election",
		"RoleBinding gitcanary-system/gitcanary-leader-election",
		"Service gitcanary-system/gitcanary-metrics",
		"ServiceAccount gitcanary-system/gitcanary",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("objects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	dep := overlay.Find(objs, "Deployment", "gitcanary")[0]
	c := overlay.Lookup(dep, ".spec.template.spec.containers").([]any)[0].(map[string]any)
	if c["image"] != "ghcr.io/gitcanary/gitcanary:v0.1.0" {
		t.Errorf("image %v", c["image"])
	}
	for _, p := range []string{".livenessProbe.httpGet.path", ".readinessProbe.httpGet.path"} {
		if overlay.Lookup(c, p) == nil {
			t.Errorf("container has no %s", p)
		}
	}
	args := strings.Join(toStrings(c["args"]), " ")
	for _, a := range []string{"run", "--metrics-bind-address=:8080", "--health-probe-bind-address=:8081"} {
		if !strings.Contains(args, a) {
			t.Errorf("args %q lack %s", args, a)
		}
	}
}

func toStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}
