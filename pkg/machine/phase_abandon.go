package machine

import "github.com/gitcanary/gitcanary/pkg/release"

// abandon routes all traffic back to the stable version and removes the
// new route. It preempts any pause or wait: it is allowed in every phase
// before the older versions are retired.
func abandon(reason, message string) mutation {
	return func(d *draft) error {
		if err := refuseUnless(d.rec.Status.Phase, "abort", release.Preparing, release.Routing, release.Progressing, release.Paused, release.Promoting); err != nil {
			return err
		}
		if err := d.state.AbandonRoutes(); err != nil {
			return err
		}
		d.phase, d.action, d.reason, d.message = release.Abandoning, "abort", reason, message
		return nil
	}
}

// onAbandonRouted: traffic is back on the stable version; remove everything
// the release created (route before subset on the way out).
func onAbandonRouted(v view) decision {
	return commitTo("revert", func(d *draft) error {
		if err := d.state.Revert(); err != nil {
			return err
		}
		d.phase, d.action = release.Reverting, "revert"
		d.reason, d.message = d.rec.Status.Reason, d.rec.Status.Message
		return nil
	})
}

// onReverted: the cluster is back to before the release; record the end.
func onReverted(v view) decision {
	return final(commitTo("record abandon", func(d *draft) error {
		d.state.End()
		d.phase, d.action = release.Abandoned, "abandoned"
		d.reason, d.message = d.rec.Status.Reason, d.rec.Status.Message
		return nil
	}))
}
