// Package kustomize renders kustomizations in-process with krusty, the
// library behind `kustomize build`, with the options Argo CD uses by default.
package kustomize

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sync"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Builder renders the kustomization in dir of fsys to multi-document YAML.
type Builder interface {
	Build(ctx context.Context, fsys filesys.FileSystem, dir string) ([]byte, error)
}

// Krusty is the in-process Builder. krusty keeps global state in places and
// panics on some malformed input, so builds are serialized and panics
// become errors.
type Krusty struct{ mu sync.Mutex }

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
			err = fmt.Errorf("kustomize build %s: panic: %v", dir, r)
		}
	}()
	opts := krusty.MakeDefaultOptions()
	m, err := krusty.MakeKustomizer(opts).Run(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	out, err = m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	return out, nil
}

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
