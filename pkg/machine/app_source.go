package machine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"maps"
	"slices"
	"strings"

	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// appSource is the repository as a render of an App sees it: the files in
// memory over the commit's, minus deleted paths. Only what kustomize asks
// for is read from the commit.
type appSource struct {
	files map[string][]byte
	snap  git.Snapshot // nil: files is the whole repository
	gone  []string
}

var _ kustomize.Source = (*appSource)(nil)

// source is the App's repository with override applied (a nil value deletes).
func (a *App) source(override map[string][]byte) *appSource {
	s := &appSource{files: a.Files, snap: a.snap, gone: a.gone}
	if len(override) == 0 {
		return s
	}
	s.files = maps.Clone(a.Files)
	for p, data := range override {
		if data == nil {
			delete(s.files, p)
			if s.snap != nil {
				s.gone = append(slices.Clip(s.gone), p)
			}
		} else {
			s.files[p] = data
		}
	}
	return s
}

func (s *appSource) deleted(p string) bool {
	for _, g := range s.gone {
		if p == g || strings.HasPrefix(p, g+"/") {
			return true
		}
	}
	return false
}

// inMemoryDir reports whether a file in memory is below p.
func (s *appSource) inMemoryDir(p string) bool {
	if p == "" {
		return len(s.files) > 0
	}
	for q := range s.files {
		if strings.HasPrefix(q, p+"/") {
			return true
		}
	}
	return false
}

// Stat implements kustomize.Source.
func (s *appSource) Stat(p string) (kustomize.Entry, error) {
	if data, ok := s.files[p]; ok {
		return kustomize.Entry{ID: kustomize.BlobID(data)}, nil
	}
	if s.inMemoryDir(p) {
		return kustomize.Entry{Dir: true}, nil
	}
	if s.snap == nil || s.deleted(p) {
		return kustomize.Entry{}, &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	}
	fi, err := s.snap.Stat(p)
	var pe *fs.PathError
	switch {
	case errors.Is(err, git.ErrSymlink) && errors.As(err, &pe):
		return kustomize.Entry{}, symlinkErr(pe.Path)
	case err != nil:
		return kustomize.Entry{}, inputErr(err)
	case fi.Symlink:
		return kustomize.Entry{}, symlinkErr(p)
	}
	return kustomize.Entry{Dir: fi.Dir, ID: fi.Hash}, nil
}

// ReadFile implements kustomize.Source.
func (s *appSource) ReadFile(p string) ([]byte, error) {
	if data, ok := s.files[p]; ok {
		return data, nil
	}
	if s.snap == nil || s.deleted(p) {
		return nil, &fs.PathError{Op: "read", Path: p, Err: fs.ErrNotExist}
	}
	data, err := s.snap.ReadFile(p)
	return data, inputErr(err)
}

// ReadDir implements kustomize.Source.
func (s *appSource) ReadDir(dir string) ([]string, error) {
	names := map[string]bool{}
	prefix := dir + "/"
	if dir == "" {
		prefix = ""
	}
	add := func(p string) {
		if rest, ok := strings.CutPrefix(p, prefix); ok && !s.deleted(p) {
			name, _, _ := strings.Cut(rest, "/")
			names[name] = true
		}
	}
	for p := range s.files {
		add(p)
	}
	if s.snap != nil && !s.deleted(dir) {
		files, err := s.snap.Files(dir)
		if err != nil {
			return nil, err
		}
		for _, p := range files {
			add(p)
		}
	}
	return slices.Sorted(maps.Keys(names)), nil
}

// symlinkErr refuses a symbolic link on a render's path. Argo CD's
// repo-server follows links that stay inside the repository; gitcanary
// reads git objects, not a checkout, and does not.
func symlinkErr(p string) error {
	return &inputError{fmt.Errorf("%s is a symbolic link; gitcanary reads the repository's objects, not a checkout, and does not follow links: commit the file or directory itself, or reference its real path in the kustomization", p)}
}

// inputError is an error of the user's repository (a file over the size
// cap, a link): invalid input, exit code 2, with the message unchanged.
type inputError struct{ err error }

func (e *inputError) Error() string   { return e.err.Error() }
func (e *inputError) Unwrap() []error { return []error{e.err, release.ErrInvalid} }

// inputErr marks the errors of the repository's content as invalid input.
func inputErr(err error) error {
	if err == nil || errors.Is(err, release.ErrInvalid) {
		return err
	}
	if errors.Is(err, git.ErrFileTooLarge) || errors.Is(err, git.ErrSymlink) {
		return &inputError{err}
	}
	return err
}

// declarations yields files to look for where an object is declared, for
// lint's messages, read only when asked: the files the app's render reads
// (those in the app path first), then every other file of the repository
// (those in the app path first), each group in path order. The render is
// the cached one, so a lint without findings reads nothing.
func (a *App) declarations(ctx context.Context, b kustomize.Builder) iter.Seq2[string, []byte] {
	return func(yield func(string, []byte) bool) {
		r, err := b.Render(ctx, a.source(nil), a.Path)
		if err != nil {
			return
		}
		src := a.source(nil)
		read := map[string]bool{}
		emit := func(paths []string) bool {
			for _, p := range a.appFirst(paths) {
				if read[p] {
					continue
				}
				read[p] = true
				data, err := src.ReadFile(p)
				if err != nil {
					continue // too large, or gone: it declares nothing we can show
				}
				if !yield(p, data) {
					return false
				}
			}
			return true
		}
		if !emit(r.Files) {
			return
		}
		all, err := src.list()
		if err != nil {
			return
		}
		emit(all)
	}
}

// appFirst orders paths: those under the app path, then the others, each sorted.
func (a *App) appFirst(paths []string) []string {
	out := slices.Clone(paths)
	in := func(p string) bool { return strings.HasPrefix(p, a.Path+"/") }
	slices.SortFunc(out, func(p, q string) int {
		if in(p) != in(q) {
			if in(p) {
				return -1
			}
			return 1
		}
		return strings.Compare(p, q)
	})
	return out
}

// files lists every file of the repository, names only.
func (s *appSource) list() ([]string, error) {
	names := map[string]bool{}
	for p := range s.files {
		names[p] = true
	}
	if s.snap != nil {
		all, err := s.snap.Files("")
		if err != nil {
			return nil, err
		}
		for _, p := range all {
			if !s.deleted(p) {
				names[p] = true
			}
		}
	}
	return slices.Collect(maps.Keys(names)), nil
}
