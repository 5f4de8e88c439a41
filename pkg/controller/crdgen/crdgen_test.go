package crdgen

import (
	"flag"
	"os"
	"testing"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite deploy/crd/release.yaml")

const crdFile = "../../../deploy/crd/release.yaml"

// TestCRDFile keeps the shipped CRD equal to what the Go types generate.
func TestCRDFile(t *testing.T) {
	got, err := Generate("../../release", "..")
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(crdFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(crdFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s is not what the Go types generate; run go test ./pkg/controller/crdgen -update", crdFile)
	}
	var crd apiextv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(want, &crd); err != nil {
		t.Fatal(err)
	}
	props := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties
	spec, status := props["spec"].Properties, props["status"].Properties
	for _, f := range []string{"repo", "workload", "traffic", "steps", "control", "progressDeadline"} {
		if _, ok := spec[f]; !ok {
			t.Errorf("spec.%s missing from the schema", f)
		}
	}
	for _, f := range []string{"phase", "weights", "canaryWeight", "conditions", "observedGeneration", "history"} {
		if _, ok := status[f]; !ok {
			t.Errorf("status.%s missing from the schema", f)
		}
	}
	if d := spec["control"].Properties["approvals"].Description; d == "" {
		t.Error("spec.control.approvals has no description from its Go comment")
	}
}
