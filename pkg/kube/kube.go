// Package kube reads, from the cluster itself, the facts gitcanary checks
// after Argo CD says it has converged: workload readiness, the
// VirtualService weights and the endpoints each DestinationRule subset
// selects. It reports facts; deciding is the machine's job.
package kube

import "context"

// Ref names one object.
type Ref struct {
	Group, Version, Kind, Resource string
	Namespace, Name                string
}

// WorkloadStatus is what the cluster says about a workload.
type WorkloadStatus struct {
	Found              bool
	Generation         int64
	ObservedGeneration int64
	Replicas           int64 // desired, from the kind's replicas path (1 when absent)
	ReadyReplicas      int64 // from the kind's ready-replicas path
	// Unresolved lists the replica paths absent from the object (their
	// defaults were used). For a configured kind, a path that does not
	// resolve in a running stable workload is a mistake in the config.
	Unresolved string // space-separated
	// Entries, for a WorkloadGroup, describes its WorkloadEntries that are
	// not healthy yet, for the reason a release waits.
	Entries string
	// ResourceVersion is the object's, as read.
	ResourceVersion string
	// Health and HealthMessage are what Argo CD's built-in health check
	// (gitops-engine's, without the resource customizations of an
	// argocd-cm) says of the object as read; empty for kinds it has no
	// check for. Argo CD's own verdict comes from its cache, which can lag.
	Health, HealthMessage string
}

// Route is one weighted destination of a VirtualService's HTTP route.
type Route struct {
	Host   string
	Subset string
	Weight int32
}

// Cluster is the read-only view of the cluster gitcanary needs.
type Cluster interface {
	// Workload reads a workload of a built-in or configured kind.
	Workload(ctx context.Context, ref Ref) (WorkloadStatus, error)
	// VirtualServiceRoutes returns the destinations of every HTTP route of
	// the VirtualService, in order; found is false when it does not exist.
	VirtualServiceRoutes(ctx context.Context, namespace, name string) (routes [][]Route, found bool, err error)
	// VirtualServicesNaming lists, as "namespace/name", the
	// VirtualServices of every namespace with a route to subset of the
	// host fqdn; nil when the cluster forbids listing them.
	VirtualServicesNaming(ctx context.Context, fqdn, subset string) ([]string, error)
	// Exists reports whether an object exists.
	Exists(ctx context.Context, ref Ref) (bool, error)
	// NamespaceLabels returns a namespace's labels; found is false when
	// the namespace does not exist.
	NamespaceLabels(ctx context.Context, name string) (labels map[string]string, found bool, err error)
	// SubsetEndpoints reports, for the DestinationRule subset named subset
	// of host in namespace, which endpoints it selects and how many are
	// ready. A missing rule or subset is a fact (Found false), not an error.
	SubsetEndpoints(ctx context.Context, namespace, host, subset string) (SubsetStatus, error)
}
