package kube

import (
	"context"
	"fmt"

	"github.com/gitcanary/gitcanary/pkg/overlay"
	networking "istio.io/api/networking/v1alpha3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// VirtualServiceRoutes implements Cluster. It reads the VirtualService in
// the version of networking.istio.io the cluster serves.
func (c *cluster) VirtualServiceRoutes(ctx context.Context, namespace, name string) ([][]Route, bool, error) {
	spec, found, err := c.virtualService(ctx, namespace, name)
	if err != nil || !found {
		return nil, false, err
	}
	return RoutesOf(spec), true, nil
}

// RoutesOf returns, for each HTTP route of a VirtualService spec, its
// destinations in order, by the same rules as ParseVirtualServiceRoutes.
func RoutesOf(spec *networking.VirtualService) [][]Route {
	out := make([][]Route, 0, len(spec.GetHttp()))
	for _, h := range spec.GetHttp() {
		dests := h.GetRoute()
		routes := make([]Route, 0, len(dests))
		for _, d := range dests {
			routes = append(routes, Route{
				Host:   d.GetDestination().GetHost(),
				Subset: d.GetDestination().GetSubset(),
				Weight: routeWeight(d.GetWeight(), len(dests)),
			})
		}
		out = append(out, routes)
	}
	return out
}

// routeWeight is Istio's reading of a destination's weight: a lone
// destination whose weight is absent or 0 gets all traffic (100); among
// several, an absent weight is 0.
func routeWeight(w int32, dests int) int32 {
	if w == 0 && dests == 1 {
		return 100
	}
	return w
}

// ParseVirtualServiceRoutes reads spec.http[].route[] of an Istio
// VirtualService: for each HTTP route, its destinations in order. It is pure
// so fakes can derive routes from manifests the same way the cluster reader
// does.
//
// Weights follow routeWeight. An HTTP route that delegates
// instead of routing yields an empty list, keeping indexes aligned with
// spec.http.
func ParseVirtualServiceRoutes(obj *unstructured.Unstructured) ([][]Route, error) {
	name := objectName(obj)
	raw, found, err := unstructured.NestedFieldNoCopy(obj.Object, "spec", "http")
	if err != nil {
		return nil, fmt.Errorf("VirtualService %s: spec.http: %w", name, err)
	}
	if !found || raw == nil {
		return [][]Route{}, nil
	}
	https, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("VirtualService %s: spec.http is a %T, want a list", name, raw)
	}
	out := make([][]Route, 0, len(https))
	for i, h := range https {
		hm, ok := h.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("VirtualService %s: spec.http[%d] is a %T, want an object", name, i, h)
		}
		routes, err := parseHTTPRoute(hm)
		if err != nil {
			return nil, fmt.Errorf("VirtualService %s: spec.http[%d]%w", name, i, err)
		}
		out = append(out, routes)
	}
	return out, nil
}

// parseHTTPRoute returns errors that start with the path suffix under
// spec.http[i] (".route[1].weight: …").
func parseHTTPRoute(h map[string]any) ([]Route, error) {
	raw, ok := h["route"]
	if !ok || raw == nil {
		return []Route{}, nil
	}
	dests, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf(".route is a %T, want a list", raw)
	}
	routes := make([]Route, 0, len(dests))
	for j, d := range dests {
		dm, ok := d.(map[string]any)
		if !ok {
			return nil, fmt.Errorf(".route[%d] is a %T, want an object", j, d)
		}
		var r Route
		if dest, ok := dm["destination"].(map[string]any); ok {
			r.Host, _ = dest["host"].(string)
			r.Subset, _ = dest["subset"].(string)
		} else if dm["destination"] != nil {
			return nil, fmt.Errorf(".route[%d].destination is a %T, want an object", j, dm["destination"])
		}
		if w, ok := dm["weight"]; ok && w != nil {
			n, err := toInt64(w)
			if err != nil {
				return nil, fmt.Errorf(".route[%d].weight %v", j, err)
			}
			if n < 0 || n > 100 {
				return nil, fmt.Errorf(".route[%d].weight is %d, want 0..100", j, n)
			}
			r.Weight = int32(n)
		}
		r.Weight = routeWeight(r.Weight, len(dests))
		routes = append(routes, r)
	}
	return routes, nil
}

// VirtualServicesNaming implements Cluster. It lists the VirtualServices
// of every namespace in the served version and returns, as
// "namespace/name", those with a route (http, tcp or tls) to the host
// fqdn's subset, hosts resolved as Istio does (HostFQDN). A cluster that
// forbids listing them cluster-wide answers nil: the check is skipped.
func (c *cluster) VirtualServicesNaming(ctx context.Context, fqdn, subset string) ([]string, error) {
	version, err := c.servedVersion(ctx, "virtualservices")
	if err != nil {
		return nil, err
	}
	type item struct {
		ns, name string
		spec     *networking.VirtualService
	}
	var items []item
	opts := metav1.ListOptions{}
	switch version {
	case "v1":
		l, e := c.istio.NetworkingV1().VirtualServices("").List(ctx, opts)
		if err = e; e == nil {
			for _, vs := range l.Items {
				items = append(items, item{vs.Namespace, vs.Name, &vs.Spec})
			}
		}
	case "v1beta1":
		l, e := c.istio.NetworkingV1beta1().VirtualServices("").List(ctx, opts)
		if err = e; e == nil {
			for _, vs := range l.Items {
				items = append(items, item{vs.Namespace, vs.Name, &vs.Spec})
			}
		}
	default:
		l, e := c.istio.NetworkingV1alpha3().VirtualServices("").List(ctx, opts)
		if err = e; e == nil {
			for _, vs := range l.Items {
				items = append(items, item{vs.Namespace, vs.Name, &vs.Spec})
			}
		}
	}
	if apierrors.IsForbidden(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list VirtualServices (%s/%s): %w", istioGroup, version, err)
	}
	var out []string
	for _, it := range items {
		if NamesSubset(it.spec, it.ns, fqdn, subset) {
			out = append(out, it.ns+"/"+it.name)
		}
	}
	return out, nil
}

// NamesSubset reports whether a VirtualService of namespace has a route
// (http, tcp or tls) to subset of the host fqdn.
func NamesSubset(spec *networking.VirtualService, namespace, fqdn, subset string) bool {
	for _, d := range overlay.Destinations(spec) {
		if d != nil && d.GetSubset() == subset && HostFQDN(d.GetHost(), namespace) == fqdn {
			return true
		}
	}
	return false
}
