package kube

import (
	"context"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Builders for the objects behind a subset, in namespace ns.

func strMap(l map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range l {
		out[k] = v
	}
	return out
}

func svcObj(ns, name string, selector map[string]string) *unstructured.Unstructured {
	return obj("v1", "Service", ns, name, "spec.selector", strMap(selector))
}

// drObj takes subsets as name, labels pairs.
func drObj(ns, name, host string, created int, subsets ...any) *unstructured.Unstructured {
	var list []any
	for i := 0; i+1 < len(subsets); i += 2 {
		list = append(list, map[string]any{"name": subsets[i], "labels": strMap(subsets[i+1].(map[string]string))})
	}
	o := obj("networking.istio.io/v1", "DestinationRule", ns, name, "spec.host", host, "spec.subsets", list)
	o.SetCreationTimestamp(metaTime(created))
	return o
}

func podObj(ns, name string, labels map[string]string) *unstructured.Unstructured {
	o := obj("v1", "Pod", ns, name)
	o.SetLabels(labels)
	return o
}

// ep is an EndpointSlice endpoint of a pod; ready "" leaves the condition
// unset, "true"/"false" set it.
type ep struct{ pod, ready string }

func sliceObj(ns, name, service, addressType string, eps ...ep) *unstructured.Unstructured {
	var list []any
	for i, e := range eps {
		m := map[string]any{
			"addresses": []any{"10.1.0." + string(rune('1'+i))},
			"targetRef": map[string]any{"kind": "Pod", "name": e.pod, "namespace": ns},
		}
		switch e.ready {
		case "true":
			m["conditions"] = map[string]any{"ready": true}
		case "false":
			m["conditions"] = map[string]any{"ready": false}
		}
		list = append(list, m)
	}
	o := obj("discovery.k8s.io/v1", "EndpointSlice", ns, name, "addressType", addressType, "endpoints", list)
	o.SetLabels(map[string]string{"kubernetes.io/service-name": service})
	return o
}

// weObj is a WorkloadEntry; checked adds the health-checks annotation,
// healthy ("True", "False", "") its Healthy condition.
func weObj(ns, name, address string, labels map[string]string, checked bool, healthy string) *unstructured.Unstructured {
	o := obj("networking.istio.io/v1", "WorkloadEntry", ns, name, "spec.address", address, "spec.labels", strMap(labels))
	if checked {
		o.SetAnnotations(map[string]string{"proxy.istio.io/health-checks-enabled": "true"})
	}
	if healthy != "" {
		_ = unstructured.SetNestedSlice(o.Object, []any{map[string]any{"type": "Healthy", "status": healthy}}, "status", "conditions")
	}
	return o
}

func metaTime(minute int) metav1.Time {
	return metav1.NewTime(time.Date(2026, 1, 1, 0, minute, 0, 0, time.UTC))
}

var (
	v1Labels  = map[string]string{"app": "reviews", "version": "v1"}
	v2Labels  = map[string]string{"app": "reviews", "version": "v2"}
	appLabels = map[string]string{"app": "reviews"}
)

func TestSubsetEndpoints(t *testing.T) {
	const ns = "bookinfo"
	svc := svcObj(ns, "reviews", appLabels)
	dr := drObj(ns, "reviews", "reviews", 0, "v1", map[string]string{"version": "v1"}, "v2", map[string]string{"version": "v2"})
	base := []*unstructured.Unstructured{svc, dr}
	tests := []struct {
		name      string
		objs      []*unstructured.Unstructured
		namespace string // default ns
		host      string // default "reviews"
		subset    string // default "v1"
		want      SubsetStatus
	}{
		{
			name: "ready pods of the subset; other subsets' pods do not count",
			objs: []*unstructured.Unstructured{
				podObj(ns, "a", v1Labels), podObj(ns, "b", v1Labels), podObj(ns, "c", v2Labels),
				sliceObj(ns, "reviews-1", "reviews", "IPv4", ep{"a", "true"}, ep{"b", "true"}, ep{"c", "true"}),
			},
			want: SubsetStatus{DestinationRule: "reviews", Found: true, Labels: map[string]string{"version": "v1"}, Service: "reviews", Ready: 2, Total: 2},
		},
		{
			name: "labels match no pod: the stable subset after its version label was removed",
			objs: []*unstructured.Unstructured{
				podObj(ns, "a", appLabels), podObj(ns, "b", appLabels),
				sliceObj(ns, "reviews-1", "reviews", "IPv4", ep{"a", "true"}, ep{"b", "true"}),
			},
			want: SubsetStatus{DestinationRule: "reviews", Found: true, Labels: map[string]string{"version": "v1"}, Service: "reviews",
				Describe: "subset v1 (version=v1) of reviews selects 0 ready of 0 endpoints"},
		},
		{
			name: "pods not ready",
			objs: []*unstructured.Unstructured{
				podObj(ns, "a", v1Labels), podObj(ns, "b", v1Labels),
				sliceObj(ns, "reviews-1", "reviews", "IPv4", ep{"a", "false"}, ep{"b", "false"}),
			},
			want: SubsetStatus{DestinationRule: "reviews", Found: true, Labels: map[string]string{"version": "v1"}, Service: "reviews", Total: 2,
				Describe: "subset v1 (version=v1) of reviews selects 0 ready of 2 endpoints"},
		},
		{
			name: "ready unset counts as ready; a pod in two slices (dual-stack) counts once",
			objs: []*unstructured.Unstructured{
				podObj(ns, "a", v1Labels), podObj(ns, "b", v1Labels),
				sliceObj(ns, "reviews-4", "reviews", "IPv4", ep{"a", ""}, ep{"b", "false"}),
				sliceObj(ns, "reviews-6", "reviews", "IPv6", ep{"a", ""}, ep{"b", "false"}),
				sliceObj(ns, "ratings-1", "ratings", "IPv4", ep{"a", "true"}),
			},
			want: SubsetStatus{DestinationRule: "reviews", Found: true, Labels: map[string]string{"version": "v1"}, Service: "reviews", Ready: 1, Total: 2},
		},
		{
			name: "VM WorkloadEntries: Istio's health rule, spec.labels, IP addresses only",
			objs: []*unstructured.Unstructured{
				weObj(ns, "healthy", "10.0.0.1", v1Labels, true, "True"),
				weObj(ns, "unhealthy", "10.0.0.2", v1Labels, true, "False"),
				weObj(ns, "not-reported-yet", "10.0.0.3", v1Labels, true, ""),
				weObj(ns, "no-checks", "10.0.0.4", v1Labels, false, ""),
				weObj(ns, "no-checks-condition-ignored", "10.0.0.5", v1Labels, false, "False"),
				weObj(ns, "other-subset", "10.0.0.6", v2Labels, false, ""),
				weObj(ns, "other-service", "10.0.0.7", map[string]string{"app": "ratings", "version": "v1"}, false, ""),
				weObj(ns, "hostname", "vm.example.com", v1Labels, false, ""),
			},
			want: SubsetStatus{DestinationRule: "reviews", Found: true, Labels: map[string]string{"version": "v1"}, Service: "reviews", Ready: 3, Total: 5},
		},
		{
			name: "host as FQDN",
			objs: []*unstructured.Unstructured{podObj(ns, "a", v1Labels), sliceObj(ns, "reviews-1", "reviews", "IPv4", ep{"a", "true"})},
			host: "reviews.bookinfo.svc.cluster.local",
			want: SubsetStatus{DestinationRule: "reviews", Found: true, Labels: map[string]string{"version": "v1"}, Service: "reviews", Ready: 1, Total: 1},
		},
		{
			name: "rule host as FQDN, asked by short name",
			objs: []*unstructured.Unstructured{
				drObj(ns, "reviews-fqdn", "reviews.bookinfo.svc.cluster.local", 0, "v3", map[string]string{"version": "v3"}),
				podObj(ns, "a", map[string]string{"app": "reviews", "version": "v3"}), sliceObj(ns, "reviews-1", "reviews", "IPv4", ep{"a", "true"}),
			},
			subset: "v3",
			want:   SubsetStatus{DestinationRule: "reviews-fqdn", Found: true, Labels: map[string]string{"version": "v3"}, Service: "reviews", Ready: 1, Total: 1},
		},
		{
			name: "name.namespace is taken as written by Istio: no rule, no Service",
			host: "reviews.bookinfo",
			want: SubsetStatus{Describe: "no DestinationRule in bookinfo has host reviews.bookinfo"},
		},
		{
			name: "name.namespace in both rule and route: the rule applies, but no Service is behind it",
			objs: []*unstructured.Unstructured{drObj(ns, "dotted", "reviews.bookinfo", 0, "v1", map[string]string{"version": "v1"})},
			host: "reviews.bookinfo",
			want: SubsetStatus{DestinationRule: "dotted", Found: true, Labels: map[string]string{"version": "v1"},
				Describe: "host reviews.bookinfo is neither a Service nor a ServiceEntry host in bookinfo (Istio takes a host with a dot as written; did you mean reviews.bookinfo.svc.cluster.local?)"},
		},
		{
			name: "a Service of another namespace is not read",
			objs: []*unstructured.Unstructured{drObj(ns, "remote", "reviews.other.svc.cluster.local", 0, "v1", map[string]string{"version": "v1"}),
				svcObj("other", "reviews", appLabels)},
			host: "reviews.other.svc.cluster.local",
			want: SubsetStatus{DestinationRule: "remote", Found: true, Labels: map[string]string{"version": "v1"},
				Describe: "host reviews.other.svc.cluster.local is neither a Service nor a ServiceEntry host in bookinfo (it names a Service of namespace other)"},
		},
		{
			name:   "subset missing from the rule",
			subset: "v9",
			want:   SubsetStatus{DestinationRule: "reviews", Describe: "DestinationRule reviews in bookinfo has no subset v9"},
		},
		{
			name:      "wrong namespace: the rule and Service of bookinfo do not apply",
			namespace: "other",
			objs:      []*unstructured.Unstructured{svcObj("other", "reviews", appLabels)},
			want:      SubsetStatus{Describe: "no DestinationRule in other has host reviews"},
		},
		{
			name: "several rules for the host: the oldest defining the subset; exact host beats a wildcard",
			objs: []*unstructured.Unstructured{
				drObj(ns, "older-without", "reviews.bookinfo.svc.cluster.local", -5),
				drObj(ns, "newer-with", "reviews", 5, "v4", map[string]string{"version": "v4"}),
				drObj(ns, "newest-with", "reviews", 9, "v4", map[string]string{"version": "other"}),
				drObj(ns, "wildcard", "*.bookinfo.svc.cluster.local", -9, "v4", map[string]string{"version": "wild"}),
			},
			subset: "v4",
			want: SubsetStatus{DestinationRule: "newer-with", Found: true, Labels: map[string]string{"version": "v4"}, Service: "reviews",
				Describe: "subset v4 (version=v4) of reviews selects 0 ready of 0 endpoints"},
		},
		{
			name: "ServiceEntry host: inline endpoints, selected pods and entries",
			objs: []*unstructured.Unstructured{
				drObj(ns, "legacy", "legacy.example.com", 0, "v1", map[string]string{"version": "v1"}),
				obj("networking.istio.io/v1", "ServiceEntry", ns, "legacy", "spec.hosts", []any{"legacy.example.com"},
					"spec.workloadSelector.labels", map[string]any{"app": "legacy"}),
				podObj(ns, "p", map[string]string{"app": "legacy", "version": "v1"}),
				weObj(ns, "vm", "vm.example.com", map[string]string{"app": "legacy", "version": "v1"}, true, "True"),
			},
			host: "legacy.example.com",
			want: SubsetStatus{DestinationRule: "legacy", Found: true, Labels: map[string]string{"version": "v1"}, ServiceEntry: "legacy", Ready: 1, Total: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			namespace, host, subset := ns, "reviews", "v1"
			if tt.namespace != "" {
				namespace = tt.namespace
			}
			if tt.host != "" {
				host = tt.host
			}
			if tt.subset != "" {
				subset = tt.subset
			}
			c := newTestCluster(t, nil, istioServes("v1"), append(append([]*unstructured.Unstructured{}, base...), tt.objs...)...)
			got, err := c.SubsetEndpoints(context.Background(), namespace, host, subset)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SubsetEndpoints =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestSubsetEndpointsOlderIstio(t *testing.T) {
	dr := drObj("bookinfo", "reviews", "reviews", 0, "v1", map[string]string{"version": "v1"})
	dr.SetAPIVersion("networking.istio.io/v1beta1")
	c := newTestCluster(t, nil, istioServes("v1beta1"), dr, svcObj("bookinfo", "reviews", appLabels))
	got, err := c.SubsetEndpoints(context.Background(), "bookinfo", "reviews", "v1")
	if err != nil || !got.Found || got.DestinationRule != "reviews" {
		t.Errorf("SubsetEndpoints = %+v, %v; want the v1beta1 rule found", got, err)
	}
}

func TestHostFQDN(t *testing.T) {
	for _, tt := range []struct{ host, want, service string }{
		{"reviews", "reviews.bookinfo.svc.cluster.local", "reviews"},
		{"reviews.bookinfo.svc.cluster.local", "reviews.bookinfo.svc.cluster.local", "reviews"},
		{"reviews.bookinfo", "reviews.bookinfo", ""},
		{"reviews.other.svc.cluster.local", "reviews.other.svc.cluster.local", ""},
		{"*", "*", ""},
		{"::1", "::1", ""},
	} {
		got := HostFQDN(tt.host, "bookinfo")
		if got != tt.want || ServiceOf(got, "bookinfo") != tt.service {
			t.Errorf("HostFQDN(%q) = %q (Service %q), want %q (Service %q)", tt.host, got, ServiceOf(got, "bookinfo"), tt.want, tt.service)
		}
	}
}
