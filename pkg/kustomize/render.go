package kustomize

import (
	"container/list"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"sync"
)

// Rendered is the result of a render.
type Rendered struct {
	YAML []byte
	// Files lists the repository paths of every file kustomize read, sorted:
	// the kustomization's closure.
	Files []string
	// Cached reports that the render was not built but found in the cache.
	Cached bool
}

// renderCacheSize bounds the bytes of manifests the render cache of one
// Krusty keeps; a controller shares one Krusty among all its releases.
// Most hits are within a step (the app is rendered as it is, without the
// component, and as changed) and of the user's own manifests across steps,
// so a small cache does: it must not weigh on a controller's memory.
const renderCacheSize = 16 << 20

// Render renders the kustomization in dir (relative to the repository's
// root) of src, reading from src only what kustomize loads.
//
// Renders are cached by their inputs: every path the build looked up and
// the ID of each file it read, so two renders whose inputs are the same
// files give the same manifests whatever else differs in the repository,
// and a change anywhere in the closure (in the app path or in a base
// reached with ../) is a new render. A cached render is reused after
// looking the inputs up again, which reads no file. Builds that listed a
// directory (none of kustomize's own fields do) are not cached.
func (k *Krusty) Render(ctx context.Context, src Source, dir string) (Rendered, error) {
	if out, files, ok := k.cache.find(src, dir); ok {
		return Rendered{YAML: out, Files: files, Cached: true}, nil
	}
	l := newLazyFS(src)
	out, err := k.Build(ctx, l, path.Join(Root, dir))
	if l.err != nil {
		return Rendered{}, l.err
	}
	if err != nil {
		return Rendered{}, err
	}
	if !l.listed {
		k.cache.add(dir, l.seen, out)
	}
	return Rendered{YAML: out, Files: l.files()}, nil
}

// renderCache holds recent renders by directory, least recently used
// evicted first past renderCacheSize bytes of manifests.
type renderCache struct {
	mu    sync.Mutex
	size  int
	lru   list.List // of *cached, most recent first
	byDir map[string][]*list.Element
}

type cached struct {
	dir    string
	inputs []access
	out    []byte
}

// perDir bounds the renders kept for one directory: a release step renders
// its app a few ways (as it is, without gitcanary's component, as changed).
const perDir = 8

func (c *renderCache) find(src Source, dir string) ([]byte, []string, bool) {
	c.mu.Lock()
	candidates := append([]*list.Element(nil), c.byDir[dir]...)
	c.mu.Unlock()
	for _, e := range candidates {
		en := e.Value.(*cached)
		if !sameInputs(src, en.inputs) {
			continue
		}
		c.mu.Lock()
		c.lru.MoveToFront(e) // a no-op if evicted meanwhile
		c.mu.Unlock()
		l := &lazyFS{seen: en.inputs}
		return en.out, l.files(), true
	}
	return nil, nil, false
}

// sameInputs looks every input of a render up in src again.
func sameInputs(src Source, inputs []access) bool {
	for _, a := range inputs {
		e, err := src.Stat(a.path)
		switch {
		case a.missing:
			if !errors.Is(err, fs.ErrNotExist) {
				return false
			}
		case err != nil:
			return false
		case a.entry.Dir:
			if !e.Dir {
				return false
			}
		case e != a.entry:
			return false
		}
	}
	return true
}

func (c *renderCache) add(dir string, inputs []access, out []byte) {
	if len(out) > renderCacheSize/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byDir == nil {
		c.byDir = map[string][]*list.Element{}
	}
	e := c.lru.PushFront(&cached{dir: dir, inputs: inputs, out: out})
	c.byDir[dir] = append([]*list.Element{e}, c.byDir[dir]...)
	c.size += len(out)
	if len(c.byDir[dir]) > perDir {
		c.remove(c.byDir[dir][perDir])
	}
	for c.size > renderCacheSize {
		c.remove(c.lru.Back())
	}
}

func (c *renderCache) remove(e *list.Element) {
	en := c.lru.Remove(e).(*cached)
	c.size -= len(en.out)
	kept := c.byDir[en.dir][:0]
	for _, x := range c.byDir[en.dir] {
		if x != e {
			kept = append(kept, x)
		}
	}
	if len(kept) == 0 {
		delete(c.byDir, en.dir)
	} else {
		c.byDir[en.dir] = kept
	}
}

// BlobID is the git blob hash of data: the ID a Source gives a file it
// holds in memory, equal to the one git gives the same content.
func BlobID(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %s\x00", strconv.Itoa(len(data)))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}
