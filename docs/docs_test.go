// Package docs holds the user documentation; its test runs the examples.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/pkg/release"
)

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestReleaseExamplesValidate parses and validates every Release example
// in the docs and the README, so no example drifts from the spec.
func TestReleaseExamplesValidate(t *testing.T) {
	pages, _ := filepath.Glob("*.md")
	pages = append(pages, "../README.md")
	n := 0
	for _, page := range pages {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range yamlBlock.FindAllStringSubmatch(string(data), -1) {
			if !strings.Contains(m[1], "kind: Release") {
				continue
			}
			n++
			r, err := release.Parse([]byte(m[1]))
			if err == nil {
				err = release.Validate(r, release.ValidateOptions{})
			}
			if err != nil {
				t.Errorf("%s: example does not validate: %v\n%s", page, err, m[1])
			}
		}
	}
	if n < 2 {
		t.Fatalf("found %d Release examples; expected the README's and release-spec.md's", n)
	}
}
