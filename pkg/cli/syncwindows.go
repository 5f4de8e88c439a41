package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// syncWindowWarnings says, for lint --live, where the Application
// project's sync windows would hold release r (docs/schedules.md#argo-cds-sync-windows).
// Without an Argo CD server it says nothing: lint --live reads the
// cluster, and Argo CD only when it is given.
func (g *globals) syncWindowWarnings(ctx context.Context, r *release.Release) ([]string, error) {
	if g.argo.Server == "" {
		return nil, nil
	}
	if g.argoEnvErr != nil {
		return nil, exit(ExitInvalid, g.argoEnvErr)
	}
	cctx, cancel := context.WithTimeout(ctx, argoConnectTimeout)
	client, closer, err := argocd.New(cctx, g.argo)
	cancel()
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	w, err := client.SyncWindows(ctx, r.Spec.ArgoCD.Application)
	if err != nil {
		return []string{fmt.Sprintf("cannot read the sync windows of Application %s: %v", r.Spec.ArgoCD.Application, err)}, nil
	}
	span, _ := r.Spec.TimedLength()
	return w.Forecast(time.Now(), max(span, time.Minute)), nil
}
