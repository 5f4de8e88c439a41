package lint

import (
	"fmt"

	"github.com/gitcanary/gitcanary/pkg/overlay"
)

// Selector checks that the host's Service selects the pods of every
// version: the DestinationRule's subsets split traffic among the Service's
// endpoints, so a version the Service does not select gets none. It is
// skipped for a WorkloadGroup, whose instances are VMs registered as
// WorkloadEntries rather than pods.
func Selector(in Input) []Finding {
	if in.Kind.VM {
		return nil
	}
	svc, missing, ok := service(in)
	if !ok {
		return []Finding{missing}
	}
	selector, _ := overlay.Lookup(svc, ".spec.selector").(map[string]any)
	if len(selector) == 0 {
		return []Finding{serviceFinding(in, svc, Error, CheckServiceSelector,
			"has no spec.selector, so no pod is behind it for gitcanary to route to; "+
				"select the pods of every version by a label they share (such as app), not by "+overlay.VersionLabel)}
	}
	if v, ok := selector[overlay.VersionLabel]; ok {
		return []Finding{serviceFinding(in, svc, Error, CheckServiceSelector, fmt.Sprintf(
			"spec.selector includes %s: %v, so the Service selects only that version and a new version could never get traffic through it; "+
				"remove %s from the selector (the DestinationRule's subsets split traffic by version)",
			overlay.VersionLabel, v, overlay.VersionLabel))}
	}
	return nil
}
