package kube

import (
	"context"
	"fmt"

	istiometa "istio.io/api/meta/v1alpha1"
	networking "istio.io/api/networking/v1alpha3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// istioGroup is the API group of the Istio objects gitcanary reads.
const istioGroup = "networking.istio.io"

// istioVersions are the versions of istioGroup, most preferred first: v1
// from Istio 1.22, v1beta1 before, v1alpha3 on the oldest installs. The
// typed clientset has a client for each; all share the v1alpha3 spec types.
var istioVersions = []string{"v1", "v1beta1", "v1alpha3"}

// servedVersion returns the most preferred version of istioGroup serving
// resource ("virtualservices"). Only a positive answer is cached: the CRDs
// may be installed or upgraded while gitcanary runs.
func (c *cluster) servedVersion(ctx context.Context, resource string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v := c.served[resource]; v != "" {
		return v, nil
	}
	for _, version := range istioVersions {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		gv := istioGroup + "/" + version
		list, err := c.disc.ServerResourcesForGroupVersion(gv)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("discover %s: %w", gv, err)
		}
		for _, r := range list.APIResources {
			if r.Name == resource {
				c.served[resource] = version
				return version, nil
			}
		}
	}
	return "", fmt.Errorf("the cluster serves no %s API (%s v1, v1beta1 or v1alpha3); are the Istio CRDs installed?", resource, istioGroup)
}

// istioObject is the version-independent part of an Istio object: its
// metadata and its spec, which every version shares.
type istioObject[S any] struct {
	meta metav1.ObjectMeta
	spec *S
}

// virtualService reads a VirtualService in the served version. found is
// false when it does not exist.
func (c *cluster) virtualService(ctx context.Context, namespace, name string) (*networking.VirtualService, bool, error) {
	version, err := c.servedVersion(ctx, "virtualservices")
	if err != nil {
		return nil, false, err
	}
	opts := metav1.GetOptions{}
	var spec *networking.VirtualService
	switch version {
	case "v1":
		vs, e := c.istio.NetworkingV1().VirtualServices(namespace).Get(ctx, name, opts)
		if err = e; e == nil {
			spec = &vs.Spec
		}
	case "v1beta1":
		vs, e := c.istio.NetworkingV1beta1().VirtualServices(namespace).Get(ctx, name, opts)
		if err = e; e == nil {
			spec = &vs.Spec
		}
	default:
		vs, e := c.istio.NetworkingV1alpha3().VirtualServices(namespace).Get(ctx, name, opts)
		if err = e; e == nil {
			spec = &vs.Spec
		}
	}
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get VirtualService %s/%s (%s/%s): %w", namespace, name, istioGroup, version, err)
	}
	return spec, true, nil
}

// destinationRules lists the DestinationRules of namespace.
func (c *cluster) destinationRules(ctx context.Context, namespace string) ([]istioObject[networking.DestinationRule], error) {
	version, err := c.servedVersion(ctx, "destinationrules")
	if err != nil {
		return nil, err
	}
	var out []istioObject[networking.DestinationRule]
	opts := metav1.ListOptions{}
	switch version {
	case "v1":
		list, e := c.istio.NetworkingV1().DestinationRules(namespace).List(ctx, opts)
		if err = e; e == nil {
			for i := range list.Items {
				out = append(out, istioObject[networking.DestinationRule]{list.Items[i].ObjectMeta, &list.Items[i].Spec})
			}
		}
	case "v1beta1":
		list, e := c.istio.NetworkingV1beta1().DestinationRules(namespace).List(ctx, opts)
		if err = e; e == nil {
			for i := range list.Items {
				out = append(out, istioObject[networking.DestinationRule]{list.Items[i].ObjectMeta, &list.Items[i].Spec})
			}
		}
	default:
		list, e := c.istio.NetworkingV1alpha3().DestinationRules(namespace).List(ctx, opts)
		if err = e; e == nil {
			for i := range list.Items {
				out = append(out, istioObject[networking.DestinationRule]{list.Items[i].ObjectMeta, &list.Items[i].Spec})
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list DestinationRules in %s (%s/%s): %w", namespace, istioGroup, version, err)
	}
	return out, nil
}

// workloadEntry is a WorkloadEntry with the status conditions Istio writes.
type workloadEntry struct {
	meta       metav1.ObjectMeta
	spec       *networking.WorkloadEntry
	conditions []*istiometa.IstioCondition
}

// workloadEntries lists the WorkloadEntries of namespace.
func (c *cluster) workloadEntries(ctx context.Context, namespace string) ([]workloadEntry, error) {
	version, err := c.servedVersion(ctx, "workloadentries")
	if err != nil {
		return nil, err
	}
	var out []workloadEntry
	opts := metav1.ListOptions{}
	switch version {
	case "v1":
		list, e := c.istio.NetworkingV1().WorkloadEntries(namespace).List(ctx, opts)
		if err = e; e == nil {
			for i := range list.Items {
				we := list.Items[i]
				out = append(out, workloadEntry{we.ObjectMeta, &we.Spec, we.Status.GetConditions()})
			}
		}
	case "v1beta1":
		list, e := c.istio.NetworkingV1beta1().WorkloadEntries(namespace).List(ctx, opts)
		if err = e; e == nil {
			for i := range list.Items {
				we := list.Items[i]
				out = append(out, workloadEntry{we.ObjectMeta, &we.Spec, we.Status.GetConditions()})
			}
		}
	default:
		list, e := c.istio.NetworkingV1alpha3().WorkloadEntries(namespace).List(ctx, opts)
		if err = e; e == nil {
			for i := range list.Items {
				we := list.Items[i]
				out = append(out, workloadEntry{we.ObjectMeta, &we.Spec, we.Status.GetConditions()})
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list WorkloadEntries in %s (%s/%s): %w", namespace, istioGroup, version, err)
	}
	return out, nil
}

// serviceEntries lists the ServiceEntries of namespace.
func (c *cluster) serviceEntries(ctx context.Context, namespace string) ([]istioObject[networking.ServiceEntry], error) {
	version, err := c.servedVersion(ctx, "serviceentries")
	if err != nil {
		return nil, err
	}
	var out []istioObject[networking.ServiceEntry]
	opts := metav1.ListOptions{}
	switch version {
	case "v1":
		list, e := c.istio.NetworkingV1().ServiceEntries(namespace).List(ctx, opts)
		if err = e; e == nil {
			for i := range list.Items {
				out = append(out, istioObject[networking.ServiceEntry]{list.Items[i].ObjectMeta, &list.Items[i].Spec})
			}
		}
	case "v1beta1":
		list, e := c.istio.NetworkingV1beta1().ServiceEntries(namespace).List(ctx, opts)
		if err = e; e == nil {
			for i := range list.Items {
				out = append(out, istioObject[networking.ServiceEntry]{list.Items[i].ObjectMeta, &list.Items[i].Spec})
			}
		}
	default:
		list, e := c.istio.NetworkingV1alpha3().ServiceEntries(namespace).List(ctx, opts)
		if err = e; e == nil {
			for i := range list.Items {
				out = append(out, istioObject[networking.ServiceEntry]{list.Items[i].ObjectMeta, &list.Items[i].Spec})
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list ServiceEntries in %s (%s/%s): %w", namespace, istioGroup, version, err)
	}
	return out, nil
}
