package machine

import (
	"context"
	"fmt"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// admit reads the release's Argo CD Application before its first commit
// and refuses the release unless the Application grants opts.Grant and
// deploys exactly what the release commits to (argocd.Admit): so a
// Release can push only to the repository, path and branch its granted
// Application deploys, and a refusal commits nothing. A start without
// Argo CD (a commit-only CLI start) has nothing to read and checks
// nothing; every sync is still refused without the grant.
func (m *Machine) admit(ctx context.Context, spec release.Spec, opts StartOptions) error {
	if m.deps.Argo == nil {
		return nil
	}
	app, err := m.deps.Argo.Get(ctx, spec.ArgoCD.Application, false)
	if err != nil {
		return fmt.Errorf("read Application %s, which spec.argocd.application names, before the release's first commit: %w", spec.ArgoCD.Application, err)
	}
	w := argocd.Want{RepoURL: spec.Repo.URL, Path: spec.Repo.Path, Branch: spec.Repo.BranchOrDefault()}
	if opts.DefaultBranch != nil {
		w.DefaultBranch = func() (string, error) { return opts.DefaultBranch(ctx) }
	}
	return argocd.Admit(app, opts.Grant, w)
}
