package kube

import (
	"context"
	"fmt"
	"sync"

	"github.com/argoproj/gitops-engine/pkg/health"
	"istio.io/client-go/pkg/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Config loads a client configuration the way kubectl does: kubeconfig is
// the --kubeconfig flag (empty: $KUBECONFIG, merged if it lists several
// files, then ~/.kube/config, then the in-cluster service account), and
// context is the --context flag (empty: the current context).
func Config(kubeconfig, context string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	return cfg, nil
}

// NewCluster returns a Cluster reading workloads through the dynamic client,
// core objects through the typed Kubernetes clientset and Istio objects
// through Istio's typed clientset. kinds resolves workload kinds; nil means
// the built-ins only.
func NewCluster(cfg *rest.Config, kinds *Kinds) (Cluster, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create dynamic client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create discovery client: %w", err)
	}
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create Kubernetes client: %w", err)
	}
	istio, err := versioned.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create Istio client: %w", err)
	}
	return NewClusterFromClients(Clients{Dynamic: dyn, Discovery: disc, Core: core, Istio: istio}, kinds), nil
}

// Clients are the clients a Cluster reads through. Tests pass client-go's
// and Istio's fakes.
type Clients struct {
	// Dynamic reads workloads (of any kind, by field path), namespaces and
	// Exists.
	Dynamic dynamic.Interface
	// Discovery is only asked which networking.istio.io version serves
	// each Istio kind.
	Discovery discovery.DiscoveryInterface
	// Core reads Services, EndpointSlices and Pods.
	Core kubernetes.Interface
	// Istio reads VirtualServices, DestinationRules, WorkloadEntries and
	// ServiceEntries.
	Istio versioned.Interface
}

// NewClusterFromClients is NewCluster over given clients, e.g. the fakes of
// client-go (dynamic, discovery, kubernetes) and of Istio's client-go.
func NewClusterFromClients(clients Clients, kinds *Kinds) Cluster {
	if kinds == nil {
		kinds = NewKinds()
	}
	return &cluster{dyn: clients.Dynamic, disc: clients.Discovery, core: clients.Core, istio: clients.Istio,
		kinds: kinds, served: map[string]string{}}
}

type cluster struct {
	dyn   dynamic.Interface
	disc  discovery.DiscoveryInterface
	core  kubernetes.Interface
	istio versioned.Interface
	kinds *Kinds

	mu     sync.Mutex
	served map[string]string // Istio resource → served version, once discovered
}

var _ Cluster = (*cluster)(nil)

// Workload implements Cluster.
func (c *cluster) Workload(ctx context.Context, ref Ref) (WorkloadStatus, error) {
	kind, ok := c.kinds.Lookup(ref.Group, ref.Kind)
	if !ok {
		return WorkloadStatus{}, fmt.Errorf("workload %s: kind %s/%s is not a registered workload kind", refName(ref), ref.Group, ref.Kind)
	}
	gvr := resourceFor(ref, kind)
	obj, err := c.get(ctx, gvr, ref.Namespace, ref.Name)
	if apierrors.IsNotFound(err) {
		return WorkloadStatus{}, nil
	}
	if err != nil {
		return WorkloadStatus{}, fmt.Errorf("get %s %s: %w", ref.Kind, refName(ref), err)
	}
	if kind.VM {
		return c.groupStatus(ctx, gvr, obj)
	}
	st, err := kind.Status(obj)
	if err != nil {
		return st, err
	}
	st.ResourceVersion = obj.GetResourceVersion()
	if h, err := health.GetResourceHealth(obj, nil); err == nil && h != nil {
		st.Health, st.HealthMessage = string(h.Status), h.Message
	}
	return st, nil
}

// NamespaceLabels implements Cluster.
func (c *cluster) NamespaceLabels(ctx context.Context, name string) (map[string]string, bool, error) {
	obj, err := c.get(ctx, schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, "", name)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get namespace %s: %w", name, err)
	}
	return obj.GetLabels(), true, nil
}

// Exists implements Cluster. A Ref without Resource (or Version) takes it
// from the registered workload kind, if any.
func (c *cluster) Exists(ctx context.Context, ref Ref) (bool, error) {
	kind, _ := c.kinds.Lookup(ref.Group, ref.Kind)
	gvr := resourceFor(ref, kind)
	if gvr.Resource == "" || gvr.Version == "" {
		return false, fmt.Errorf("exists %s %s: ref has no resource/version and %s/%s is not a registered kind", ref.Kind, refName(ref), ref.Group, ref.Kind)
	}
	_, err := c.get(ctx, gvr, ref.Namespace, ref.Name)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get %s %s: %w", ref.Kind, refName(ref), err)
	}
	return true, nil
}

func (c *cluster) get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error) {
	if namespace == "" {
		return c.dyn.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
	}
	return c.dyn.Resource(gvr).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
}

// resourceFor fills what the Ref leaves empty from the registered kind.
func resourceFor(ref Ref, kind Kind) schema.GroupVersionResource {
	gvr := schema.GroupVersionResource{Group: ref.Group, Version: ref.Version, Resource: ref.Resource}
	if gvr.Version == "" {
		gvr.Version = kind.Version
	}
	if gvr.Resource == "" {
		gvr.Resource = kind.Resource
	}
	return gvr
}

func refName(ref Ref) string {
	if ref.Namespace == "" {
		return ref.Name
	}
	return ref.Namespace + "/" + ref.Name
}
