package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/fixtures"
	"github.com/gitcanary/gitcanary/pkg/git/gittest"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/templates"
)

type cliWorld struct {
	t      *testing.T
	server *gittest.Server
	url    string
	cache  string
	file   string
}

func newCLIWorld(t *testing.T) *cliWorld {
	w := &cliWorld{t: t, server: gittest.NewServer(t), cache: t.TempDir()}
	w.url = w.server.CreateRepoFS(t, "apps.git", fixtures.Apps, "")
	w.file = w.writeRelease("reviews-v2.yaml", templates.ReleaseParams{})
	return w
}

func (w *cliWorld) writeRelease(name string, p templates.ReleaseParams) string {
	p.RepoURL = w.url
	if p.Steps == "" {
		p.Steps = "[{setWeight: 10}, {pause: {}}, {setWeight: 60}]"
	}
	doc, err := templates.Release(p)
	if err != nil {
		w.t.Fatal(err)
	}
	f := filepath.Join(w.t.TempDir(), name)
	if err := os.WriteFile(f, doc, 0o644); err != nil {
		w.t.Fatal(err)
	}
	return f
}

func (w *cliWorld) run(args ...string) (int, string, string) {
	w.t.Helper()
	var out, errb bytes.Buffer
	t := append([]string{"--cache-dir", w.cache}, args...)
	code := Main(context.Background(), t, &out, &errb)
	return code, out.String(), errb.String()
}

func TestLintAndExitCodes(t *testing.T) {
	w := newCLIWorld(t)
	if code, out, errs := w.run("lint", "-f", w.file); code != ExitOK || !strings.Contains(out, "renders in all 6 states") {
		t.Fatalf("lint: code %d\n%s%s", code, out, errs)
	}
	bad := w.writeRelease("bad.yaml", templates.ReleaseParams{ProgressDeadline: "soon"})
	if code, _, errs := w.run("lint", "-f", bad); code != ExitInvalid || !strings.Contains(errs, `invalid duration "soon"`) {
		t.Errorf("bad duration: code %d, %s", code, errs)
	}
	noVS := w.writeRelease("novs.yaml", templates.ReleaseParams{})
	os.WriteFile(noVS, bytes.Replace(mustRead(t, noVS), []byte("host: reviews,"), []byte("host: ratings,"), 1), 0o644)
	if code, _, errs := w.run("lint", "-f", noVS); code != ExitInvalid || !strings.Contains(errs, "no DestinationRule for host ratings in apps/reviews") {
		t.Errorf("missing routing: code %d, %s", code, errs)
	}
	if code, _, errs := w.run("plan", "-f", w.file, "--step", "9"); code != ExitInvalid || !strings.Contains(errs, "this release has states 0, 1, 2, 3, promoted, abandoned") {
		t.Errorf("bad step: code %d, %s", code, errs)
	}
	if code, _, errs := w.run("status", "reviews-v2"); code != ExitInvalid || !strings.Contains(errs, "--repo URL --path") {
		t.Errorf("status without repo: code %d, %s", code, errs)
	}
	// Nothing was committed by any of this.
	if n := len(w.server.Commits(t, "apps.git")); n != 1 {
		t.Errorf("%d commits after lint/plan; want the initial one only", n)
	}
}

func mustRead(t *testing.T, p string) []byte {
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestPlanOutputBuilds checks plan's YAML by building it with kustomize as
// the resources of a kustomization: it must be valid manifests with the
// weights of the state asked for.
func TestPlanOutputBuilds(t *testing.T) {
	w := newCLIWorld(t)
	code, out, errs := w.run("plan", "-f", w.file, "--step", "1", "-o", "yaml")
	if code != ExitOK {
		t.Fatalf("plan: %d %s", code, errs)
	}
	fsys, err := kustomize.InMemory(map[string][]byte{
		"plan/kustomization.yaml": []byte("resources: [manifests.yaml]\n"),
		"plan/manifests.yaml":     []byte(out),
	})
	if err != nil {
		t.Fatal(err)
	}
	built, err := (&kustomize.Krusty{}).Build(context.Background(), fsys, kustomize.Root+"/plan")
	if err != nil {
		t.Fatalf("plan output does not build: %v\n%s", err, out)
	}
	objs, err := overlay.ParseObjects(built)
	if err != nil {
		t.Fatal(err)
	}
	if len(overlay.Find(objs, "Deployment", "reviews-v2")) != 1 || len(overlay.Find(objs, "Deployment", "reviews-v1")) != 1 {
		t.Errorf("state 1 should run both versions:\n%s", built)
	}
	vs := overlay.Find(objs, "VirtualService", "reviews")[0]
	route := overlay.Lookup(vs, ".spec.http").([]any)[0].(map[string]any)["route"].([]any)
	if w := route[1].(map[string]any)["weight"]; w != float64(10) {
		t.Errorf("state 1 weight of v2 = %v, want 10", w)
	}
	// Every state in order, and the abandoned diff is empty.
	_, all, _ := w.run("plan", "-f", w.file)
	for _, s := range []string{"# state 0:", "# state 1: setWeight 10", "# state 2: pause until approved", "# state promoted:", "# state abandoned:"} {
		if !strings.Contains(all, s) {
			t.Errorf("plan output lacks %q", s)
		}
	}
	_, diff, _ := w.run("plan", "-f", w.file, "-o", "diff", "--step", "abandoned")
	if strings.TrimSpace(diff) != "# state abandoned: release abandoned; the app renders as before" {
		t.Errorf("abandoned differs from before:\n%s", diff)
	}
}

// TestCommandsWithoutCluster: a CI job with git access only can start,
// set weights, abort and read status and history.
func TestCommandsWithoutCluster(t *testing.T) {
	w := newCLIWorld(t)
	if code, out, errs := w.run("start", "-f", w.file, "--wait-for=none"); code != ExitOK || !strings.Contains(out, "reviews-v2: started") {
		t.Fatalf("start: %d %s %s", code, out, errs)
	}
	if code, out, errs := w.run("start", "-f", w.file, "--wait-for=none"); code != ExitOK || !strings.Contains(out, "reviews-v2: resuming (Preparing") {
		t.Errorf("second start with the same file should resume: %d %s %s", code, out, errs)
	}
	other := w.writeRelease("other.yaml", templates.ReleaseParams{ProgressDeadline: "3m"})
	if code, _, errs := w.run("start", "-f", other, "--wait-for=none"); code != ExitInvalid || !strings.Contains(errs, "its recorded spec differs") {
		t.Errorf("start with a different spec under the same name: %d %s", code, errs)
	}
	if code, _, errs := w.run("approve", "-f", w.file, "--wait-for=none"); code != ExitInvalid || !strings.Contains(errs, "approve is not possible while the release is Preparing") {
		t.Errorf("approve while preparing: %d %s", code, errs)
	}
	if code, _, errs := w.run("abort", "reviews-v2", "--repo", w.url, "--path", "apps/reviews", "--reason", "ci said no", "--wait-for=none"); code != ExitOK {
		t.Fatalf("abort: %d %s", code, errs)
	}
	code, out, errs := w.run("status", "reviews-v2", "--repo", w.url, "--path", "apps/reviews")
	if code != ExitOK || !strings.Contains(out, "Abandoning") || !strings.Contains(out, "ci said no") {
		t.Errorf("status: %d\n%s%s", code, out, errs)
	}
	code, out, _ = w.run("history", "-f", w.file)
	if code != ExitOK || !strings.Contains(out, "start") || !strings.Contains(out, "abort") {
		t.Errorf("history: %d\n%s", code, out)
	}
	if code, _, errs := w.run("start", "-f", w.file, "--wait-for=done"); code != ExitInvalid {
		t.Errorf("driving without Argo CD: %d %s", code, errs)
	}
}

func TestWaitForValues(t *testing.T) {
	for _, v := range []string{"none", "approval", "done", "paused", "Paused", "progressing", "Abandoned"} {
		if _, err := (&waiting{waitFor: v}).until(); err != nil {
			t.Errorf("--wait-for=%s: %v", v, err)
		}
	}
	if _, err := (&waiting{waitFor: "finished"}).until(); err == nil || codeOf(err) != ExitInvalid {
		t.Errorf("--wait-for=finished: %v", err)
	}
}
