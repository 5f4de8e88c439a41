package docs

import (
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/pkg/config"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// TestAnalysisTemplateExamples: every AnalysisTemplate in analysis.md
// parses, every Release example there expands its templates against
// them (args, placeholders, names), and the webHeaders example is a
// configuration gitcanary loads.
func TestAnalysisTemplateExamples(t *testing.T) {
	data, err := os.ReadFile("analysis.md")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	var releases []*release.Release
	configs := 0
	for _, m := range yamlBlock.FindAllStringSubmatch(string(data), -1) {
		switch doc := m[1]; {
		case strings.Contains(doc, "kind: AnalysisTemplate"):
			name := regexp.MustCompile(`metadata: \{name: ([a-z0-9-]+)\}`).FindStringSubmatch(doc)
			if name == nil {
				t.Fatalf("a template without metadata.name:\n%s", doc)
			}
			file := path.Join(release.DefaultTemplateDir, name[1]+".yaml")
			if _, err := release.ParseTemplate([]byte(doc), file); err != nil {
				t.Errorf("%v", err)
			}
			files[file] = []byte(doc)
		case strings.Contains(doc, "kind: Release"):
			r, err := release.Parse([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			releases = append(releases, r)
		case strings.HasPrefix(doc, "webHeaders:"):
			configs++
			t.Setenv("TESTER_TOKEN", "Bearer x")
			if _, err := config.Parse([]byte(doc), "analysis.md"); err != nil {
				t.Errorf("webHeaders example: %v", err)
			}
		}
	}
	read := func(p string) ([]byte, error) {
		if d, ok := files[p]; ok {
			return d, nil
		}
		return nil, &fs.PathError{Op: "read", Path: p, Err: fs.ErrNotExist}
	}
	expanded := 0
	for _, r := range releases {
		for i, s := range r.Spec.Steps {
			if s.Analysis == nil || len(s.Analysis.Templates) == 0 {
				continue
			}
			if _, err := release.ExpandMetrics(r.Spec, i, read); err != nil {
				t.Errorf("step %d: %v", i, err)
			}
			expanded++
		}
	}
	if len(files) == 0 || expanded == 0 || configs == 0 {
		t.Errorf("found %d templates, %d steps using them, %d configurations", len(files), expanded, configs)
	}
}
