package config

import (
	"os"
	"testing"
)

// FuzzConfig reads a configuration file and builds its workload kinds, as
// every command does at start. Any error is fine; a panic is a bug.
func FuzzConfig(f *testing.F) {
	if data, err := os.ReadFile("../../examples/config/custom-workloads.yaml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("customWorkloads:\n- name: x\n  resourceSchema: {group: a, version: v1, kind: X, resource: xs}\n  path: {podTemplate: .spec.template, replicas: .spec.replicas, statusReadyReplicas: .status.readyReplicas, selector: '.spec.selector[0]'}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data, "config.yaml")
		if err != nil {
			return
		}
		if _, err := file.Kinds(); err != nil {
			t.Fatalf("Parse accepted a file whose kinds do not build: %v", err)
		}
	})
}
