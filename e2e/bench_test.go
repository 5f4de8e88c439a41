package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

// reps is the repetitions per figure (GITCANARY_BENCH_REPS overrides 10).
var reps = func() int {
	if n, err := strconv.Atoi(os.Getenv("GITCANARY_BENCH_REPS")); err == nil && n > 0 {
		return n
	}
	return 10
}()

var vsGVR = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}

// waitVS polls the cluster's VirtualService every 20 ms until ok holds and
// returns when it did.
func waitVS(ctx context.Context, t testing.TB, dyn dynamic.Interface, ns string, ok func(*unstructured.Unstructured) bool) time.Time {
	for ctx.Err() == nil {
		u, err := dyn.Resource(vsGVR).Namespace(ns).Get(ctx, "reviews", metav1.GetOptions{})
		if err == nil && ok(u) {
			return time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("VirtualService never reached the awaited state: %v", ctx.Err())
	return time.Time{}
}

func weightsOf(u *unstructured.Unstructured) string {
	routes, err := kube.ParseVirtualServiceRoutes(u)
	if err != nil || len(routes) == 0 {
		return ""
	}
	var parts []string
	for _, d := range routes[0] {
		parts = append(parts, fmt.Sprintf("%s=%d", d.Subset, d.Weight))
	}
	return strings.Join(parts, ",")
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// bareSyncs measures a bare Argo CD sync: a one-line commit to the user's
// VirtualService (its timeout), pushed with the same git library, synced to
// that commit, until the cluster shows it.
func bareSyncs(ctx context.Context, b *testing.B, s *scenario, dyn dynamic.Interface) []time.Duration {
	repo, err := git.Open(ctx, git.Options{URL: s.url, Branch: "main", CacheDir: s.cache})
	if err != nil {
		b.Fatal(err)
	}
	var out []time.Duration
	for i := range reps {
		timeout := fmt.Sprintf("%ds", 11+i)
		began := time.Now()
		res, err := repo.Apply(ctx, func(head git.Snapshot) (git.Change, git.Message, error) {
			data, err := head.ReadFile("apps/reviews/virtualservice.yaml")
			if err != nil {
				return git.Change{}, git.Message{}, err
			}
			lines := strings.Split(string(data), "\n")
			for j, l := range lines {
				if strings.HasPrefix(strings.TrimSpace(l), "timeout: ") {
					lines[j] = l[:strings.Index(l, "timeout: ")] + "timeout: " + timeout
				}
			}
			return git.Change{Write: map[string][]byte{"apps/reviews/virtualservice.yaml": []byte(strings.Join(lines, "\n"))}},
				git.Message{Subject: "bare: timeout " + timeout}, nil
		})
		if err != nil {
			b.Fatal(err)
		}
		for {
			if err := s.argo.Sync(ctx, s.ns, res.Commit.Hash, false); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond) // the previous operation is still finishing
		}
		seen := waitVS(ctx, b, dyn, s.ns, func(u *unstructured.Unstructured) bool {
			http, _, _ := unstructured.NestedSlice(u.Object, "spec", "http")
			return len(http) > 0 && http[0].(map[string]any)["timeout"] == timeout
		})
		out = append(out, seen.Sub(began))
		s.syncAndWait(res.Commit.Hash) // settle before the next repetition
	}
	return out
}

func newBenchMachine(b *testing.B, s *scenario, name string) *machine.Machine {
	repo, err := git.Open(context.Background(), git.Options{URL: s.url, Branch: "main", CacheDir: s.cache})
	if err != nil {
		b.Fatal(err)
	}
	var log *slog.Logger
	if os.Getenv("GITCANARY_BENCH_LOG") != "" { // a timeline of each step, to see where time goes
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return machine.New(machine.Deps{Repo: repo, Argo: s.argo, Cluster: s.cluster, Builder: &kustomize.Krusty{}, Kinds: kube.NewKinds(), Clock: time.Now, Log: log}, name, "apps/reviews")
}

// BenchmarkE2E prints P1 and P2 next to a bare Argo CD sync, measured in
// the same run on the test bed: medians over 10 repetitions and ratios.
// Run it with `make bench-e2e`.
func BenchmarkE2E(b *testing.B) {
	s := newScenario(b, "bench", templates.ReleaseParams{Steps: "[{setWeight: 10}]"})
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	dyn := s.dynamic()
	awaitingOrDone := func(o machine.Outcome) bool { return o.Done || o.Awaiting }

	bare := bareSyncs(ctx, b, s, dyn)

	// P1: a release paused until approved; each repetition is one weight
	// step, from the decision (set-weight) to the weight in the cluster.
	p1m := newBenchMachine(b, s, "bench-p1")
	if _, err := p1m.Start(ctx, s.release(templates.ReleaseParams{Name: "bench-p1", Steps: "[{setWeight: 10}, {pause: {}}]"})); err != nil {
		b.Fatal(err)
	}
	if _, err := p1m.Run(ctx, awaitingOrDone, nil); err != nil {
		b.Fatal(err)
	}
	var p1 []time.Duration
	for i := range reps {
		w := int32(20 + 5*i)
		want := fmt.Sprintf("v1=%d,v2=%d", 100-w, w)
		began := time.Now()
		seen := make(chan time.Time, 1)
		go func() {
			seen <- waitVS(ctx, b, dyn, s.ns, func(u *unstructured.Unstructured) bool { return weightsOf(u) == want })
		}()
		if _, err := p1m.SetWeight(ctx, w); err != nil {
			b.Fatal(err)
		}
		if _, err := p1m.Run(ctx, awaitingOrDone, nil); err != nil {
			b.Fatal(err)
		}
		p1 = append(p1, (<-seen).Sub(began))
	}
	if _, err := p1m.Promote(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := p1m.Run(ctx, func(o machine.Outcome) bool { return o.Done }, nil); err != nil {
		b.Fatal(err)
	}

	// P2: each repetition is a release paused at 10%; from the abort to the
	// stable version at 100% in the cluster.
	var p2 []time.Duration
	for i := range reps {
		name := fmt.Sprintf("bench-p2-%d", i)
		m := newBenchMachine(b, s, name)
		// bench-p1 promoted v2: each P2 release starts from it with a new version.
		r := s.release(templates.ReleaseParams{Name: name, Workload: "reviews-v2", Version: fmt.Sprintf("v%d", 10+i), Steps: "[{setWeight: 10}, {pause: {duration: 1h}}]"})
		if _, err := m.Start(ctx, r); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Run(ctx, func(o machine.Outcome) bool { return o.Converged && o.Release.Status.Phase == release.Paused }, nil); err != nil {
			b.Fatal(err)
		}
		began := time.Now()
		seen := make(chan time.Time, 1)
		go func() {
			seen <- waitVS(ctx, b, dyn, s.ns, func(u *unstructured.Unstructured) bool { return weightsOf(u) == "v2=100" })
		}()
		if log := os.Getenv("GITCANARY_BENCH_LOG"); log != "" {
			fmt.Fprintf(os.Stderr, "P2 %d: abort at %s\n", i, began.Format("15:04:05.000"))
		}
		if _, err := m.Abort(ctx, "bench"); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Run(ctx, func(o machine.Outcome) bool { return o.Done }, nil); err != nil {
			b.Fatal(err)
		}
		at := <-seen
		if os.Getenv("GITCANARY_BENCH_LOG") != "" {
			fmt.Fprintf(os.Stderr, "P2 %d: stable at 100%% in the cluster at %s\n", i, at.Format("15:04:05.000"))
		}
		p2 = append(p2, at.Sub(began))
	}

	mb, m1, m2 := median(bare), median(p1), median(p2)
	r1, r2 := float64(m1)/float64(mb), float64(m2)/float64(mb)
	fmt.Printf("\nbench-e2e on the test bed, %d repetitions each, medians:\n", reps)
	fmt.Printf("  bare Argo CD sync of a one-line commit  %8s   (all: %v)\n", mb.Round(time.Millisecond), rounded(bare))
	fmt.Printf("  P1 weight step → cluster VirtualService %8s   ratio %.2f (target ≤ 1.3)   (all: %v)\n", m1.Round(time.Millisecond), r1, rounded(p1))
	fmt.Printf("  P2 abort from pause → stable at 100%%    %8s   ratio %.2f (target ≤ 1.5)   (all: %v)\n", m2.Round(time.Millisecond), r2, rounded(p2))
	b.ReportMetric(float64(mb.Milliseconds()), "bare-ms")
	b.ReportMetric(float64(m1.Milliseconds()), "p1-ms")
	b.ReportMetric(float64(m2.Milliseconds()), "p2-ms")
	b.ReportMetric(r1, "p1-ratio")
	b.ReportMetric(r2, "p2-ratio")
}

func rounded(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(10 * time.Millisecond)
	}
	return out
}
