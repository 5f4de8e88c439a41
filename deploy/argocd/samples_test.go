package argocd

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/gitcanary/gitcanary/pkg/controller"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// TestSamplesAreReleases keeps the samples what the controller reads and
// writes: a spec that decodes and validates as a Release, and a status that
// decodes, without unknown fields, as a Release custom resource's status.
func TestSamplesAreReleases(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) < len(release.Transitions) {
		t.Fatalf("%d samples", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		obj := sample(t, name)
		data, err := json.Marshal(map[string]any{"apiVersion": obj.GetAPIVersion(), "kind": obj.GetKind(), "spec": obj.Object["spec"]})
		if err != nil {
			t.Fatal(err)
		}
		r, err := release.Parse(data)
		if err == nil {
			r.Metadata = release.Metadata{Name: obj.GetName(), Namespace: obj.GetNamespace()}
			err = release.Validate(r, release.ValidateOptions{})
		}
		if err != nil {
			t.Errorf("%s: spec: %v", name, err)
		}
		raw, ok := obj.Object["status"]
		if !ok {
			continue
		}
		data, err = yaml.Marshal(raw)
		if err == nil {
			data, err = yaml.YAMLToJSON(data)
		}
		var st controller.Status
		if err == nil {
			var strict []error
			strict, err = kjson.UnmarshalStrict(data, &st, kjson.DisallowUnknownFields)
			if err == nil && len(strict) > 0 {
				err = strict[0]
			}
		}
		if err != nil {
			t.Errorf("%s: status: %v", name, err)
		}
	}
}
