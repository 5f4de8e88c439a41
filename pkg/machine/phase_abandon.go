package machine

import (
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// abandon routes all traffic back to the stable version and removes the
// new route. It preempts any pause or wait: it is allowed in every phase
// before the older versions are retired.
func abandon(reason, message string) mutation {
	return func(d *draft) error {
		if err := refuseUnless(d.rec.Status.Phase, "abort", release.Preparing, release.Routing, release.Progressing, release.Paused, release.Analyzing, release.Promoting); err != nil {
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
		labeled := d.state.OriginalLabeled
		if err := d.state.Revert(); err != nil {
			return err
		}
		if labeled && !d.state.OriginalLabeled {
			// The user's routing may name the stable subset now (written by
			// --generate-routing in this release's first commit): removing
			// the label would leave that subset, which gets 100%, empty.
			names, err := userRoutesSubset(d, d.state.OriginalVersion)
			if err != nil {
				return err
			}
			d.state.OriginalLabeled = names
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
		d.handBack = true
		d.phase, d.action = release.Abandoned, "abandoned"
		d.reason, d.message = d.rec.Status.Reason, d.rec.Status.Message
		return nil
	}))
}

// userRoutesSubset reports whether the user's own manifests (gitcanary's
// component left out) route the release's host to subset, defined by one
// of their DestinationRules as the pods labelled version=subset: then the
// stable workload's label is what keeps that subset from being empty.
func userRoutesSubset(d *draft, subset string) (bool, error) {
	objs, err := d.app.BaseObjects(d.ctx, d.builder)
	if err != nil {
		return false, err
	}
	host := d.state.Routing.Host
	routed, defined := false, false
	for _, o := range objs {
		switch o.Kind() {
		case "VirtualService":
			_, names, err := overlay.RoutesHost(o, host, subset)
			if err != nil {
				return false, err
			}
			routed = routed || names
		case "DestinationRule":
			if h, _ := overlay.Lookup(o, ".spec.host").(string); !overlay.SameHost(h, host) {
				continue
			}
			for _, s := range list(o, ".spec.subsets") {
				name, _ := overlay.Lookup(asMap(s), ".name").(string)
				label, _ := overlay.Lookup(asMap(s), ".labels."+overlay.VersionLabel).(string)
				defined = defined || name == subset && label == subset
			}
		}
	}
	return routed && defined, nil
}

func list(o map[string]any, path string) []any { l, _ := overlay.Lookup(o, path).([]any); return l }

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
