package doctor

import (
	"context"
	"fmt"

	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/overlay"
)

// GitRenderer renders from a cached clone, the way `gitcanary lint` does.
type GitRenderer struct {
	CacheDir           string
	Username, Password string // http(s) basic auth, when set
}

var _ Renderer = (*GitRenderer)(nil)

// Render implements Renderer.
func (g *GitRenderer) Render(ctx context.Context, src Source) (Rendered, error) {
	repo, err := git.Open(ctx, git.Options{
		URL: src.RepoURL, Branch: src.Branch, CacheDir: g.CacheDir,
		Username: g.Username, Password: g.Password,
	})
	if err != nil {
		return Rendered{}, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	head, err := repo.Head(ctx)
	if err != nil {
		return Rendered{}, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	app, err := machine.LoadApp(head, src.Path)
	if err != nil {
		return Rendered{}, err
	}
	out, err := app.Build(ctx, &kustomize.Krusty{}, nil)
	if err != nil {
		return Rendered{}, err
	}
	objs, err := overlay.ParseObjects(out)
	if err != nil {
		return Rendered{}, fmt.Errorf("%s at %s: kustomize output: %w", src.Path, git.ShortHash(head.Commit()), err)
	}
	return Rendered{Commit: head.Commit(), Objects: len(objs)}, nil
}
