package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseExamples(t *testing.T) {
	data, err := os.ReadFile("../../examples/config/custom-workloads.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(data, "custom-workloads.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kinds, err := f.Kinds()
	if err != nil {
		t.Fatal(err)
	}
	dc, ok := kinds.Lookup("apps.openshift.io", "DeploymentConfig")
	if !ok {
		t.Fatal("DeploymentConfig not registered")
	}
	if dc.PodTemplate != ".spec.template" || dc.Selector != ".spec.selector" || dc.ReadyReplicas != ".status.availableReplicas" || dc.Builtin() {
		t.Errorf("DeploymentConfig = %+v", dc)
	}
	if got := dc.DisplayName("zh-CN"); got != "部署配置" {
		t.Errorf("DisplayName(zh-CN) = %q", got)
	}
	if got := dc.DisplayName("zh-TW"); got != "部署配置" {
		t.Errorf("DisplayName(zh-TW) = %q, want the zh name", got)
	}
	if got := dc.DisplayName("fr-FR"); got != "DeploymentConfig" {
		t.Errorf("DisplayName(fr-FR) = %q", got)
	}
	cs, ok := kinds.Lookup("apps.kruise.io", "CloneSet")
	if !ok {
		t.Fatal("CloneSet not registered")
	}
	if cs.Selector != DefaultSelector || cs.ReadyReplicas != ".status.readyReplicas" {
		t.Errorf("CloneSet = %+v", cs)
	}
}

func TestParseErrors(t *testing.T) {
	const good = `customWorkloads:
- name: deploymentconfigs
  resourceSchema: {group: apps.openshift.io, version: v1, kind: DeploymentConfig, resource: deploymentconfigs}
  path: {podTemplate: .spec.template, replicas: .spec.replicas, statusReadyReplicas: .status.availableReplicas, selector: .spec.selector}
`
	tests := []struct {
		name, edit, with string
		want             string
	}{
		{"unknown path key", "statusReadyReplicas:", "readyReplicas:", `cfg.yaml: unknown field "customWorkloads[0].path.readyReplicas"`},
		{"path without dot", "podTemplate: .spec.template", "podTemplate: spec.template",
			`cfg.yaml: customWorkloads[0] (deploymentconfigs): workload kind apps.openshift.io/DeploymentConfig: podTemplate path: "spec.template" must start with '.' (e.g. .spec.replicas)`},
		{"list index", "replicas: .spec.replicas", "replicas: '.spec.replicas[0]'",
			`cfg.yaml: customWorkloads[0] (deploymentconfigs): workload kind apps.openshift.io/DeploymentConfig: replicas path: ".spec.replicas[0]": character '[' is not supported (plain dot paths only)`},
		{"missing path", ", statusReadyReplicas: .status.availableReplicas", "",
			`cfg.yaml: customWorkloads[0] (deploymentconfigs): path.statusReadyReplicas is required`},
		{"no resource", "resource: deploymentconfigs}", "resource: ''}",
			`cfg.yaml: customWorkloads[0] (deploymentconfigs): workload kind apps.openshift.io/DeploymentConfig: resource is empty`},
		{"bad name", "name: deploymentconfigs", "name: Deployment Configs",
			`cfg.yaml: customWorkloads[0] (Deployment Configs): name "Deployment Configs" must be a lower-case DNS name such as deploymentconfigs`},
		{"shadows a built-in", "group: apps.openshift.io, version: v1, kind: DeploymentConfig", "group: apps, version: v1, kind: Deployment",
			`cfg.yaml: customWorkloads[0] (deploymentconfigs): workload kind apps/Deployment is already registered`},
		{"not yaml", "path: {", "path: {{",
			`cfg.yaml: yaml: line 4: did not find expected ',' or '}'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := strings.Replace(good, tt.edit, tt.with, 1)
			if data == good {
				t.Fatalf("edit %q did not apply", tt.edit)
			}
			_, err := Parse([]byte(data), "cfg.yaml")
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant prefix %s", err, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if f, err := Load(filepath.Join(dir, "absent.yaml"), false); err != nil || len(f.CustomWorkloads) != 0 {
		t.Errorf("absent default file: %v, %v", f, err)
	}
	if _, err := Load(filepath.Join(dir, "absent.yaml"), true); err == nil || !strings.Contains(err.Error(), "absent.yaml") {
		t.Errorf("absent explicit file: err = %v, want it named", err)
	}
}
