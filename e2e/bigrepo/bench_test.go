//go:build linux

package bigrepo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/git/gittest"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// BenchmarkRepo is `make bench-repo`: on the generated monorepo (10,000
// files in 500 app paths, 10,000 commits) served by git daemon on
// 127.0.0.1, the CPU time and peak RSS of `git clone`, of `gitcanary plan`
// and of one `gitcanary set-weight` (the built binary, GITCANARY_BIN, as
// child processes: their rusage is theirs alone), each with an empty cache
// (the first use: a clone) and a warm one; then the cache's size on disk
// after GITCANARY_BENCH_STEPS (default 1,000) weight steps, with and
// without compaction. GITCANARY_BENCH_BASELINE names another binary to
// measure next to it (an older build).
func BenchmarkRepo(b *testing.B) {
	bin := os.Getenv("GITCANARY_BIN")
	if bin == "" {
		b.Skip("set GITCANARY_BIN to the gitcanary binary (make bench-repo does)")
	}
	steps := 1000
	if v, err := strconv.Atoi(os.Getenv("GITCANARY_BENCH_STEPS")); err == nil {
		steps = v
	}
	for b.Loop() {
		benchRepo(b, bin, steps)
	}
}

func benchRepo(b *testing.B, bin string, steps int) {
	ctx := context.Background()
	began := time.Now()
	src, generated, err := Ensure(genDir(b))
	if err != nil {
		b.Fatal(err)
	}
	if generated {
		fmt.Printf("generated %s in %s\n", src, time.Since(began).Round(time.Millisecond))
	}
	srv := gittest.NewServer(b)
	// The server's copy borrows the generated objects: pushes land in it
	// only, and the generated repository stays as generated.
	run(b, "git", "clone", "--quiet", "--bare", "--shared", src, srv.Dir("mono.git"))
	url := srv.URL("mono.git")
	work := b.TempDir()

	fmt.Printf("\nrepository: %d files in %d app paths, %d commits; %s\n\n", Apps*FilesPerApp, Apps, Commits, diskSize(b, src))
	fmt.Printf("%-44s %10s %10s %10s\n", "", "wall", "CPU", "peak RSS")
	row := func(what string, u usage) {
		fmt.Printf("%-44s %10s %10s %7d MiB\n", what, u.wall.Round(time.Millisecond), u.cpu.Round(time.Millisecond), u.maxRSS>>20)
	}
	row("git clone (with checkout)", measure(b, "git", "clone", "--quiet", url, filepath.Join(work, "clone")))
	row("git clone --bare", measure(b, "git", "clone", "--quiet", "--bare", url, filepath.Join(work, "bare")))

	rel := filepath.Join(work, "release.yaml")
	if err := os.WriteFile(rel, releaseDoc(url), 0o644); err != nil {
		b.Fatal(err)
	}
	bins := []string{bin}
	if base := os.Getenv("GITCANARY_BENCH_BASELINE"); base != "" {
		bins = append(bins, base)
	}
	label := func(n int) string { return []string{"gitcanary", "baseline"}[n] }
	cache := func(n int) string { return filepath.Join(work, fmt.Sprintf("cache-%d", n)) }
	// plan first: it plans a release that has not started.
	for n, bin := range bins {
		row(label(n)+" plan --step 1, empty cache", measure(b, bin, "plan", "-f", rel, "--step", "1", "--cache-dir", cache(n)))
		row(label(n)+" plan --step 1, warm cache", measure(b, bin, "plan", "-f", rel, "--step", "1", "--cache-dir", cache(n)))
	}
	routed(b, ctx, url, filepath.Join(work, "setup-cache"))
	for n, bin := range bins {
		weight := func(dir string, w int) usage {
			return measure(b, bin, "set-weight", "app-000-v2", strconv.Itoa(w), "--repo", url, "--path", AppPath(0),
				"--wait-for=none", "--cache-dir", dir)
		}
		row(label(n)+" set-weight, empty cache", weight(filepath.Join(work, fmt.Sprintf("cold-%d", n)), 20+n))
		row(label(n)+" set-weight, warm cache", weight(cache(n), 30+n))
		row(label(n)+" set-weight, warm cache, again", weight(cache(n), 40+n))
	}

	fmt.Printf("\nthe cache after %d weight steps (one process, in-process steps):\n", steps)
	fmt.Printf("%-44s %10s %10s %8s %6s\n", "", "wall", "size", "loose", "packs")
	for _, c := range []struct {
		what         string
		loose, packs int
	}{{"compacted (defaults)", 0, 0}, {"never compacted", -1, -1}} {
		dir := filepath.Join(work, "steps-"+strconv.Itoa(c.loose))
		t0 := time.Now()
		st := manySteps(b, ctx, url, dir, steps, c.loose, c.packs)
		fmt.Printf("%-44s %10s %7.1f MiB %8d %6d\n", c.what, time.Since(t0).Round(time.Second), float64(st.Bytes)/(1<<20), st.Loose, st.Packs)
	}
	fmt.Println()
}

// genDir is where the generated repository is kept between runs.
func genDir(b *testing.B) string {
	if d := os.Getenv("GITCANARY_CACHE"); d != "" {
		return filepath.Join(d, "bench-repo")
	}
	d, err := os.UserCacheDir()
	if err != nil {
		b.Fatal(err)
	}
	return filepath.Join(d, "gitcanary", "bench-repo")
}

func releaseDoc(url string) []byte {
	return fmt.Appendf(nil, `apiVersion: gitcanary.io/v1alpha1
kind: Release
metadata: {name: app-000-v2}
spec:
  repo: {url: %q, branch: main, path: %s}
  argocd: {application: app-000}
  workload: {kind: Deployment, name: reviews-v1, namespace: bookinfo}
  version: v2
  images: [{name: example/reviews, newTag: "2.0"}]
  traffic: {host: reviews, gateways: [bookinfo-gateway, mesh]}
  steps: [{setWeight: 10}, {pause: {}}, {setWeight: 50}]
`, url, AppPath(0))
}

// routed commits app-000's release as routed at weight 0, the state
// `gitcanary plan` shows for step 0, with the trailers a release's own
// commit has: set-weight is allowed from there. (Driving the release there
// would need Argo CD; the commit is what matters to the steps measured.)
func routed(b *testing.B, ctx context.Context, url, cache string) {
	r, err := release.Parse(releaseDoc(url))
	if err != nil {
		b.Fatal(err)
	}
	repo, err := git.Open(ctx, git.Options{URL: url, Branch: "main", CacheDir: cache})
	if err != nil {
		b.Fatal(err)
	}
	head, err := repo.Head(ctx)
	if err != nil {
		b.Fatal(err)
	}
	app, err := machine.LoadApp(head, AppPath(0))
	if err != nil {
		b.Fatal(err)
	}
	m := machine.New(machine.Deps{Repo: repo}, r.Metadata.Name, AppPath(0))
	states, err := m.Plan(ctx, app, r)
	if err != nil {
		b.Fatal(err)
	}
	at0 := states[0].App
	rec, err := at0.Record(r.Metadata.Name)
	if err != nil || rec == nil || rec.Status.Phase != release.Routing {
		b.Fatalf("planned step 0: %+v, %v", rec, err)
	}
	ch := git.Change{Write: map[string][]byte{}}
	for p, data := range at0.Files {
		if string(app.Files[p]) != string(data) {
			ch.Write[p] = data
		}
	}
	msg := git.Message{Subject: "bench: app-000-v2 routed at weight 0", Trailers: []git.Trailer{
		{Key: git.TrailerRelease, Value: r.Metadata.Name}, {Key: git.TrailerPath, Value: AppPath(0)},
		{Key: git.TrailerAction, Value: "route"}, {Key: git.TrailerSeq, Value: strconv.Itoa(rec.Status.Seq)},
	}}
	if _, err := repo.Apply(ctx, func(git.Snapshot) (git.Change, git.Message, error) { return ch, msg, nil }); err != nil {
		b.Fatal(err)
	}
}

// manySteps makes n weight steps of app-000's release from a fresh cache
// and measures the cache.
func manySteps(b *testing.B, ctx context.Context, url, cache string, n, loose, packs int) git.CacheStats {
	repo, err := git.Open(ctx, git.Options{URL: url, Branch: "main", CacheDir: cache, CompactLoose: loose, CompactPacks: packs})
	if err != nil {
		b.Fatal(err)
	}
	m := machine.New(machine.Deps{Repo: repo, Builder: &kustomize.Krusty{}}, "app-000-v2", AppPath(0))
	for i := range n {
		if _, err := m.SetWeight(ctx, int32(i%99+1)); err != nil {
			b.Fatalf("step %d: %v", i, err)
		}
	}
	st, err := git.Stats(git.CacheDir(git.Options{URL: url, CacheDir: cache}))
	if err != nil {
		b.Fatal(err)
	}
	return st
}

type usage struct {
	wall, cpu time.Duration
	maxRSS    int64 // bytes
}

// measure runs a command to the end and returns its rusage (and that of
// the children it waited for, such as git's index-pack). The command is
// started by a small copy of this binary (rusageMain): Linux counts in a
// process's peak RSS the memory of the process that started it, and this
// one holds the repository's render by then; the copy holds about 10 MiB.
func measure(b *testing.B, name string, args ...string) usage {
	cmd := exec.Command(os.Args[0], append([]string{name}, args...)...)
	cmd.Env = append(os.Environ(), rusageEnv+"=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1")
	var out, errs strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errs
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errs.String())
	}
	wall := time.Since(t0)
	var cpu time.Duration
	var rss int64
	if _, err := fmt.Sscan(out.String(), &cpu, &rss); err != nil {
		b.Fatalf("%s: rusage %q: %v", name, out.String(), err)
	}
	return usage{wall: wall, cpu: cpu, maxRSS: rss}
}

const rusageEnv = "GITCANARY_BENCH_RUSAGE"

func TestMain(m *testing.M) {
	if os.Getenv(rusageEnv) == "1" {
		os.Exit(rusageMain(os.Args[1], os.Args[2:]))
	}
	os.Exit(m.Run())
}

// rusageMain runs a command, its output to stderr, and prints its CPU time
// and peak RSS (bytes) on stdout.
func rusageMain(name string, args []string) int {
	cmd := exec.Command(name, args...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, rusageEnv+"=") })
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	fmt.Println(int64(ru.Utime.Nano()+ru.Stime.Nano()), ru.Maxrss<<10)
	return 0
}

func run(b *testing.B, name string, args ...string) {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func diskSize(b *testing.B, dir string) string {
	var n int64
	err := filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return fmt.Sprintf("%.1f MiB on disk", float64(n)/(1<<20))
}
