package trafficsim

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// Pod is a destination endpoint as the simulator labels its metrics.
type Pod struct {
	Name, Namespace string
	Workload        string // the Deployment (ReplicaSet owner without its hash) or other owner
	App, Version    string // labels app and version ("unknown" when absent, as Istio)
	CanonicalName   string // service.istio.io/canonical-name, else app, else the workload
	CanonicalRev    string // service.istio.io/canonical-revision, else version, else "latest"
	ServiceAccount  string
	ImageTag        string // tag of the first container's image
}

// Route is one weighted destination of the service's default HTTP route.
type Route struct {
	Subset string // "" routes to every endpoint of the service
	Weight int32
}

// Topology is what Envoy would route a request to the service by: the
// weighted routes, and the ready endpoints of each subset.
type Topology struct {
	FQDN      string
	Routes    []Route
	Endpoints map[string][]Pod // by subset ("" for all endpoints)
	// Pods are all pods of the service that are not terminating, ready or
	// not: their proxies run and export metrics.
	Pods []Pod
}

// clusterDomain is Istio's default.
const clusterDomain = "cluster.local"

var istioVersions = []string{"v1", "v1beta1", "v1alpha3"}

// Reader reads a service's Topology from the cluster.
type Reader struct {
	Core    kubernetes.Interface
	Dynamic dynamic.Interface
	version string // the served networking.istio.io version, once found
}

// Read reads the VirtualServices and DestinationRules of namespace that
// apply to the Service service, the Service's selector and its pods.
func (r *Reader) Read(ctx context.Context, namespace, service string) (Topology, error) {
	fqdn := fmt.Sprintf("%s.%s.svc.%s", service, namespace, clusterDomain)
	top := Topology{FQDN: fqdn, Endpoints: map[string][]Pod{}}
	svc, err := r.Core.CoreV1().Services(namespace).Get(ctx, service, metav1.GetOptions{})
	if err != nil {
		return top, fmt.Errorf("read Service %s/%s: %w", namespace, service, err)
	}
	pods, err := r.Core.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	if err != nil {
		return top, fmt.Errorf("list pods of Service %s/%s: %w", namespace, service, err)
	}
	vss, err := r.list(ctx, namespace, "virtualservices")
	if err != nil {
		return top, err
	}
	drs, err := r.list(ctx, namespace, "destinationrules")
	if err != nil {
		return top, err
	}
	top.Routes = defaultRoute(vss, namespace, fqdn)
	subsets := subsetLabels(drs, namespace, fqdn)
	var ready []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		top.Pods = append(top.Pods, podOf(&p))
		if podReady(&p) {
			ready = append(ready, p)
		}
	}
	for _, rt := range top.Routes {
		if _, done := top.Endpoints[rt.Subset]; done {
			continue
		}
		want, ok := subsets[rt.Subset]
		if rt.Subset != "" && !ok {
			top.Endpoints[rt.Subset] = nil // Envoy: no such cluster, 503 NR
			continue
		}
		var eps []Pod
		for i := range ready {
			if labels.SelectorFromSet(want).Matches(labels.Set(ready[i].Labels)) {
				eps = append(eps, podOf(&ready[i]))
			}
		}
		top.Endpoints[rt.Subset] = eps
	}
	return top, nil
}

func (r *Reader) list(ctx context.Context, namespace, resource string) ([]unstructured.Unstructured, error) {
	versions := istioVersions
	if r.version != "" {
		versions = []string{r.version}
	}
	var last error
	for _, v := range versions {
		gvr := schema.GroupVersionResource{Group: "networking.istio.io", Version: v, Resource: resource}
		l, err := r.Dynamic.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
		if apierrors.IsNotFound(err) {
			last = err
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list %s in %s: %w", resource, namespace, err)
		}
		r.version = v
		items := l.Items
		// Istio takes the oldest first when several apply.
		sort.SliceStable(items, func(i, j int) bool {
			a, b := items[i].GetCreationTimestamp(), items[j].GetCreationTimestamp()
			if !a.Equal(&b) {
				return a.Before(&b)
			}
			return items[i].GetName() < items[j].GetName()
		})
		return items, nil
	}
	return nil, fmt.Errorf("list %s in %s: the cluster serves no networking.istio.io version of it: %v", resource, namespace, last)
}

// hostFQDN resolves a host written in an Istio object of namespace: a
// short name is a Service of the namespace, a name with a dot is taken as
// written (Istio does not expand "reviews.other").
func hostFQDN(host, namespace string) string {
	if strings.Contains(host, ".") || host == "*" || net.ParseIP(host) != nil {
		return host
	}
	return host + "." + namespace + ".svc." + clusterDomain
}

// defaultRoute returns the weighted destinations that a plain request
// from inside the mesh gets: of the oldest VirtualService whose hosts
// name fqdn and whose gateways include "mesh" (or are empty), the first
// HTTP route without a match. Destinations to other hosts are left out.
// No VirtualService: one route to every endpoint.
func defaultRoute(vss []unstructured.Unstructured, namespace, fqdn string) []Route {
	for _, vs := range vss {
		hosts, _, _ := unstructured.NestedStringSlice(vs.Object, "spec", "hosts")
		gateways, _, _ := unstructured.NestedStringSlice(vs.Object, "spec", "gateways")
		if !containsHost(hosts, namespace, fqdn) || (len(gateways) > 0 && !contains(gateways, "mesh")) {
			continue
		}
		https, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
		for _, h := range https {
			hm, _ := h.(map[string]any)
			if m, ok := hm["match"].([]any); ok && len(m) > 0 {
				continue
			}
			dests, _ := hm["route"].([]any)
			var out []Route
			for _, d := range dests {
				dm, _ := d.(map[string]any)
				host, _, _ := unstructured.NestedString(dm, "destination", "host")
				subset, _, _ := unstructured.NestedString(dm, "destination", "subset")
				w, _, _ := unstructured.NestedInt64(dm, "weight")
				if len(dests) == 1 && w == 0 {
					w = 100 // a lone destination takes all traffic
				}
				if hostFQDN(host, namespace) != fqdn {
					continue
				}
				out = append(out, Route{Subset: subset, Weight: int32(w)})
			}
			return out
		}
		return nil // no default route: plain requests get 404 NR
	}
	return []Route{{Weight: 100}}
}

// subsetLabels returns the subsets of the oldest DestinationRule for fqdn.
func subsetLabels(drs []unstructured.Unstructured, namespace, fqdn string) map[string]map[string]string {
	for _, dr := range drs {
		host, _, _ := unstructured.NestedString(dr.Object, "spec", "host")
		if hostFQDN(host, namespace) != fqdn {
			continue
		}
		out := map[string]map[string]string{}
		subsets, _, _ := unstructured.NestedSlice(dr.Object, "spec", "subsets")
		for _, s := range subsets {
			sm, _ := s.(map[string]any)
			name, _ := sm["name"].(string)
			l, _, _ := unstructured.NestedStringMap(sm, "labels")
			out[name] = l
		}
		return out
	}
	return map[string]map[string]string{}
}

func containsHost(hosts []string, namespace, fqdn string) bool {
	for _, h := range hosts {
		if hostFQDN(h, namespace) == fqdn {
			return true
		}
	}
	return false
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podOf(p *corev1.Pod) Pod {
	or := func(vs ...string) string {
		for _, v := range vs {
			if v != "" {
				return v
			}
		}
		return ""
	}
	out := Pod{Name: p.Name, Namespace: p.Namespace, ServiceAccount: or(p.Spec.ServiceAccountName, "default")}
	out.Workload = p.Name
	if len(p.OwnerReferences) > 0 {
		o := p.OwnerReferences[0]
		out.Workload = o.Name
		if h := p.Labels["pod-template-hash"]; o.Kind == "ReplicaSet" && h != "" {
			out.Workload = strings.TrimSuffix(o.Name, "-"+h)
		}
	}
	out.App = or(p.Labels["app"], "unknown")
	out.Version = or(p.Labels["version"], "unknown")
	out.CanonicalName = or(p.Labels["service.istio.io/canonical-name"], p.Labels["app.kubernetes.io/name"], p.Labels["app"], out.Workload)
	out.CanonicalRev = or(p.Labels["service.istio.io/canonical-revision"], p.Labels["app.kubernetes.io/version"], p.Labels["version"], "latest")
	if len(p.Spec.Containers) > 0 {
		img := p.Spec.Containers[0].Image
		if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
			out.ImageTag = img[i+1:]
		}
	}
	return out
}
