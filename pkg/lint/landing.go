package lint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gitcanary/gitcanary/pkg/overlay"
)

// The checks of Landing.
const (
	CheckRouteWeights     = "route-weights"
	CheckRouteSubset      = "route-subset"
	CheckSubsetNames      = "subset-names"
	CheckWorkloadSelector = "workload-selector"
)

// Landing checks that every route of a render lands on pods: each
// VirtualService route (http, tcp and tls) with weight above 0 names a
// subset that the host's DestinationRule declares and whose labels, with
// the Service's selector, select at least one rendered workload; the
// weights of every route with several destinations sum to 100; subset
// names are unique; and every workload's selector is a label map (or a
// LabelSelector, not a mix of both) that its own pod template matches.
// Routes to a host the app renders no Service or ServiceEntry for are
// not judged: their endpoints are not the app's. It is run on every
// state a release plans (plan, start) and by lint.
func Landing(in Input) []Finding {
	if bad := Shapes(in); len(bad) > 0 {
		return bad
	}
	var out []Finding
	pods := podLabels(in.Objects, in.Namespace)
	for _, o := range in.Objects {
		if sel, path, ok := selectorOf(o); ok {
			if msg := selectorProblem(o, sel, path); msg != "" {
				out = append(out, in.finding(o, CheckWorkloadSelector, msg))
			}
		}
	}
	for _, dr := range overlay.Find(in.Objects, "DestinationRule", "") {
		seen := map[string]bool{}
		subsets, _ := overlay.Lookup(dr, ".spec.subsets").([]any)
		for _, s := range subsets {
			name, _ := s.(map[string]any)["name"].(string)
			if seen[name] {
				out = append(out, in.finding(dr, CheckSubsetNames, fmt.Sprintf("declares subset %q twice; Istio uses one of them, unpredictably", name)))
			}
			seen[name] = true
		}
	}
	for _, vs := range overlay.Find(in.Objects, "VirtualService", "") {
		for _, kind := range []string{"http", "tcp", "tls"} {
			routes, _ := overlay.Lookup(vs, ".spec."+kind).([]any)
			for i, r := range routes {
				dests, _ := r.(map[string]any)["route"].([]any)
				where := fmt.Sprintf("spec.%s[%d]", kind, i)
				if msg := weightProblem(dests); msg != "" {
					out = append(out, in.finding(vs, CheckRouteWeights, where+": "+msg))
				}
				for j, d := range dests {
					if msg := in.destinationProblem(vs, d.(map[string]any), len(dests), pods); msg != "" {
						out = append(out, in.finding(vs, CheckRouteSubset, fmt.Sprintf("%s.route[%d]: %s", where, j, msg)))
					}
				}
			}
		}
	}
	return out
}

func (in Input) finding(o overlay.Object, check, msg string) Finding {
	ns := namespaceOf(o, in.Namespace)
	return Finding{Severity: Error, Check: check, File: locate(in, o.Kind(), o.Name(), ns),
		Object: objectName(o.Kind(), ns, o.Name()), Message: msg}
}

// weight reads a destination's weight; a route's only destination without
// one gets all of its traffic.
func weight(d map[string]any, n int) int64 {
	w, ok := d["weight"].(float64)
	if !ok {
		if n == 1 {
			return 100
		}
		return 0
	}
	return int64(w)
}

func weightProblem(dests []any) string {
	if len(dests) < 2 {
		return ""
	}
	var sum int64
	for _, d := range dests {
		m, _ := d.(map[string]any)
		sum += weight(m, len(dests))
	}
	if sum != 100 {
		return fmt.Sprintf("destination weights sum to %d, not 100", sum)
	}
	return ""
}

// destinationProblem says why a destination with traffic lands on no pod.
func (in Input) destinationProblem(vs overlay.Object, d map[string]any, n int, pods []labeled) string {
	if weight(d, n) <= 0 {
		return ""
	}
	host, _ := overlay.Lookup(d, ".destination.host").(string)
	subset, _ := overlay.Lookup(d, ".destination.subset").(string)
	ns := namespaceOf(vs, in.Namespace)
	selector, ok := in.hostSelector(host, ns)
	if !ok {
		return ""
	}
	labels := map[string]any{}
	for k, v := range selector {
		labels[k] = v
	}
	if subset != "" {
		var found []map[string]any
		for _, dr := range overlay.Find(in.Objects, "DestinationRule", "") {
			h, _ := overlay.Lookup(dr, ".spec.host").(string)
			if !overlay.SameHost(qualify(h, namespaceOf(dr, in.Namespace)), qualify(host, ns)) {
				continue
			}
			subsets, _ := overlay.Lookup(dr, ".spec.subsets").([]any)
			for _, s := range subsets {
				if sm, _ := s.(map[string]any); sm["name"] == subset {
					sl, _ := sm["labels"].(map[string]any)
					found = append(found, sl)
				}
			}
		}
		if len(found) == 0 {
			return fmt.Sprintf("sends %d%% to subset %s of %s, which no DestinationRule for the host declares: that traffic fails (503, no healthy upstream)", weight(d, n), subset, host)
		}
		for k, v := range found[0] {
			labels[k] = v
		}
	}
	for _, p := range pods {
		if p.namespace == ns && matches(p.labels, labels) {
			return ""
		}
	}
	what := "host " + host
	if subset != "" {
		what = "subset " + subset + " of " + host
	}
	return fmt.Sprintf("sends %d%% to %s, but no workload the app renders has pods labelled %s: that traffic fails (503, no healthy upstream)",
		weight(d, n), what, formatLabels(labels))
}

// qualify makes a short host name comparable across namespaces.
func qualify(host, ns string) string {
	if strings.Contains(host, ".") || ns == "" {
		return host
	}
	return host + "." + ns
}

// hostSelector is the selector of the Service (or the workloadSelector of
// the ServiceEntry) the app renders for host; false when it renders none.
func (in Input) hostSelector(host, ns string) (map[string]any, bool) {
	name, svcNS := hostService(host, ns)
	for _, o := range overlay.Find(in.Objects, "Service", name) {
		if o.Group() == "" && namespaceOf(o, in.Namespace) == svcNS {
			sel, _ := overlay.Lookup(o, ".spec.selector").(map[string]any)
			if len(sel) == 0 {
				return nil, false // endpoints managed by hand
			}
			return sel, true
		}
	}
	for _, o := range overlay.Find(in.Objects, "ServiceEntry", "") {
		hosts, _ := overlay.Lookup(o, ".spec.hosts").([]any)
		for _, h := range hosts {
			if s, _ := h.(string); s == host {
				sel, _ := overlay.Lookup(o, ".spec.workloadSelector.labels").(map[string]any)
				return sel, len(sel) > 0
			}
		}
	}
	return nil, false
}

// labeled is the labels of the pods (or VMs) one rendered workload runs.
type labeled struct {
	namespace string
	labels    map[string]any
}

// podLabels lists the pod labels of every rendered workload, whatever its
// kind: anything with a pod template at .spec.template (Deployment,
// StatefulSet, DaemonSet, ReplicaSet, DeploymentConfig, CloneSet…), bare
// Pods, and a WorkloadGroup's or WorkloadEntry's VM labels.
func podLabels(objs []overlay.Object, defaultNamespace string) []labeled {
	var out []labeled
	for _, o := range objs {
		var l map[string]any
		switch o.Kind() {
		case "Pod":
			l, _ = overlay.Lookup(o, ".metadata.labels").(map[string]any)
		case "WorkloadGroup":
			l, _ = overlay.Lookup(o, ".spec.metadata.labels").(map[string]any)
		case overlay.EntryKind:
			l, _ = overlay.Lookup(o, ".spec.labels").(map[string]any)
		default:
			l, _ = overlay.Lookup(o, ".spec.template.metadata.labels").(map[string]any)
		}
		if l != nil {
			out = append(out, labeled{namespace: namespaceOf(o, defaultNamespace), labels: l})
		}
	}
	return out
}

func matches(have, want map[string]any) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func formatLabels(m map[string]any) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%v", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// selectorOf returns a workload's selector: .spec.selector of an object
// with a pod template at .spec.template.
func selectorOf(o overlay.Object) (map[string]any, string, bool) {
	if _, ok := overlay.Lookup(o, ".spec.template.metadata").(map[string]any); !ok {
		return nil, "", false
	}
	sel, ok := overlay.Lookup(o, ".spec.selector").(map[string]any)
	return sel, "spec.selector", ok
}

// selectorProblem says what is wrong with a workload's selector.
func selectorProblem(o overlay.Object, sel map[string]any, path string) string {
	_, hasLabels := sel["matchLabels"]
	_, hasExprs := sel["matchExpressions"]
	want := sel
	if hasLabels || hasExprs {
		for k := range sel {
			if k != "matchLabels" && k != "matchExpressions" {
				return fmt.Sprintf("%s mixes a label map (key %q) with a LabelSelector (matchLabels/matchExpressions); the API server rejects it (is the kind's selector path right?)", path, k)
			}
		}
		want, _ = sel["matchLabels"].(map[string]any)
		path += ".matchLabels"
	}
	for k, v := range want {
		if _, ok := v.(string); !ok {
			return fmt.Sprintf("%s.%s is a %T, not a label value", path, k, v)
		}
	}
	tmpl, _ := overlay.Lookup(o, ".spec.template.metadata.labels").(map[string]any)
	if !matches(tmpl, want) {
		return fmt.Sprintf("%s (%s) does not select the labels of its own pod template (%s); the API server rejects it", path, formatLabels(want), formatLabels(tmpl))
	}
	return ""
}
