package controller

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/machine/machinetest"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// TestGitSource: a Release file committed under releases/ starts a
// release, an edit of its spec.control approves it, a broken file is
// reported and skipped, and a deleted file is no longer driven.
func TestGitSource(t *testing.T) {
	w := machinetest.New(t)
	d := newDriver(t, w)
	config := w.Server.CreateRepo(t, "config.git", map[string][]byte{
		"releases/reviews-v2.yaml": releaseDoc(t, w.URL, ""),
		"releases/broken.yaml":     []byte("apiVersion: gitcanary.io/v1alpha1\nkind: Release\nmetadata: {name: broken}\nspec: {stpes: []}\n"),
		"README.md":                []byte("not a release"),
	})
	cache := t.TempDir()
	errs := &errorLog{}
	src := &GitSource{
		Repos:    []release.Repo{{URL: config, Branch: "main"}},
		Driver:   d,
		Log:      slog.New(errs),
		Interval: 20 * time.Millisecond,
		OpenRepo: func(ctx context.Context, r release.Repo) (git.Repo, error) {
			return git.Open(ctx, git.Options{URL: r.URL, Branch: r.BranchOrDefault(), CacheDir: cache})
		},
	}
	// Generous: the whole of make test runs beside it on two cores.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	record := func() *release.Release {
		data := w.Server.ReadFile(t, "apps.git", "apps/reviews/.gitcanary/releases/reviews-v2.yaml")
		r, err := release.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = src.Start(ctx)
	}()
	defer func() { cancel(); <-stopped }()
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if ctx.Err() != nil {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(100 * time.Millisecond) // each look runs git: not a busy loop
		}
	}
	recordSays := func(what string, cond func(*release.Release) bool) {
		t.Helper()
		waitUntil(what, func() bool {
			return strings.Contains(w.Server.Git(t, "apps.git", "ls-tree", "-r", "--name-only", "main"), "releases/reviews-v2.yaml") && cond(record())
		})
	}
	recordSays("the pause", func(r *release.Release) bool { return r.Status.Phase == release.Paused })
	src.mu.Lock()
	if !strings.Contains(src.broken[config+"#main:releases/broken.yaml"], `spec.stpes: unknown field`) {
		t.Errorf("broken file not reported: %v", src.broken)
	}
	src.mu.Unlock()
	if n := errs.count(); n != 1 {
		t.Errorf("%d errors logged while the broken file stayed as it is, want it reported once: %s", n, errs)
	}
	w.Server.Push(t, "config.git", map[string][]byte{"releases/reviews-v2.yaml": releaseDoc(t, w.URL, "{approvals: 1}")}, "approve reviews-v2")
	recordSays("the promotion", func(r *release.Release) bool { return r.Status.Phase == release.Promoted })

	// The metrics follow once the worker's reconcile returns.
	waitUntil("gitcanary_releases{phase=Promoted} 1", func() bool {
		return testutil.ToFloat64(d.Metrics.releases.WithLabelValues("Promoted")) == 1
	})
	w.Server.Push(t, "config.git", map[string][]byte{"releases/reviews-v2.yaml": nil, "releases/broken.yaml": nil}, "reviews-v2 is done")
	waitUntil("the deleted file to be dropped", func() bool { return !src.driven(config + "#main:releases/reviews-v2.yaml") })
	src.mu.Lock()
	if len(src.broken) != 0 {
		t.Errorf("a deleted broken file is still remembered: %v", src.broken)
	}
	src.mu.Unlock()
	if v := testutil.ToFloat64(d.Metrics.releases.WithLabelValues("Promoted")); v != 0 {
		t.Errorf("gitcanary_releases{phase=Promoted} = %v after the file was deleted, want 0", v)
	}
	if n := testutil.CollectAndCount(d.Metrics.weight); n != 0 {
		t.Errorf("%d gitcanary_release_weight series after the file was deleted, want none", n)
	}
}
