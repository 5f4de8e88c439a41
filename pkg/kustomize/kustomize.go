// Package kustomize renders kustomizations in-process with krusty, the
// library behind `kustomize build`, with the options Argo CD uses by default.
package kustomize

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Builder renders kustomizations to multi-document YAML.
type Builder interface {
	// Build renders the kustomization in dir of fsys.
	Build(ctx context.Context, fsys filesys.FileSystem, dir string) ([]byte, error)
	// Render renders the kustomization in dir of a repository, reading
	// only the files kustomize loads.
	Render(ctx context.Context, src Source, dir string) (Rendered, error)
}

// Krusty is the in-process Builder. krusty keeps global state in places and
// panics on some malformed input, so builds are serialized and panics
// become errors. Its renders are cached (Render).
type Krusty struct {
	mu    sync.Mutex
	cache renderCache
}

var _ Builder = (*Krusty)(nil)

// Build runs `kustomize build dir` on fsys.
func (k *Krusty) Build(ctx context.Context, fsys filesys.FileSystem, dir string) (out []byte, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = &BuildError{Dir: dir, Msg: fmt.Sprintf("panic: %v", r)}
		}
	}()
	opts := krusty.MakeDefaultOptions()
	m, err := krusty.MakeKustomizer(opts).Run(fsys, dir)
	if err != nil {
		return nil, &BuildError{Dir: dir, Msg: err.Error()}
	}
	out, err = m.AsYaml()
	if err != nil {
		return nil, &BuildError{Dir: dir, Msg: err.Error()}
	}
	return out, nil
}

// ErrBuild is matched by every BuildError.
var ErrBuild = errors.New("kustomize cannot build the app")

// BuildError is a kustomization that does not build: the files in git are
// wrong (a missing resource, YAML that does not parse), and Argo CD's
// repo-server would fail on them the same way. Its message names the app
// path and files relative to the repository root.
type BuildError struct {
	Dir string // as given to Build
	Msg string // kustomize's message
}

func (e *BuildError) Error() string {
	dir := strings.TrimPrefix(strings.TrimPrefix(e.Dir, Root), "/")
	msg := strings.ReplaceAll(e.Msg, Root+"/", "")
	return fmt.Sprintf("kustomize build %s failed (Argo CD would fail the same way): %s", dir, msg)
}

// Is makes errors.Is(err, ErrBuild) match.
func (e *BuildError) Is(target error) bool { return target == ErrBuild }

// Root is where InMemory places a repository's files.
const Root = "/repo"

// InMemory copies files (repository-relative paths → content) into an
// in-memory file system under Root.
func InMemory(files map[string][]byte) (filesys.FileSystem, error) {
	fsys := filesys.MakeFsInMemory()
	for p, data := range files {
		full := path.Join(Root, p)
		if err := fsys.MkdirAll(path.Dir(full)); err != nil {
			return nil, err
		}
		if err := fsys.WriteFile(full, data); err != nil {
			return nil, err
		}
	}
	return fsys, nil
}

// FromFS reads every regular file of an fs.FS into a path → content map.
func FromFS(fsys fs.FS, root string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		files[p] = data
		return err
	})
	return files, err
}
