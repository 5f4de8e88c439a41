package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitcanary/gitcanary/pkg/release"
)

// No outage by construction (DESIGN §1): every subset a route of the
// service's VirtualService sends traffic to must select ready endpoints.
// The harness reads that from the cluster as a mesh would see it: the
// VirtualService, the DestinationRule's subset labels, the Service's
// EndpointSlices and the labels of the pods behind them, and the
// WorkloadEntries (VMs) the Service's selector selects.

var (
	endpointSlicesGVR = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
	podsGVR           = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	drGVR             = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "destinationrules"}
	servicesGVR       = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	entriesGVR        = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "workloadentries"}
)

// serviceHost is the host the fixture's routes send to, and its Service.
const serviceHost = "reviews"

// servedSubset is one subset a route sends traffic to, and what serves it.
type servedSubset struct {
	Subset string            // "" when the route names no subset
	Labels map[string]string // the DestinationRule's labels of the subset
	Ready  []string          // ready endpoints carrying the labels: pod names, WorkloadEntry/<name> for VMs
	Gap    string            // why nothing serves it, "" when something does
}

// servedSubsets reads, for every subset a route sends traffic to, which
// ready endpoints serve it.
func (s *scenario) servedSubsets(ctx context.Context) ([]servedSubset, error) {
	dyn := s.dynamic()
	vs, err := dyn.Resource(vsGVR).Namespace(s.ns).Get(ctx, serviceHost, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("VirtualService %s: %w", serviceHost, err)
	}
	routed := routedSubsets(vs)
	subsets, err := s.subsetLabels(ctx)
	if err != nil {
		return nil, err
	}
	slices, err := dyn.Resource(endpointSlicesGVR).Namespace(s.ns).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + serviceHost})
	if err != nil {
		return nil, err
	}
	pods, err := dyn.Resource(podsGVR).Namespace(s.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	podLabels := map[string]map[string]string{}
	for _, p := range pods.Items {
		podLabels[p.GetName()] = p.GetLabels()
	}
	var ready []string // pods behind a ready endpoint
	for _, sl := range slices.Items {
		eps, _, _ := unstructured.NestedSlice(sl.Object, "endpoints")
		for _, e := range eps {
			ep, _ := e.(map[string]any)
			// An absent ready condition means ready (discovery.k8s.io/v1).
			if r, found, _ := unstructured.NestedBool(ep, "conditions", "ready"); found && !r {
				continue
			}
			if kind, _, _ := unstructured.NestedString(ep, "targetRef", "kind"); kind == "Pod" {
				name, _, _ := unstructured.NestedString(ep, "targetRef", "name")
				ready = append(ready, name)
			}
		}
	}
	entries, err := s.readyEntries(ctx)
	if err != nil {
		return nil, err
	}
	for name, labels := range entries {
		podLabels[name] = labels // the endpoint's labels, a VM's as a pod's
		ready = append(ready, name)
	}
	sort.Strings(ready)
	var out []servedSubset
	for _, name := range routed {
		ss := servedSubset{Subset: name}
		labels, ok := subsets[name]
		switch {
		case name != "" && !ok:
			ss.Gap = fmt.Sprintf("subset %s is routed to but no DestinationRule for %s defines it", name, serviceHost)
		default:
			ss.Labels = labels
			for _, pod := range ready {
				if carries(podLabels[pod], labels) {
					ss.Ready = append(ss.Ready, pod)
				}
			}
			if len(ss.Ready) == 0 {
				ss.Gap = fmt.Sprintf("subset %s (%s) gets traffic but no ready endpoint of Service %s (pod or WorkloadEntry) carries those labels; ready endpoints: %s",
					orNone(name), formatLabels(labels), serviceHost, describePods(ready, podLabels))
			}
		}
		out = append(out, ss)
	}
	return out, nil
}

// readyEntries returns the WorkloadEntries that Istio makes endpoints of
// the Service, ready ones only, by "WorkloadEntry/<name>" with their
// labels: those whose spec.labels carry the Service's selector and whose
// address is an IP (or empty). Istio's rule for readiness
// (pilot/pkg/serviceregistry/serviceentry, isHealthy): with the
// annotation proxy.istio.io/health-checks-enabled true, an entry takes
// traffic only once its Healthy condition is True; without it, always.
func (s *scenario) readyEntries(ctx context.Context) (map[string]map[string]string, error) {
	dyn := s.dynamic()
	svc, err := dyn.Resource(servicesGVR).Namespace(s.ns).Get(ctx, serviceHost, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil // no Service, no endpoints: the subsets' gaps say so
	}
	if err != nil {
		return nil, fmt.Errorf("Service %s: %w", serviceHost, err)
	}
	selector, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector")
	if len(selector) == 0 {
		return nil, nil // a Service without selector selects no WorkloadEntry
	}
	list, err := dyn.Resource(entriesGVR).Namespace(s.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]string{}
	for _, we := range list.Items {
		labels, _, _ := unstructured.NestedStringMap(we.Object, "spec", "labels")
		addr, _, _ := unstructured.NestedString(we.Object, "spec", "address")
		if _, err := netip.ParseAddr(addr); !carries(labels, selector) || addr != "" && err != nil {
			continue
		}
		if checked, _ := strconv.ParseBool(we.GetAnnotations()["proxy.istio.io/health-checks-enabled"]); checked && entryCondition(&we, "Healthy") != "True" {
			continue
		}
		out["WorkloadEntry/"+we.GetName()] = labels
	}
	return out, nil
}

// entryCondition returns the status of a WorkloadEntry's condition of
// type typ, "" when it has none.
func entryCondition(we *unstructured.Unstructured, typ string) string {
	conds, _, _ := unstructured.NestedSlice(we.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			st, _ := m["status"].(string)
			return st
		}
	}
	return ""
}

// routedSubsets lists the subsets of the host that some HTTP route of vs
// sends a share of traffic to: a lone destination gets all of it, others
// what their weight says.
func routedSubsets(vs *unstructured.Unstructured) []string {
	seen := map[string]bool{}
	var out []string
	http, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	for _, h := range http {
		route, _, _ := unstructured.NestedSlice(h.(map[string]any), "route")
		for _, r := range route {
			d, _ := r.(map[string]any)
			host, _, _ := unstructured.NestedString(d, "destination", "host")
			if host != serviceHost && !strings.HasPrefix(host, serviceHost+".") {
				continue
			}
			weight, _, _ := unstructured.NestedInt64(d, "weight")
			if len(route) > 1 && weight <= 0 {
				continue
			}
			subset, _, _ := unstructured.NestedString(d, "destination", "subset")
			if !seen[subset] {
				seen[subset] = true
				out = append(out, subset)
			}
		}
	}
	return out
}

// subsetLabels reads the subsets of the namespace's DestinationRules for
// the host: name → labels.
func (s *scenario) subsetLabels(ctx context.Context) (map[string]map[string]string, error) {
	drs, err := s.dynamic().Resource(drGVR).Namespace(s.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]string{"": nil}
	for _, dr := range drs.Items {
		host, _, _ := unstructured.NestedString(dr.Object, "spec", "host")
		if host != serviceHost && !strings.HasPrefix(host, serviceHost+".") {
			continue
		}
		subsets, _, _ := unstructured.NestedSlice(dr.Object, "spec", "subsets")
		for _, sub := range subsets {
			m, _ := sub.(map[string]any)
			name, _, _ := unstructured.NestedString(m, "name")
			labels, _, _ := unstructured.NestedStringMap(m, "labels")
			out[name] = labels
		}
	}
	return out, nil
}

// carries reports whether labels include every one of want.
func carries(labels, want map[string]string) bool {
	if labels == nil {
		return false
	}
	for k, v := range want {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// checkEndpoints asserts that every subset the cluster's VirtualService
// sends traffic to has at least one ready endpoint (a pod, or a VM's
// WorkloadEntry) carrying the subset's labels. EndpointSlices follow pod
// readiness within a second or two, so it gives them 20 seconds.
func (s *scenario) checkEndpoints(ctx context.Context, phase release.Phase) []servedSubset {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		served, err := s.servedSubsets(ctx)
		var gaps []string
		for _, ss := range served {
			if ss.Gap != "" {
				gaps = append(gaps, ss.Gap)
			}
		}
		if err == nil && len(gaps) == 0 {
			var parts []string
			for _, ss := range served {
				parts = append(parts, fmt.Sprintf("%s by %d", orNone(ss.Subset), len(ss.Ready)))
			}
			s.t.Logf("%s: routed subsets served by ready endpoints: %s", phase, strings.Join(parts, ", "))
			return served
		}
		if time.Now().After(deadline) {
			if err != nil {
				s.t.Errorf("%s: reading what serves the routes: %v", phase, err)
			}
			for _, g := range gaps {
				s.t.Errorf("%s: %s", phase, g)
			}
			return served
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func formatLabels(m map[string]string) string {
	if len(m) == 0 {
		return "no labels"
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func describePods(pods []string, labels map[string]map[string]string) string {
	if len(pods) == 0 {
		return "none"
	}
	var parts []string
	for _, p := range pods {
		parts = append(parts, fmt.Sprintf("%s{version=%s}", p, labels[p]["version"]))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func orNone(subset string) string {
	if subset == "" {
		return "(none)"
	}
	return subset
}
