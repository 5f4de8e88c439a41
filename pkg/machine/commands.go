package machine

import (
	"context"
	"fmt"

	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Start commits the release's first change: the new version's workload
// and subset. It needs only git; with Argo CD it first checks the
// release's Application (admit), with a cluster the live stable workload
// and namespace.
func (m *Machine) Start(ctx context.Context, r *release.Release) (git.Result, error) {
	return m.StartWith(ctx, r, StartOptions{})
}

// StartWith is Start with options.
func (m *Machine) StartWith(ctx context.Context, r *release.Release, opts StartOptions) (git.Result, error) {
	spec := r.Spec
	meta := r.Metadata
	// Every state the release would go through must land its traffic on
	// pods; a refusal commits nothing. So does a confirm-start webhook
	// that says no (a *GateError: ask again later).
	var calls []git.Trailer
	if head, err := m.deps.Repo.Head(ctx); err != nil {
		return git.Result{}, err
	} else if app, err := LoadApp(head, m.path); err != nil {
		return git.Result{}, err
	} else if rec, err := app.Record(m.name); err == nil && rec == nil {
		if err := m.admit(ctx, spec, opts); err != nil {
			return git.Result{}, err
		}
		if _, err := m.PlanWith(ctx, app, r, opts); err != nil {
			return git.Result{}, err
		}
		if calls, err = m.confirmStart(ctx, r); err != nil {
			return git.Result{}, err
		}
	}
	return m.commit(ctx, newRelease, withCalls(func(d *draft) error {
		d.rec = &release.Release{APIVersion: release.APIVersion, Kind: release.Kind, Metadata: meta, Spec: spec}
		return m.prepare(ctx, spec, opts)(d)
	}, calls))
}

// SetWeight routes w% to the new version by hand.
func (m *Machine) SetWeight(ctx context.Context, w int32) (git.Result, error) {
	return m.SetWeightWith(ctx, w, CommandOptions{})
}

// CommandOptions are the options of a person's command.
type CommandOptions struct {
	// IgnoreWindow makes a promote or set-weight outside the release's
	// windows (spec.schedule); the commit records it.
	IgnoreWindow bool
}

// SetWeightWith is SetWeight with options.
func (m *Machine) SetWeightWith(ctx context.Context, w int32, o CommandOptions) (git.Result, error) {
	if w < 0 || w > 100 {
		return git.Result{}, fmt.Errorf("weight %d is outside 0..100: %w", w, release.ErrInvalid)
	}
	return m.commitNow(ctx, outsideWindow("set-weight", o.IgnoreWindow, setWeight(w)))
}

// Approve ends the current pause.
func (m *Machine) Approve(ctx context.Context) (git.Result, error) {
	return m.commitNow(ctx, approve)
}

// Promote skips the remaining steps: the new version gets 100% and the
// older versions are retired.
func (m *Machine) Promote(ctx context.Context) (git.Result, error) {
	return m.PromoteWith(ctx, CommandOptions{})
}

// PromoteWith is Promote with options.
func (m *Machine) PromoteWith(ctx context.Context, o CommandOptions) (git.Result, error) {
	return m.commitNow(ctx, outsideWindow("promote", o.IgnoreWindow, promoteRoutes("promoted by hand")))
}

// Abort abandons the release now, whatever it is waiting for.
func (m *Machine) Abort(ctx context.Context, why string) (git.Result, error) {
	if why == "" {
		why = "aborted by hand"
	}
	return m.commitNow(ctx, abandon("Aborted", why))
}

// commitNow commits a command on the release as it is at the head. The
// mutation checks the phase there; after a rejected push it runs again on
// the new head.
func (m *Machine) commitNow(ctx context.Context, mut mutation) (git.Result, error) {
	return m.commit(ctx, atHead, mut)
}
