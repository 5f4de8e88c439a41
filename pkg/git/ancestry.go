package git

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ClockSkew is how far a commit's committer time may lie before its
// ancestor's for Contains still to find the ancestor. Committer times
// normally grow along history (a rebase rewrites them to the rebase's
// time); a walk from a descendant stops at commits older than the ancestor
// by more than this, so asking about a commit that is not an ancestor does
// not read the whole history of a busy repository.
const ClockSkew = 24 * time.Hour

// At returns a snapshot of commit. A commit this process has not fetched
// yet (Argo CD may see a newer head than the cache) is fetched first; a
// commit that is not on the branch after that is an error.
func (r *repo) At(ctx context.Context, commit string) (Snapshot, error) {
	h, err := r.have(ctx, commit)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snapshotAt(h)
}

// Contains reports whether ancestor is descendant or one of its ancestors,
// fetching first when either is not in the cache yet.
func (r *repo) Contains(ctx context.Context, ancestor, descendant string) (bool, error) {
	if ancestor == descendant {
		return true, nil
	}
	a, err := r.have(ctx, ancestor)
	if err != nil {
		return false, err
	}
	d, err := r.have(ctx, descendant)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := [2]plumbing.Hash{a, d}
	if ok, known := r.contains[key]; known {
		return ok, nil
	}
	ok, err := r.isAncestor(a, d)
	if err != nil {
		return false, fmt.Errorf("is %s in the history of %s: %w", short(ancestor), short(descendant), err)
	}
	if r.contains == nil || len(r.contains) > 4096 {
		r.contains = map[[2]plumbing.Hash]bool{}
	}
	r.contains[key] = ok
	return ok, nil
}

// isAncestor walks back from d, through every parent, until it meets a,
// and stops below commits older than a by more than ClockSkew. Callers
// hold r.mu.
func (r *repo) isAncestor(a, d plumbing.Hash) (bool, error) {
	ac, err := object.GetCommit(r.gg.Storer, a)
	if err != nil {
		return false, err
	}
	floor := ac.Committer.When.Add(-ClockSkew)
	seen := map[plumbing.Hash]bool{d: true}
	queue := []plumbing.Hash{d}
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		if h == a {
			return true, nil
		}
		c, err := object.GetCommit(r.gg.Storer, h)
		if err != nil {
			return false, err
		}
		if c.Committer.When.Before(floor) {
			continue
		}
		for _, p := range c.ParentHashes {
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return false, nil
}

// have returns commit's hash once its objects are in the cache, fetching
// the branch when they are not.
func (r *repo) have(ctx context.Context, commit string) (plumbing.Hash, error) {
	if !plumbing.IsHash(commit) {
		return plumbing.ZeroHash, fmt.Errorf("%q is not a commit hash", commit)
	}
	h := plumbing.NewHash(commit)
	if r.known(h) {
		return h, nil
	}
	unlock, err := r.lock(ctx)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read %s of %s: %w", short(commit), r.display, err)
	}
	defer unlock()
	if !r.known(h) {
		if _, err := r.fetch(ctx); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	if !r.known(h) {
		return plumbing.ZeroHash, fmt.Errorf("commit %s is not on %s of %s: %w", short(commit), r.opts.Branch, r.display, ErrUnknownCommit)
	}
	return h, nil
}

func (r *repo) known(h plumbing.Hash) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err := r.gg.Storer.EncodedObject(plumbing.CommitObject, h)
	return err == nil
}

// ErrUnknownCommit means a commit is not in the repository, even after a
// fetch of the branch (another branch's commit, or one that was force-pushed away).
var ErrUnknownCommit = errors.New("unknown commit")
