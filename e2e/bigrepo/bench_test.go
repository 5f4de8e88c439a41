//go:build linux

package bigrepo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/gitcanary/gitcanary/pkg/argocd/argocdtest"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/git/gittest"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/kube/kubetest"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/overlay"
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
	routed(b, ctx, url, filepath.Join(work, "setup-cache"))

	bins := []string{bin}
	if base := os.Getenv("GITCANARY_BENCH_BASELINE"); base != "" {
		bins = append(bins, base)
	}
	for n, bin := range bins {
		label := "gitcanary"
		if n > 0 {
			label = "baseline"
		}
		cache := filepath.Join(work, fmt.Sprintf("cache-%d", n))
		row(label+" plan --step 1, empty cache", measure(b, bin, "plan", "-f", rel, "--step", "1", "--cache-dir", cache))
		row(label+" plan --step 1, warm cache", measure(b, bin, "plan", "-f", rel, "--step", "1", "--cache-dir", cache))
		cold := filepath.Join(work, fmt.Sprintf("cold-%d", n))
		weight := func(dir string, w int) usage {
			return measure(b, bin, "set-weight", "app-000-v2", strconv.Itoa(w), "--repo", url, "--path", AppPath(0),
				"--wait-for=none", "--cache-dir", dir)
		}
		row(label+" set-weight, empty cache", weight(cold, 20+n))
		row(label+" set-weight, warm cache", weight(cache, 30+n))
		row(label+" set-weight, warm cache, again", weight(cache, 40+n))
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

// routed starts app-000's release and drives it, with Argo CD and the
// cluster faked, until it routes: set-weight is allowed from there.
func routed(b *testing.B, ctx context.Context, url, cache string) {
	r, err := release.Parse(releaseDoc(url))
	if err != nil {
		b.Fatal(err)
	}
	repo, err := git.Open(ctx, git.Options{URL: url, Branch: "main", CacheDir: cache})
	if err != nil {
		b.Fatal(err)
	}
	argo, cluster := argocdtest.New(), kubetest.New()
	argo.AddApp("app-000")
	ready := kube.WorkloadStatus{Found: true, Generation: 1, ObservedGeneration: 1, Replicas: 2, ReadyReplicas: 2}
	ref := func(name string) kube.Ref {
		return kube.Ref{Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments", Namespace: "bookinfo", Name: name}
	}
	cluster.SetWorkload(ref("reviews-v1"), ready)
	// A sync makes the cluster show the synced revision's state, read with
	// git as a repo-server reads it.
	argo.OnSync = func(_, revision string, _ bool) error {
		snap, err := repo.At(ctx, revision)
		if err != nil {
			return err
		}
		data, err := snap.ReadFile(AppPath(0) + "/" + overlay.Dir + "/" + overlay.StateFile)
		if err != nil {
			return err
		}
		var st overlay.State
		if err := yaml.Unmarshal(data, &st); err != nil {
			return err
		}
		var route []kube.Route
		for _, v := range st.Versions {
			cluster.SetWorkload(ref(v.Workload), ready)
		}
		for _, wt := range st.Weights() {
			route = append(route, kube.Route{Host: st.Routing.Host, Subset: wt.Version, Weight: wt.Weight})
		}
		cluster.SetRoutes("bookinfo", st.Routing.VirtualService, [][]kube.Route{route})
		return nil
	}
	m := machine.New(machine.Deps{Repo: repo, Argo: argo, Cluster: cluster, Builder: &kustomize.Krusty{}}, "app-000-v2", AppPath(0))
	if _, err := m.Start(ctx, r); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, err := m.Run(ctx, func(o machine.Outcome) bool { return o.Release.Status.Phase == release.Routing }, nil); err != nil {
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
// the children it waited for, such as git's index-pack).
func measure(b *testing.B, name string, args ...string) usage {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return usage{wall: time.Since(t0), cpu: cpu, maxRSS: ru.Maxrss << 10}
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
