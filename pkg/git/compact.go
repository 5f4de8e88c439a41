package git

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"
)

// Defaults of Options.CompactLoose and Options.CompactPacks.
const (
	DefaultCompactLoose = 1000
	DefaultCompactPacks = 8
)

// The cache grows by every step: each commit gitcanary makes writes about
// ten loose objects (the changed files, the trees on their paths, the
// commit), each fetch that brings something adds a pack. Left alone, 1,000
// steps of an app in a monorepo leave thousands of files of full copies of
// the big directory trees, and every object lookup looks in every pack.
// So, like `git gc --auto` (6,700 loose objects, 50 packs), the cache is
// compacted when it passes a threshold, under the cache lock:
//
//   - more than CompactLoose loose objects: all of them go into one new
//     pack (delta-compressed against each other), then are deleted;
//   - more than CompactPacks packs: every pack but the largest (the clone's,
//     usually) is merged into one, then deleted.
//
// Nothing is judged unreachable: a commit whose push was rejected keeps its
// few objects, packed. That costs bytes, where deciding reachability would
// mean walking the whole history of a big repository. Other processes that
// share the cache may still look for an object in a pack or loose file that
// is gone; cachedStorage re-reads the pack list and looks again.

// compact packs loose objects, then merges packs, as their thresholds
// say. Callers hold the cache lock and r.mu.
func (r *repo) compact() {
	r.compactErr = r.compactLoose()
	if r.compactErr == nil {
		r.compactErr = r.compactPacks()
	}
}

// compactLoose packs the loose objects when there are more than the
// threshold. Callers hold the cache lock and r.mu.
func (r *repo) compactLoose() error {
	limit := r.opts.CompactLoose
	if limit < 0 {
		return nil
	}
	if limit == 0 {
		limit = DefaultCompactLoose
	}
	if n := countLoose(r.dir); n <= limit {
		return nil
	}
	los, ok := r.gg.Storer.(storer.LooseObjectStorer)
	if !ok {
		return nil
	}
	var loose []plumbing.Hash
	if err := los.ForEachObjectHash(func(h plumbing.Hash) error { loose = append(loose, h); return nil }); err != nil {
		return fmt.Errorf("compact the git cache: list loose objects: %w", err)
	}
	if err := r.writePack(loose); err != nil {
		return fmt.Errorf("compact the git cache: pack %d loose objects: %w", len(loose), err)
	}
	for _, h := range loose {
		if err := los.DeleteLooseObject(h); err != nil {
			return fmt.Errorf("compact the git cache: %w", err)
		}
	}
	return nil
}

// compactPacks merges all packs but the largest when there are more than
// the threshold. Callers hold the cache lock and r.mu.
func (r *repo) compactPacks() error {
	limit := r.opts.CompactPacks
	if limit < 0 {
		return nil
	}
	if limit == 0 {
		limit = DefaultCompactPacks
	}
	pos, ok := r.gg.Storer.(storer.PackedObjectStorer)
	if !ok {
		return nil
	}
	packs, err := pos.ObjectPacks()
	if err != nil || len(packs) <= limit {
		return err
	}
	size := func(h plumbing.Hash) int64 {
		fi, err := os.Stat(filepath.Join(r.dir, "objects", "pack", "pack-"+h.String()+".pack"))
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	slices.SortFunc(packs, func(a, b plumbing.Hash) int { return cmp.Compare(size(b), size(a)) })
	merge := packs[1:]
	dg := dotgit.New(osfs.New(r.dir))
	var objs []plumbing.Hash
	for _, p := range merge {
		hs, err := packHashes(dg, p)
		if err != nil {
			return fmt.Errorf("compact the git cache: read pack %s: %w", short(p.String()), err)
		}
		objs = append(objs, hs...)
	}
	slices.SortFunc(objs, func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) })
	objs = slices.Compact(objs)
	if err := r.writePack(objs); err != nil {
		return fmt.Errorf("compact the git cache: merge %d packs: %w", len(merge), err)
	}
	for _, p := range merge {
		if err := pos.DeleteOldObjectPackAndIndex(p, time.Time{}); err != nil {
			return fmt.Errorf("compact the git cache: %w", err)
		}
	}
	return nil
}

// writePack stores objs as one new pack and makes the storage see it.
func (r *repo) writePack(objs []plumbing.Hash) (err error) {
	pw, ok := r.gg.Storer.(storer.PackfileWriter)
	if !ok {
		return fmt.Errorf("the cache's storage cannot write packs")
	}
	w, err := pw.PackfileWriter()
	if err != nil {
		return err
	}
	defer func() {
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if s, ok := r.gg.Storer.(interface{ Reindex() }); ok {
			s.Reindex()
		}
	}()
	_, err = packfile.NewEncoder(w, fullObjects{r.gg.Storer}, false).Encode(objs, packWindow)
	return err
}

// fullObjects hides the storage's DeltaObject from the pack encoder, which
// would otherwise reuse the deltas the packs being merged hold: two packs
// can hold A as a delta of B and B as a delta of A, and go-git's encoder
// then recurses without end. Deltas are computed afresh instead.
type fullObjects struct{ storer.EncodedObjectStorer }

// packHashes lists the objects of a pack from its index.
func packHashes(dg *dotgit.DotGit, pack plumbing.Hash) ([]plumbing.Hash, error) {
	f, err := dg.ObjectPackIdx(pack)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	idx := idxfile.NewMemoryIndex()
	if err := idxfile.NewDecoder(f).Decode(idx); err != nil {
		return nil, err
	}
	it, err := idx.Entries()
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []plumbing.Hash
	for {
		e, err := it.Next()
		if err != nil {
			break // io.EOF
		}
		out = append(out, e.Hash)
	}
	return out, nil
}

// countLoose counts the loose object files of the cache.
func countLoose(dir string) int {
	n := 0
	fans, _ := os.ReadDir(filepath.Join(dir, "objects"))
	for _, f := range fans {
		if len(f.Name()) != 2 || !f.IsDir() {
			continue
		}
		objs, _ := os.ReadDir(filepath.Join(dir, "objects", f.Name()))
		n += len(objs)
	}
	return n
}

// CacheStats is what the cache of a repository holds on disk.
type CacheStats struct {
	Loose int   // loose object files
	Packs int   // pack files
	Bytes int64 // every file of the cache
}

// Stats measures the cache directory of a repository (see CacheDir).
func Stats(dir string) (CacheStats, error) {
	var s CacheStats
	s.Loose = countLoose(dir)
	packs, _ := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.pack"))
	s.Packs = len(packs)
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			s.Bytes += fi.Size()
		}
		return err
	})
	return s, err
}
