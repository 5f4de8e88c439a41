package machine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/netfault"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

// countingRepo counts what a git.Repo asks the server: fetches (Head and
// every Apply, which fetches first) and ref checks (Peek). afterPeek, when
// set, runs after each ref check.
type countingRepo struct {
	git.Repo
	fetches, peeks atomic.Int64
	afterPeek      func()
}

func (r *countingRepo) Head(ctx context.Context) (git.Snapshot, error) {
	r.fetches.Add(1)
	return r.Repo.Head(ctx)
}

func (r *countingRepo) Apply(ctx context.Context, edit git.Edit) (git.Result, error) {
	r.fetches.Add(1)
	return r.Repo.Apply(ctx, edit)
}

func (r *countingRepo) Peek(ctx context.Context) (string, error) {
	r.peeks.Add(1)
	h, err := r.Repo.Peek(ctx)
	if r.afterPeek != nil {
		r.afterPeek()
	}
	return h, err
}

// countingArgo counts the calls to Argo CD's API.
type countingArgo struct {
	argocd.Client
	calls atomic.Int64
}

func (a *countingArgo) Get(ctx context.Context, name string, refresh bool) (*v1alpha1.Application, error) {
	a.calls.Add(1)
	return a.Client.Get(ctx, name, refresh)
}

func (a *countingArgo) Sync(ctx context.Context, name, revision string, prune bool) error {
	a.calls.Add(1)
	return a.Client.Sync(ctx, name, revision, prune)
}

func (a *countingArgo) Annotate(ctx context.Context, name string, annotations map[string]string) error {
	a.calls.Add(1)
	return a.Client.Annotate(ctx, name, annotations)
}

func (a *countingArgo) SyncWindows(ctx context.Context, name string) (*argocd.SyncWindows, error) {
	a.calls.Add(1)
	return a.Client.SyncWindows(ctx, name)
}

// pauseWorld is a world whose machine reaches git through a counting proxy
// and Argo CD through a counting client.
type pauseWorld struct {
	*world
	proxy *netfault.Proxy
	repo  *countingRepo
	argo  *countingArgo
	m     *Machine
}

// With real, the machine runs on the real clock; else on the world's fake one.
func newPauseWorld(t testing.TB, real bool) *pauseWorld {
	t.Helper()
	w := &pauseWorld{world: newWorld(t)}
	w.proxy = netfault.New(t, w.Server.Addr())
	repo, err := git.Open(context.Background(), git.Options{URL: "git://" + w.proxy.Addr() + "/apps.git", Branch: "main", CacheDir: w.cache})
	if err != nil {
		t.Fatal(err)
	}
	w.repo = &countingRepo{Repo: repo}
	w.argo = &countingArgo{Client: w.Argo}
	d := Deps{Repo: w.repo, Argo: w.argo, Cluster: w.Cluster, Clock: w.Clock.Now, Sleep: w.Clock.Sleep}
	if real {
		d.Clock, d.Sleep = time.Now, nil
		w.Argo.Clock = time.Now
	}
	w.m = New(d, "reviews-v2", "apps/reviews")
	return w
}

// other is another process: its own clone cache, straight to the server.
func (w *pauseWorld) other(t testing.TB) *Machine {
	t.Helper()
	repo, err := git.Open(context.Background(), git.Options{URL: w.URL, Branch: "main", CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return New(Deps{Repo: repo, Argo: w.Argo, Cluster: w.Cluster, Clock: w.m.deps.Clock}, "reviews-v2", "apps/reviews")
}

// counts is what the machine asked of git and Argo CD over a span of time.
type counts struct {
	span                           time.Duration
	fetches, peeks, conns, argoAPI int64
}

func (w *pauseWorld) since(start time.Time, now time.Time, base counts) counts {
	return counts{
		span:    now.Sub(start),
		fetches: w.repo.fetches.Load() - base.fetches,
		peeks:   w.repo.peeks.Load() - base.peeks,
		conns:   int64(w.proxy.Accepted()) - base.conns,
		argoAPI: w.argo.calls.Load() - base.argoAPI,
	}
}

func (w *pauseWorld) snapshot() counts {
	return counts{fetches: w.repo.fetches.Load(), peeks: w.repo.peeks.Load(), conns: int64(w.proxy.Accepted()), argoAPI: w.argo.calls.Load()}
}

func (c counts) perMinute(n int64) float64 { return float64(n) / c.span.Minutes() }

func (c counts) String() string {
	return fmt.Sprintf("over %s: git fetches %d (%.1f/min), ref checks %d (%.1f/min), connections to the git server %d (%.1f/min), Argo CD calls %d (%.1f/min)",
		c.span.Round(time.Second), c.fetches, c.perMinute(c.fetches), c.peeks, c.perMinute(c.peeks), c.conns, c.perMinute(c.conns), c.argoAPI, c.perMinute(c.argoAPI))
}

func pausedAt(step int) Until {
	return func(o Outcome) bool {
		return o.Converged && o.Release.Status.Phase == release.Paused && o.Release.Status.Step == step
	}
}

// A 10-minute pause, then a pause until approved that another process
// aborts, on the fake clock: git is asked where the branch is every 3 s
// and fetched about twice a minute, Argo CD about twice a minute, and the
// abort is acted on at the first ref check after it.
func TestPauseIsCheap(t *testing.T) {
	steps := "[{setWeight: 10}, {pause: {duration: 10m}}, {setWeight: 50}, {pause: {}}, {setWeight: 100}]"
	pw := newPauseWorld(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := releaseWith(t, steps)
	if _, err := pw.m.Start(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := pw.m.Run(ctx, pausedAt(1), nil); err != nil {
		t.Fatal(err)
	}

	start, base := pw.Clock.Now(), pw.snapshot()
	got, err := pw.m.Run(ctx, func(o Outcome) bool { return o.Release.Status.Step == 2 }, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := pw.since(start, pw.Clock.Now(), base)
	t.Logf("timed pause of 10m: %s", c)
	if c.span < 10*time.Minute {
		t.Errorf("the pause ended after %s, before its 10m", c.span)
	}
	// One fetch and one step per 30 s revisit (20), a ref check every 3 s,
	// then the commit that ends the pause, its sync and the steps until
	// Argo CD applied it. The old loop took 1,200 of each.
	if c.fetches > 25 || c.argoAPI > 28 || c.peeks > 202 || c.conns > c.fetches+c.peeks+2 {
		t.Errorf("timed pause (%s, phase %s): too many calls: %s", c.span, got.Status.Phase, c)
	}

	if _, err := pw.m.Run(ctx, pausedAt(3), nil); err != nil {
		t.Fatal(err)
	}
	var abortedAt time.Time
	var once sync.Once
	start, base = pw.Clock.Now(), pw.snapshot()
	pw.repo.afterPeek = func() {
		if pw.Clock.Now().Sub(start) < 5*time.Minute {
			return
		}
		once.Do(func() {
			if _, err := pw.other(t).Abort(ctx, "from another process"); err != nil {
				t.Error(err)
			}
			abortedAt = pw.Clock.Now()
		})
	}
	var noticed time.Time
	var during counts
	if _, err := pw.m.Run(ctx, untilDone, func(o Outcome) {
		if noticed.IsZero() && o.Release.Status.Phase == release.Abandoning {
			noticed, during = pw.Clock.Now(), pw.since(start, pw.Clock.Now(), base)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if abortedAt.IsZero() || noticed.IsZero() {
		t.Fatalf("the abort was not made (%v) or not seen (%v)", abortedAt, noticed)
	}
	t.Logf("pause until approved, aborted by another process after 5m: %s; acted on %s after the abort", during, noticed.Sub(abortedAt))
	if d := noticed.Sub(abortedAt); d > refCheck {
		t.Errorf("the abort was acted on %s after it was pushed, want within one ref check (%s)", d, refCheck)
	}
	if during.fetches > 14 || during.argoAPI > 17 || during.peeks > 102 {
		t.Errorf("awaiting approval: too many calls: %s", during)
	}
	if rec, _, err := pw.m.Load(ctx); err != nil || rec.Status.Phase != release.Abandoned || rec.Status.Reason != "Aborted" {
		t.Errorf("after the abort: %v %v, want Abandoned (Aborted)", rec.Status, err)
	}
}

// releaseWith is the fixture release with other steps.
func releaseWith(t testing.TB, steps string) *release.Release {
	t.Helper()
	doc, err := templates.Release(templates.ReleaseParams{RepoURL: "git://127.0.0.1/apps.git", Steps: steps})
	if err != nil {
		t.Fatal(err)
	}
	r, err := release.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
