package kubetest

import (
	"context"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitcanary/gitcanary/pkg/kube"
)

const istioGroup = "networking.istio.io"

// SubsetEndpoints implements kube.Cluster from the applied objects of
// namespace; see Fake for what it models.
func (f *Fake) SubsetEndpoints(ctx context.Context, namespace, host, subset string) (kube.SubsetStatus, error) {
	if err := f.callErr(ctx); err != nil {
		return kube.SubsetStatus{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var rules []kube.Rule
	for k, o := range f.applied {
		if k.group == istioGroup && k.kind == "DestinationRule" && k.namespace == namespace {
			rules = append(rules, ruleOf(o))
		}
	}
	var st kube.SubsetStatus
	st.DestinationRule, st.Labels, st.Found = kube.FindSubset(rules, namespace, host, subset)
	if !st.Found {
		return kube.DescribeSubset(st, namespace, host, subset), nil
	}
	fqdn := kube.HostFQDN(host, namespace)
	var eps []kube.Endpoint
	if name := kube.ServiceOf(fqdn, namespace); name != "" && f.objects[key{"", "Service", namespace, name}] {
		st.Service = name
		var selector map[string]string
		if svc := f.applied[key{"", "Service", namespace, name}]; svc != nil {
			selector, _, _ = unstructured.NestedStringMap(svc.Object, "spec", "selector")
		}
		if len(selector) > 0 {
			eps = append(f.podsLocked(namespace, selector), f.entriesLocked(namespace, selector, true)...)
		}
	} else if se := f.serviceEntryLocked(namespace, fqdn); se != nil {
		st.ServiceEntry = se.GetName()
		inline, _, _ := unstructured.NestedSlice(se.Object, "spec", "endpoints")
		for _, e := range inline {
			m, _ := e.(map[string]any)
			labels, _, _ := unstructured.NestedStringMap(m, "labels")
			eps = append(eps, kube.Endpoint{Labels: labels, Ready: true})
		}
		if sel, _, _ := unstructured.NestedStringMap(se.Object, "spec", "workloadSelector", "labels"); len(sel) > 0 {
			eps = append(f.podsLocked(namespace, sel), f.entriesLocked(namespace, sel, false)...)
		}
	}
	st.Ready, st.Total = kube.CountSubset(eps, st.Labels)
	return kube.DescribeSubset(st, namespace, host, subset), nil
}

// podsLocked stands the applied workloads of namespace whose pod template
// carries selector in for their pods: one endpoint per desired replica,
// the first ReadyReplicas of them ready.
func (f *Fake) podsLocked(namespace string, selector map[string]string) []kube.Endpoint {
	var out []kube.Endpoint
	for k, o := range f.applied {
		kind, ok := f.kinds.Lookup(k.group, k.kind)
		if !ok || kind.VM || k.namespace != namespace {
			continue
		}
		labels := templateLabels(o, kind.PodTemplate)
		if !carries(labels, selector) {
			continue
		}
		st := f.workloads[k]
		for i := int64(0); i < st.Replicas; i++ {
			out = append(out, kube.Endpoint{Labels: labels, Ready: i < st.ReadyReplicas})
		}
	}
	return out
}

// entriesLocked returns the applied WorkloadEntries of namespace whose
// spec.labels carry selector. forService keeps only the entries Istio can
// use behind a Kubernetes Service (kube.EntryAddressable).
func (f *Fake) entriesLocked(namespace string, selector map[string]string, forService bool) []kube.Endpoint {
	var out []kube.Endpoint
	for k, o := range f.applied {
		if k.group != istioGroup || k.kind != "WorkloadEntry" || k.namespace != namespace {
			continue
		}
		labels, _, _ := unstructured.NestedStringMap(o.Object, "spec", "labels")
		addr, _, _ := unstructured.NestedString(o.Object, "spec", "address")
		if !carries(labels, selector) || (forService && !kube.EntryAddressable(addr)) {
			continue
		}
		out = append(out, kube.Endpoint{Labels: labels, Ready: kube.WorkloadEntryReady(o.GetAnnotations(), healthyOf(o))})
	}
	return out
}

// serviceEntryLocked returns an applied ServiceEntry of namespace listing
// fqdn among its hosts (as written, no wildcards), or nil.
func (f *Fake) serviceEntryLocked(namespace, fqdn string) *unstructured.Unstructured {
	for k, o := range f.applied {
		if k.group != istioGroup || k.kind != "ServiceEntry" || k.namespace != namespace {
			continue
		}
		hosts, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "hosts")
		for _, h := range hosts {
			if h == fqdn {
				return o
			}
		}
	}
	return nil
}

func ruleOf(o *unstructured.Unstructured) kube.Rule {
	r := kube.Rule{Name: o.GetName(), Created: o.GetCreationTimestamp().Time}
	r.Host, _, _ = unstructured.NestedString(o.Object, "spec", "host")
	subsets, _, _ := unstructured.NestedSlice(o.Object, "spec", "subsets")
	for _, s := range subsets {
		m, _ := s.(map[string]any)
		name, _ := m["name"].(string)
		labels, _, _ := unstructured.NestedStringMap(m, "labels")
		r.Subsets = append(r.Subsets, kube.Subset{Name: name, Labels: labels})
	}
	return r
}

// templateLabels reads .metadata.labels under the pod template path.
func templateLabels(o *unstructured.Unstructured, podTemplate string) map[string]string {
	path := append(strings.Split(strings.TrimPrefix(podTemplate, "."), "."), "metadata", "labels")
	labels, _, _ := unstructured.NestedStringMap(o.Object, path...)
	return labels
}

func healthyOf(o *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		if m, _ := c.(map[string]any); m["type"] == "Healthy" {
			s, _ := m["status"].(string)
			return s
		}
	}
	return ""
}

func carries(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}
