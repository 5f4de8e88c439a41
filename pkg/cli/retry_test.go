package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/netfault"
	"github.com/gitcanary/gitcanary/templates"
)

// The git server behind a proxy that drops connections or is down: the
// CLI retries what is transient until --timeout, and fails at once on a
// refusal.
func TestRetriesTransientFailures(t *testing.T) {
	w := newCLIWorld(t)
	proxy := netfault.New(t, w.server.Addr())
	direct := w.url
	w.url = "git://" + proxy.Addr() + "/apps.git"
	file := w.writeRelease("flaky.yaml", templates.ReleaseParams{})
	commits := func() int { return len(w.server.Commits(t, "apps.git")) }

	// The first three connections fail (open, fetch, push all retry).
	proxy.FailNext(3)
	code, out, errs := w.run("start", "-f", file, "--wait-for=none")
	if code != ExitOK {
		t.Fatalf("start through a flaky server: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("start through a flaky server:\n%s", out)
	if !strings.Contains(out, "Retrying") || !strings.Contains(out, "trying again in") {
		t.Errorf("start retried without saying so:\n%s", out)
	}
	if n := commits(); n != 2 {
		t.Errorf("%d commits after a retried start, want 2 (the seed and the start)", n)
	}

	// Down for longer than --timeout: exit 4 naming the last error.
	proxy.Down()
	code, out, errs = w.run("approve", "reviews-v2", "--repo", w.url, "--path", "apps/reviews", "--wait-for=none", "--timeout", "3s")
	if code != ExitTimeout {
		t.Errorf("approve with the git server down: exit %d, want %d\n%s%s", code, ExitTimeout, out, errs)
	}
	for _, want := range []string{"timed out after 3s", "last error: ", "fetch main from " + w.url, "connection refused"} {
		if !strings.Contains(errs, want) {
			t.Errorf("approve with the git server down: the error does not say %q:\n%s", want, errs)
		}
	}
	if n := commits(); n != 2 {
		t.Errorf("%d commits after a timed-out approve, want 2", n)
	}
	if err := proxy.Up(); err != nil {
		t.Fatal(err)
	}

	// Refusals are not retried: a repository the server does not have, a
	// command the release's phase does not allow.
	gone := strings.Replace(direct, "apps.git", "nope.git", 1)
	code, out, errs = w.run("approve", "reviews-v2", "--repo", gone, "--path", "apps/reviews", "--wait-for=none")
	if code != ExitError || strings.Contains(out, "Retrying") || !strings.Contains(errs, "repository not found") {
		t.Errorf("approve in a missing repository: exit %d, want %d at once\n%s%s", code, ExitError, out, errs)
	}
	code, out, errs = w.run("approve", "reviews-v2", "--repo", w.url, "--path", "apps/reviews", "--wait-for=none")
	if code != ExitInvalid || strings.Contains(out, "Retrying") || !strings.Contains(errs, "approve is not possible while the release is Preparing") {
		t.Errorf("approve while Preparing: exit %d, want %d at once\n%s%s", code, ExitInvalid, out, errs)
	}

	// Argo CD down when the command would drive the release after its
	// commit: the connection is retried too.
	argo := netfault.New(t, "127.0.0.1:1")
	argo.Down()
	code, out, errs = w.run("abort", "reviews-v2", "--repo", w.url, "--path", "apps/reviews", "--wait-for=done", "--server", argo.Addr(), "--plaintext", "--timeout", "12s")
	t.Logf("abort with Argo CD down:\n%s%s", out, errs)
	if code != ExitTimeout || !strings.Contains(errs, "last error: connect to Argo CD at "+argo.Addr()) || !strings.Contains(out, "Retrying") {
		t.Errorf("abort with Argo CD down: exit %d, want %d naming the connection\n%s%s", code, ExitTimeout, out, errs)
	}
}

// movedSince tells a retried command that the release moved on after it
// began (perhaps by its own push, whose answer was lost), and nothing
// when the last change is older.
func TestMovedSince(t *testing.T) {
	w := newCLIWorld(t)
	if code, out, errs := w.run("start", "-f", w.file, "--wait-for=none"); code != ExitOK {
		t.Fatalf("start: exit %d\n%s%s", code, out, errs)
	}
	began := time.Now()
	if code, out, errs := w.run("abort", "-f", w.file, "--wait-for=none"); code != ExitOK {
		t.Fatalf("abort: exit %d\n%s%s", code, out, errs)
	}
	ctx := context.Background()
	repo, err := git.Open(ctx, git.Options{URL: w.url, Branch: "main", CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	m := machine.New(machine.Deps{Repo: repo}, "reviews-v2", "apps/reviews")
	if got := movedSince(ctx, m, began); !strings.HasPrefix(got, "now Abandoning after abort at ") {
		t.Errorf("movedSince the abort = %q, want it to name the abort", got)
	}
	if got := movedSince(ctx, m, time.Now().Add(time.Hour)); got != "" {
		t.Errorf("movedSince a later time = %q, want nothing", got)
	}
}
