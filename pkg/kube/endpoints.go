package kube

import (
	"context"
	"fmt"
	"maps"

	istiometa "istio.io/api/meta/v1alpha1"
	networking "istio.io/api/networking/v1alpha3"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// SubsetEndpoints implements Cluster. It reads the DestinationRules of
// namespace, then the Service (or ServiceEntry) behind host, its
// EndpointSlices, the pods carrying the subset's labels (one list) and the
// namespace's WorkloadEntries. Only the namespace's own rules are read:
// Istio would also consult the client's namespace and the root namespace.
func (c *cluster) SubsetEndpoints(ctx context.Context, namespace, host, subset string) (SubsetStatus, error) {
	drs, err := c.destinationRules(ctx, namespace)
	if err != nil {
		return SubsetStatus{}, err
	}
	rules := make([]Rule, 0, len(drs))
	for _, dr := range drs {
		r := Rule{Name: dr.meta.Name, Host: dr.spec.GetHost(), Created: dr.meta.CreationTimestamp.Time}
		for _, s := range dr.spec.GetSubsets() {
			r.Subsets = append(r.Subsets, Subset{Name: s.GetName(), Labels: s.GetLabels()})
		}
		rules = append(rules, r)
	}
	var st SubsetStatus
	st.DestinationRule, st.Labels, st.Found = FindSubset(rules, namespace, host, subset)
	if !st.Found {
		return DescribeSubset(st, namespace, host, subset), nil
	}

	fqdn := HostFQDN(host, namespace)
	var eps []Endpoint
	if name := ServiceOf(fqdn, namespace); name != "" {
		svc, err := c.core.CoreV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return SubsetStatus{}, fmt.Errorf("get Service %s/%s: %w", namespace, name, err)
		default:
			st.Service = name
			if eps, err = c.serviceEndpoints(ctx, svc, st.Labels); err != nil {
				return SubsetStatus{}, err
			}
		}
	}
	if st.Service == "" {
		ses, err := c.serviceEntries(ctx, namespace)
		if err != nil {
			return SubsetStatus{}, err
		}
		if se := serviceEntryFor(ses, fqdn); se != nil {
			st.ServiceEntry = se.meta.Name
			if eps, err = c.serviceEntryEndpoints(ctx, namespace, se.spec, st.Labels); err != nil {
				return SubsetStatus{}, err
			}
		}
	}
	st.Ready, st.Total = CountSubset(eps, st.Labels)
	return DescribeSubset(st, namespace, host, subset), nil
}

// serviceEndpoints returns the endpoints of a Service: those of its
// EndpointSlices, labelled with their pod's labels when the pod carries
// subsetLabels (the others cannot match the subset), and the
// WorkloadEntries its selector selects.
func (c *cluster) serviceEndpoints(ctx context.Context, svc *corev1.Service, subsetLabels map[string]string) ([]Endpoint, error) {
	ns := svc.Namespace
	list, err := c.core.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: svc.Name}).String(),
	})
	if err != nil {
		return nil, fmt.Errorf("list EndpointSlices of Service %s/%s: %w", ns, svc.Name, err)
	}
	pods, err := c.podLabels(ctx, ns, subsetLabels)
	if err != nil {
		return nil, err
	}
	// One endpoint per pod (or address): a dual-stack Service lists each
	// pod in an IPv4 and an IPv6 slice.
	index := map[string]int{}
	var out []Endpoint
	for _, slice := range list.Items {
		if slice.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		for _, e := range slice.Endpoints {
			var key string
			var lbls map[string]string
			switch {
			case e.TargetRef != nil && e.TargetRef.Kind == "Pod":
				key, lbls = "pod/"+e.TargetRef.Name, pods[e.TargetRef.Name]
			case len(e.Addresses) > 0:
				key = "address/" + e.Addresses[0]
			default:
				continue
			}
			// The EndpointSlice API: a nil ready condition means ready.
			ready := e.Conditions.Ready == nil || *e.Conditions.Ready
			if i, dup := index[key]; dup {
				out[i].Ready = out[i].Ready || ready
				continue
			}
			index[key] = len(out)
			out = append(out, Endpoint{Labels: lbls, Ready: ready})
		}
	}
	if len(svc.Spec.Selector) == 0 {
		return out, nil // a Service without selector selects no WorkloadEntry
	}
	entries, err := c.workloadEntries(ctx, ns)
	if err != nil {
		return nil, err
	}
	for _, we := range entries {
		if hasLabels(we.spec.GetLabels(), svc.Spec.Selector) && EntryAddressable(we.spec.GetAddress()) {
			out = append(out, entryEndpoint(we))
		}
	}
	return out, nil
}

// serviceEntryEndpoints returns the endpoints of a ServiceEntry: its inline
// endpoints (always taking traffic: Istio has no health for them), or the
// pods carrying subsetLabels and the WorkloadEntries its workload selector
// selects.
func (c *cluster) serviceEntryEndpoints(ctx context.Context, namespace string, se *networking.ServiceEntry, subsetLabels map[string]string) ([]Endpoint, error) {
	var out []Endpoint
	for _, e := range se.GetEndpoints() {
		out = append(out, Endpoint{Labels: e.GetLabels(), Ready: true})
	}
	selector := se.GetWorkloadSelector().GetLabels()
	if len(selector) == 0 {
		return out, nil
	}
	want := maps.Clone(selector)
	maps.Copy(want, subsetLabels)
	pods, err := c.core.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(want).String()})
	if err != nil {
		return nil, fmt.Errorf("list pods in %s: %w", namespace, err)
	}
	for _, p := range pods.Items {
		out = append(out, Endpoint{Labels: p.Labels, Ready: podReady(&p)})
	}
	entries, err := c.workloadEntries(ctx, namespace)
	if err != nil {
		return nil, err
	}
	for _, we := range entries {
		if hasLabels(we.spec.GetLabels(), selector) {
			out = append(out, entryEndpoint(we))
		}
	}
	return out, nil
}

// podLabels returns the labels of the pods of namespace carrying want, by
// pod name.
func (c *cluster) podLabels(ctx context.Context, namespace string, want map[string]string) (map[string]map[string]string, error) {
	pods, err := c.core.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(want).String()})
	if err != nil {
		return nil, fmt.Errorf("list pods in %s: %w", namespace, err)
	}
	out := make(map[string]map[string]string, len(pods.Items))
	for _, p := range pods.Items {
		out[p.Name] = p.Labels
	}
	return out, nil
}

// serviceEntryFor returns the ServiceEntry whose hosts apply most
// specifically to fqdn, or nil. ServiceEntry hosts are taken as written.
func serviceEntryFor(ses []istioObject[networking.ServiceEntry], fqdn string) *istioObject[networking.ServiceEntry] {
	var found *istioObject[networking.ServiceEntry]
	best := -1
	for i := range ses {
		for _, h := range ses[i].spec.GetHosts() {
			if spec, ok := hostMatch(h, fqdn); ok && spec > best {
				best, found = spec, &ses[i]
			}
		}
	}
	return found
}

func entryEndpoint(we workloadEntry) Endpoint {
	return Endpoint{Labels: we.spec.GetLabels(), Ready: WorkloadEntryReady(we.meta.Annotations, healthyCondition(we.conditions))}
}

func healthyCondition(conds []*istiometa.IstioCondition) string {
	for _, c := range conds {
		if c.GetType() == "Healthy" {
			return c.GetStatus()
		}
	}
	return ""
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
