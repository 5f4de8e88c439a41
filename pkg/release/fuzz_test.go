package release

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzRelease parses and validates a Release document as `gitcanary lint`,
// `start` and the controller do, and checks it as a record read back from
// git. Any error is fine; a panic is a bug. A document that validates must
// survive a round trip through Marshal unchanged in meaning.
func FuzzRelease(f *testing.F) {
	f.Add([]byte(validYAML))
	examples, _ := filepath.Glob("../../releases/*.yaml")
	for _, p := range examples {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			return
		}
		_ = CheckRecord(r)
		if Validate(r, ValidateOptions{}) != nil {
			return
		}
		for _, s := range r.Spec.Steps {
			_ = s.Describe()
		}
		_ = r.Spec.Deadline()
		out, err := Marshal(r)
		if err != nil {
			t.Fatalf("a valid release does not marshal: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("a valid release does not parse back: %v\n%s", err, out)
		}
		if err := Validate(again, ValidateOptions{}); err != nil {
			t.Fatalf("a valid release is invalid after a round trip: %v\n%s", err, out)
		}
		if !SameRelease(r.Spec, again.Spec) {
			t.Fatalf("the round trip changed the spec:\n%s", out)
		}
	})
}
