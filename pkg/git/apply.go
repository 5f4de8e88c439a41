package git

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/gitcanary/gitcanary/pkg/fault"
)

// DedupeDepth bounds how many commits back from the head Apply looks for a
// commit with the same trailers. A resumed action finds its own commit well
// within it; older history is the audit trail, not a dedupe source.
const DedupeDepth = 500

// backoffBase is the first pause after a rejected push; it doubles (with
// jitter) on each further rejection.
var backoffBase = 50 * time.Millisecond

// Head fetches the branch (see Options.ReadAge) and returns a snapshot of its head.
func (r *repo) Head(ctx context.Context) (Snapshot, error) {
	head, err := r.head(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snapshotAt(head)
}

// Apply fetches, runs edit on the head and pushes the resulting commit.
//
// Each attempt, under the cache lock: fetch; edit(head) yields the Change
// and the Message; if the message has trailers and a commit within
// DedupeDepth of head carries the same trailer set, that commit is returned
// with Existing set and nothing is written (edit's Change is discarded); an
// empty Change, or one that leaves the tree as it is, returns
// *NothingToCommitError; otherwise the commit (parent: the fetched head) is
// written, the local branch ref set to it and pushed without force. A
// rejected push starts a new attempt after a short backoff, so edit runs
// again on the new head and the dedupe check sees whatever landed meanwhile.
// Edit must therefore be a pure function of the snapshot: it may run several
// times and its result may be dropped. An error from edit aborts Apply
// before anything is written.
func (r *repo) Apply(ctx context.Context, edit Edit) (Result, error) {
	var rejected error
	for attempt := 1; attempt <= r.opts.MaxAttempts; attempt++ {
		if attempt > 1 {
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return Result{Attempts: attempt - 1}, fmt.Errorf("%w after %d rejected pushes; last: %v", err, attempt-1, rejected)
			}
		}
		res, err := r.attempt(ctx, edit)
		res.Attempts = attempt - 1
		if err == nil {
			if !res.Existing {
				res.Attempts = attempt
			}
			return res, nil
		}
		if !errors.Is(err, errRejected) {
			return res, err
		}
		rejected = err
	}
	return Result{Attempts: r.opts.MaxAttempts}, fmt.Errorf("%w %d times; last: %v", ErrPushRejected, r.opts.MaxAttempts, rejected)
}

// attempt is one fetch, edit, commit and push. A rejected push is returned
// wrapping errRejected.
func (r *repo) attempt(ctx context.Context, edit Edit) (Result, error) {
	unlock, err := r.lock(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("apply to %s of %s: %w", r.opts.Branch, r.display, err)
	}
	defer unlock()
	defer func() {
		// Whatever happened, the objects this attempt wrote are on disk.
		r.mu.Lock()
		defer r.mu.Unlock()
		r.compact()
	}()

	head, err := r.fetch(ctx)
	if err != nil {
		return Result{}, err
	}
	r.mu.Lock()
	snap, err := r.snapshotAt(head)
	r.mu.Unlock()
	if err != nil {
		return Result{}, fmt.Errorf("apply to %s of %s: %w", r.opts.Branch, r.display, err)
	}

	change, msg, err := edit(snap)
	if err != nil {
		return Result{}, fmt.Errorf("edit %s of %s at %s: %w", r.opts.Branch, r.display, short(head.String()), err)
	}
	if err := msg.Validate(); err != nil {
		return Result{}, fmt.Errorf("edit %s of %s at %s: %w", r.opts.Branch, r.display, short(head.String()), err)
	}

	if len(msg.Trailers) > 0 {
		found, err := r.walk(head, DedupeDepth, 1, func(c Commit) bool { return sameTrailers(c.Trailers, msg.Trailers) })
		if err != nil {
			return Result{}, fmt.Errorf("apply to %s of %s: look for an earlier commit: %w", r.opts.Branch, r.display, err)
		}
		if len(found) > 0 {
			return Result{Commit: found[0], Existing: true}, nil
		}
	}
	if change.Empty() {
		return Result{}, &NothingToCommitError{Head: head.String()}
	}

	commit, objects, err := r.commit(head, snap.tree, change, msg)
	if err != nil {
		return Result{}, fmt.Errorf("commit to %s of %s: %w", r.opts.Branch, r.display, err)
	}
	if commit == nil {
		return Result{}, &NothingToCommitError{Head: head.String()}
	}
	if err := r.runHook("before-push"); err != nil {
		return Result{}, err
	}
	fault.Point(fault.AfterCommit)
	if err := r.push(ctx, head, commit.Hash, objects); err != nil {
		return Result{}, err
	}
	fault.Point(fault.AfterPush)
	if err := r.runHook("after-push"); err != nil {
		return Result{}, err
	}
	return Result{Commit: toCommit(commit)}, nil
}

// commit writes the trees and the commit for change on top of parent and
// points the local branch ref at it. It returns the commit (nil when the
// change leaves the tree as it was) and every object it wrote.
func (r *repo) commit(parent plumbing.Hash, base *object.Tree, change Change, msg Message) (*object.Commit, []plumbing.Hash, error) {
	plan, err := planChange(change)
	if err != nil {
		return nil, nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.gg.Storer
	w := &treeWriter{s: s}
	tree, _, err := w.write(base, plan, "")
	if err != nil {
		return nil, nil, err
	}
	if tree == base.Hash {
		return nil, nil, nil
	}
	sig := object.Signature{Name: r.opts.AuthorName, Email: r.opts.AuthorEmail, When: r.now().Round(time.Second)}
	c := &object.Commit{
		Author:       sig,
		Committer:    sig,
		Message:      msg.String(),
		TreeHash:     tree,
		ParentHashes: []plumbing.Hash{parent},
	}
	obj := s.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return nil, nil, fmt.Errorf("encode commit: %w", err)
	}
	if c.Hash, err = w.store(obj, nil); err != nil {
		return nil, nil, fmt.Errorf("store commit: %w", err)
	}
	// The local branch is scratch space for the push; it is rewritten from
	// the fetched head on every attempt, so a commit that never got pushed
	// (a crash, a rejection) is simply left behind.
	if err := s.SetReference(plumbing.NewHashReference(r.branchRef(), c.Hash)); err != nil {
		return nil, nil, fmt.Errorf("update %s: %w", r.branchRef(), err)
	}
	return c, w.written, nil
}

// Log walks history from commit from, or from the branch's head as Head
// finds it, newest first.
func (r *repo) Log(ctx context.Context, from string, match func(Commit) bool, limit int) ([]Commit, error) {
	head := plumbing.NewHash(from)
	switch {
	case from == "":
		var err error
		if head, err = r.head(ctx); err != nil {
			return nil, err
		}
	case !plumbing.IsHash(from):
		return nil, fmt.Errorf("log %s of %s: %q is not a commit hash", r.opts.Branch, r.display, from)
	}
	out, err := r.walk(head, 0, limit, match)
	if err != nil {
		return nil, fmt.Errorf("log %s of %s: %w", r.opts.Branch, r.display, err)
	}
	return out, nil
}

// walk visits at most depth commits (0: all) from head in committer-time
// order, as git log does, and returns up to limit (0: all) that match.
// Merges are followed into every parent, so a commit that reached the
// branch through someone's merge is still found.
func (r *repo) walk(head plumbing.Hash, depth, limit int, match func(Commit) bool) ([]Commit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	it, err := r.gg.Log(&gogit.LogOptions{From: head, Order: gogit.LogOrderCommitterTime})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []Commit
	seen := 0
	err = it.ForEach(func(oc *object.Commit) error {
		if depth > 0 && seen >= depth {
			return storer.ErrStop
		}
		seen++
		c := toCommit(oc)
		if match == nil || match(c) {
			out = append(out, c)
			if limit > 0 && len(out) >= limit {
				return storer.ErrStop
			}
		}
		return nil
	})
	return out, err
}

func toCommit(oc *object.Commit) Commit {
	m := ParseMessage(oc.Message)
	c := Commit{Hash: oc.Hash.String(), Subject: m.Subject, Trailers: m.Trailers, Time: oc.Committer.When}
	if len(oc.ParentHashes) > 0 {
		c.Parent = oc.ParentHashes[0].String()
	}
	return c
}

func (r *repo) runHook(stage string) error {
	if r.hook == nil {
		return nil
	}
	if err := r.hook(stage); err != nil {
		return fmt.Errorf("%s: %w", stage, err)
	}
	return nil
}

// backoff is the pause before the given attempt (2, 3, ...): doubling from
// backoffBase, with up to 50% jitter so racing writers spread out.
func backoff(attempt int) time.Duration {
	d := backoffBase << (attempt - 2)
	return d + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
