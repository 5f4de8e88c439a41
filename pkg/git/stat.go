package git

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// MaxFileSize is the largest file gitcanary reads from a repository:
// 10 MiB, more than any manifest a person writes, and the cap Argo CD's
// repo-server applies by default to the manifests of a directory app. A
// bigger file is an error naming it, never a silent skip, and its content
// is never loaded.
const MaxFileSize = 10 << 20

// ErrFileTooLarge is wrapped by FileTooLargeError.
var ErrFileTooLarge = errors.New("file too large")

// FileTooLargeError is a file over MaxFileSize.
type FileTooLargeError struct {
	Path  string
	Size  int64
	Limit int64
}

func (e *FileTooLargeError) Error() string {
	return fmt.Sprintf("%s is %d bytes (%.1f MiB), over gitcanary's limit of %d MiB per file it reads: keep large data out of the kustomization's resources, patches and generators", e.Path, e.Size, float64(e.Size)/(1<<20), e.Limit>>20)
}

// Is lets errors.Is(err, ErrFileTooLarge) match.
func (e *FileTooLargeError) Is(target error) bool { return target == ErrFileTooLarge }

// ErrSymlink is the error of Stat for a path that goes through a symbolic
// link to a directory: git stores the link, not what it points to.
var ErrSymlink = errors.New("is a symbolic link")

// FileInfo describes a path of a snapshot without reading its content.
type FileInfo struct {
	Dir     bool
	Symlink bool   // a symbolic link: its content is the link's target
	Hash    string // git object hash: a file's names its content, a directory's everything below it
	Size    int64  // bytes, for a file
}

// Stat describes path in the snapshot. A missing path is an error wrapping
// fs.ErrNotExist; a path below a symbolic link, one wrapping ErrSymlink
// that names the link.
func (s *snapshot) Stat(path string) (FileInfo, error) {
	if path == "" || path == "." {
		return FileInfo{Dir: true, Hash: s.tree.Hash.String()}, nil
	}
	if !fs.ValidPath(path) {
		return FileInfo{}, &fs.PathError{Op: "stat", Path: path, Err: fs.ErrInvalid}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tree
	names := strings.Split(path, "/")
	for i, name := range names {
		e, err := t.FindEntry(name)
		if err != nil {
			return FileInfo{}, &fs.PathError{Op: "stat", Path: path, Err: fs.ErrNotExist}
		}
		last := i == len(names)-1
		switch {
		case e.Mode == filemode.Dir && last:
			return FileInfo{Dir: true, Hash: e.Hash.String()}, nil
		case e.Mode == filemode.Dir:
			if t, err = object.GetTree(s.store, e.Hash); err != nil {
				return FileInfo{}, fmt.Errorf("stat %s at %s: %w", path, short(s.Commit()), err)
			}
		case e.Mode == filemode.Symlink && !last:
			return FileInfo{}, &fs.PathError{Op: "stat", Path: strings.Join(names[:i+1], "/"), Err: ErrSymlink}
		case e.Mode.IsFile() && last:
			size, err := blobSize(s.store, e.Hash)
			if err != nil {
				return FileInfo{}, fmt.Errorf("stat %s at %s: %w", path, short(s.Commit()), err)
			}
			return FileInfo{Symlink: e.Mode == filemode.Symlink, Hash: e.Hash.String(), Size: size}, nil
		default: // below a file, or a submodule: nothing git has here
			return FileInfo{}, &fs.PathError{Op: "stat", Path: path, Err: fs.ErrNotExist}
		}
	}
	panic("unreachable")
}

// blobSize reads a blob's size from its header, not its content.
func blobSize(store storer.EncodedObjectStorer, h plumbing.Hash) (int64, error) {
	if s, ok := store.(interface {
		EncodedObjectSize(plumbing.Hash) (int64, error)
	}); ok {
		return s.EncodedObjectSize(h)
	}
	b, err := object.GetBlob(store, h)
	if err != nil {
		return 0, err
	}
	return b.Size, nil
}

// readBlob reads the blob of the file at path, refusing one over MaxFileSize
// before its content is read.
func readBlob(store storer.EncodedObjectStorer, h plumbing.Hash, path string) ([]byte, error) {
	size, err := blobSize(store, h)
	if err != nil {
		return nil, err
	}
	if size > MaxFileSize {
		return nil, &FileTooLargeError{Path: path, Size: size, Limit: MaxFileSize}
	}
	b, err := object.GetBlob(store, h)
	if err != nil {
		return nil, err
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(io.LimitReader(rd, MaxFileSize+1))
}
