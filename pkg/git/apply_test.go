package git

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/gitcanary/gitcanary/pkg/redact"
)

func TestApplyFindsEarlierCommit(t *testing.T) {
	e := newEnv(t)
	r := e.open(t, t.TempDir())
	ctx := context.Background()
	first, err := r.Apply(ctx, fixed(Change{Write: map[string][]byte{"apps/reviews/weight": []byte("10")}},
		Message{Subject: "weight 10", Trailers: step("reviews-v2", "step/1/weight/10")}))
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Push(t, e.name, map[string][]byte{"README.md": []byte("edited by hand\n")}, "by hand")

	tests := []struct {
		name     string
		trailers []Trailer
		existing bool
	}{
		{"same trailers", step("reviews-v2", "step/1/weight/10"), true},
		{"same trailers, other order", []Trailer{{TrailerAction, "step/1/weight/10"}, {TrailerRelease, "reviews-v2"}}, true},
		{"one more trailer", append(step("reviews-v2", "step/1/weight/10"), Trailer{TrailerSeq, "2"}), false},
		{"other action", step("reviews-v2", "step/2/weight/30"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.head(t)
			calls := 0
			// The change differs from the first one: were Apply to commit, it would show.
			edit := func(head Snapshot) (Change, Message, error) {
				calls++
				return Change{Write: map[string][]byte{"apps/reviews/weight": []byte(tt.name)}},
					Message{Subject: "again", Trailers: tt.trailers}, nil
			}
			res, err := r.Apply(ctx, edit)
			if err != nil {
				t.Fatal(err)
			}
			if calls != 1 {
				t.Errorf("edit ran %d times, want 1", calls)
			}
			if res.Existing != tt.existing {
				t.Fatalf("Existing = %v, want %v", res.Existing, tt.existing)
			}
			if tt.existing {
				if res.Commit.Hash != first.Commit.Hash || res.Attempts != 0 || e.head(t) != before {
					t.Errorf("Result %+v, head %s; want %s returned and nothing pushed", res, e.head(t), first.Commit.Hash)
				}
			} else if res.Commit.Hash != e.head(t) {
				t.Errorf("Result %+v; want the new head %s", res, e.head(t))
			}
		})
	}
	if n := e.withTrailer(t, TrailerAction, "step/1/weight/10"); n != 2 { // plain, and "one more trailer"
		t.Errorf("%d commits carry step/1/weight/10, want 2", n)
	}
	if got := string(e.srv.ReadFile(t, e.name, "apps/reviews/weight")); got != "other action" {
		t.Errorf("weight = %q: a deduplicated edit was committed", got)
	}
}

func TestApplyRetriesOnNewHead(t *testing.T) {
	e := newEnv(t)
	r := e.open(t, t.TempDir())
	var heads []string
	var sawOutside []bool
	edit := func(head Snapshot) (Change, Message, error) {
		heads = append(heads, head.Commit())
		_, err := head.ReadFile("outside.txt")
		sawOutside = append(sawOutside, err == nil)
		if len(heads) == 1 {
			// Another client lands a commit between our fetch and our push.
			e.srv.Push(t, e.name, map[string][]byte{"outside.txt": []byte("outside\n")}, "outside")
		}
		return Change{Write: map[string][]byte{"apps/reviews/weight": []byte("30")}},
			Message{Subject: "weight 30", Trailers: step("reviews-v2", "step/3/weight/30")}, nil
	}
	res, err := r.Apply(context.Background(), edit)
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 2 || len(heads) != 2 || heads[0] == heads[1] || sawOutside[0] || !sawOutside[1] {
		t.Errorf("attempts %d, edit saw heads %v (outside file: %v); want a second edit on the outside commit", res.Attempts, heads, sawOutside)
	}
	if got := e.srv.Commits(t, e.name); strings.Join(got, "|") != "weight 30|outside|initial" {
		t.Errorf("history = %q", got)
	}
	outside := e.srv.Git(t, e.name, "rev-parse", "main~1")
	e.srv.Git(t, e.name, "merge-base", "--is-ancestor", outside, "main") // fails the test if not
	if string(e.srv.ReadFile(t, e.name, "outside.txt")) != "outside\n" || string(e.srv.ReadFile(t, e.name, "apps/reviews/weight")) != "30" {
		t.Error("both changes must be on the server")
	}
	e.fsck(t)
}

func TestApplyGivesUpAfterMaxAttempts(t *testing.T) {
	e := newEnv(t)
	r, err := open(context.Background(), Options{URL: e.url, Branch: "main", CacheDir: t.TempDir(), MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	edit := func(head Snapshot) (Change, Message, error) {
		calls++
		e.srv.Push(t, e.name, map[string][]byte{"outside.txt": []byte(fmt.Sprint(calls))}, fmt.Sprint("outside ", calls))
		return Change{Write: map[string][]byte{"mine": []byte("x")}}, Message{Subject: "mine", Trailers: step("r", "a")}, nil
	}
	res, err := r.Apply(context.Background(), edit)
	if !errors.Is(err, ErrPushRejected) || res.Attempts != 3 || calls != 3 {
		t.Fatalf("Apply = %+v, %v after %d edits; want ErrPushRejected after 3", res, err, calls)
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), e.url) || !strings.Contains(err.Error(), "main") {
		t.Errorf("error %q should name %s and the branch", err, e.url)
	}
	if got := e.srv.Commits(t, e.name); strings.Join(got, "|") != "outside 3|outside 2|outside 1|initial" {
		t.Errorf("history = %q, want only the outside commits", got)
	}
}

// TestApplyRetriesWhenServerRefuses has the server itself refuse the first
// update (a pre-receive hook declines once), which Apply must treat like a
// moved branch: fetch, edit again, push again.
func TestApplyRetriesWhenServerRefuses(t *testing.T) {
	e := newEnv(t)
	marker := filepath.Join(t.TempDir(), "refuse-once")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	hook := "#!/bin/sh\nif [ -e '" + marker + "' ]; then rm '" + marker + "'; echo refused once >&2; exit 1; fi\n"
	if err := os.WriteFile(filepath.Join(e.srv.Dir(e.name), "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	calls := 0
	edit := func(Snapshot) (Change, Message, error) {
		calls++
		return Change{Write: map[string][]byte{"x": []byte("x")}}, Message{Subject: "x", Trailers: step("r", "x")}, nil
	}
	res, err := e.open(t, t.TempDir()).Apply(context.Background(), edit)
	if err != nil {
		t.Fatal(err)
	}
	if res.Attempts != 2 || calls != 2 || res.Commit.Hash != e.head(t) {
		t.Errorf("Result %+v after %d edits; want the second push on the head", res, calls)
	}
	if n := e.withTrailer(t, TrailerAction, "x"); n != 1 {
		t.Errorf("%d commits with the trailers, want 1", n)
	}
}

func TestApplyEditErrorAborts(t *testing.T) {
	e := newEnv(t)
	boom := errors.New("boom")
	_, err := e.open(t, t.TempDir()).Apply(context.Background(), func(Snapshot) (Change, Message, error) {
		return Change{Write: map[string][]byte{"x": {1}}}, Message{Subject: "x"}, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Apply error = %v, want it to wrap the edit's", err)
	}
	if got := e.srv.Commits(t, e.name); len(got) != 1 {
		t.Errorf("history = %q, want only the initial commit", got)
	}
}

// TestApplyResumesAfterCrash stops Apply right after the local commit (or
// right after the push), as a killed process would, then runs the same
// action from a new Open on the same cache: the branch ends up with exactly
// one commit for it.
func TestApplyResumesAfterCrash(t *testing.T) {
	crash := errors.New("crash")
	tests := []struct {
		stage        string
		pushed       bool // the crashed attempt reached the server
		wantExisting bool
	}{
		{stage: "before-push", pushed: false, wantExisting: false},
		{stage: "after-push", pushed: true, wantExisting: true},
	}
	for _, tt := range tests {
		t.Run(tt.stage, func(t *testing.T) {
			e := newEnv(t)
			cache := t.TempDir()
			edit := fixed(Change{Write: map[string][]byte{"apps/reviews/weight": []byte("10")}},
				Message{Subject: "weight 10", Trailers: step("reviews-v2", "step/1/weight/10")})

			r1 := e.open(t, cache)
			r1.hook = func(stage string) error {
				if stage == tt.stage {
					return crash
				}
				return nil
			}
			if _, err := r1.Apply(context.Background(), edit); !errors.Is(err, crash) {
				t.Fatalf("Apply error = %v, want the crash", err)
			}
			local := strings.TrimSpace(gitOut(t, r1.dir, "rev-parse", "refs/heads/main"))
			if local == e.head(t) != tt.pushed {
				t.Fatalf("cache branch %s, server %s: crash at %s did not leave the expected state", local, e.head(t), tt.stage)
			}
			if n := e.withTrailer(t, TrailerAction, "step/1/weight/10"); n != btoi(tt.pushed) {
				t.Fatalf("%d commits on the server after the crash", n)
			}

			r2 := e.open(t, cache)
			res, err := r2.Apply(context.Background(), edit)
			if err != nil {
				t.Fatal(err)
			}
			if res.Existing != tt.wantExisting || res.Commit.Hash != e.head(t) {
				t.Errorf("Result %+v, head %s; want Existing=%v on the head", res, e.head(t), tt.wantExisting)
			}
			if n := e.withTrailer(t, TrailerAction, "step/1/weight/10"); n != 1 {
				t.Errorf("%d commits with the action's trailers, want exactly 1", n)
			}
			if got := len(e.srv.Commits(t, e.name)); got != 2 {
				t.Errorf("%d commits on main, want 2", got)
			}
		})
	}
}

func TestOpenReusesCache(t *testing.T) {
	e := newEnv(t)
	cache := t.TempDir()
	opts := Options{URL: e.url, Branch: "main", CacheDir: cache}
	r1 := e.open(t, cache)
	if !r1.cloned || r1.dir != CacheDir(opts) {
		t.Fatalf("first Open: cloned=%v dir=%s; want a clone in %s", r1.cloned, r1.dir, CacheDir(opts))
	}
	packs := inodes(t, filepath.Join(r1.dir, "objects", "pack"))
	if len(packs) == 0 {
		t.Fatal("first Open left no pack in the cache")
	}

	e.srv.Push(t, e.name, map[string][]byte{"new.txt": []byte("new\n")}, "new")
	r2 := e.open(t, cache)
	if r2.cloned {
		t.Error("second Open cloned again, want a fetch into the cache")
	}
	after := inodes(t, filepath.Join(r2.dir, "objects", "pack"))
	for name, ino := range packs {
		if after[name] != ino {
			t.Errorf("pack %s from the first clone was replaced or removed", name)
		}
	}
	if len(after) <= len(packs) {
		t.Errorf("packs %v -> %v: the fetch brought no new pack", packs, after)
	}
	snap, err := r2.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Commit() != e.head(t) {
		t.Errorf("head %s, want the fetched %s", snap.Commit(), e.head(t))
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 1 {
		t.Errorf("cache holds %d entries, want one directory for the one URL", len(entries))
	}
}

// TestSharedCache has two Repos (as two processes would) share one cache:
// each must see the packs the other fetched into it. Here r1 fetches an
// outside commit (a new pack) and pushes its own commit on top (a loose
// object); r2's fetch then finds nothing to fetch, and its dedupe walk from
// r1's commit reaches the outside commit, which is only in r1's pack.
func TestSharedCache(t *testing.T) {
	e := newEnv(t)
	cache := t.TempDir()
	r1, r2 := e.open(t, cache), e.open(t, cache)
	ctx := context.Background()
	for i := range 3 {
		e.srv.Push(t, e.name, map[string][]byte{"outside": []byte(fmt.Sprint(i))}, "outside")
		for k, r := range []*repo{r1, r2} {
			_, err := r.Apply(ctx, fixed(Change{Write: map[string][]byte{fmt.Sprint("r", k+1): []byte(fmt.Sprint(i))}},
				Message{Subject: "mine", Trailers: step("r", fmt.Sprint(i, "/", k))}))
			if err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
		}
	}
	snap, err := r2.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := snap.ReadFile("outside"); err != nil || string(got) != "2" {
		t.Errorf("outside = %q, %v; want the last outside commit's", got, err)
	}
}

func TestUnreachable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	t.Run("nothing listening", func(t *testing.T) {
		dead := "git://127.0.0.1:1/apps.git"
		_, err := Open(ctx, Options{URL: dead, Branch: "main", CacheDir: t.TempDir()})
		t.Logf("error: %v", err)
		if err == nil || !strings.Contains(err.Error(), dead) {
			t.Errorf("Open error = %v, want one naming %s", err, dead)
		}
	})
	t.Run("credentials in the URL refused", func(t *testing.T) {
		for _, u := range []string{
			"http://user:s3cret@127.0.0.1:1/apps.git",
			"https://ghp_s3cretS3cretS3cret0123456789@127.0.0.1:1/apps.git",
			"https://127.0.0.1:1/apps.git?access_token=s3cret",
			"ssh://git:s3cret@127.0.0.1:1/apps.git",
		} {
			cache := t.TempDir()
			_, err := Open(ctx, Options{URL: u, Branch: "main", CacheDir: cache})
			t.Logf("error: %v", err)
			if !errors.Is(err, redact.ErrCredentials) || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "GITCANARY_GIT_PASSWORD") {
				t.Errorf("Open(%s) error = %v, want a refusal saying where credentials go, without them", redact.URL(u), err)
			}
			if entries, _ := os.ReadDir(cache); len(entries) > 0 {
				t.Errorf("Open(%s) created %s in the cache", redact.URL(u), entries[0].Name())
			}
		}
	})
	t.Run("no such branch", func(t *testing.T) {
		_, err := Open(ctx, Options{URL: e.url, Branch: "nope", CacheDir: t.TempDir()})
		t.Logf("error: %v", err)
		if err == nil || !strings.Contains(err.Error(), e.url) || !strings.Contains(err.Error(), `"nope"`) {
			t.Errorf("Open error = %v, want one naming the URL and branch", err)
		}
	})
	t.Run("server gone after Open", func(t *testing.T) {
		srv := newEnv(t)
		r := srv.open(t, t.TempDir())
		srv.srv.Stop()
		_, err := r.Apply(ctx, fixed(Change{Write: map[string][]byte{"x": {1}}}, Message{Subject: "x"}))
		t.Logf("error: %v", err)
		if err == nil || !strings.Contains(err.Error(), srv.url) || !strings.Contains(err.Error(), "main") {
			t.Errorf("Apply error = %v, want one naming %s and main", err, srv.url)
		}
	})
}

// TestConcurrentApply runs writers that share one cache (the file lock
// serialises them) beside writers with caches of their own (their pushes
// race and are retried). Every action must land exactly once.
func TestConcurrentApply(t *testing.T) {
	e := newEnv(t)
	shared := t.TempDir()
	caches := []string{shared, shared, t.TempDir(), t.TempDir()}
	const each = 4
	var wg sync.WaitGroup
	errs := make(chan error, len(caches)*each)
	for w, cache := range caches {
		r, err := open(context.Background(), Options{URL: e.url, Branch: "main", CacheDir: cache, MaxAttempts: 20})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				file := fmt.Sprintf("writers/%d/%d", w, i)
				_, err := r.Apply(context.Background(), fixed(Change{Write: map[string][]byte{file: []byte(file)}},
					Message{Subject: file, Trailers: step("r", file)}))
				if err != nil {
					errs <- fmt.Errorf("%s: %w", file, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range caches {
		for i := range each {
			if n := e.withTrailer(t, TrailerAction, fmt.Sprintf("writers/%d/%d", w, i)); n != 1 {
				t.Errorf("writers/%d/%d landed %d times", w, i, n)
			}
		}
	}
	e.fsck(t)
}

func TestLocalURLs(t *testing.T) {
	e := newEnv(t)
	for _, url := range []string{"file://" + e.srv.Dir(e.name), e.srv.Dir(e.name)} {
		r, err := Open(context.Background(), Options{URL: url, Branch: "main", CacheDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Apply(context.Background(), fixed(Change{Write: map[string][]byte{"f": []byte(url)}}, Message{Subject: "local"})); err != nil {
			t.Fatalf("Apply over %s: %v", url, err)
		}
		if got := string(e.srv.ReadFile(t, e.name, "f")); got != url {
			t.Errorf("f = %q, want %q", got, url)
		}
	}
}

func TestEndpoint(t *testing.T) {
	tests := []struct {
		opts              Options
		goURL, display    string
		wantUser, wantPwd string // basic auth; both empty for none
	}{
		{opts: Options{URL: "git://127.0.0.1:9418/apps.git"}, goURL: "git://127.0.0.1:9418/apps.git", display: "git://127.0.0.1:9418/apps.git"},
		{opts: Options{URL: "https://git.example/apps.git", Username: "u", Password: "p"}, goURL: "https://git.example/apps.git", display: "https://git.example/apps.git", wantUser: "u", wantPwd: "p"},
		{opts: Options{URL: "https://alice@git.example/apps.git", Password: "p"}, goURL: "https://git.example/apps.git", display: "https://alice@git.example/apps.git", wantUser: "alice", wantPwd: "p"},
		{opts: Options{URL: "https://alice@git.example/apps.git", Username: "v", Password: "q"}, goURL: "https://git.example/apps.git", display: "https://alice@git.example/apps.git", wantUser: "v", wantPwd: "q"},
		{opts: Options{URL: "git://127.0.0.1:9418/apps.git", Username: "u", Password: "p"}, goURL: "git://127.0.0.1:9418/apps.git", display: "git://127.0.0.1:9418/apps.git"},
		{opts: Options{URL: "file:///srv/apps.git"}, goURL: "file:///srv/apps.git", display: "file:///srv/apps.git"},
		{opts: Options{URL: "ssh://git@host/apps.git"}, goURL: "ssh://git@host/apps.git", display: "ssh://git@host/apps.git"},
	}
	for _, tt := range tests {
		goURL, display, auth := endpoint(tt.opts)
		var user, pwd string
		if ba, ok := auth.(*http.BasicAuth); ok {
			user, pwd = ba.Username, ba.Password
		} else if auth != nil {
			t.Errorf("endpoint(%q): auth %T, want basic auth or none", tt.opts.URL, auth)
		}
		if goURL != tt.goURL || display != tt.display || user != tt.wantUser || pwd != tt.wantPwd {
			t.Errorf("endpoint(%q) = %q, %q, %v; want %q, %q, user %q", tt.opts.URL, goURL, display, auth, tt.goURL, tt.display, tt.wantUser)
		}
	}
}

func TestLockExcludes(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := lockDir(ctx, dir); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock while held: %v, want to wait until the deadline", err)
	}
	unlock()
	unlock2, err := lockDir(context.Background(), dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}

func inodes(t *testing.T, dir string) map[string]uint64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, en := range entries {
		fi, err := en.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[en.Name()] = fi.Sys().(*syscall.Stat_t).Ino
	}
	return out
}

func gitOut(t *testing.T, gitDir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"--git-dir=" + gitDir}, args...)...).Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return string(out)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
