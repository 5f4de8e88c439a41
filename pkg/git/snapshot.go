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
	return &snapshot{mu: &r.mu, store: r.gg.Storer, commit: commit, tree: t}, nil
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
	b, err := object.GetBlob(s.store, e.Hash)
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", path, short(s.Commit()), err)
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", path, short(s.Commit()), err)
	}
	defer rd.Close()
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", path, short(s.Commit()), err)
	}
	return data, nil
}

// Files lists the files under dir; a dir that does not exist has none.
func (s *snapshot) Files(dir string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tree
	if dir != "" && dir != "." {
		if !fs.ValidPath(dir) {
			return nil, &fs.PathError{Op: "list", Path: dir, Err: fs.ErrInvalid}
		}
		e, err := s.tree.FindEntry(dir)
		if err != nil {
			return nil, nil
		}
		if e.Mode != filemode.Dir {
			return nil, &fs.PathError{Op: "list", Path: dir, Err: errors.New("not a directory")}
		}
		if t, err = object.GetTree(s.store, e.Hash); err != nil {
			return nil, fmt.Errorf("list %s at %s: %w", dir, short(s.Commit()), err)
		}
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
