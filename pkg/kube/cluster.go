package kube

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
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

// NewCluster returns a Cluster reading through the dynamic client. kinds
// resolves workload kinds; nil means the built-ins only.
func NewCluster(cfg *rest.Config, kinds *Kinds) (Cluster, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create dynamic client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create discovery client: %w", err)
	}
	return NewClusterFromClients(dyn, disc, kinds), nil
}

// NewClusterFromClients is NewCluster over given clients, e.g. client-go's
// dynamic and discovery fakes in tests. Discovery is only asked which
// VirtualService version the cluster serves.
func NewClusterFromClients(dyn dynamic.Interface, disc discovery.DiscoveryInterface, kinds *Kinds) Cluster {
	if kinds == nil {
		kinds = NewKinds()
	}
	return &cluster{dyn: dyn, disc: disc, kinds: kinds}
}

type cluster struct {
	dyn   dynamic.Interface
	disc  discovery.DiscoveryInterface
	kinds *Kinds

	mu   sync.Mutex
	vsGV schema.GroupVersionResource // zero until discovered
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
	return kind.Status(obj)
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

// VirtualServiceRoutes implements Cluster.
func (c *cluster) VirtualServiceRoutes(ctx context.Context, namespace, name string) ([][]Route, bool, error) {
	gvr, err := c.virtualServiceResource(ctx)
	if err != nil {
		return nil, false, err
	}
	obj, err := c.get(ctx, gvr, namespace, name)
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get VirtualService %s/%s: %w", namespace, name, err)
	}
	routes, err := ParseVirtualServiceRoutes(obj)
	if err != nil {
		return nil, true, err
	}
	return routes, true, nil
}

func (c *cluster) get(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error) {
	if namespace == "" {
		return c.dyn.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
	}
	return c.dyn.Resource(gvr).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
}

// virtualServiceResource prefers networking.istio.io/v1 (Istio ≥ 1.22) and
// falls back to v1beta1. Only a positive answer is cached: the CRDs may be
// installed or upgraded while gitcanary runs.
func (c *cluster) virtualServiceResource(ctx context.Context) (schema.GroupVersionResource, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.vsGV.Version != "" {
		return c.vsGV, nil
	}
	for _, version := range []string{"v1", "v1beta1"} {
		if err := ctx.Err(); err != nil {
			return schema.GroupVersionResource{}, err
		}
		gv := "networking.istio.io/" + version
		list, err := c.disc.ServerResourcesForGroupVersion(gv)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return schema.GroupVersionResource{}, fmt.Errorf("discover %s: %w", gv, err)
		}
		for _, r := range list.APIResources {
			if r.Name == "virtualservices" {
				c.vsGV = schema.GroupVersionResource{Group: "networking.istio.io", Version: version, Resource: "virtualservices"}
				return c.vsGV, nil
			}
		}
	}
	return schema.GroupVersionResource{}, fmt.Errorf("the cluster serves no VirtualService API (networking.istio.io v1 or v1beta1); are the Istio CRDs installed?")
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
