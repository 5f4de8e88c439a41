package argocd

import (
	"context"
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"

	"github.com/gitcanary/gitcanary/pkg/kustomize"
)

// TestSnippetCarriesTheFiles reads the snippet as Argo CD does and finds
// each Lua file in it unchanged.
func TestSnippetCarriesTheFiles(t *testing.T) {
	o, ok := overrides(t)["gitcanary.io/Release"]
	if !ok {
		t.Fatal("no override for gitcanary.io/Release")
	}
	if o.HealthLua != readFile(t, "release-health.lua") {
		t.Error("the health script differs from release-health.lua")
	}
	actions, err := o.GetActions()
	if err != nil {
		t.Fatal(err)
	}
	if actions.ActionDiscoveryLua != readFile(t, "actions/discovery.lua") {
		t.Error("discovery.lua differs from actions/discovery.lua")
	}
	names := actionNames(t)
	if len(actions.Definitions) != len(names) {
		t.Fatalf("%d definitions, want %d", len(actions.Definitions), len(names))
	}
	for i, d := range actions.Definitions {
		if d.Name != names[i] || d.ActionLua != readFile(t, "actions/"+names[i]+"/action.lua") {
			t.Errorf("definition %d (%s) is not actions/%s/action.lua", i, d.Name, names[i])
		}
	}
}

// stockConfigMap is argocd-cm as Argo CD's install manifests ship it, with
// one setting an operator added.
const stockConfigMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
  timeout.reconciliation: 120s
`

// installed checks that cm kept the operator's setting and gained the
// snippet's keys as they are.
func installed(t *testing.T, cm corev1.ConfigMap) {
	t.Helper()
	var want corev1.ConfigMap
	if err := yaml.Unmarshal([]byte(readFile(t, snippet)), &want); err != nil {
		t.Fatal(err)
	}
	if cm.Name != "argocd-cm" || cm.Labels["app.kubernetes.io/part-of"] != "argocd" || cm.Data["timeout.reconciliation"] != "120s" {
		t.Errorf("the stock ConfigMap lost its name, labels or settings: %+v", cm.ObjectMeta)
	}
	for _, k := range []string{healthKey, actionsKey} {
		if cm.Data[k] == "" || cm.Data[k] != want.Data[k] {
			t.Errorf("%s is missing or changed", k)
		}
	}
}

// TestSnippetPatchesWithKustomize builds a kustomization that installs
// Argo CD in namespace argocd and patches argocd-cm with the snippet.
func TestSnippetPatchesWithKustomize(t *testing.T) {
	fsys, err := kustomize.InMemory(map[string][]byte{
		"argocd/install.yaml":      []byte(stockConfigMap),
		"argocd/gitcanary-cm.yaml": []byte(readFile(t, snippet)),
		"argocd/kustomization.yaml": []byte(`namespace: argocd
resources: [install.yaml]
patches:
  - path: gitcanary-cm.yaml
`),
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := (&kustomize.Krusty{}).Build(context.Background(), fsys, kustomize.Root+"/argocd")
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(out, &cm); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if cm.Namespace != "argocd" {
		t.Errorf("namespace %q", cm.Namespace)
	}
	installed(t, cm)
}

// TestSnippetPatchesWithKubectl applies the snippet to the stock ConfigMap
// as the API server applies `kubectl patch --patch-file` (a strategic merge
// patch, the default for a ConfigMap).
func TestSnippetPatchesWithKubectl(t *testing.T) {
	original, err := yaml.YAMLToJSON([]byte(stockConfigMap))
	if err != nil {
		t.Fatal(err)
	}
	p, err := yaml.YAMLToJSON([]byte(readFile(t, snippet)))
	if err != nil {
		t.Fatal(err)
	}
	merged, err := strategicpatch.StrategicMergePatch(original, p, corev1.ConfigMap{})
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := json.Unmarshal(merged, &cm); err != nil {
		t.Fatal(err)
	}
	installed(t, cm)
}
