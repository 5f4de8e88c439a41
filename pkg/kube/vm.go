package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupLabels returns the labels a WorkloadGroup gives its entries
// (.spec.metadata.labels).
func GroupLabels(group map[string]any) map[string]string {
	v, _, _ := lookupPath(group, ".spec.metadata.labels")
	m, _ := v.(map[string]any)
	out := make(map[string]string, len(m))
	for k, val := range m {
		if s, ok := val.(string); ok {
			out[k] = s
		}
	}
	return out
}

// EntriesStatus judges a WorkloadGroup by its WorkloadEntries (those
// carrying the group's labels). Each entry is a replica. An entry is ready
// when its Healthy condition is True, or, when the group has no probe,
// when it has no Healthy condition at all (nothing reports health then).
// A group with no entries yet wants one: it is not ready.
func EntriesStatus(group *unstructured.Unstructured, entries []unstructured.Unstructured) WorkloadStatus {
	gen, _ := toInt64OrZero(group.Object, ".metadata.generation")
	st := WorkloadStatus{Found: true, Generation: gen, ObservedGeneration: gen}
	_, probed, _ := lookupPath(group.Object, ".spec.probe")
	var waiting []string
	for _, e := range entries {
		st.Replicas++
		healthy, reported := entryHealth(e.Object)
		if healthy || (!reported && !probed) {
			st.ReadyReplicas++
			continue
		}
		addr, _, _ := lookupPath(e.Object, ".spec.address")
		waiting = append(waiting, fmt.Sprintf("%s (%v)", e.GetName(), addr))
	}
	if st.Replicas == 0 {
		st.Replicas = 1
		st.Entries = "no WorkloadEntry carries the group's labels yet (a VM registers one when its istio-agent starts)"
		return st
	}
	if len(waiting) > 0 {
		sort.Strings(waiting)
		st.Entries = "WorkloadEntries not healthy: " + strings.Join(waiting, ", ")
	}
	return st
}

// entryHealth reads the Healthy condition Istio writes on a WorkloadEntry.
func entryHealth(entry map[string]any) (healthy, reported bool) {
	v, _, _ := lookupPath(entry, ".status.conditions")
	conds, _ := v.([]any)
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Healthy" {
			return m["status"] == "True", true
		}
	}
	return false, false
}

// groupStatus reads a WorkloadGroup's entries from the cluster.
func (c *cluster) groupStatus(ctx context.Context, gvr schema.GroupVersionResource, group *unstructured.Unstructured) (WorkloadStatus, error) {
	sel := GroupLabels(group.Object)
	if len(sel) == 0 {
		return WorkloadStatus{}, fmt.Errorf("WorkloadGroup %s has no .spec.metadata.labels: its entries cannot be found", objectName(group))
	}
	entries := schema.GroupVersionResource{Group: gvr.Group, Version: gvr.Version, Resource: "workloadentries"}
	list, err := c.dyn.Resource(entries).Namespace(group.GetNamespace()).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(sel).String()})
	if err != nil {
		return WorkloadStatus{}, fmt.Errorf("list WorkloadEntries of %s: %w", objectName(group), err)
	}
	return EntriesStatus(group, list.Items), nil
}
