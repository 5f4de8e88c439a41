package git

import (
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// pending is the part of a Change that falls in one directory.
type pending struct {
	clear bool   // a Delete named this directory: drop its base entries
	file  []byte // content when a Write names this path
	write bool   // file is set
	kids  map[string]*pending
}

// planChange arranges a Change by directory. Deletes apply before writes, so
// deleting a directory and writing below it replaces its content.
func planChange(c Change) (*pending, error) {
	root := &pending{}
	for _, p := range c.Delete {
		n, err := root.walk(p, "delete")
		if err != nil {
			return nil, err
		}
		n.clear, n.kids = true, nil
	}
	for _, p := range slices.Sorted(maps.Keys(c.Write)) {
		n, err := root.walk(p, "write")
		if err != nil {
			return nil, err
		}
		// Paths sort before the paths below them, so any kids here come from
		// Deletes below a file being written: moot.
		n.file, n.write, n.kids = c.Write[p], true, nil
	}
	return root, nil
}

func (n *pending) walk(path, op string) (*pending, error) {
	if !fs.ValidPath(path) || path == "." {
		return nil, fmt.Errorf("%s %q: not a clean relative path", op, path)
	}
	for _, name := range strings.Split(path, "/") {
		if name == ".git" {
			return nil, fmt.Errorf("%s %q: path element .git", op, path)
		}
		if n.write {
			return nil, fmt.Errorf("%s %q: a parent is written as a file in the same change", op, path)
		}
		if n.kids == nil {
			n.kids = map[string]*pending{}
		}
		kid, ok := n.kids[name]
		if !ok {
			kid = &pending{}
			n.kids[name] = kid
		}
		n = kid
	}
	return n, nil
}

// treeWriter stores trees and blobs and remembers what it stored: the
// objects a push must send, since everything else is shared with the base.
type treeWriter struct {
	s       storer.EncodedObjectStorer
	written []plumbing.Hash
}

// write stores the tree that results from applying p to base (nil for
// none) and returns its hash. Only directories on a changed path are
// rewritten; every other subtree keeps its hash. A directory left empty is
// dropped from its parent, as git cannot record one.
func (w *treeWriter) write(base *object.Tree, p *pending, dir string) (plumbing.Hash, bool, error) {
	s := w.s
	entries := map[string]object.TreeEntry{}
	if base != nil && !p.clear {
		for _, e := range base.Entries {
			entries[e.Name] = e
		}
	}
	for name, kid := range p.kids {
		path := join(dir, name)
		old, had := entries[name]
		switch {
		case kid.write:
			if had && old.Mode == filemode.Dir && !kid.clear {
				return plumbing.ZeroHash, false, fmt.Errorf("write %s: is a directory; delete it in the same change to replace it", path)
			}
			h, err := w.store(blobObject(s, kid.file))
			if err != nil {
				return plumbing.ZeroHash, false, fmt.Errorf("write %s: %w", path, err)
			}
			mode := filemode.Regular
			if had && !kid.clear && old.Mode == filemode.Executable {
				mode = filemode.Executable
			}
			entries[name] = object.TreeEntry{Name: name, Mode: mode, Hash: h}
		case len(kid.kids) == 0:
			delete(entries, name) // a Delete with nothing written below it
		default:
			var sub *object.Tree
			if had && !kid.clear {
				if old.Mode != filemode.Dir && !kid.writes() {
					continue // deleting below a file: nothing there to delete
				}
				if old.Mode != filemode.Dir {
					return plumbing.ZeroHash, false, fmt.Errorf("write below %s: is a file; delete it in the same change to replace it", path)
				}
				t, err := object.GetTree(s, old.Hash)
				if err != nil {
					return plumbing.ZeroHash, false, fmt.Errorf("read tree %s: %w", path, err)
				}
				sub = t
			}
			h, empty, err := w.write(sub, kid, path)
			if err != nil {
				return plumbing.ZeroHash, false, err
			}
			if empty {
				delete(entries, name)
			} else {
				entries[name] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
			}
		}
	}
	t := &object.Tree{Entries: slices.Collect(maps.Values(entries))}
	sort.Sort(object.TreeEntrySorter(t.Entries))
	obj := s.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("encode tree %s: %w", dir, err)
	}
	if len(t.Entries) == 0 && dir != "" {
		return plumbing.ZeroHash, true, nil // the parent drops it; git has no empty directories
	}
	h, err := w.store(obj, nil)
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("store tree %s: %w", dir, err)
	}
	return h, false, nil
}

// writes reports whether p writes anything at or below its path.
func (p *pending) writes() bool {
	if p.write {
		return true
	}
	for _, k := range p.kids {
		if k.writes() {
			return true
		}
	}
	return false
}

func blobObject(s storer.EncodedObjectStorer, data []byte) (plumbing.EncodedObject, error) {
	obj := s.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(data)))
	w, err := obj.Writer()
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		w.Close()
		return nil, err
	}
	return obj, w.Close()
}

// store saves obj (unless err is set) and records its hash.
func (w *treeWriter) store(obj plumbing.EncodedObject, err error) (plumbing.Hash, error) {
	if err != nil {
		return plumbing.ZeroHash, err
	}
	h, err := w.s.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	w.written = append(w.written, h)
	return h, nil
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
