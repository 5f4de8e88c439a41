package machine

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/lint"
	"github.com/gitcanary/gitcanary/pkg/overlay"

	"github.com/gitcanary/gitcanary/pkg/release"
)

// PlannedState is what the app path renders to at one point of a release.
type PlannedState struct {
	// Step is "0" (prepared, new version routed at weight 0), "k" (after
	// the k-th entry of spec.steps), "promoted" or "abandoned".
	Step string
	// Describe says in words what the state is.
	Describe string
	// Manifests is the complete multi-document YAML of the app path.
	Manifests []byte
	// App is the app in that state, for further inspection.
	App *App
}

// Plan simulates a release on an app without writing anything: every
// state the app path goes through, in order, as Argo CD would render it.
// It runs the same mutations a real release commits.
func (m *Machine) Plan(ctx context.Context, app *App, r *release.Release) ([]PlannedState, error) {
	return m.PlanWith(ctx, app, r, StartOptions{})
}

// PlanWith is Plan with the options the release would start with.
func (m *Machine) PlanWith(ctx context.Context, app *App, r *release.Release, opts StartOptions) ([]PlannedState, error) {
	// What is broken before the release is the user's, not the release's.
	manifests, err := app.Build(ctx, m.deps.Builder, nil)
	if err != nil {
		return nil, err
	}
	broken, err := landing(ctx, m.deps.Builder, app, manifests, r.Spec)
	if err != nil {
		return nil, err
	}
	now := time.Unix(0, 0).UTC()
	var out []PlannedState
	cur := app
	run := func(mut mutation) (*App, error) {
		expect := newRelease
		if rec, err := cur.Record(m.name); err != nil {
			return nil, err
		} else if rec != nil {
			expect = rec.Status.Seq
		}
		ch, _, err := m.draft(ctx, cur, expect, mut, now)
		if err != nil {
			return nil, err
		}
		return cur.Apply(ch)
	}
	emit := func(a *App, step, describe string) error {
		manifests, err := a.Build(ctx, m.deps.Builder, nil)
		if err != nil {
			return fmt.Errorf("state %s: %w", step, err)
		}
		if err := checkLanding(ctx, m.deps.Builder, a, manifests, r.Spec, broken); err != nil {
			return fmt.Errorf("state %s (%s): %w", step, describe, err)
		}
		out = append(out, PlannedState{Step: step, Describe: describe, Manifests: manifests, App: a})
		return nil
	}
	spec, meta := r.Spec, r.Metadata
	prepared, err := run(func(d *draft) error {
		d.rec = &release.Release{APIVersion: release.APIVersion, Kind: release.Kind, Metadata: meta, Spec: spec}
		return m.prepare(ctx, spec, opts)(d)
	})
	if err != nil {
		return nil, err
	}
	cur = prepared
	if cur, err = run(onPrepared(view{}).mutate); err != nil {
		return nil, err
	}
	if err := emit(cur, "0", fmt.Sprintf("%s prepared and routed at weight 0", spec.Version)); err != nil {
		return nil, err
	}
	routed := cur
	for k := range spec.Steps {
		if cur, err = run(advance); err != nil {
			return nil, err
		}
		if err := emit(cur, strconv.Itoa(k+1), spec.Steps[k].Describe()); err != nil {
			return nil, err
		}
	}
	// Promotion: the route change, then the retirement.
	for _, mut := range []mutation{promoteRoutes("plan"), onPromoteRouted(view{}).mutate, onRetired(view{}).mutate} {
		if cur, err = run(mut); err != nil {
			return nil, err
		}
	}
	if err := emit(cur, "promoted", spec.Version+" promoted; older versions retired"); err != nil {
		return nil, err
	}
	cur = routed
	for _, mut := range []mutation{abandon("Plan", "plan"), onAbandonRouted(view{}).mutate, onReverted(view{}).mutate} {
		if cur, err = run(mut); err != nil {
			return nil, err
		}
	}
	if err := emit(cur, "abandoned", "release abandoned; the app renders as before"); err != nil {
		return nil, err
	}
	return out, nil
}

// landing lists the lint.Landing errors of a render.
func landing(ctx context.Context, b kustomize.Builder, a *App, manifests []byte, spec release.Spec) ([]lint.Finding, error) {
	objs, err := overlay.ParseObjects(manifests)
	if err != nil {
		return nil, err
	}
	return lint.Errors(lint.Landing(lint.Input{Objects: objs, More: a.declarations(ctx, b), AppPath: a.Path, Host: spec.Traffic.Host, Namespace: spec.Workload.Namespace})), nil
}

// checkLanding refuses a planned state in which traffic would go nowhere
// (lint.Landing): a route to a subset with no pods, weights not summing
// to 100, a selector the API server rejects. Findings the app had before
// the release (before) are not the release's doing and pass.
func checkLanding(ctx context.Context, b kustomize.Builder, a *App, manifests []byte, spec release.Spec, before []lint.Finding) error {
	found, err := landing(ctx, b, a, manifests, spec)
	if err != nil {
		return err
	}
	var errs []string
	for _, f := range found {
		if !slices.Contains(before, f) {
			errs = append(errs, "  "+f.String())
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %w", strings.Join(append([]string{"the release would break the service in this state:"}, errs...), "\n"), release.ErrInvalid)
}
