package kube

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Kind describes a workload kind by where its facts live in the object.
// Paths are dot paths from the object root, such as ".spec.template" or
// ".status.readyReplicas".
type Kind struct {
	Group    string // "apps"; "" for the core group
	Version  string // "v1"
	Kind     string // "Deployment"
	Resource string // "deployments"
	// HelperPods describes the pods the kind's controller runs beside the
	// workload's own ("deployer pods" for an OpenShift DeploymentConfig);
	// empty when it runs none, as for the built-in kinds. An injected
	// sidecar keeps such pods from ever finishing.
	HelperPods string

	// PodTemplate is the path of the pod template (an object).
	PodTemplate string
	// Selector is the path of the label selector's matchLabels map; empty
	// when the kind has no selector (a WorkloadGroup).
	Selector string
	// Replicas is the path of the desired replica count; absent means 1.
	Replicas string
	// ReadyReplicas is the path of the ready replica count; absent means 0.
	ReadyReplicas string

	// Name is the kind's name in the config file ("deploymentconfigs");
	// empty for the built-in kinds.
	Name string
	// LocalizedNames are display names by locale ("en-US", "zh-CN").
	LocalizedNames map[string]string
	// VM marks Istio's WorkloadGroup: the template is .spec (its
	// metadata.labels are the labels of every WorkloadEntry), readiness
	// comes from the group's WorkloadEntries, and no sidecar is injected
	// (a VM runs its own istio-agent).
	VM bool
}

// String names the kind as group/kind ("apps/Deployment", "/Pod" for core).
func (k Kind) String() string { return k.Group + "/" + k.Kind }

// Validate checks that the kind is fully named and its paths are
// syntactically valid dot paths. It cannot know whether the paths resolve in
// real objects; Workload reports that when it reads one.
func (k Kind) Validate() error {
	var problems []string
	for _, f := range []struct{ name, value string }{
		{"version", k.Version}, {"kind", k.Kind}, {"resource", k.Resource},
	} {
		if strings.TrimSpace(f.value) == "" {
			problems = append(problems, f.name+" is empty")
		}
	}
	if k.Resource != strings.ToLower(k.Resource) {
		problems = append(problems, fmt.Sprintf("resource %q must be the lower-case plural (e.g. deployments)", k.Resource))
	}
	for _, f := range []struct {
		name, value string
		optional    bool
	}{
		{"podTemplate", k.PodTemplate, false}, {"selector", k.Selector, true},
		{"replicas", k.Replicas, k.VM}, {"readyReplicas", k.ReadyReplicas, k.VM},
	} {
		if f.value == "" && f.optional {
			continue
		}
		if _, err := parsePath(f.value); err != nil {
			problems = append(problems, fmt.Sprintf("%s path: %v", f.name, err))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("workload kind %s: %s", k, strings.Join(problems, "; "))
	}
	return nil
}

// parsePath splits ".spec.template" into its field names. Only plain field
// names are supported: no list indexes, wildcards or quoting, because no
// workload kind we know of keeps these facts inside a list.
func parsePath(p string) ([]string, error) {
	if p == "" {
		return nil, fmt.Errorf("empty path")
	}
	if !strings.HasPrefix(p, ".") {
		return nil, fmt.Errorf("%q must start with '.' (e.g. .spec.replicas)", p)
	}
	fields := strings.Split(p[1:], ".")
	for _, f := range fields {
		if f == "" {
			return nil, fmt.Errorf("%q has an empty field name", p)
		}
		if i := strings.IndexAny(f, "[]*{}$ \t\"'"); i >= 0 {
			return nil, fmt.Errorf("%q: character %q is not supported (plain dot paths only)", p, f[i])
		}
	}
	return fields, nil
}

type groupKind struct{ group, kind string }

// Kinds is a registry of workload kinds, safe for concurrent use.
type Kinds struct {
	mu    sync.RWMutex
	kinds map[groupKind]Kind
}

// The built-in workload kinds; NewKinds copies them into each registry.
var (
	deployment = Kind{
		Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments",
		PodTemplate: ".spec.template", Selector: ".spec.selector.matchLabels",
		Replicas: ".spec.replicas", ReadyReplicas: ".status.readyReplicas",
	}
	statefulSet = Kind{
		Group: "apps", Version: "v1", Kind: "StatefulSet", Resource: "statefulsets",
		PodTemplate: ".spec.template", Selector: ".spec.selector.matchLabels",
		Replicas: ".spec.replicas", ReadyReplicas: ".status.readyReplicas",
	}
	// DaemonSet has no desired count in its spec: the controller computes it
	// from the nodes and reports it in status.
	daemonSet = Kind{
		Group: "apps", Version: "v1", Kind: "DaemonSet", Resource: "daemonsets",
		PodTemplate: ".spec.template", Selector: ".spec.selector.matchLabels",
		Replicas: ".status.desiredNumberScheduled", ReadyReplicas: ".status.numberReady",
	}
	// WorkloadGroup is a version of a service running on VMs: its
	// .spec.metadata.labels label every WorkloadEntry of the group.
	workloadGroup = Kind{
		Group: "networking.istio.io", Version: "v1", Kind: "WorkloadGroup", Resource: "workloadgroups",
		PodTemplate: ".spec", VM: true,
	}
)

// Builtin reports whether kind is one of gitcanary's own kinds, whose paths
// are known to be right (a missing count there means zero).
func (k Kind) Builtin() bool { return k.Name == "" }

// NewKinds returns a registry holding the built-in kinds (Deployment,
// StatefulSet, DaemonSet and Istio's WorkloadGroup).
func NewKinds() *Kinds {
	k := &Kinds{kinds: map[groupKind]Kind{}}
	for _, b := range []Kind{deployment, statefulSet, daemonSet, workloadGroup} {
		k.kinds[groupKind{b.Group, b.Kind}] = b
	}
	return k
}

// Lookup returns the kind registered for group and kind ("" group is core).
func (k *Kinds) Lookup(group, kind string) (Kind, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	found, ok := k.kinds[groupKind{group, kind}]
	return found, ok
}

// Known reports whether a kind of that name (in any group) is registered.
func (k *Kinds) Known(kind string) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	for gk := range k.kinds {
		if gk.kind == kind {
			return true
		}
	}
	return false
}

// Register adds a kind after validating it. A registered kind must have a
// Name (the config file's name for it). Registering a group/kind that is
// already present is an error: a config file must not silently change how a
// built-in kind is read.
func (k *Kinds) Register(kind Kind) error {
	if err := kind.Validate(); err != nil {
		return err
	}
	if kind.Name == "" {
		return fmt.Errorf("workload kind %s: name is empty", kind)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	key := groupKind{kind.Group, kind.Kind}
	if _, dup := k.kinds[key]; dup {
		return fmt.Errorf("workload kind %s is already registered", kind)
	}
	k.kinds[key] = kind
	return nil
}

// All returns the registered kinds sorted by group/kind.
func (k *Kinds) All() []Kind {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]Kind, 0, len(k.kinds))
	for _, v := range k.kinds {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
