package git

import (
	"container/list"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// objectCacheSize bounds the object contents kept in memory for every
// repository of the process together. Commits and trees only: file
// contents are kept by each repository's treeCache. What it must hold is
// the history Apply searches for an earlier commit (DedupeDepth commits of
// a few hundred bytes per repository); past that, reads go to disk.
const objectCacheSize = 8 * cache.MiByte

// objects is the object cache of every repository the process opens, so
// memory stays bounded however many repositories a controller drives
// (go-git's default is a cache of 96 MiB per repository). Entries are per
// repository: a hash cached for one must not tell another that it has the
// object, or a fetch would not ask for it.
var objects = &objectLRU{max: int64(objectCacheSize), items: map[objectKey]*list.Element{}}

// cachedStorage is go-git's storage, with object reads answered from the
// cache first: go-git opens an object's file, or its pack, before it looks
// in its cache, so every read of an object costs system calls, and reading
// a tree of many files or walking history pays them for every object.
type cachedStorage struct {
	*filesystem.Storage
	cache repoObjects
	packs []plumbing.Hash // the packs as of the last Reindex
}

// EncodedObject implements storer.EncodedObjectStorer.
func (s *cachedStorage) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if obj, ok := s.cache.Get(h); ok && (t == plumbing.AnyObject || obj.Type() == t) {
		return obj, nil
	}
	obj, err := s.Storage.EncodedObject(t, h)
	if err != nil && s.packsChanged() {
		obj, err = s.Storage.EncodedObject(t, h)
	}
	return obj, err
}

// EncodedObjectSize reads an object's size from its header.
func (s *cachedStorage) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	n, err := s.Storage.EncodedObjectSize(h)
	if err != nil && s.packsChanged() {
		n, err = s.Storage.EncodedObjectSize(h)
	}
	return n, err
}

// Reindex makes the storage read the list of packs again.
func (s *cachedStorage) Reindex() {
	s.Storage.Reindex()
	s.packs, _ = s.ObjectPacks()
}

// packsChanged re-reads the pack list when another process changed the
// packs since the last Reindex (a fetch, or a compaction that moved
// objects into a new pack and deleted the old ones). An object not found
// is then looked for again instead of failing the read.
func (s *cachedStorage) packsChanged() bool {
	now, err := s.ObjectPacks()
	if err != nil || slices.Equal(now, s.packs) {
		return false
	}
	s.Reindex()
	return true
}

// repoObjects is one repository's part of objects, as go-git's cache.Object.
type repoObjects struct {
	lru  *objectLRU
	repo uint64
}

var _ cache.Object = repoObjects{}

var (
	repoIDs    sync.Map // cache directory → uint64
	lastRepoID atomic.Uint64
)

// cacheFor returns the cache of the repository in dir; every Open of one
// directory shares it.
func cacheFor(dir string) repoObjects {
	id, ok := repoIDs.Load(dir)
	if !ok {
		id, _ = repoIDs.LoadOrStore(dir, lastRepoID.Add(1))
	}
	return repoObjects{lru: objects, repo: id.(uint64)}
}

func (c repoObjects) Put(o plumbing.EncodedObject) {
	if o.Type() == plumbing.BlobObject {
		return // kept, by tree, in the repository's treeCache
	}
	c.lru.put(objectKey{c.repo, o.Hash()}, o)
}

func (c repoObjects) Get(h plumbing.Hash) (plumbing.EncodedObject, bool) {
	return c.lru.get(objectKey{c.repo, h})
}

func (c repoObjects) Clear() { c.lru.clear(c.repo) }

type objectKey struct {
	repo uint64
	hash plumbing.Hash
}

type lruEntry struct {
	key objectKey
	obj plumbing.EncodedObject
}

// objectLRU evicts the least recently used objects once their contents
// exceed max bytes.
type objectLRU struct {
	mu    sync.Mutex
	max   int64
	size  int64
	ll    list.List
	items map[objectKey]*list.Element
}

func (c *objectLRU) put(k objectKey, o plumbing.EncodedObject) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o.Size() > c.max {
		return
	}
	if e, ok := c.items[k]; ok {
		c.ll.MoveToFront(e)
		return // same hash, same content
	}
	c.items[k] = c.ll.PushFront(&lruEntry{key: k, obj: o})
	c.size += o.Size()
	for c.size > c.max {
		c.remove(c.ll.Back())
	}
}

func (c *objectLRU) get(k objectKey) (plumbing.EncodedObject, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(e)
	return e.Value.(*lruEntry).obj, true
}

func (c *objectLRU) clear(repo uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.items {
		if k.repo == repo {
			c.remove(e)
		}
	}
}

func (c *objectLRU) remove(e *list.Element) {
	en := c.ll.Remove(e).(*lruEntry)
	delete(c.items, en.key)
	c.size -= en.obj.Size()
}
