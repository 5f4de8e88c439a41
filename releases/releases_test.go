package releases

import (
	"io/fs"
	"testing"

	"github.com/gitcanary/gitcanary/pkg/release"
)

func TestExamplesAreValid(t *testing.T) {
	names, err := fs.Glob(Examples, "*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no example releases found: %v", err)
	}
	for _, name := range names {
		data, err := fs.ReadFile(Examples, name)
		if err != nil {
			t.Fatal(err)
		}
		r, err := release.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := release.Validate(r, release.ValidateOptions{}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
