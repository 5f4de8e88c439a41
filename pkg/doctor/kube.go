package doctor

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	admissionv1 "k8s.io/client-go/kubernetes/typed/admissionregistration/v1"
	corev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
)

// RequestTimeout bounds each request to the API server: discovery calls
// take no context, and an unreachable server must not hang the checklist.
const RequestTimeout = 15 * time.Second

// NewCluster returns the client-go Cluster for a client configuration
// (see kube.Config).
func NewCluster(cfg *rest.Config) (Cluster, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.Timeout == 0 {
		cfg.Timeout = RequestTimeout
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create discovery client for %s: %w", cfg.Host, err)
	}
	adm, err := admissionv1.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create admissionregistration client for %s: %w", cfg.Host, err)
	}
	core, err := corev1.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create core client for %s: %w", cfg.Host, err)
	}
	return &cluster{disc: disc, hooks: adm.MutatingWebhookConfigurations(), namespaces: core.Namespaces()}, nil
}

type cluster struct {
	disc       discovery.DiscoveryInterface
	hooks      admissionv1.MutatingWebhookConfigurationInterface
	namespaces corev1.NamespaceInterface
}

var _ Cluster = (*cluster)(nil)

// ServerVersion implements Cluster.
func (c *cluster) ServerVersion(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	v, err := c.disc.ServerVersion()
	if err != nil {
		return "", err
	}
	return v.GitVersion, nil
}

// ServedVersions implements Cluster.
func (c *cluster) ServedVersions(ctx context.Context, group string) (map[string][]string, error) {
	groups, err := c.disc.ServerGroups()
	if err != nil {
		return nil, fmt.Errorf("list API groups: %w", err)
	}
	served := map[string][]string{}
	for _, g := range groups.Groups {
		if g.Name != group {
			continue
		}
		// The server lists a group's versions in its order of preference.
		for _, v := range g.Versions {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			list, err := c.disc.ServerResourcesForGroupVersion(v.GroupVersion)
			if apierrors.IsNotFound(err) {
				continue // removed between the two calls
			}
			if err != nil {
				return nil, fmt.Errorf("list resources of %s: %w", v.GroupVersion, err)
			}
			for _, r := range list.APIResources {
				if !strings.Contains(r.Name, "/") { // not a subresource
					served[r.Kind] = append(served[r.Kind], v.Version)
				}
			}
		}
	}
	return served, nil
}

// MutatingWebhooks implements Cluster.
func (c *cluster) MutatingWebhooks(ctx context.Context) ([]Webhook, error) {
	list, err := c.hooks.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var hooks []Webhook
	for _, cfg := range list.Items {
		for _, h := range cfg.Webhooks {
			hooks = append(hooks, Webhook{Configuration: cfg.Name, Name: h.Name})
		}
	}
	return hooks, nil
}

// NamespaceLabels implements Cluster.
func (c *cluster) NamespaceLabels(ctx context.Context, name string) (map[string]string, bool, error) {
	ns, err := c.namespaces.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return ns.Labels, true, nil
}
