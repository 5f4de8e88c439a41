package git

import (
	"context"
	"fmt"
	"testing"
)

// TestCompactKeepsCacheBounded makes many steps, with another writer
// pushing between them (so fetches bring packs), and checks after each
// that the cache stays under its thresholds, then that git accepts the
// cache and that gitcanary still reads it.
func TestCompactKeepsCacheBounded(t *testing.T) {
	e := newEnv(t)
	cache := t.TempDir()
	const loose, packs = 40, 3
	r, err := open(context.Background(), Options{URL: e.url, Branch: "main", CacheDir: cache, CompactLoose: loose, CompactPacks: packs})
	if err != nil {
		t.Fatal(err)
	}
	maxLoose, maxPacks, compacted := 0, 0, 0
	for i := range 60 {
		if i%4 == 0 {
			e.srv.Push(t, e.name, map[string][]byte{"apps/ratings/cm.yaml": fmt.Appendf(nil, "n: %d\n", i)}, "bot")
		}
		_, err := r.Apply(context.Background(), fixed(Change{Write: map[string][]byte{
			"apps/reviews/.gitcanary/state.yaml": fmt.Appendf(nil, "step: %d\n", i),
		}}, Message{Subject: fmt.Sprintf("step %d", i), Trailers: step("reviews-v2", fmt.Sprintf("step/%d", i))}))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		s, err := Stats(r.dir)
		if err != nil {
			t.Fatal(err)
		}
		if s.Loose < maxLoose {
			compacted++
		}
		maxLoose, maxPacks = max(maxLoose, s.Loose), max(maxPacks, s.Packs)
		if r.compactErr != nil {
			t.Fatalf("step %d: compaction: %v", i, r.compactErr)
		}
	}
	// Each step writes a handful of objects, so the loose count passes
	// the threshold by less than one step's worth before it drops.
	if maxLoose > loose+10 || maxPacks > packs {
		t.Errorf("cache held up to %d loose objects and %d packs; want at most %d and %d", maxLoose, maxPacks, loose+10, packs)
	}
	if compacted == 0 {
		t.Error("the loose objects were never packed")
	}
	gitOut(t, r.dir, "fsck", "--strict", "--no-dangling")

	// A new process on the compacted cache reads the head and its history.
	r2 := e.open(t, cache)
	snap, err := r2.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if data, err := snap.ReadFile("apps/reviews/.gitcanary/state.yaml"); err != nil || string(data) != "step: 59\n" {
		t.Errorf("state.yaml = %q, %v", data, err)
	}
	log, err := r2.Log(context.Background(), "", func(c Commit) bool { return c.Trailer(TrailerRelease) == "reviews-v2" }, 0)
	if err != nil || len(log) != 60 {
		t.Errorf("Log: %d commits, %v; want 60", len(log), err)
	}
}

// TestCompactUnderAnotherProcess: a process whose view of the packs is
// from before another one compacted the shared cache still reads every
// object (it re-reads the pack list instead of failing).
func TestCompactUnderAnotherProcess(t *testing.T) {
	e := newEnv(t)
	cache := t.TempDir()
	reader := e.open(t, cache)
	before, err := reader.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	writer, err := open(context.Background(), Options{URL: e.url, Branch: "main", CacheDir: cache, CompactLoose: 1, CompactPacks: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		e.srv.Push(t, e.name, map[string][]byte{"docs/notes/b.txt": fmt.Appendf(nil, "%d\n", i)}, "bot")
		if _, err := writer.Apply(context.Background(), fixed(Change{Write: map[string][]byte{"docs/notes/c.txt": fmt.Appendf(nil, "%d\n", i)}},
			Message{Subject: "c", Trailers: step("x", fmt.Sprint(i))})); err != nil {
			t.Fatal(err)
		}
	}
	if s, _ := Stats(writer.dir); s.Loose != 0 || s.Packs > 2 {
		t.Fatalf("after compaction: %+v, want no loose objects and at most two packs", s)
	}
	// reader has neither re-read the packs nor taken the lock since.
	if data, err := before.ReadFile("apps/reviews/service.yaml"); err != nil || string(data) != string(fixture["apps/reviews/service.yaml"]) {
		t.Errorf("old snapshot after compaction: %q, %v", data, err)
	}
	if _, err := reader.Log(context.Background(), writer.seen.String(), nil, 0); err != nil {
		t.Errorf("Log from the writer's commit: %v", err)
	}
	// Blobs are not in the shared object cache: these come from disk.
	after, err := reader.At(context.Background(), writer.seen.String())
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"docs/notes/b.txt": "2\n", "docs/notes/c.txt": "2\n"} {
		if data, err := after.ReadFile(p); err != nil || string(data) != want {
			t.Errorf("%s after compaction: %q, %v; want %q", p, data, err, want)
		}
	}
}
