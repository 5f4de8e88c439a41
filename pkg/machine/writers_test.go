package machine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/release"
)

// otherApp is a commit another writer makes: a file of another app path.
func (w *world) otherApp(t *testing.T, n int) {
	t.Helper()
	w.Server.Push(t, "apps.git", map[string][]byte{"apps/other/cm.yaml": []byte("n: " + strings.Repeat("x", n) + "\n")}, "other app")
}

// TestForeignCommitsDoNotAbandon: another writer commits to the branch
// after every step; Argo CD (the fake models it) reports that head, not the
// release's commit. The release goes on to Promoted, syncing only the
// target revision.
func TestForeignCommitsDoNotAbandon(t *testing.T) {
	w := newWorld(t)
	m := w.machine(t)
	ctx := context.Background()
	r := testRelease(t, func(r *release.Release) {
		r.Spec.ProgressDeadline = &release.Duration{Duration: 30 * time.Second}
		r.Spec.Steps = []release.Step{{SetWeight: ptr(int32(10))}, {Pause: &release.Pause{Duration: &release.Duration{Duration: time.Minute}}}, {SetWeight: ptr(int32(50))}}
	})
	if _, err := m.Start(ctx, r); err != nil {
		t.Fatal(err)
	}
	n := 0
	out, err := m.Run(ctx, untilDone, func(o Outcome) {
		if o.Did == "commit" || o.Did == "sync" {
			n++
			w.otherApp(t, n)
			// Argo CD refreshes on its own poll: it now compares at the head.
			w.Argo.Get(ctx, "reviews", true)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status.Phase != release.Promoted {
		t.Fatalf("phase %s (%s: %s), want Promoted", out.Status.Phase, out.Status.Reason, out.Status.Message)
	}
	if n < 10 {
		t.Errorf("only %d foreign commits were interleaved", n)
	}
	for _, s := range w.Argo.Syncs() {
		if s.Revision != "" {
			t.Errorf("synced %s; want the target revision only", s.Revision)
		}
	}
	mustRoute(t, w.Cluster, "v2=100")
}

// TestFinishedReleaseNeverSyncs: driving a promoted release again (a
// controller restart, a retried CI job) asks nothing of Argo CD.
func TestFinishedReleaseNeverSyncs(t *testing.T) {
	w := newWorld(t)
	m := w.machine(t)
	ctx := context.Background()
	r := testRelease(t, func(r *release.Release) { r.Spec.Steps = []release.Step{{SetWeight: ptr(int32(50))}} })
	if _, err := m.Start(ctx, r); err != nil {
		t.Fatal(err)
	}
	run(t, m, untilDone)
	before := len(w.Argo.Syncs())
	out, err := m.Step(ctx)
	if err != nil || !out.Done || out.Did != "" {
		t.Fatalf("Step on a promoted release = %+v, %v; want done, nothing done", out, err)
	}
	if after := len(w.Argo.Syncs()); after != before {
		t.Errorf("a promoted release requested %d syncs", after-before)
	}
}

// TestSupersededReleaseStops: a person edits gitcanary's state in the app
// path after the release's last commit; the release stops instead of
// syncing over it.
func TestSupersededReleaseStops(t *testing.T) {
	w := newWorld(t)
	m := w.machine(t)
	ctx := context.Background()
	if _, err := m.Start(ctx, testRelease(t)); err != nil {
		t.Fatal(err)
	}
	run(t, m, untilPhase(release.Paused, 1))
	state := w.Server.ReadFile(t, "apps.git", "apps/reviews/.gitcanary/state.yaml")
	w.Server.Push(t, "apps.git", map[string][]byte{"apps/reviews/.gitcanary/state.yaml": append(state, []byte("# edited by hand\n")...)}, "hand edit")
	before := len(w.Argo.Syncs())
	_, err := m.Run(ctx, untilDone, nil)
	if !errors.Is(err, ErrSuperseded) || !strings.Contains(err.Error(), "apps/reviews/.gitcanary changed after") {
		t.Fatalf("Run = %v, want ErrSuperseded naming the change", err)
	}
	if after := len(w.Argo.Syncs()); after != before {
		t.Errorf("a superseded release requested %d syncs", after-before)
	}
}

// TestOneReleaseUntilTheEnd: while a release is Retiring no other release
// of the app path can start.
func TestOneReleaseUntilTheEnd(t *testing.T) {
	w := newWorld(t)
	m := w.machine(t)
	ctx := context.Background()
	if _, err := m.Start(ctx, testRelease(t, func(r *release.Release) { r.Spec.Steps = []release.Step{{SetWeight: ptr(int32(100))}} })); err != nil {
		t.Fatal(err)
	}
	run(t, m, func(o Outcome) bool { return o.Release.Status.Phase == release.Retiring })
	next := testRelease(t, func(r *release.Release) {
		r.Metadata.Name, r.Spec.Version = "reviews-v3", "v3"
		r.Spec.Workload.Name = "reviews-v2"
	})
	m3 := New(Deps{Repo: m.deps.Repo, Argo: w.Argo, Cluster: w.Cluster, Clock: w.Clock.Now}, "reviews-v3", "apps/reviews")
	if _, err := m3.Start(ctx, next); err == nil || !strings.Contains(err.Error(), "reviews-v2 is already in progress") {
		t.Fatalf("start during Retiring = %v, want refused", err)
	}
	run(t, m, untilDone)
	if _, err := m3.Start(ctx, next); err != nil {
		t.Fatalf("start after Promoted: %v", err)
	}
}

// TestArgoCDUnreachableWaits: Argo CD answers nothing for longer than the
// progress deadline; the release waits (Errored) instead of abandoning.
func TestArgoCDUnreachableWaits(t *testing.T) {
	w := newWorld(t)
	m := w.machine(t)
	ctx := context.Background()
	if _, err := m.Start(ctx, testRelease(t, func(r *release.Release) {
		r.Spec.ProgressDeadline = &release.Duration{Duration: 10 * time.Second}
	})); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		w.Argo.FailNext(errors.New("connection refused"))
		out, err := m.Step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !out.Errored || out.Did != "" {
			t.Fatalf("step %d = %+v, want an errored wait", i, out)
		}
		w.Clock.Sleep(ctx, time.Second)
	}
	got := run(t, m, untilPhase(release.Paused, 1))
	if got.Status.Phase != release.Paused {
		t.Fatalf("phase %s after Argo CD came back", got.Status.Phase)
	}
}

// TestAutomatedApp: an Application with automated sync and prune off; the
// release syncs the target revision (a revision would be refused) and the
// retirement's sync prunes the old workload.
func TestAutomatedApp(t *testing.T) {
	w := newWorld(t)
	w.Argo.SetAutomated("reviews", false)
	m := w.machine(t)
	ctx := context.Background()
	if _, err := m.Start(ctx, testRelease(t, func(r *release.Release) { r.Spec.Steps = []release.Step{{SetWeight: ptr(int32(30))}} })); err != nil {
		t.Fatal(err)
	}
	got := run(t, m, untilDone)
	if got.Status.Phase != release.Promoted {
		t.Fatalf("phase %s (%s)", got.Status.Phase, got.Status.Message)
	}
	mustExist(t, w.Cluster, "reviews-v1", false)
	pruned := false
	for _, s := range w.Argo.Syncs() {
		pruned = pruned || s.Prune
	}
	if !pruned {
		t.Error("no sync pruned")
	}
}

// TestPathTrailer: commits name the app path, so a release of the same
// name in another path is another release.
func TestPathTrailer(t *testing.T) {
	w := newWorld(t)
	m := w.machine(t)
	ctx := context.Background()
	res, err := m.Start(ctx, testRelease(t))
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Commit.Trailer("Gitcanary-Path"); p != "apps/reviews" {
		t.Errorf("Gitcanary-Path = %q", p)
	}
	other := New(Deps{Repo: m.deps.Repo, Argo: w.Argo, Cluster: w.Cluster}, "reviews-v2", "apps/elsewhere")
	if _, err := other.lastCommit(ctx, res.Commit.Hash, 1); err == nil {
		t.Error("the release's commit was found for another app path")
	}
}

func ptr[T any](v T) *T { return &v }
