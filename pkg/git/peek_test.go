package git

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"
)

// cacheFiles lists the files of a cache directory with their sizes.
func cacheFiles(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		out[p] = fi.Size()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Peek reads where the branch is on the server, and downloads nothing: the
// cache is the same file for file after it, even when the branch moved.
func TestPeek(t *testing.T) {
	e := newEnv(t)
	cache := t.TempDir()
	r := e.open(t, cache)
	ctx := context.Background()
	got, err := r.Peek(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := e.head(t); got != want {
		t.Fatalf("Peek = %s, want the head %s", got, want)
	}

	e.srv.Push(t, e.name, map[string][]byte{"apps/ratings/deployment.yaml": []byte("kind: Deployment\n")}, "someone else's commit")
	before := cacheFiles(t, cache)
	if got, err = r.Peek(ctx); err != nil {
		t.Fatal(err)
	}
	if want := e.head(t); got != want {
		t.Errorf("after a push, Peek = %s, want the new head %s", got, want)
	}
	after := cacheFiles(t, cache)
	if len(after) != len(before) {
		t.Errorf("Peek changed the cache: %d files before, %d after", len(before), len(after))
	}
	for p, n := range before {
		if after[p] != n {
			t.Errorf("Peek changed %s in the cache", p)
		}
	}
	// The cache still has the old head: only Head fetches.
	head, err := r.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head.Commit() != got {
		t.Errorf("Head after Peek = %s, want %s", head.Commit(), got)
	}

	missing, err := open(ctx, Options{URL: e.url, Branch: "main", CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	missing.opts.Branch = "gone"
	if _, err := missing.Peek(ctx); err == nil {
		t.Error("Peek of a branch the server does not have succeeded")
	}
}
