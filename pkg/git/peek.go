package git

import (
	"context"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
)

// Peek implements Repo: one upload-pack session that reads the remote's
// ref advertisement and ends without asking for a pack, as `git
// ls-remote` does. It needs neither the cache lock nor the storer.
func (r *repo) Peek(ctx context.Context) (string, error) {
	fail := func(err error) error {
		return fmt.Errorf("read where %s is on %s: %w", r.opts.Branch, r.display, err)
	}
	ep, err := transport.NewEndpoint(r.url)
	if err != nil {
		return "", fail(err)
	}
	cl, err := client.NewClient(ep)
	if err != nil {
		return "", fail(err)
	}
	sess, err := cl.NewUploadPackSession(ep, r.auth)
	if err != nil {
		return "", fail(err)
	}
	defer sess.Close()
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return "", fail(err)
	}
	refs, err := adv.AllReferences()
	if err != nil {
		return "", fail(err)
	}
	ref, err := refs.Reference(r.branchRef())
	if err != nil {
		return "", fail(fmt.Errorf("branch %q does not exist", r.opts.Branch))
	}
	return ref.Hash().String(), nil
}
