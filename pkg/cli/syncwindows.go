package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// syncWindowsState says, for status, whether the sync windows of the
// Application's project let a sync of it through now: "" without an
// Argo CD server (status reads git alone then), for a finished release,
// or when no window applies to the app.
func (g *globals) syncWindowsState(ctx context.Context, r *release.Release) string {
	if g.argo.Server == "" || g.argoEnvErr != nil || r.Status.Phase.Terminal() {
		return ""
	}
	cctx, cancel := context.WithTimeout(ctx, argoConnectTimeout)
	defer cancel()
	client, closer, err := argocd.New(cctx, g.argo)
	if err != nil {
		return fmt.Sprintf("cannot read them: %v", err)
	}
	defer closer.Close()
	w, err := client.SyncWindows(cctx, r.Spec.ArgoCD.Application)
	switch {
	case err != nil:
		return fmt.Sprintf("cannot read them: %v", err)
	case len(w.Windows) == 0:
		return ""
	case w.CanSync:
		return fmt.Sprintf("open now (project %s has %d that apply to the app)", w.Project, len(w.Windows))
	}
	return w.Describe(time.Now()) + ": the next commit waits, an abort is committed and its sync waits"
}

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
