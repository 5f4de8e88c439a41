package lint

import (
	"fmt"

	"github.com/gitcanary/gitcanary/pkg/overlay"
)

// The labels Istio's injection webhooks select on: namespaces by
// istio-injection or istio.io/rev, single pods by sidecar.istio.io/inject
// or istio.io/rev.
const (
	injectionLabel = "istio-injection"
	revisionLabel  = "istio.io/rev"
	podInjectLabel = "sidecar.istio.io/inject"
)

// Injection checks the workload namespace's injection labels for the two
// pitfalls a canary meets: a namespace that disables injection, which no
// pod can override, and namespace-wide injection for a kind whose
// controller runs helper pods, which then carry a sidecar and never finish.
// Pods opt in one by one with the pod label sidecar.istio.io/inject (or
// istio.io/rev): Istio's webhooks select pods by label, and read the
// annotation of the same name only on pods a webhook already selected.
// VMs get no injected sidecar, so a WorkloadGroup is not checked.
func Injection(in Input) []Finding {
	if in.NamespaceLabels == nil || in.Kind.VM {
		return nil
	}
	kind := in.Kind.Kind
	if kind == "" {
		kind = "workload"
	}
	finding := func(sev Severity, check, msg string) []Finding {
		return []Finding{{
			Severity: sev,
			Check:    check,
			File:     locate(in, "Namespace", in.Namespace, ""),
			Object:   objectName("Namespace", "", in.Namespace),
			Message:  msg,
		}}
	}
	optIn := fmt.Sprintf("the label %s: \"true\" on the stable %s's pod template", podInjectLabel, kind)
	injection, hasInjection := in.NamespaceLabels[injectionLabel]
	revision, hasRevision := in.NamespaceLabels[revisionLabel]
	switch {
	case injection == "disabled":
		remedy := "istio-injection=enabled on the namespace or " + optIn
		if in.Kind.HelperPods != "" {
			remedy = fmt.Sprintf("%s (not istio-injection=enabled, which would also inject the %s's %s)", optIn, kind, in.Kind.HelperPods)
		}
		return finding(Error, CheckInjectionDisabled, fmt.Sprintf(
			"label %s=disabled turns sidecar injection off for every pod in the namespace, and no pod label or annotation turns it back on "+
				"(not even the %s: \"true\" gitcanary sets on new versions), so new versions would run without a sidecar; "+
				"remove the label, then opt the pods in with %s", injectionLabel, overlay.InjectAnnotation, remedy))
	case in.Kind.HelperPods == "":
		return nil
	case injection == "enabled":
		return finding(Warning, CheckInjectionHelperPods, helperPodsMessage(in.Kind.HelperPods, kind,
			injectionLabel+"=enabled", podInjectLabel+`: "true"`))
	case hasRevision && !hasInjection:
		// istio-injection, whatever its value, takes precedence over istio.io/rev.
		return finding(Warning, CheckInjectionHelperPods, helperPodsMessage(in.Kind.HelperPods, kind,
			revisionLabel+"="+revision, revisionLabel+": "+revision))
	}
	return nil
}

func helperPodsMessage(helperPods, kind, nsLabel, podLabel string) string {
	return fmt.Sprintf("label %s also injects the sidecar into the %s's %s, which then never finish; "+
		"remove the label and opt in per pod template instead: add the label %s to the stable %s's pod template "+
		"(the versions gitcanary creates copy it)", nsLabel, kind, helperPods, podLabel, kind)
}
