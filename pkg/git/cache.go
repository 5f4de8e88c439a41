package git

import (
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// objectCacheSize bounds the objects kept in memory for every repository
// of the process together.
const objectCacheSize = 32 * cache.MiByte

// objectCache is shared by every repository the process opens, so memory
// stays bounded however many repositories a controller drives (go-git's
// default is a cache of 96 MiB per repository). Objects are named by
// their content, so one repository's cached object is right for any
// other that asks for that hash, and a repository only asks for objects
// reachable from its own commits.
var objectCache = cache.NewObjectLRU(objectCacheSize)

// cachedStorage is go-git's storage, with object reads answered from the
// cache first: go-git opens an object's file, or its pack, before it looks
// in its cache, so every read of an object costs system calls, and reading
// a tree of many files or walking history pays them for every object.
type cachedStorage struct {
	*filesystem.Storage
}

// EncodedObject implements storer.EncodedObjectStorer.
func (s *cachedStorage) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if obj, ok := objectCache.Get(h); ok && (t == plumbing.AnyObject || obj.Type() == t) {
		return obj, nil
	}
	return s.Storage.EncodedObject(t, h)
}
