package kube

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func dest(host, subset string, weight any) map[string]any {
	d := map[string]any{"destination": map[string]any{"host": host, "subset": subset}}
	if weight != nil {
		d["weight"] = weight
	}
	return d
}

func httpRoute(dests ...map[string]any) map[string]any {
	route := make([]any, len(dests))
	for i, d := range dests {
		route[i] = d
	}
	return map[string]any{"route": route}
}

func vsObj(version, name string, http ...map[string]any) *unstructured.Unstructured {
	list := make([]any, len(http))
	for i, h := range http {
		list[i] = h
	}
	return obj("networking.istio.io/"+version, "VirtualService", "bookinfo", name, "spec.http", list)
}

func TestVirtualServiceRoutes(t *testing.T) {
	tests := []struct {
		name    string
		http    []map[string]any
		want    [][]Route
		wantErr string
	}{
		{
			name: "weighted split",
			http: []map[string]any{httpRoute(dest("reviews", "v1", int64(90)), dest("reviews", "v2", int64(10)))},
			want: [][]Route{{{Host: "reviews", Subset: "v1", Weight: 90}, {Host: "reviews", Subset: "v2", Weight: 10}}},
		},
		{
			name: "absent weight on a single destination is 100",
			http: []map[string]any{httpRoute(dest("reviews", "v1", nil))},
			want: [][]Route{{{Host: "reviews", Subset: "v1", Weight: 100}}},
		},
		{
			name: "weight 0 on a single destination is 100, as Istio routes it",
			http: []map[string]any{httpRoute(dest("reviews", "v1", int64(0)))},
			want: [][]Route{{{Host: "reviews", Subset: "v1", Weight: 100}}},
		},
		{
			name: "absent weight among several is 0",
			http: []map[string]any{httpRoute(dest("reviews", "v1", int64(100)), dest("reviews", "v2", nil))},
			want: [][]Route{{{Host: "reviews", Subset: "v1", Weight: 100}, {Host: "reviews", Subset: "v2", Weight: 0}}},
		},
		{
			name: "multiple http routes in order",
			http: []map[string]any{
				httpRoute(dest("reviews", "v2", nil)),
				httpRoute(dest("reviews", "v1", int64(70)), dest("reviews", "v2", int64(30))),
				{"delegate": map[string]any{"name": "other"}},
			},
			want: [][]Route{
				{{Host: "reviews", Subset: "v2", Weight: 100}},
				{{Host: "reviews", Subset: "v1", Weight: 70}, {Host: "reviews", Subset: "v2", Weight: 30}},
				{},
			},
		},
		{
			name: "no subset",
			http: []map[string]any{httpRoute(map[string]any{"destination": map[string]any{"host": "reviews.bookinfo.svc.cluster.local"}})},
			want: [][]Route{{{Host: "reviews.bookinfo.svc.cluster.local", Weight: 100}}},
		},
		{
			name:    "weight of the wrong type",
			http:    []map[string]any{httpRoute(dest("reviews", "v1", "ten"))},
			wantErr: "VirtualService bookinfo/reviews: spec.http[0].route[0].weight is a string, want an integer",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := vsObj("v1", "reviews", tt.http...)
			parsed, err := ParseVirtualServiceRoutes(vs)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseVirtualServiceRoutes error = %v, want %q", err, tt.wantErr)
				}
				return // the API server would not store it: no typed object to read
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(parsed, tt.want) {
				t.Errorf("ParseVirtualServiceRoutes = %+v, want %+v", parsed, tt.want)
			}
			c := newTestCluster(t, nil, istioServes("v1beta1", "v1"), vs)
			got, found, err := c.VirtualServiceRoutes(context.Background(), "bookinfo", "reviews")
			if err != nil || !found {
				t.Fatalf("VirtualServiceRoutes: found %v, err %v", found, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("VirtualServiceRoutes = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestVirtualServiceRoutesNotFound(t *testing.T) {
	c := newTestCluster(t, nil, istioServes("v1"), vsObj("v1", "ratings"))
	routes, found, err := c.VirtualServiceRoutes(context.Background(), "bookinfo", "reviews")
	if err != nil || found || routes != nil {
		t.Errorf("VirtualServiceRoutes = %v, %v, %v; want nil, false, nil", routes, found, err)
	}
}

func TestVirtualServiceRoutesNoHTTP(t *testing.T) {
	o := obj("networking.istio.io/v1", "VirtualService", "bookinfo", "reviews", "spec.hosts", []any{"reviews"})
	c := newTestCluster(t, nil, istioServes("v1"), o)
	routes, found, err := c.VirtualServiceRoutes(context.Background(), "bookinfo", "reviews")
	if err != nil || !found || len(routes) != 0 {
		t.Errorf("VirtualServiceRoutes = %v, %v, %v; want [], true, nil", routes, found, err)
	}
}

func TestVirtualServiceRoutesFallsBackToV1beta1(t *testing.T) {
	vs := vsObj("v1beta1", "reviews", httpRoute(dest("reviews", "v1", nil)))
	c := newTestCluster(t, nil, istioServes("v1beta1"), vs)
	routes, found, err := c.VirtualServiceRoutes(context.Background(), "bookinfo", "reviews")
	if err != nil || !found {
		t.Fatalf("VirtualServiceRoutes: found %v, err %v", found, err)
	}
	if want := [][]Route{{{Host: "reviews", Subset: "v1", Weight: 100}}}; !reflect.DeepEqual(routes, want) {
		t.Errorf("routes = %+v, want %+v", routes, want)
	}
}

func TestVirtualServiceRoutesFallsBackToV1alpha3(t *testing.T) {
	vs := vsObj("v1alpha3", "reviews", httpRoute(dest("reviews", "v1", int64(80)), dest("reviews", "v2", int64(20))))
	c := newTestCluster(t, nil, istioServes("v1alpha3"), vs)
	routes, found, err := c.VirtualServiceRoutes(context.Background(), "bookinfo", "reviews")
	want := [][]Route{{{Host: "reviews", Subset: "v1", Weight: 80}, {Host: "reviews", Subset: "v2", Weight: 20}}}
	if err != nil || !found || !reflect.DeepEqual(routes, want) {
		t.Errorf("VirtualServiceRoutes = %+v, %v, %v; want %+v", routes, found, err, want)
	}
}

func TestVirtualServiceRoutesNoIstio(t *testing.T) {
	c := newTestCluster(t, nil, nil)
	_, _, err := c.VirtualServiceRoutes(context.Background(), "bookinfo", "reviews")
	if err == nil || !strings.Contains(err.Error(), "Istio CRDs") {
		t.Errorf("error = %v, want a hint about the Istio CRDs", err)
	}
}
