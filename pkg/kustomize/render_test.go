package kustomize

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"testing"
)

// mapSource is a repository in memory that counts the files read.
type mapSource struct {
	files map[string]string
	reads map[string]int
	fail  map[string]error // ReadFile of these paths fails
}

func (m *mapSource) Stat(p string) (Entry, error) {
	if data, ok := m.files[p]; ok {
		return Entry{ID: BlobID([]byte(data))}, nil
	}
	for q := range m.files {
		if p == "" || strings.HasPrefix(q, p+"/") {
			return Entry{Dir: true}, nil
		}
	}
	return Entry{}, fs.ErrNotExist
}

func (m *mapSource) ReadFile(p string) ([]byte, error) {
	m.reads[p]++
	if err := m.fail[p]; err != nil {
		return nil, err
	}
	data, ok := m.files[p]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return []byte(data), nil
}

func (m *mapSource) ReadDir(string) ([]string, error) {
	return nil, errors.New("not listed in these tests")
}

// closure is an app whose kustomization reaches a base with ../, a
// component, a patch and a generator file, next to files it never names.
func closure() *mapSource {
	return &mapSource{reads: map[string]int{}, files: map[string]string{
		"apps/reviews/kustomization.yaml": `resources: [../../bases/reviews]
components: [../../components/team]
patches: [{path: replicas.yaml}]
configMapGenerator: [{name: settings, files: [settings.properties]}]
`,
		"apps/reviews/replicas.yaml":       "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: reviews}\nspec: {replicas: 3}\n",
		"apps/reviews/settings.properties": "colour=blue\n",
		"apps/reviews/notes.yaml":          "{{{ not yaml, and named by nothing",
		"bases/reviews/kustomization.yaml": "resources: [deployment.yaml]\n",
		"bases/reviews/deployment.yaml":    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: reviews}\nspec: {replicas: 1}\n",
		"bases/ratings/kustomization.yaml": "resources: [missing.yaml]\n",
		"components/team/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
commonLabels: {team: books}
`,
		"README.md": strings.Repeat("x", 1<<20),
	}}
}

func TestRenderReadsTheClosureOnly(t *testing.T) {
	src := closure()
	k := &Krusty{}
	r, err := k.Render(context.Background(), src, "apps/reviews")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"apps/reviews/kustomization.yaml", "apps/reviews/replicas.yaml", "apps/reviews/settings.properties",
		"bases/reviews/deployment.yaml", "bases/reviews/kustomization.yaml", "components/team/kustomization.yaml",
	}
	if !slices.Equal(r.Files, want) {
		t.Errorf("Files = %v\nwant %v", r.Files, want)
	}
	if got := slices.Sorted(maps.Keys(src.reads)); !slices.Equal(got, want) {
		t.Errorf("read %v\nwant only %v", got, want)
	}
	for _, s := range []string{"replicas: 3", "colour=blue", "team: books"} {
		if !strings.Contains(string(r.YAML), s) {
			t.Errorf("render lacks %q:\n%s", s, r.YAML)
		}
	}
}

// TestRenderCache: a render is reused while the files it read are the
// same, wherever they are; a change to one of them, even outside the app
// path, renders again; a change elsewhere does not.
func TestRenderCache(t *testing.T) {
	src := closure()
	k := &Krusty{}
	render := func() Rendered {
		t.Helper()
		r, err := k.Render(context.Background(), src, "apps/reviews")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := render()
	src.reads = map[string]int{}
	src.files["README.md"] = "changed"
	src.files["bases/ratings/deployment.yaml"] = "kind: Deployment"
	again := render()
	if !again.Cached || string(again.YAML) != string(first.YAML) || len(src.reads) != 0 {
		t.Errorf("unrelated change: cached %v, %d files read; want the cached render, nothing read", again.Cached, len(src.reads))
	}
	if !slices.Equal(again.Files, first.Files) {
		t.Errorf("cached Files = %v, want %v", again.Files, first.Files)
	}

	src.files["bases/reviews/deployment.yaml"] = strings.Replace(src.files["bases/reviews/deployment.yaml"], "name: reviews", "name: reviews, labels: {tier: backend}", 1)
	changed := render()
	if changed.Cached || !strings.Contains(string(changed.YAML), "tier: backend") {
		t.Errorf("base outside the app path changed: cached %v, render:\n%s", changed.Cached, changed.YAML)
	}

	// A file the render looked for and did not find appears: a new render
	// (two kustomization files in one directory are an error).
	src.files["apps/reviews/kustomization.yml"] = "resources: []\n"
	if _, err := k.Render(context.Background(), src, "apps/reviews"); err == nil {
		t.Error("a second kustomization file: want kustomize's error, not the cached render")
	}
}

// TestRenderSourceError: a read the Source refuses fails the render with
// the Source's error, even where kustomize would take the failure for
// inline content (a patch path that does not read).
func TestRenderSourceError(t *testing.T) {
	src := closure()
	tooBig := errors.New("apps/reviews/replicas.yaml is 11534336 bytes, over gitcanary's limit of 10 MiB per file")
	src.fail = map[string]error{"apps/reviews/replicas.yaml": tooBig}
	_, err := (&Krusty{}).Render(context.Background(), src, "apps/reviews")
	if !errors.Is(err, tooBig) {
		t.Errorf("Render: %v, want %v", err, tooBig)
	}
}

func TestBlobID(t *testing.T) {
	// git hash-object of "hello\n"
	if got := BlobID([]byte("hello\n")); got != "ce013625030ba8dba906f756967f9e9ca394464a" {
		t.Errorf("BlobID = %s", got)
	}
}
