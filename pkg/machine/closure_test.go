package machine

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/fixtures"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/git/gittest"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// closureRepo is the fixture app split the way platform teams lay out a
// monorepo: the app path names a base with ../, a component and a
// generator file; around it are files no render of it reads, one of them
// over the size cap, one not YAML at all, one not UTF-8.
func closureRepo(t *testing.T) (*gittest.Server, string) {
	t.Helper()
	files, err := kustomize.FromFS(fixtures.Apps, "apps/reviews")
	if err != nil {
		t.Fatal(err)
	}
	repo := map[string][]byte{
		"apps/reviews/kustomization.yaml": []byte(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../bases/reviews
  - destinationrule.yaml
  - virtualservice.yaml
components:
  - ../../components/team
configMapGenerator:
  - name: reviews-settings
    files: [settings.properties]
`),
		"apps/reviews/settings.properties":   []byte("colour=blue\n"),
		"apps/reviews/README.yaml":           []byte("{{{ named by no kustomization\n"),
		"bases/reviews/kustomization.yaml":   []byte("resources: [deployment.yaml, service.yaml, gateway.yaml]\n"),
		"components/team/kustomization.yaml": []byte("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonAnnotations: {team: books}\n"),
		"apps/other/huge.yaml":               bytes.Repeat([]byte("a: b\n"), git.MaxFileSize/5+1),
		"apps/other/broken.yaml":             []byte("\xff\xfe not UTF-8 {{{"),
	}
	for p, data := range files {
		name := strings.TrimPrefix(p, "apps/reviews/")
		switch name {
		case "deployment.yaml", "service.yaml", "gateway.yaml":
			repo["bases/reviews/"+name] = data
		case "destinationrule.yaml", "virtualservice.yaml":
			repo[p] = data
		}
	}
	srv := gittest.NewServer(t)
	return srv, srv.CreateRepo(t, "apps.git", repo)
}

func loadHead(t *testing.T, url, cache string) *App {
	t.Helper()
	repo, err := git.Open(context.Background(), git.Options{URL: url, Branch: "main", CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	head, err := repo.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	app, err := LoadApp(head, "apps/reviews")
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// TestClosureOnly: LoadApp holds the root kustomization and nothing of
// the rest; a render reads exactly the kustomization's closure, and a
// release plans through every state of it (the files outside the closure,
// huge or malformed, never matter).
func TestClosureOnly(t *testing.T) {
	_, url := closureRepo(t)
	app := loadHead(t, url, t.TempDir())
	if got := slices.Sorted(maps.Keys(app.Files)); !slices.Equal(got, []string{"apps/reviews/kustomization.yaml"}) {
		t.Errorf("LoadApp holds %v, want only the root kustomization", got)
	}
	b := &kustomize.Krusty{}
	r, err := b.Render(context.Background(), app.source(nil), app.Path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"apps/reviews/destinationrule.yaml", "apps/reviews/kustomization.yaml", "apps/reviews/settings.properties", "apps/reviews/virtualservice.yaml",
		"bases/reviews/deployment.yaml", "bases/reviews/gateway.yaml", "bases/reviews/kustomization.yaml", "bases/reviews/service.yaml",
		"components/team/kustomization.yaml",
	}
	if !slices.Equal(r.Files, want) {
		t.Errorf("render read %v\nwant %v", r.Files, want)
	}
	for _, s := range []string{"colour=blue", "team: books", "name: reviews-v1"} {
		if !strings.Contains(string(r.YAML), s) {
			t.Errorf("render lacks %q", s)
		}
	}
	m := New(Deps{Builder: b}, "reviews-v2", "apps/reviews")
	states, err := m.Plan(context.Background(), app, testRelease(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(states) < 3 {
		t.Fatalf("planned %d states", len(states))
	}
}

// TestRenderCacheFollowsTheClosure: after a commit to a base outside the
// app path the app renders anew; after a commit to another app it is the
// cached render. Keying on the app path's tree would get the first wrong.
func TestRenderCacheFollowsTheClosure(t *testing.T) {
	srv, url := closureRepo(t)
	cache := t.TempDir()
	b := &kustomize.Krusty{}
	render := func() kustomize.Rendered {
		t.Helper()
		app := loadHead(t, url, cache)
		r, err := b.Render(context.Background(), app.source(nil), app.Path)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := render()
	if first.Cached {
		t.Fatal("first render cached")
	}
	srv.Push(t, "apps.git", map[string][]byte{"apps/other/cm.yaml": []byte("kind: ConfigMap\n")}, "another app")
	if r := render(); !r.Cached || string(r.YAML) != string(first.YAML) {
		t.Errorf("after another app's commit: cached %v; want the cached render", r.Cached)
	}
	dep := srv.ReadFile(t, "apps.git", "bases/reviews/deployment.yaml")
	srv.Push(t, "apps.git", map[string][]byte{"bases/reviews/deployment.yaml": bytes.Replace(dep, []byte("replicas: 2"), []byte("replicas: 4"), 1)}, "the base")
	r := render()
	if r.Cached || !strings.Contains(string(r.YAML), "replicas: 4") {
		t.Errorf("after the base's commit: cached %v, replicas 4 rendered %v", r.Cached, strings.Contains(string(r.YAML), "replicas: 4"))
	}
}

// TestClosureSizeCapAndLinks: a file over the cap, or a symbolic link, on
// the render's path is invalid input naming it.
func TestClosureSizeCapAndLinks(t *testing.T) {
	srv, url := closureRepo(t)
	srv.Push(t, "apps.git", map[string][]byte{"apps/reviews/settings.properties": bytes.Repeat([]byte("k=v\n"), git.MaxFileSize/4+1)}, "big settings")
	app := loadHead(t, url, t.TempDir())
	_, err := app.Build(context.Background(), &kustomize.Krusty{}, nil)
	want := "apps/reviews/settings.properties is 10485764 bytes (10.0 MiB), over gitcanary's limit of 10 MiB per file it reads: keep large data out of the kustomization's resources, patches and generators"
	if err == nil || err.Error() != want || !errors.Is(err, release.ErrInvalid) {
		t.Errorf("Build: %v\nwant %s (invalid input)", err, want)
	}

	// A link to the base, as a person might make it with ln -s.
	link := &appSource{files: map[string][]byte{}, snap: linkSnap{Snapshot: app.snap, link: "apps/reviews/settings.properties"}}
	_, err = (&kustomize.Krusty{}).Render(context.Background(), link, "apps/reviews")
	if err == nil || !strings.HasPrefix(err.Error(), "apps/reviews/settings.properties is a symbolic link;") || !errors.Is(err, release.ErrInvalid) {
		t.Errorf("Render through a link: %v", err)
	}
}

// linkSnap shows one path of a snapshot as a symbolic link (git's own
// reading of links is tested in pkg/git).
type linkSnap struct {
	git.Snapshot
	link string
}

func (s linkSnap) Stat(p string) (git.FileInfo, error) {
	fi, err := s.Snapshot.Stat(p)
	if p == s.link {
		fi.Symlink = true
	}
	return fi, err
}
