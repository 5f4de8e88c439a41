package argocd

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	argolua "github.com/argoproj/argo-cd/v2/util/lua"
	jsonpatch "github.com/evanphx/json-patch"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// This file runs the Lua as Argo CD 2.14 does, with its own Lua VM
// (util/lua): the standard libraries off, as in argocd-cm by default.

// overrides reads argocd-cm.yaml as Argo CD's settings manager reads
// split keys: resource.customizations.<type>.<group>_<kind> becomes the
// override of "<group>/<kind>".
func overrides(t *testing.T) map[string]v1alpha1.ResourceOverride {
	t.Helper()
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict([]byte(readFile(t, snippet)), &cm); err != nil {
		t.Fatalf("%s: %v", snippet, err)
	}
	out := map[string]v1alpha1.ResourceOverride{}
	for k, v := range cm.Data {
		parts := strings.SplitN(k, ".", 4)
		if len(parts) != 4 || parts[0] != "resource" || parts[1] != "customizations" {
			t.Fatalf("%s: key %q is not a resource customization", snippet, k)
		}
		key := strings.Replace(parts[3], "_", "/", 1)
		o := out[key]
		switch parts[2] {
		case "health":
			o.HealthLua = v
		case "actions":
			o.Actions = v
		default:
			t.Fatalf("%s: unexpected customization %q", snippet, parts[2])
		}
		out[key] = o
	}
	return out
}

// sample loads testdata/NAME.yaml as the live object Argo CD would hold
// (numbers as int64, as from the API server).
func sample(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	j, err := yaml.YAMLToJSONStrict([]byte(readFile(t, "testdata/"+name+".yaml")))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(j); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return obj
}

// discover runs discovery.lua as the API server's ListResourceActions does
// and returns each action's disabled flag.
func discover(t *testing.T, vm argolua.VM, obj *unstructured.Unstructured) map[string]bool {
	t.Helper()
	scripts, err := vm.GetResourceActionDiscovery(obj)
	if err != nil {
		t.Fatal(err)
	}
	actions, err := vm.ExecuteResourceActionDiscovery(obj, scripts)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, a := range actions {
		if a.DisplayName == "" {
			t.Errorf("action %s has no displayName", a.Name)
		}
		out[a.Name] = a.Disabled
	}
	return out
}

// run runs an action as the API server's RunResourceAction does and
// returns the JSON merge patch it would send to the cluster.
func run(t *testing.T, vm argolua.VM, obj *unstructured.Unstructured, action string) (string, error) {
	t.Helper()
	def, err := vm.GetResourceAction(obj, action)
	if err != nil {
		t.Fatal(err)
	}
	impacted, err := vm.ExecuteResourceAction(obj, def.ActionLua)
	if err != nil {
		return "", err
	}
	if len(impacted) != 1 || impacted[0].K8SOperation != argolua.PatchOperation {
		t.Fatalf("%s returned %d objects; want the Release to patch", action, len(impacted))
	}
	live, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	changed, err := json.Marshal(impacted[0].UnstructuredObj)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := jsonpatch.CreateMergePatch(live, changed)
	if err != nil {
		t.Fatal(err)
	}
	return string(patch), nil
}
