package kube

import (
	"reflect"
	"strings"
	"testing"
)

func TestKindsBuiltins(t *testing.T) {
	k := NewKinds()
	tests := []struct {
		group, kind        string
		replicas, ready    string
		selector, template string
	}{
		{"apps", "Deployment", ".spec.replicas", ".status.readyReplicas", ".spec.selector.matchLabels", ".spec.template"},
		{"apps", "StatefulSet", ".spec.replicas", ".status.readyReplicas", ".spec.selector.matchLabels", ".spec.template"},
		{"apps", "DaemonSet", ".status.desiredNumberScheduled", ".status.numberReady", ".spec.selector.matchLabels", ".spec.template"},
	}
	for _, tt := range tests {
		got, ok := k.Lookup(tt.group, tt.kind)
		if !ok {
			t.Errorf("Lookup(%q, %q): not found", tt.group, tt.kind)
			continue
		}
		if got.Replicas != tt.replicas || got.ReadyReplicas != tt.ready || got.Selector != tt.selector || got.PodTemplate != tt.template {
			t.Errorf("Lookup(%q, %q) = %+v", tt.group, tt.kind, got)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("built-in %s does not validate: %v", got, err)
		}
	}
	if _, ok := k.Lookup("", "Deployment"); ok {
		t.Error("Lookup of Deployment in the core group should fail")
	}
	if n := len(k.All()); n != 4 {
		t.Errorf("All() has %d kinds, want 4", n)
	}
}

func TestKindsRegister(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Kind)
		wantErr string
	}{
		{name: "valid", edit: func(*Kind) {}},
		{name: "no leading dot", edit: func(k *Kind) { k.Replicas = "spec.replicas" }, wantErr: `replicas path: "spec.replicas" must start with '.'`},
		{name: "empty path", edit: func(k *Kind) { k.ReadyReplicas = "" }, wantErr: "readyReplicas path: empty path"},
		{name: "empty field", edit: func(k *Kind) { k.PodTemplate = ".spec..template" }, wantErr: "podTemplate path: \".spec..template\" has an empty field name"},
		{name: "index expression", edit: func(k *Kind) { k.Selector = ".spec.selectors[0]" }, wantErr: "not supported"},
		{name: "no resource", edit: func(k *Kind) { k.Resource = "" }, wantErr: "resource is empty"},
		{name: "resource not lower case", edit: func(k *Kind) { k.Resource = "DeploymentConfigs" }, wantErr: "lower-case plural"},
		{name: "no kind", edit: func(k *Kind) { k.Kind = "" }, wantErr: "kind is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind := deploymentConfig
			tt.edit(&kind)
			kinds := NewKinds()
			err := kinds.Register(kind)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Register: %v", err)
				}
				if got, ok := kinds.Lookup(kind.Group, kind.Kind); !ok || !reflect.DeepEqual(got, kind) {
					t.Errorf("Lookup after Register = %+v, %v", got, ok)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Register error = %v, want it to contain %q", err, tt.wantErr)
			}
			if _, ok := kinds.Lookup(kind.Group, kind.Kind); ok {
				t.Error("an invalid kind was registered")
			}
		})
	}
}

func TestKindsRegisterDuplicate(t *testing.T) {
	kinds := NewKinds()
	dep, _ := kinds.Lookup("apps", "Deployment")
	dep.ReadyReplicas = ".status.availableReplicas"
	dep.Name = "deployments"
	err := kinds.Register(dep)
	if err == nil || !strings.Contains(err.Error(), "apps/Deployment is already registered") {
		t.Errorf("Register duplicate error = %v", err)
	}
	if got, _ := kinds.Lookup("apps", "Deployment"); got.ReadyReplicas != ".status.readyReplicas" {
		t.Errorf("duplicate Register changed the built-in: %+v", got)
	}
}

func TestKindsRegistriesAreIndependent(t *testing.T) {
	a, b := NewKinds(), NewKinds()
	if err := a.Register(deploymentConfig); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Lookup(deploymentConfig.Group, deploymentConfig.Kind); ok {
		t.Error("a kind registered in one registry leaked into another")
	}
}
