package machine

import "github.com/gitcanary/gitcanary/pkg/release"

// promoteRoutes routes 100% to the new version and removes the older routes.
func promoteRoutes(why string) mutation {
	return func(d *draft) error {
		if err := refuseUnless(d.rec.Status.Phase, "promote", release.Routing, release.Progressing, release.Paused, release.Analyzing); err != nil {
			return err
		}
		if err := d.state.PromoteRoutes(d.rec.Spec.Version); err != nil {
			return err
		}
		d.phase, d.action, d.message = release.Promoting, "promote", why
		endBackground(d)
		return nil
	}
}

// onPromoteRouted: traffic is all on the new version; retire the older ones
// (routes left before subsets: make-before-break on the way out).
func onPromoteRouted(v view) decision {
	return commitTo("retire older versions", func(d *draft) error {
		if err := d.state.Retire(d.rec.Spec.Version); err != nil {
			return err
		}
		d.phase, d.action = release.Retiring, "retire"
		d.message = "older versions' workloads and subsets removed"
		return nil
	})
}

// onRetired: the cluster no longer has the older versions; record the end.
func onRetired(v view) decision {
	return final(commitTo("record promotion", func(d *draft) error {
		d.state.End()
		d.handBack = true
		d.phase, d.action, d.message = release.Promoted, "promoted", d.rec.Spec.Version+" is the stable version"
		return nil
	}))
}
