package git

import (
	"context"
	"errors"
	"fmt"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
)

// DefaultBranch asks the remote at opts.URL which branch its HEAD names,
// as `git ls-remote --symref URL HEAD` does: the branch Argo CD deploys
// for an Application whose targetRevision is HEAD or empty (it resolves
// HEAD from the same advertisement). Nothing is fetched or cached. A
// server that does not advertise HEAD as a symbolic reference is an error:
// guessing from commit hashes could name the wrong branch.
func DefaultBranch(ctx context.Context, opts Options) (string, error) {
	goURL, display, auth := endpoint(opts)
	remote := gogit.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: remoteName, URLs: []string{goURL}})
	refs, err := remote.ListContext(ctx, &gogit.ListOptions{Auth: auth})
	if err != nil {
		return "", fmt.Errorf("list the branches of %s: %w", display, err)
	}
	for _, ref := range refs {
		if ref.Name() == plumbing.HEAD && ref.Type() == plumbing.SymbolicReference && ref.Target().IsBranch() {
			return ref.Target().Short(), nil
		}
	}
	return "", fmt.Errorf("%s does not say which branch its HEAD is: %w", display, errNoHead)
}

var errNoHead = errors.New("no symbolic HEAD")
