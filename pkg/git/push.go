package git

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"

	"github.com/gitcanary/gitcanary/pkg/redact"
)

// errRejected marks a push the remote refused because the branch is no
// longer where the commit's parent says; Apply fetches and tries again.
var errRejected = errors.New("rejected")

// packWindow is the delta window for the pack a push sends (git's default).
const packWindow = 10

// push updates refs/heads/<branch> on the remote from parent to commit,
// sending only objects, the objects Apply wrote for the commit: everything
// else the commit refers to is shared with parent, which the remote has.
//
// This is go-git's send-pack without two things Remote.Push does: it never
// walks the repository's history to find what to send (that walk grows with
// every step a release makes), and the update is a compare-and-swap on
// parent, so "the branch moved" is one clear answer, from the advertised
// refs or the server's report, rather than an error text to match.
func (r *repo) push(ctx context.Context, parent, commit plumbing.Hash, objects []plumbing.Hash) error {
	fail := func(err error) error {
		// go-git's transports may name the URL they requested.
		return fmt.Errorf("push %s to %s: %w", r.opts.Branch, r.display, redact.Error(err))
	}
	ep, err := transport.NewEndpoint(r.url)
	if err != nil {
		return fail(err)
	}
	cl, err := client.NewClient(ep)
	if err != nil {
		return fail(err)
	}
	sess, err := cl.NewReceivePackSession(ep, r.auth)
	if err != nil {
		return fail(err)
	}
	defer sess.Close()
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return fail(err)
	}
	refs, err := adv.AllReferences()
	if err != nil {
		return fail(err)
	}
	cur, err := refs.Reference(r.branchRef())
	if err != nil {
		return fail(fmt.Errorf("branch %q is gone from the remote: %w", r.opts.Branch, err))
	}
	if cur.Hash() != parent {
		return fmt.Errorf("push %s to %s: %w: branch moved to %s since the fetch (%s)",
			r.opts.Branch, r.display, errRejected, short(cur.Hash().String()), short(parent.String()))
	}

	var pack bytes.Buffer
	r.mu.Lock()
	useRefDeltas := !adv.Capabilities.Supports(capability.OFSDelta)
	_, err = packfile.NewEncoder(&pack, r.gg.Storer, useRefDeltas).Encode(objects, packWindow)
	r.mu.Unlock()
	if err != nil {
		return fail(fmt.Errorf("pack %d objects: %w", len(objects), err))
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(adv.Capabilities)
	req.Commands = []*packp.Command{{Name: r.branchRef(), Old: parent, New: commit}}
	req.Packfile = io.NopCloser(&pack)

	// With a report, ReceivePack also returns its first failure as err:
	// read the report first, it tells a refused update from a broken push.
	accepted := r.now() // at or before the moment the remote took the update
	rs, err := sess.ReceivePack(ctx, req)
	if rs != nil { // nil when the server does not report status
		if rs.UnpackStatus != "ok" {
			return fail(fmt.Errorf("remote could not unpack: %s", rs.UnpackStatus))
		}
		for _, cs := range rs.CommandStatuses {
			if cs.Status != "ok" {
				// Mostly the branch moved after the advertisement; a
				// hook's refusal also lands here and is retried until
				// MaxAttempts, its reason kept in the error.
				return fmt.Errorf("push %s to %s: %w: %s", r.opts.Branch, r.display, errRejected, strings.TrimSpace(cs.Status))
			}
		}
	}
	if err != nil {
		return fail(err)
	}

	// The remote is at commit now: so is our view of it.
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.gg.Storer.SetReference(plumbing.NewHashReference(r.trackingRef(), commit)); err != nil {
		return fail(fmt.Errorf("update %s: %w", r.trackingRef(), err))
	}
	r.seen, r.seenAt = commit, accepted
	return nil
}
