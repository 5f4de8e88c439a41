//go:build linux

package controller

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Environment of BenchmarkControllerScale.
const (
	scaleReleasesEnv = "GITCANARY_SCALE_RELEASES"      // N, default 1000
	scalePerRepoEnv  = "GITCANARY_SCALE_APPS_PER_REPO" // default 50
	scaleWorkersEnv  = "GITCANARY_SCALE_WORKERS"       // default 4, as `gitcanary run --workers`
	// scaleOneEnv makes the benchmark measure N alone, in this process
	// (the parent sets it for its children; set it to profile one size).
	scaleOneEnv = "GITCANARY_SCALE_ONE"
	// scaleOutEnv names the file a child writes its result to.
	scaleOutEnv = "GITCANARY_SCALE_OUT"
	// scaleHeapEnv, a file name prefix, has heap profiles written while
	// every release is paused (<prefix>paused.heap) and at the end
	// (<prefix>end.heap): the run's objects are gone when go test's
	// -memprofile writes.
	scaleHeapEnv = "GITCANARY_SCALE_HEAP_PROFILE"
)

// scaleSettle and scaleHold: once every release is paused, the benchmark
// lets the work queue drain the checks that fell due while the workers
// were busy, then measures for scaleHold (one --approval-poll) what N
// waiting releases cost.
const scaleSettle, scaleHold = 10 * time.Second, 30 * time.Second

// scaleTarget is the RSS the issue asks for at 10,000 releases.
const scaleTarget, scaleTargetN = 1024, 10000 // MiB, releases

// BenchmarkControllerScale is one controller driving N concurrent
// releases, each in its own app, through GitSource: git is real (git
// daemon on loopback), Argo CD and the cluster are faked at their
// interfaces (see scaleWorld). Every release goes 10%, then waits in a
// pause until a commit to the config repository approves them all, then
// 50% and promotion. It prints wall and CPU time, RSS and reconcile
// latencies, at N/4 and at N, each in a fresh process, and projects RSS
// for 10,000 releases from the two. Run it with `make bench-scale`.
func BenchmarkControllerScale(b *testing.B) {
	cfg := scaleConfig{
		Releases:    envInt(b, scaleReleasesEnv, 1000),
		AppsPerRepo: envInt(b, scalePerRepoEnv, 50),
		Workers:     envInt(b, scaleWorkersEnv, 4),
	}
	if os.Getenv(scaleOneEnv) != "" {
		res := runScale(b, cfg)
		res.print(os.Stdout)
		if out := os.Getenv(scaleOutEnv); out != "" {
			data, _ := json.Marshal(res)
			if err := os.WriteFile(out, data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	small := cfg
	small.Releases = max(cfg.Releases/4, 1)
	var results []scaleResult
	for _, c := range []scaleConfig{small, cfg} {
		res := runScaleChild(b, c)
		res.print(os.Stdout)
		results = append(results, res)
	}
	p := project(results[0], results[1], scaleTargetN)
	p.print(os.Stdout)
	last := results[1]
	b.ReportMetric(float64(last.HWMEndKiB)/1024, "MiB-hwm")
	b.ReportMetric(p.HWMMiB, "MiB-hwm-10k-projected")
	b.ReportMetric(last.ToPause, "s-to-pause")
	b.ReportMetric(last.ToFinish, "s-to-finish")
}

type scaleConfig struct {
	Releases, AppsPerRepo, Workers int
}

func envInt(tb testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// runScaleChild runs the benchmark for one size in a fresh process, so
// that its RSS is its own.
func runScaleChild(b *testing.B, cfg scaleConfig) scaleResult {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	out := b.TempDir() + "/result.json"
	cmd := exec.Command(exe, "-test.run=^$", "-test.bench=^BenchmarkControllerScale$", "-test.benchtime=1x")
	cmd.Env = append(os.Environ(), scaleOneEnv+"=1", scaleOutEnv+"="+out,
		scaleReleasesEnv+"="+strconv.Itoa(cfg.Releases),
		scalePerRepoEnv+"="+strconv.Itoa(cfg.AppsPerRepo),
		scaleWorkersEnv+"="+strconv.Itoa(cfg.Workers))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.Output()
	if err != nil {
		b.Fatalf("scale run with %d releases: %v\n%s", cfg.Releases, err, stdout)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		b.Fatalf("scale run with %d releases wrote no result: %v\n%s", cfg.Releases, err, stdout)
	}
	var res scaleResult
	if err := json.Unmarshal(data, &res); err != nil {
		b.Fatal(err)
	}
	return res
}

// scaleResult is what one run measured. Times are in seconds.
type scaleResult struct {
	scaleConfig
	Repos int

	ToPause      float64 // from the controller's start until every release is paused
	CPUToPause   float64
	HoldChecks   int            // reconciles while every release was paused for scaleHold
	HoldDid      map[string]int // those reconciles by what they did
	CPUSettle    float64        // between every release paused and the hold
	CPUHold      float64
	Pickup       float64 // from the approval commit until the first release acted on it
	ToFinish     float64 // from the approval commit until every release is Promoted
	CPUToFinish  float64
	CPUServer    float64 // of the child processes: git daemon and what it runs, cat-file
	RSSPausedKiB int64   // VmRSS while every release is paused
	HWMPausedKiB int64   // VmHWM then
	HeapPaused   uint64
	RSSEndKiB    int64
	HWMEndKiB    int64
	HeapEnd      uint64

	Commits    int // in the app repositories
	Syncs      int
	Reconciles int
	Latency    []latency
}

// latency is one row of reconcile durations, in seconds.
type latency struct {
	Did           string
	Count         uint64
	P50, P90, P99 float64
}

// runScale drives cfg.Releases releases to promotion in this process.
func runScale(tb testing.TB, cfg scaleConfig) scaleResult {
	tb.Helper()
	n := cfg.Releases
	setup := time.Now()
	w := newScaleWorld(tb, n, cfg.AppsPerRepo)
	res := scaleResult{scaleConfig: cfg, Repos: len(w.repos)}
	fmt.Fprintf(os.Stderr, "scale: %d releases in %d repositories, set up in %s\n", n, len(w.repos), time.Since(setup).Round(time.Millisecond))

	// Wired as `gitcanary run` wires it (pkg/cli/run.go): one builder and
	// kinds for every release, GitSource opening the config repository
	// with the driver's opener, production intervals and --git-read-age.
	cache := tb.TempDir()
	open := func(ctx context.Context, r release.Repo) (git.Repo, error) {
		return git.Open(ctx, git.Options{URL: r.URL, Branch: r.BranchOrDefault(), CacheDir: cache, ReadAge: 2 * time.Second})
	}
	errs := &errorLog{}
	log := slog.New(errs)
	reg := prometheus.NewRegistry()
	kinds := kube.NewKinds()
	d := &Driver{OpenRepo: open, Argo: w.argo, Cluster: w.cluster, Kinds: kinds, Builder: &kustomize.Krusty{},
		Clock: time.Now, Log: log, Poll: 5 * time.Second, Metrics: NewMetrics(reg)}
	src := &GitSource{Repos: []release.Repo{{URL: w.config, Branch: "main"}}, OpenRepo: open, Driver: d, Kinds: kinds,
		Interval: 5 * time.Second, Workers: cfg.Workers, Log: log}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	phase := func(p release.Phase) int {
		return int(testutil.ToFloat64(d.Metrics.releases.WithLabelValues(string(p))))
	}
	waitFor := func(what string, cond func() bool) time.Duration {
		start, report := time.Now(), time.Now()
		for !cond() {
			if errs.count() > 0 {
				tb.Fatalf("%s: reconcile errors: %s", what, errs)
			}
			if ctx.Err() != nil {
				tb.Fatalf("%s: %v; releases by phase: %s", what, ctx.Err(), phases(reg))
			}
			if time.Since(report) > 15*time.Second {
				fmt.Fprintf(os.Stderr, "scale: %d releases, waiting for %s: %s\n", n, what, phases(reg))
				report = time.Now()
			}
			time.Sleep(10 * time.Millisecond)
		}
		return time.Since(start)
	}

	runtime.GC()
	cpu0, srv0 := cpuTime(), childrenCPU()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = src.Start(ctx)
	}()
	res.ToPause = waitFor("every release paused", func() bool { return phase(release.Paused) == n }).Seconds()
	cpu1 := cpuTime()
	res.CPUToPause = cpu1 - cpu0
	res.RSSPausedKiB, res.HWMPausedKiB = rss(tb)
	res.HeapPaused = liveHeap()
	heapProfile(tb, "paused")

	time.Sleep(scaleSettle)
	res.CPUSettle = cpuTime() - cpu1
	cpu1 = cpuTime()
	before := stepLatency(reg)
	time.Sleep(scaleHold)
	cpu2 := cpuTime()
	res.CPUHold = cpu2 - cpu1
	res.HoldDid = map[string]int{}
	for _, l := range stepLatency(reg) {
		n := int(l.Count)
		for _, b := range before {
			if b.Did == l.Did {
				n -= int(b.Count)
			}
		}
		if l.Did == "all" {
			res.HoldChecks = n
		} else if n > 0 {
			res.HoldDid[l.Did] = n
		}
	}
	if p := phase(release.Paused); p != n {
		tb.Fatalf("%d of %d releases left their pause without an approval", n-p, n)
	}

	w.approveAll(tb)
	approved := time.Now()
	res.Pickup = waitFor("the first approval", func() bool { return phase(release.Paused) < n }).Seconds()
	waitFor("every release promoted", func() bool { return phase(release.Promoted) == n })
	res.ToFinish = time.Since(approved).Seconds()
	res.CPUToFinish = cpuTime() - cpu2
	res.CPUServer = childrenCPU() - srv0
	res.RSSEndKiB, res.HWMEndKiB = rss(tb)
	res.HeapEnd = liveHeap()
	heapProfile(tb, "end")
	cancel()
	<-stopped

	res.Latency = stepLatency(reg)
	res.Reconciles = reconciles(reg)
	res.Syncs = len(w.argo.Syncs())
	for _, r := range w.repos {
		c, err := strconv.Atoi(w.srv.Git(tb, r, "rev-list", "--count", "main"))
		if err != nil {
			tb.Fatal(err)
		}
		res.Commits += c - 1 // the initial commit is the fixture's
	}
	return res
}

func (r scaleResult) print(out io.Writer) {
	mib := func(kib int64) string { return fmt.Sprintf("%.0f MiB", float64(kib)/1024) }
	p := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	p("")
	p("controller scale: %d releases, %d repositories (up to %d apps each), %d workers", r.Releases, r.Repos, r.AppsPerRepo, r.Workers)
	p("  every release paused  %7.1f s wall  %7.1f s CPU", r.ToPause, r.CPUToPause)
	p("  then %d s all paused  %7d reconciles (%.0f/s)  %5.1f s CPU (%.0f%% of a core)", int(scaleHold.Seconds()), r.HoldChecks,
		float64(r.HoldChecks)/scaleHold.Seconds(), r.CPUHold, 100*r.CPUHold/scaleHold.Seconds())
	var dids []string
	for _, did := range slices.Sorted(maps.Keys(r.HoldDid)) {
		dids = append(dids, fmt.Sprintf("%s %d", did, r.HoldDid[did]))
	}
	p("                        (%s)", strings.Join(dids, ", "))
	p("  approval to first     %7.1f s", r.Pickup)
	p("  approval to promoted  %7.1f s wall  %7.1f s CPU", r.ToFinish, r.CPUToFinish)
	p("  RSS all paused        VmRSS %s, VmHWM %s, Go heap live %.0f MiB", mib(r.RSSPausedKiB), mib(r.HWMPausedKiB), float64(r.HeapPaused)/(1<<20))
	p("  RSS at the end        VmRSS %s, VmHWM %s, Go heap live %.0f MiB", mib(r.RSSEndKiB), mib(r.HWMEndKiB), float64(r.HeapEnd)/(1<<20))
	p("  CPU per release       %.0f ms (user+sys of this process, setup excluded); git server and fake Argo CD's reads %.0f ms more",
		1000*(r.CPUToPause+r.CPUSettle+r.CPUHold+r.CPUToFinish)/float64(r.Releases), 1000*r.CPUServer/float64(r.Releases))
	p("  commits %d (%.1f per release), syncs %d, reconciles %d", r.Commits, float64(r.Commits)/float64(r.Releases), r.Syncs, r.Reconciles)
	p("  reconcile duration (gitcanary_step_duration_seconds; factor-2 buckets, interpolated):")
	p("    %-8s %8s %9s %9s %9s", "did", "count", "p50", "p90", "p99")
	for _, l := range r.Latency {
		p("    %-8s %8d %9s %9s %9s", l.Did, l.Count, ms(l.P50), ms(l.P90), ms(l.P99))
	}
}

func ms(s float64) string { return fmt.Sprintf("%.1f ms", 1000*s) }

// projection extrapolates RSS linearly in the number of releases.
type projection struct {
	N, From, To      int
	HWMMiB, PauseMiB float64
	HWMSlope         float64 // KiB per release
	PauseSlope       float64
}

func project(small, big scaleResult, n int) projection {
	lin := func(a, b int64) (slope, at float64) {
		slope = float64(b-a) / float64(big.Releases-small.Releases)
		return slope, (float64(b) + slope*float64(n-big.Releases)) / 1024
	}
	p := projection{N: n, From: small.Releases, To: big.Releases}
	p.HWMSlope, p.HWMMiB = lin(small.HWMEndKiB, big.HWMEndKiB)
	p.PauseSlope, p.PauseMiB = lin(small.RSSPausedKiB, big.RSSPausedKiB)
	return p
}

func (p projection) print(out io.Writer) {
	fmt.Fprintf(out, "\nRSS projected for %d releases, linear through the runs at %d and %d releases\n", p.N, p.From, p.To)
	fmt.Fprintf(out, "(slope = ΔRSS / Δreleases, RSS(%d) = RSS(%d) + slope × %d):\n", p.N, p.To, p.N-p.To)
	fmt.Fprintf(out, "  VmHWM (peak)           %6.1f KiB per release → %5.0f MiB (target ≤ %d MiB)\n", p.HWMSlope, p.HWMMiB, scaleTarget)
	fmt.Fprintf(out, "  VmRSS, all paused      %6.1f KiB per release → %5.0f MiB\n", p.PauseSlope, p.PauseMiB)
}

// stepLatency reads percentiles from gitcanary_step_duration_seconds the
// way Prometheus' histogram_quantile does: linearly within a bucket.
func stepLatency(reg *prometheus.Registry) []latency {
	mfs, _ := reg.Gather()
	var out []latency
	var bounds []float64
	all := map[float64]uint64{}
	var total uint64
	for _, mf := range mfs {
		if mf.GetName() != "gitcanary_step_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			h := m.GetHistogram()
			var cum []uint64
			bounds = bounds[:0]
			for _, b := range h.GetBucket() {
				bounds = append(bounds, b.GetUpperBound())
				cum = append(cum, b.GetCumulativeCount())
				all[b.GetUpperBound()] += b.GetCumulativeCount()
			}
			total += h.GetSampleCount()
			out = append(out, quantiles(m.GetLabel()[0].GetValue(), bounds, cum, h.GetSampleCount()))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Did < out[j].Did })
	var cum []uint64
	for _, b := range bounds {
		cum = append(cum, all[b])
	}
	return append(out, quantiles("all", bounds, cum, total))
}

func quantiles(did string, bounds []float64, cum []uint64, total uint64) latency {
	q := func(q float64) float64 {
		rank := q * float64(total)
		lower, below := 0.0, uint64(0)
		for i, c := range cum {
			if float64(c) >= rank {
				return lower + (bounds[i]-lower)*(rank-float64(below))/float64(c-below)
			}
			lower, below = bounds[i], c
		}
		return lower // beyond the last bucket: at least its bound
	}
	return latency{Did: did, Count: total, P50: q(0.5), P90: q(0.9), P99: q(0.99)}
}

// reconciles counts every observed reconcile.
func reconciles(reg *prometheus.Registry) int {
	n := 0
	for _, l := range stepLatency(reg) {
		if l.Did == "all" {
			n = int(l.Count)
		}
	}
	return n
}

// phases lists the releases by phase, from the gitcanary_releases gauge.
func phases(reg *prometheus.Registry) string {
	mfs, _ := reg.Gather()
	var parts []string
	for _, mf := range mfs {
		if mf.GetName() != "gitcanary_releases" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if v := m.GetGauge().GetValue(); v != 0 {
				parts = append(parts, fmt.Sprintf("%s=%.0f", m.GetLabel()[0].GetValue(), v))
			}
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// cpuTime is this process's user and system CPU time in seconds.
func cpuTime() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// childrenCPU is the CPU time in seconds of this process's children: git
// daemon, with the upload-pack and receive-pack it has waited for, and
// cat-file, from /proc while they run, and the git commands of the test
// once waited for. They share the machine with the controller.
func childrenCPU() float64 {
	tasks, _ := os.ReadDir("/proc/self/task")
	var ticks int64
	for _, t := range tasks {
		data, _ := os.ReadFile("/proc/self/task/" + t.Name() + "/children")
		for _, pid := range strings.Fields(string(data)) {
			stat, err := os.ReadFile("/proc/" + pid + "/stat")
			if err != nil {
				continue
			}
			// Fields after the command's closing parenthesis; utime, stime,
			// cutime and cstime are the 14th to 17th of the whole line.
			f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
			for _, v := range f[11:15] {
				n, _ := strconv.ParseInt(v, 10, 64)
				ticks += n
			}
		}
	}
	var ru syscall.Rusage // the children already waited for
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	return float64(ticks)/100 + time.Duration(ru.Utime.Nano()+ru.Stime.Nano()).Seconds() // USER_HZ
}

// rss reads VmRSS and VmHWM, in KiB, from /proc/self/status.
func rss(tb testing.TB) (vmRSS, vmHWM int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			vmRSS = n
		case "VmHWM":
			vmHWM = n
		}
	}
	return vmRSS, vmHWM
}

// liveHeap is the Go heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// heapProfile writes a heap profile when scaleHeapEnv asks for one.
func heapProfile(tb testing.TB, name string) {
	prefix := os.Getenv(scaleHeapEnv)
	if prefix == "" {
		return
	}
	f, err := os.Create(prefix + name + ".heap")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		tb.Fatal(err)
	}
}
