package kube

import (
	"fmt"
	"strings"
)

// SelectorOf returns the path, in obj, of the label map a new version's
// selector gets its version label in: the kind's configured selector path
// read as the object actually has it. A Kubernetes LabelSelector
// ({matchLabels, matchExpressions}) is written to through its matchLabels;
// a plain label map (an OpenShift DeploymentConfig's spec.selector, or a
// ReplicationController's) is written to directly, whichever of the two
// the configuration named. "" means the kind has no selector (a
// WorkloadGroup).
func (k Kind) SelectorOf(obj map[string]any) (string, error) {
	if k.Selector == "" {
		return "", nil
	}
	v, found, err := lookupPath(obj, k.Selector)
	if err != nil {
		return "", fmt.Errorf("selector path %s %v", k.Selector, err)
	}
	if !found {
		// The default path names a LabelSelector's matchLabels; the
		// object may have a plain map one level up, or a selector of
		// expressions only.
		parent, ok := strings.CutSuffix(k.Selector, ".matchLabels")
		pv, pfound, _ := lookupPath(obj, parent)
		if !ok || !pfound {
			return "", fmt.Errorf("selector path %s not found (selector of kind %s)", k.Selector, k)
		}
		if _, ok := pv.(map[string]any); !ok {
			return "", fmt.Errorf("selector %s is a %T, want a map", parent, pv)
		}
		if isLabelSelector(pv) {
			return k.Selector, nil
		}
		return parent, checkLabels(parent, pv)
	}
	if isLabelSelector(v) {
		return k.Selector + ".matchLabels", checkLabels(k.Selector+".matchLabels", v.(map[string]any)["matchLabels"])
	}
	return k.Selector, checkLabels(k.Selector, v)
}

// isLabelSelector reports whether v is a LabelSelector rather than a
// plain label map: it has a matchLabels or matchExpressions field.
func isLabelSelector(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	_, labels := m["matchLabels"]
	_, exprs := m["matchExpressions"]
	return labels || exprs
}

func checkLabels(path string, v any) error {
	if v == nil {
		return nil
	}
	if err := checkStringMap(v); err != nil {
		return fmt.Errorf("selector %s %v", path, err)
	}
	return nil
}
