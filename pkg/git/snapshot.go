package git

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// snapshot reads one commit's tree straight from the object store.
type snapshot struct {
	mu     *sync.Mutex // the repo's storer lock
	store  storer.EncodedObjectStorer
	commit plumbing.Hash
	tree   *object.Tree
	files  *treeCache // the repo's, guarded by mu
}

var _ Snapshot = (*snapshot)(nil)

// snapshotAt loads the tree of commit. Callers hold r.mu.
func (r *repo) snapshotAt(commit plumbing.Hash) (*snapshot, error) {
	c, err := object.GetCommit(r.gg.Storer, commit)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", short(commit.String()), err)
	}
	t, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("read tree of %s: %w", short(commit.String()), err)
	}
	return &snapshot{mu: &r.mu, store: r.gg.Storer, commit: commit, tree: t, files: &r.files}, nil
}

func (s *snapshot) Commit() string { return s.commit.String() }

func (s *snapshot) ReadFile(path string) ([]byte, error) {
	if !fs.ValidPath(path) || path == "." {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fs.ErrInvalid}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.tree.FindEntry(path)
	if err != nil || !e.Mode.IsFile() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fs.ErrNotExist}
	}
	data, err := readBlob(s.store, e.Hash, path)
	if errors.Is(err, ErrFileTooLarge) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", path, short(s.Commit()), err)
	}
	return data, nil
}

// Files lists the files under dir; a dir that does not exist has none.
func (s *snapshot) Files(dir string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.dir("list", dir)
	if t == nil || err != nil {
		return nil, err
	}
	// A tree walker lists names without loading any blob.
	w := object.NewTreeWalker(t, true, nil)
	defer w.Close()
	var files []string
	for {
		name, e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list %s at %s: %w", dir, short(s.Commit()), err)
		}
		if e.Mode == filemode.Dir || e.Mode == filemode.Submodule {
			continue
		}
		files = append(files, join(dirPrefix(dir), name))
	}
	sort.Strings(files)
	return files, nil
}

func dirPrefix(dir string) string {
	if dir == "." {
		return ""
	}
	return dir
}

// dir returns the tree of dir; nil, nil when there is no such directory.
// Callers hold mu.
func (s *snapshot) dir(op, dir string) (*object.Tree, error) {
	if dir == "" || dir == "." {
		return s.tree, nil
	}
	if !fs.ValidPath(dir) {
		return nil, &fs.PathError{Op: op, Path: dir, Err: fs.ErrInvalid}
	}
	e, err := s.tree.FindEntry(dir)
	if err != nil {
		return nil, nil
	}
	if e.Mode != filemode.Dir {
		return nil, &fs.PathError{Op: op, Path: dir, Err: errors.New("not a directory")}
	}
	t, err := object.GetTree(s.store, e.Hash)
	if err != nil {
		return nil, fmt.Errorf("%s %s at %s: %w", op, dir, short(s.Commit()), err)
	}
	return t, nil
}

// ReadTree reads the files under dir; a dir that does not exist has none.
func (s *snapshot) ReadTree(dir string) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.dir("read", dir)
	if t == nil || err != nil {
		return map[string][]byte{}, err
	}
	used := map[plumbing.Hash]*dirFiles{}
	d, err := s.files.load(s.store, t, dirPrefix(dir), used)
	if errors.Is(err, ErrFileTooLarge) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", dir, short(s.Commit()), err)
	}
	s.files.prev, s.files.cur = s.files.cur, used
	out := map[string][]byte{}
	d.flatten(dirPrefix(dir), out)
	return out, nil
}

// treeCache holds the files below the trees the repository's last two
// ReadTree calls read, by tree hash. A tree's hash names everything below
// it, so a directory unchanged since then is not read again: reading a
// repository of many apps after a commit to one reads the few trees on
// the changed paths and the changed files, not every file. It holds about
// one copy of the files of the trees read (unchanged files are shared).
type treeCache struct {
	cur, prev map[plumbing.Hash]*dirFiles
}

// dirFiles is the content of one tree.
type dirFiles struct {
	hash  plumbing.Hash
	files map[string][]byte    // by name
	dirs  map[string]*dirFiles // by name
}

func (c *treeCache) get(h plumbing.Hash) *dirFiles {
	if d, ok := c.cur[h]; ok {
		return d
	}
	return c.prev[h]
}

// load reads tree t, or finds it in the cache, and adds it and every tree
// below it to used.
func (c *treeCache) load(store storer.EncodedObjectStorer, t *object.Tree, dir string, used map[plumbing.Hash]*dirFiles) (*dirFiles, error) {
	if d := c.get(t.Hash); d != nil {
		d.mark(used)
		return d, nil
	}
	d := &dirFiles{hash: t.Hash, files: map[string][]byte{}, dirs: map[string]*dirFiles{}}
	for _, e := range t.Entries {
		switch {
		case e.Mode == filemode.Submodule:
		case e.Mode == filemode.Dir:
			sub := c.get(e.Hash)
			if sub != nil {
				sub.mark(used)
			} else {
				st, err := object.GetTree(store, e.Hash)
				if err != nil {
					return nil, err
				}
				if sub, err = c.load(store, st, join(dir, e.Name), used); err != nil {
					return nil, err
				}
			}
			d.dirs[e.Name] = sub
		case !e.Mode.IsFile():
			return nil, &fs.PathError{Op: "read", Path: e.Name, Err: fs.ErrNotExist}
		default:
			data, err := readBlob(store, e.Hash, join(dir, e.Name))
			if errors.Is(err, ErrFileTooLarge) {
				return nil, err
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e.Name, err)
			}
			d.files[e.Name] = data
		}
	}
	used[t.Hash] = d
	return d, nil
}

func (d *dirFiles) mark(used map[plumbing.Hash]*dirFiles) {
	used[d.hash] = d
	for _, sub := range d.dirs {
		sub.mark(used)
	}
}

func (d *dirFiles) flatten(dir string, out map[string][]byte) {
	for name, data := range d.files {
		out[join(dir, name)] = data
	}
	for name, sub := range d.dirs {
		sub.flatten(join(dir, name), out)
	}
}
