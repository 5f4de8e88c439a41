package machine

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/fixtures"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

var update = flag.Bool("update", false, "rewrite golden files")

func fixtureApp(t testing.TB) *App {
	t.Helper()
	files, err := kustomize.FromFS(fixtures.Apps, "apps")
	if err != nil {
		t.Fatal(err)
	}
	app, err := NewApp("fixture", "apps/reviews", files)
	if err != nil {
		t.Fatal(err)
	}
	return app
}

func testRelease(t testing.TB, edits ...func(*release.Release)) *release.Release {
	t.Helper()
	doc, err := templates.Release(templates.ReleaseParams{
		RepoURL: "git://127.0.0.1/apps.git",
		Steps:   "[{setWeight: 10}, {pause: {duration: 1m}}, {setWeight: 50}, {pause: {}}, {setWeight: 100}]",
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := release.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		e(r)
	}
	if err := release.Validate(r, release.ValidateOptions{}); err != nil {
		t.Fatal(err)
	}
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; diff with go test -update and git diff.\ngot:\n%s", p, got)
	}
}

// TestPlanGoldens renders every state of a release of the fixture app and
// checks each against its golden file and against the invariants.
func TestPlanGoldens(t *testing.T) {
	ctx := context.Background()
	app := fixtureApp(t)
	before, err := app.Build(ctx, &kustomize.Krusty{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := New(Deps{}, "reviews-v2", "apps/reviews")
	states, err := m.Plan(ctx, app, testRelease(t))
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, s := range states {
		steps = append(steps, s.Step)
		golden(t, filepath.Join("plan", s.Step+".yaml"), s.Manifests)
		objs, err := overlay.ParseObjects(s.Manifests)
		if err != nil {
			t.Fatal(err)
		}
		checkWeightsSumTo100(t, s.Step, objs)
	}
	if got := strings.Join(steps, ","); got != "0,1,2,3,4,5,promoted,abandoned" {
		t.Fatalf("states = %s", got)
	}
	if ab := states[len(states)-1].Manifests; !bytes.Equal(ab, before) {
		t.Errorf("abandoned render is not byte-identical to the app before the release:\n%s\n---- before:\n%s", ab, before)
	}
	promoted, _ := overlay.ParseObjects(states[len(states)-2].Manifests)
	if len(overlay.Find(promoted, "Deployment", "reviews-v1")) != 0 {
		t.Error("promoted state still has Deployment reviews-v1")
	}
	if len(overlay.Find(promoted, "Deployment", "reviews-v2")) != 1 {
		t.Error("promoted state lacks Deployment reviews-v2")
	}
}

func checkWeightsSumTo100(t *testing.T, step string, objs []overlay.Object) {
	t.Helper()
	for _, vs := range overlay.Find(objs, "VirtualService", "") {
		http, _ := overlay.Lookup(vs, ".spec.http").([]any)
		for i, r := range http {
			dests, _ := r.(map[string]any)["route"].([]any)
			if len(dests) < 2 {
				continue
			}
			var sum float64
			for _, d := range dests {
				w, _ := d.(map[string]any)["weight"].(float64)
				sum += w
			}
			if sum != 100 {
				t.Errorf("state %s: VirtualService %s http[%d] weights sum to %v", step, vs.Name(), i, sum)
			}
		}
	}
}
