package kube

import (
	"encoding/json"
	"testing"

	istiofake "istio.io/client-go/pkg/clientset/versioned/fake"
	istioscheme "istio.io/client-go/pkg/clientset/versioned/scheme"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	discoveryfake "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	kubescheme "k8s.io/client-go/kubernetes/scheme"
	clienttesting "k8s.io/client-go/testing"
)

// istioResources are the Istio kinds the cluster reads, as discovery lists
// them.
var istioResources = []metav1.APIResource{
	{Name: "virtualservices", Kind: "VirtualService", Namespaced: true},
	{Name: "destinationrules", Kind: "DestinationRule", Namespaced: true},
	{Name: "workloadentries", Kind: "WorkloadEntry", Namespaced: true},
	{Name: "serviceentries", Kind: "ServiceEntry", Namespaced: true},
}

// istioServes is what discovery says about networking.istio.io when the
// cluster serves those versions.
func istioServes(versions ...string) []*metav1.APIResourceList {
	var out []*metav1.APIResourceList
	for _, v := range versions {
		out = append(out, &metav1.APIResourceList{GroupVersion: "networking.istio.io/" + v, APIResources: istioResources})
	}
	return out
}

// coreKinds are the kinds the cluster reads through the Kubernetes
// clientset; other objects (workloads of any shape) only through the
// dynamic client.
var coreKinds = map[string]bool{"Service": true, "Pod": true, "EndpointSlice": true}

// newTestCluster plays one API server holding objs: the dynamic client sees
// them all, and the typed clientsets (Kubernetes, Istio) see those of the
// kinds they know, decoded from the same object.
func newTestCluster(t *testing.T, kinds *Kinds, discovered []*metav1.APIResourceList, objs ...*unstructured.Unstructured) Cluster {
	t.Helper()
	var all, core, istio []runtime.Object
	for _, o := range objs {
		all = append(all, o)
		if typed := typedObject(t, istioscheme.Scheme, o); typed != nil {
			istio = append(istio, typed)
		} else if coreKinds[o.GetKind()] {
			core = append(core, typedObject(t, kubescheme.Scheme, o))
		}
	}
	return NewClusterFromClients(Clients{
		Dynamic:   dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), all...),
		Discovery: &discoveryfake.FakeDiscovery{Fake: &clienttesting.Fake{Resources: discovered}},
		Core:      kubefake.NewClientset(core...),
		Istio:     istiofake.NewSimpleClientset(istio...),
	}, kinds)
}

// typedObject decodes o into the scheme's type for its kind; nil when the
// scheme does not know the kind.
func typedObject(t *testing.T, scheme *runtime.Scheme, o *unstructured.Unstructured) runtime.Object {
	t.Helper()
	typed, err := scheme.New(o.GroupVersionKind())
	if err != nil {
		return nil
	}
	raw, err := json.Marshal(o.Object)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, typed); err != nil {
		t.Fatalf("decode %s %s: %v", o.GetKind(), o.GetName(), err)
	}
	return typed
}
