package cli

import (
	"context"
	"fmt"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// admitting readies start's check of the release's Application before
// its first commit (machine's admit): the instance's grant, and the
// repository's default branch for targetRevision HEAD. A start that only
// commits (--wait-for=none) connects to Argo CD for the check when a
// server is configured; without one it says that nothing was
// checked, and commits: the CLI user is trusted with their own git
// credentials, and the release's first sync, whoever drives it, still
// needs the grant. The returned func closes what was opened.
func (g *globals) admitting(ctx context.Context, d *machine.Deps, r *release.Release, opts *machine.StartOptions) (func(), error) {
	opts.Grant = argocd.Grant{Instance: g.instance}
	opts.DefaultBranch = func(ctx context.Context) (string, error) { return git.DefaultBranch(ctx, g.gitOptions(r.Spec.Repo)) }
	if d.Argo != nil {
		return func() {}, nil
	}
	if g.argoEnvErr != nil {
		return nil, exit(ExitInvalid, g.argoEnvErr)
	}
	if g.argo.Server == "" {
		fmt.Fprintf(g.stdout, "%s: Application %s not checked before the first commit: no Argo CD server (--server or ARGOCD_SERVER)\n", r.Metadata.Name, r.Spec.ArgoCD.Application)
		return func() {}, nil
	}
	client, closer, err := argocd.New(ctx, g.argo)
	if err != nil {
		return nil, err
	}
	d.Argo = argocd.Granted(client, g.instance)
	return func() { closer.Close() }, nil
}
