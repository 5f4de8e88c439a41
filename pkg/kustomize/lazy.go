package kustomize

import (
	"errors"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Source is a repository tree that a render reads lazily: only the files
// kustomize loads for the kustomization it builds (its resources,
// components, patches, generator and configuration files, following
// directories and ../ references) are ever read, whatever the size of
// the repository. Paths are slash-separated and relative to the
// repository's root, "" being the root.
type Source interface {
	// Stat describes path; an error wrapping fs.ErrNotExist when absent.
	// Any other error (a file over a size cap, a symbolic link gitcanary
	// does not follow) fails the render with that error.
	Stat(path string) (Entry, error)
	// ReadFile returns a file's content.
	ReadFile(path string) ([]byte, error)
	// ReadDir lists the names directly in a directory.
	ReadDir(path string) ([]string, error)
}

// Entry describes a path of a Source.
type Entry struct {
	Dir bool
	// ID names a file's content: files with equal IDs have equal
	// content (a git blob hash, see BlobID). Directories have none.
	ID string
}

// access is one question a render asked the Source, and the answer.
type access struct {
	path    string
	entry   Entry
	missing bool
}

// lazyFS is the kustomize file system of one render: every path kustomize
// asks about is looked up in the Source once, and what exists is copied
// into an in-memory file system that answers the question. It remembers
// every answer (the render's inputs) and the first error of the Source,
// which wins over whatever kustomize makes of the failed read (it takes
// some failed reads for inline content).
type lazyFS struct {
	mem    filesys.FileSystem
	src    Source
	looked map[string]bool // repository paths looked up
	seen   []access
	listed bool // a directory was listed: the render depends on more than seen
	err    error
}

var _ filesys.FileSystem = (*lazyFS)(nil)

func newLazyFS(src Source) *lazyFS {
	return &lazyFS{mem: filesys.MakeFsInMemory(), src: src, looked: map[string]bool{}}
}

// rel maps a path of the file system to the repository's: "", false when
// it is outside Root.
func rel(p string) (string, bool) {
	if !path.IsAbs(p) {
		p = "/" + p
	}
	p = path.Clean(filepath.ToSlash(p))
	if p == Root {
		return "", true
	}
	r, ok := strings.CutPrefix(p, Root+"/")
	return r, ok
}

// load looks p up in the Source, once, and copies what is there into mem.
func (l *lazyFS) load(p string) {
	r, ok := rel(p)
	if !ok || l.looked[r] {
		return
	}
	l.looked[r] = true
	full := path.Join(Root, r)
	e, err := l.src.Stat(r)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		l.seen = append(l.seen, access{path: r, missing: true})
		return
	case err != nil:
		l.fail(err)
		return
	case e.Dir:
		l.seen = append(l.seen, access{path: r, entry: Entry{Dir: true}})
		l.fail(l.mem.MkdirAll(full))
		return
	}
	data, err := l.src.ReadFile(r)
	if err != nil {
		l.fail(err)
		return
	}
	l.seen = append(l.seen, access{path: r, entry: e})
	if err := l.mem.MkdirAll(path.Dir(full)); err != nil {
		l.fail(err)
		return
	}
	l.fail(l.mem.WriteFile(full, data))
}

// loadAll loads dir and everything below it, for the operations that list.
func (l *lazyFS) loadAll(dir string) {
	l.listed = true
	l.load(dir)
	r, ok := rel(dir)
	if !ok || !l.mem.IsDir(path.Join(Root, r)) {
		return
	}
	names, err := l.src.ReadDir(r)
	if err != nil {
		l.fail(err)
		return
	}
	for _, n := range names {
		l.loadAll(path.Join(Root, r, n))
	}
}

func (l *lazyFS) fail(err error) {
	if err != nil && l.err == nil {
		l.err = err
	}
}

// files lists the repository paths of the files the render read, sorted.
func (l *lazyFS) files() []string {
	var out []string
	for _, a := range l.seen {
		if !a.missing && !a.entry.Dir {
			out = append(out, a.path)
		}
	}
	slices.Sort(out)
	return out
}

func (l *lazyFS) Create(p string) (filesys.File, error) { l.load(p); return l.mem.Create(p) }
func (l *lazyFS) Mkdir(p string) error                  { l.load(p); return l.mem.Mkdir(p) }
func (l *lazyFS) MkdirAll(p string) error               { l.load(p); return l.mem.MkdirAll(p) }
func (l *lazyFS) RemoveAll(p string) error              { l.loadAll(p); return l.mem.RemoveAll(p) }
func (l *lazyFS) Open(p string) (filesys.File, error)   { l.load(p); return l.mem.Open(p) }
func (l *lazyFS) IsDir(p string) bool                   { l.load(p); return l.mem.IsDir(p) }
func (l *lazyFS) Exists(p string) bool                  { l.load(p); return l.mem.Exists(p) }
func (l *lazyFS) ReadFile(p string) ([]byte, error)     { l.load(p); return l.mem.ReadFile(p) }
func (l *lazyFS) WriteFile(p string, d []byte) error    { l.load(p); return l.mem.WriteFile(p, d) }

func (l *lazyFS) ReadDir(p string) ([]string, error) { l.loadAll(p); return l.mem.ReadDir(p) }

func (l *lazyFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	l.load(p)
	return l.mem.CleanedAbs(p)
}

func (l *lazyFS) Glob(pattern string) ([]string, error) {
	dir := pattern
	for strings.ContainsAny(dir, "*?[\\") {
		dir = path.Dir(dir)
	}
	l.loadAll(dir)
	return l.mem.Glob(pattern)
}

func (l *lazyFS) Walk(p string, fn filepath.WalkFunc) error {
	l.loadAll(p)
	return l.mem.Walk(p, fn)
}
