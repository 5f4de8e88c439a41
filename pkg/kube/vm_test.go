package kube

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	discoveryfake "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"
)

func yamlObj(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

func entry(t *testing.T, name, healthy string) unstructured.Unstructured {
	doc := "metadata: {name: " + name + "}\nspec: {address: 10.0.0.1}\n"
	if healthy != "" {
		doc += "status: {conditions: [{type: Healthy, status: \"" + healthy + "\"}]}\n"
	}
	return *yamlObj(t, doc)
}

func TestEntriesStatus(t *testing.T) {
	probed := yamlObj(t, "metadata: {name: reviews-v2, generation: 3}\nspec: {metadata: {labels: {app: reviews, version: v2}}, probe: {httpGet: {port: 9080}}}")
	unprobed := yamlObj(t, "metadata: {name: reviews-v2, generation: 1}\nspec: {metadata: {labels: {app: reviews, version: v2}}}")
	tests := []struct {
		name    string
		group   *unstructured.Unstructured
		entries []unstructured.Unstructured
		want    WorkloadStatus
	}{
		{"no entries yet", probed, nil, WorkloadStatus{Found: true, Generation: 3, ObservedGeneration: 3, Replicas: 1,
			Entries: "no WorkloadEntry carries the group's labels yet (a VM registers one when its istio-agent starts)"}},
		{"all healthy", probed, []unstructured.Unstructured{entry(t, "a", "True"), entry(t, "b", "True")},
			WorkloadStatus{Found: true, Generation: 3, ObservedGeneration: 3, Replicas: 2, ReadyReplicas: 2}},
		{"one unhealthy, one unreported", probed, []unstructured.Unstructured{entry(t, "a", "True"), entry(t, "c", ""), entry(t, "b", "False")},
			WorkloadStatus{Found: true, Generation: 3, ObservedGeneration: 3, Replicas: 3, ReadyReplicas: 1,
				Entries: "WorkloadEntries not healthy: b (10.0.0.1), c (10.0.0.1)"}},
		{"no probe: unreported counts as ready", unprobed, []unstructured.Unstructured{entry(t, "a", ""), entry(t, "b", "False")},
			WorkloadStatus{Found: true, Generation: 1, ObservedGeneration: 1, Replicas: 2, ReadyReplicas: 1,
				Entries: "WorkloadEntries not healthy: b (10.0.0.1)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EntriesStatus(tt.group, tt.entries); got != tt.want {
				t.Errorf("EntriesStatus =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestDisplayNameAndLocale(t *testing.T) {
	k := Kind{Kind: "CloneSet", LocalizedNames: map[string]string{"en-US": "CloneSet", "zh-CN": "克隆集"}}
	for _, tt := range []struct{ env, want string }{
		{"LANG=zh_CN.UTF-8", "克隆集"},
		{"LC_ALL=zh_TW.UTF-8 LANG=en_US.UTF-8", "克隆集"},
		{"LC_MESSAGES=C LANG=zh_CN.UTF-8", "CloneSet"},
		{"LANG=de_DE@euro", "CloneSet"},
		{"", "CloneSet"},
	} {
		env := map[string]string{}
		for _, kv := range strings.Fields(tt.env) {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		if got := k.DisplayName(Locale(func(n string) string { return env[n] })); got != tt.want {
			t.Errorf("%q: DisplayName = %q, want %q", tt.env, got, tt.want)
		}
	}
}

// TestWorkloadGroupFromCluster reads a group's readiness through the
// dynamic client: only the entries carrying all of the group's labels count.
func TestWorkloadGroupFromCluster(t *testing.T) {
	group := obj("networking.istio.io/v1", "WorkloadGroup", "bookinfo", "reviews-v2",
		"metadata.generation", int64(1),
		"spec.metadata.labels", map[string]any{"app": "reviews", "version": "v2"})
	entry := func(name, version, healthy string) *unstructured.Unstructured {
		e := obj("networking.istio.io/v1", "WorkloadEntry", "bookinfo", name,
			"spec.address", "10.0.1."+name[len(name)-1:],
			"status.conditions", []any{map[string]any{"type": "Healthy", "status": healthy}})
		e.SetLabels(map[string]string{"app": "reviews", "version": version})
		return e
	}
	listKinds := map[schema.GroupVersionResource]string{
		{Group: "networking.istio.io", Version: "v1", Resource: "workloadentries"}: "WorkloadEntryList",
		{Group: "networking.istio.io", Version: "v1", Resource: "workloadgroups"}:  "WorkloadGroupList",
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds,
		group, entry("e1", "v2", "True"), entry("e2", "v2", "False"), entry("e3", "v1", "True"),
		obj("v1", "Namespace", "", "bookinfo", "metadata.labels", map[string]any{"istio-injection": "enabled"}))
	c := NewClusterFromClients(Clients{Dynamic: dyn, Discovery: &discoveryfake.FakeDiscovery{Fake: &clienttesting.Fake{}}}, nil)
	ref := Ref{Group: "networking.istio.io", Version: "v1", Kind: "WorkloadGroup", Resource: "workloadgroups", Namespace: "bookinfo", Name: "reviews-v2"}
	got, err := c.Workload(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	want := WorkloadStatus{Found: true, Generation: 1, ObservedGeneration: 1, Replicas: 2, ReadyReplicas: 1, Entries: "WorkloadEntries not healthy: e2 (10.0.1.2)"}
	if got != want {
		t.Errorf("Workload =\n %+v\nwant\n %+v", got, want)
	}
	labels, found, err := c.NamespaceLabels(context.Background(), "bookinfo")
	if err != nil || !found || labels["istio-injection"] != "enabled" {
		t.Errorf("NamespaceLabels = %v, %v, %v", labels, found, err)
	}
	if _, found, err := c.NamespaceLabels(context.Background(), "absent"); err != nil || found {
		t.Errorf("NamespaceLabels(absent) = %v, %v", found, err)
	}
}
