// Package docs holds the user documentation; its test runs the examples.
package docs

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/fixtures"
	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/config"
	"github.com/gitcanary/gitcanary/pkg/git/gittest"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
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
				err = release.Validate(r, release.ValidateOptions{KnownKind: exampleKinds(t).Known})
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

const exampleConfig = "../examples/config/custom-workloads.yaml"

func exampleKinds(t *testing.T) *kube.Kinds {
	t.Helper()
	f, err := config.Load(exampleConfig, true)
	if err != nil {
		t.Fatal(err)
	}
	kinds, err := f.Kinds()
	if err != nil {
		t.Fatal(err)
	}
	return kinds
}

var fileBlock = regexp.MustCompile("(?s)```yaml\n# file: (\\S+)\n(.*?)```")

// TestFileBlocksMatch: a YAML block that starts with "# file: PATH" shows
// that file of the repository as it is.
func TestFileBlocksMatch(t *testing.T) {
	pages, _ := filepath.Glob("*.md")
	n := 0
	for _, page := range pages {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range fileBlock.FindAllStringSubmatch(string(data), -1) {
			n++
			want, err := os.ReadFile(filepath.Join("..", m[1]))
			if err != nil {
				t.Errorf("%s: block of %s: %v", page, m[1], err)
				continue
			}
			if m[2] != string(want) {
				t.Errorf("%s: the block of %s differs from the file; copy the file into the page", page, m[1])
			}
		}
	}
	if n < 3 {
		t.Fatalf("found %d file blocks; expected the config, DeploymentConfig and WorkloadGroup examples", n)
	}
}

// releaseExample returns the first Release example of a page.
func releaseExample(t *testing.T, page string) string {
	t.Helper()
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range yamlBlock.FindAllStringSubmatch(string(data), -1) {
		if strings.Contains(m[1], "kind: Release") {
			return m[1]
		}
	}
	t.Fatalf("%s has no Release example", page)
	return ""
}

// runExample serves the fixture app, with its Deployment replaced by an
// example workload, from a git server on loopback, writes the page's
// Release example pointing at it and runs the CLI with args (RELEASE
// stands for the file).
func runExample(t *testing.T, page, workload string, args ...string) (int, string, string) {
	t.Helper()
	files := map[string][]byte{}
	err := fs.WalkDir(fixtures.Apps, "apps", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files[p], err = fs.ReadFile(fixtures.Apps, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if files["apps/reviews/deployment.yaml"], err = os.ReadFile(filepath.Join("..", workload)); err != nil {
		t.Fatal(err)
	}
	server := gittest.NewServer(t)
	url := server.CreateRepo(t, "apps.git", files)
	doc := strings.Replace(releaseExample(t, page), "git://127.0.0.1:9418/apps.git", url, 1)
	file := filepath.Join(t.TempDir(), "reviews-v2.yaml")
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	full := []string{"--cache-dir", t.TempDir()}
	for _, a := range args {
		full = append(full, strings.ReplaceAll(a, "RELEASE", file))
	}
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), full, &out, &errb)
	return code, strings.ReplaceAll(out.String(), file, "reviews-v2.yaml"), errb.String()
}

// TestCustomWorkloadsExample runs custom-workloads.md's lint example.
func TestCustomWorkloadsExample(t *testing.T) {
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	t.Setenv("LANG", "zh_CN.UTF-8")
	code, out, errs := runExample(t, "custom-workloads.md", "examples/workloads/deploymentconfig.yaml", "--config", exampleConfig, "lint", "-f", "RELEASE")
	page, _ := os.ReadFile("custom-workloads.md")
	if code != 0 || !strings.Contains(string(page), "\n"+out) {
		t.Errorf("lint: exit %d, output:\n%s%s\nwhich custom-workloads.md should show", code, out, errs)
	}
}

// TestVMWorkloadsExample plans vm-workloads.md's release of its example app.
func TestVMWorkloadsExample(t *testing.T) {
	code, out, errs := runExample(t, "vm-workloads.md", "examples/workloads/workloadgroup.yaml", "plan", "-f", "RELEASE", "--step", "0")
	for _, want := range []string{"  name: reviews-v2\nspec:\n  metadata:\n    labels:\n      app: reviews\n      version: v2", "name: reviews-v2-1", "name: reviews-v2-2", "address: 10.0.1.22"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q", want)
		}
	}
	if code != 0 {
		t.Errorf("plan: exit %d: %s", code, errs)
	}
}

var afterPromote = regexp.MustCompile("(?s)```yaml\n# after promote: (\\S+)\n(.*?)```")

// TestHandBackExample: git-layout.md's "after promote" blocks are the
// fixture's files after a planned promote of reviews-v2.
func TestHandBackExample(t *testing.T) {
	data, err := os.ReadFile("git-layout.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := afterPromote.FindAllStringSubmatch(string(data), -1)
	if len(blocks) == 0 {
		t.Fatal("git-layout.md has no after-promote block")
	}
	files, err := kustomize.FromFS(fixtures.Apps, "apps")
	if err != nil {
		t.Fatal(err)
	}
	app, err := machine.NewApp("fixture", "apps/reviews", files)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := templates.Release(templates.ReleaseParams{RepoURL: "git://127.0.0.1/apps.git"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := release.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	states, err := machine.New(machine.Deps{}, r.Metadata.Name, r.Spec.Repo.Path).Plan(context.Background(), app, r)
	if err != nil {
		t.Fatal(err)
	}
	promoted := states[len(states)-2].App
	for _, b := range blocks {
		if got := string(promoted.Files[b[1]]); got != b[2] {
			t.Errorf("git-layout.md: %s after promote is\n%s\nnot as the page shows it", b[1], got)
		}
	}
}
