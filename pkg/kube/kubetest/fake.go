// Package kubetest provides an in-memory kube.Cluster for unit tests of code
// that reads the cluster, such as the release state machine.
package kubetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitcanary/gitcanary/pkg/kube"
)

// Fake is a kube.Cluster over in-memory state. State can be set directly
// (SetWorkload, SetRoutes, SetExists) or derived from manifests with Apply,
// which plays Argo CD plus the workload controllers: objects appear,
// workloads become ready (unless held back with HoldReady), VirtualService
// routes are parsed with kube.ParseVirtualServiceRoutes.
//
// Objects are keyed by group, kind, namespace and name, so an object of
// namespace A is not seen when asking in namespace B; Ref.Version and
// Ref.Resource are ignored. ApplyTo gives manifests without a namespace
// the Application's destination namespace, as Argo CD does.
//
// SubsetEndpoints models Istio with the real rules of package kube
// (kube.FindSubset, kube.HostFQDN, kube.CountSubset,
// kube.WorkloadEntryReady) over the applied objects, with these
// simplifications: a workload's pods are its ReadyReplicas ready and its
// other replicas not ready, all with its pod template's labels (there are
// no Pod or EndpointSlice objects); a Service's endpoints are the pods of
// the applied workloads its selector selects (a Service set with SetExists
// has no selector, so no endpoints); WorkloadEntries count only when
// applied (a WorkloadGroup registers none); ServiceEntry hosts match only
// exactly (no wildcards); rules applied without a creationTimestamp are
// ordered by name.
//
// The methods are safe for concurrent use.
type Fake struct {
	mu        sync.Mutex
	kinds     *kube.Kinds
	objects   map[key]bool
	workloads map[key]kube.WorkloadStatus
	routes    map[key][][]kube.Route
	applied   map[key]*unstructured.Unstructured // by Apply, for pruning and generations
	held      map[key]int64
	nsLabels  map[string]map[string]string
	nextErrs  []error
	version   int64 // the last resourceVersion given
}

var _ kube.Cluster = (*Fake)(nil)

type key struct{ group, kind, namespace, name string }

func keyOf(ref kube.Ref) key { return key{ref.Group, ref.Kind, ref.Namespace, ref.Name} }

func vsKey(namespace, name string) key {
	return key{"networking.istio.io", "VirtualService", namespace, name}
}

// New returns an empty cluster that knows the built-in workload kinds.
func New() *Fake { return NewWithKinds(kube.NewKinds()) }

// NewWithKinds returns an empty cluster that reads applied workloads with
// the given kinds.
func NewWithKinds(kinds *kube.Kinds) *Fake {
	return &Fake{
		kinds:     kinds,
		objects:   map[key]bool{},
		workloads: map[key]kube.WorkloadStatus{},
		routes:    map[key][][]kube.Route{},
		applied:   map[key]*unstructured.Unstructured{},
		held:      map[key]int64{},
		nsLabels:  map[string]map[string]string{},
	}
}

// SetNamespaceLabels creates a namespace with labels (nil deletes it).
func (f *Fake) SetNamespaceLabels(name string, labels map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if labels == nil {
		delete(f.nsLabels, name)
		return
	}
	f.nsLabels[name] = labels
}

// NamespaceLabels implements kube.Cluster.
func (f *Fake) NamespaceLabels(ctx context.Context, name string) (map[string]string, bool, error) {
	if err := f.callErr(ctx); err != nil {
		return nil, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.nsLabels[name]
	return l, ok, nil
}

// SetWorkload sets what Workload reports for ref. Found false deletes it.
func (f *Fake) SetWorkload(ref kube.Ref, st kube.WorkloadStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := keyOf(ref)
	if !st.Found {
		f.deleteLocked(k)
		return
	}
	f.objects[k] = true
	f.workloads[k] = st
}

// SetRoutes sets the HTTP routes of a VirtualService, creating it.
func (f *Fake) SetRoutes(namespace, name string, routes [][]kube.Route) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := vsKey(namespace, name)
	f.objects[k] = true
	f.routes[k] = copyRoutes(routes)
}

// SetExists creates (an empty) or deletes any object.
func (f *Fake) SetExists(ref kube.Ref, exists bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if exists {
		f.objects[keyOf(ref)] = true
	} else {
		f.deleteLocked(keyOf(ref))
	}
}

// HoldReady caps the ready replicas of a workload at ready, now and on every
// later Apply, like pods that run but never pass their readiness probe.
// A negative value removes the cap.
func (f *Fake) HoldReady(ref kube.Ref, ready int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := keyOf(ref)
	if ready < 0 {
		delete(f.held, k)
	} else {
		f.held[k] = ready
	}
	if st, ok := f.workloads[k]; ok {
		st.ReadyReplicas = f.readyLocked(k, st.Replicas)
		f.storeLocked(k, st)
	}
}

// Apply makes the cluster hold objs, as an Argo CD sync of them would, with
// every workload rolled out at once (ready = desired, observedGeneration =
// generation, generation bumped when the object changed). With prune,
// objects an earlier Apply created that objs no longer has are deleted;
// objects set directly are never pruned. An object Apply cannot read
// (a workload missing its template) is an error and nothing is changed.
// Objects keep the namespace their manifest gives (none: "").
func (f *Fake) Apply(objs []*unstructured.Unstructured, prune bool) error {
	return f.ApplyTo("", objs, prune)
}

// ApplyTo is Apply for an Application whose destination namespace is
// namespace: a namespaced object without metadata.namespace lands there.
// Kinds known to be cluster-scoped (Namespace, ClusterRole, …) stay
// without; Argo CD asks discovery, the fake knows a fixed list.
func (f *Fake) ApplyTo(namespace string, objs []*unstructured.Unstructured, prune bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	type result struct {
		obj    *unstructured.Unstructured
		status *kube.WorkloadStatus
		routes [][]kube.Route
	}
	results := map[key]result{}
	for _, o := range objs {
		o = o.DeepCopy()
		gvk := o.GroupVersionKind()
		if o.GetNamespace() == "" && !clusterScoped[gvk.GroupKind().String()] {
			o.SetNamespace(namespace)
		}
		k := key{gvk.Group, gvk.Kind, o.GetNamespace(), o.GetName()}
		r := result{obj: o}
		if kind, ok := f.kinds.Lookup(gvk.Group, gvk.Kind); ok {
			st, err := kind.Status(o)
			if err != nil {
				return fmt.Errorf("apply: %w", err)
			}
			st.Generation = f.generationLocked(k, o)
			st.ObservedGeneration = st.Generation
			st.ReadyReplicas = f.readyLocked(k, st.Replicas)
			st.Unresolved = "" // the fake controller writes the counts
			r.status = &st
		}
		if k.group == "networking.istio.io" && k.kind == "VirtualService" {
			routes, err := kube.ParseVirtualServiceRoutes(o)
			if err != nil {
				return fmt.Errorf("apply: %w", err)
			}
			r.routes = routes
		}
		results[k] = r
	}
	if prune {
		for k := range f.applied {
			if _, keep := results[k]; !keep {
				f.deleteLocked(k)
			}
		}
	}
	for k, r := range results {
		f.objects[k] = true
		f.applied[k] = r.obj
		if r.status != nil {
			f.storeLocked(k, *r.status)
		}
		if r.routes != nil {
			f.routes[k] = r.routes
		}
	}
	return nil
}

// clusterScoped lists the cluster-scoped kinds an app may carry, by
// schema.GroupKind's String ("Kind.group", "Kind" for core).
var clusterScoped = map[string]bool{
	"Namespace": true, "Node": true, "PersistentVolume": true,
	"ClusterRole.rbac.authorization.k8s.io": true, "ClusterRoleBinding.rbac.authorization.k8s.io": true,
	"CustomResourceDefinition.apiextensions.k8s.io": true, "StorageClass.storage.k8s.io": true,
	"PriorityClass.scheduling.k8s.io": true, "IngressClass.networking.k8s.io": true,
	"MutatingWebhookConfiguration.admissionregistration.k8s.io":   true,
	"ValidatingWebhookConfiguration.admissionregistration.k8s.io": true,
	"APIService.apiregistration.k8s.io":                           true,
}

// FailNext makes the next call of any Cluster method return err.
func (f *Fake) FailNext(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextErrs = append(f.nextErrs, err)
}

// Objects lists the refs (group, kind, namespace, name) of every object.
func (f *Fake) Objects() []kube.Ref {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]kube.Ref, 0, len(f.objects))
	for k := range f.objects {
		out = append(out, kube.Ref{Group: k.group, Kind: k.kind, Namespace: k.namespace, Name: k.name})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return fmt.Sprint(a.Group, a.Kind, a.Namespace, a.Name) < fmt.Sprint(b.Group, b.Kind, b.Namespace, b.Name)
	})
	return out
}

// Workload implements kube.Cluster.
func (f *Fake) Workload(ctx context.Context, ref kube.Ref) (kube.WorkloadStatus, error) {
	if err := f.callErr(ctx); err != nil {
		return kube.WorkloadStatus{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.workloads[keyOf(ref)], nil
}

// VirtualServiceRoutes implements kube.Cluster.
func (f *Fake) VirtualServiceRoutes(ctx context.Context, namespace, name string) ([][]kube.Route, bool, error) {
	if err := f.callErr(ctx); err != nil {
		return nil, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := vsKey(namespace, name)
	if !f.objects[k] {
		return nil, false, nil
	}
	routes := copyRoutes(f.routes[k])
	if routes == nil {
		routes = [][]kube.Route{}
	}
	return routes, true, nil
}

// VirtualServicesNaming implements kube.Cluster over the routes set or
// applied (HTTP routes, as the fake keeps them), hosts resolved as Istio
// does.
func (f *Fake) VirtualServicesNaming(ctx context.Context, fqdn, subset string) ([]string, error) {
	if err := f.callErr(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k, routes := range f.routes {
		if !f.objects[k] {
			continue
		}
		named := false
		for _, r := range routes {
			for _, d := range r {
				named = named || d.Subset == subset && kube.HostFQDN(d.Host, k.namespace) == fqdn
			}
		}
		if named {
			out = append(out, k.namespace+"/"+k.name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Exists implements kube.Cluster.
func (f *Fake) Exists(ctx context.Context, ref kube.Ref) (bool, error) {
	if err := f.callErr(ctx); err != nil {
		return false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.objects[keyOf(ref)], nil
}

func (f *Fake) callErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.nextErrs) == 0 {
		return nil
	}
	err := f.nextErrs[0]
	f.nextErrs = f.nextErrs[1:]
	return err
}

func (f *Fake) deleteLocked(k key) {
	delete(f.objects, k)
	delete(f.workloads, k)
	delete(f.routes, k)
	delete(f.applied, k)
}

func (f *Fake) readyLocked(k key, desired int64) int64 {
	if h, ok := f.held[k]; ok && h < desired {
		return h
	}
	return desired
}

// generationLocked is 1 for a new object and goes up by one whenever the
// applied object differs from the last one, as metadata.generation does on
// spec changes.
func (f *Fake) generationLocked(k key, o *unstructured.Unstructured) int64 {
	prev, ok := f.applied[k]
	if !ok {
		return 1
	}
	gen := f.workloads[k].Generation
	if !reflect.DeepEqual(prev.Object["spec"], o.Object["spec"]) {
		gen++
	}
	return gen
}

func copyRoutes(in [][]kube.Route) [][]kube.Route {
	if in == nil {
		return nil
	}
	out := make([][]kube.Route, len(in))
	for i, r := range in {
		out[i] = append([]kube.Route{}, r...)
	}
	return out
}

// storeLocked writes a workload's status as the API server and Argo CD's
// built-in health check would show it: a new resourceVersion when it
// changed, and, for the kinds gitops-engine has a check for (apps'
// Deployment, StatefulSet, DaemonSet, ReplicaSet), Healthy once every
// replica of the observed generation is ready, else Progressing.
func (f *Fake) storeLocked(k key, st kube.WorkloadStatus) {
	old, ok := f.workloads[k]
	if ok {
		st.ResourceVersion, st.Health, st.HealthMessage = old.ResourceVersion, old.Health, old.HealthMessage
		if st == old {
			return
		}
	}
	f.version++
	st.ResourceVersion = strconv.FormatInt(f.version, 10)
	st.Health, st.HealthMessage = "", ""
	switch {
	case k.group != "apps" || (k.kind != "Deployment" && k.kind != "StatefulSet" && k.kind != "DaemonSet" && k.kind != "ReplicaSet"):
	case st.ObservedGeneration < st.Generation:
		st.Health, st.HealthMessage = "Progressing", "Waiting for rollout to finish: observed deployment generation less than desired generation"
	case st.ReadyReplicas < st.Replicas:
		st.Health, st.HealthMessage = "Progressing", fmt.Sprintf("Waiting for rollout to finish: %d of %d updated replicas are available...", st.ReadyReplicas, st.Replicas)
	default:
		st.Health = "Healthy"
	}
	f.workloads[k] = st
}
