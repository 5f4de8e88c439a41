package kube

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// obj builds an unstructured object; set takes path/value pairs such as
// "spec.replicas", int64(3). A nil value deletes the field.
func obj(apiVersion, kind, namespace, name string, set ...any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	for i := 0; i+1 < len(set); i += 2 {
		path := strings.Split(set[i].(string), ".")
		if set[i+1] == nil {
			unstructured.RemoveNestedField(u.Object, path...)
			continue
		}
		if err := unstructured.SetNestedField(u.Object, set[i+1], path...); err != nil {
			panic(err)
		}
	}
	return u
}

// workloadObj is a minimal apps/v1 workload with a template and selector.
func workloadObj(kind, name string, set ...any) *unstructured.Unstructured {
	base := []any{
		"metadata.generation", int64(2),
		"spec.selector.matchLabels", map[string]any{"app": "reviews", "version": "v1"},
		"spec.template", map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "reviews"}}},
	}
	return obj("apps/v1", kind, "bookinfo", name, append(base, set...)...)
}

func deploymentRef(name string) Ref {
	return Ref{Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments", Namespace: "bookinfo", Name: name}
}

func TestWorkloadDeployment(t *testing.T) {
	tests := []struct {
		name string
		obj  *unstructured.Unstructured
		want WorkloadStatus
	}{
		{
			name: "ready",
			obj: workloadObj("Deployment", "reviews-v2",
				"spec.replicas", int64(3), "status.readyReplicas", int64(3), "status.observedGeneration", int64(2),
				"metadata.resourceVersion", "41", "status.replicas", int64(3), "status.updatedReplicas", int64(3), "status.availableReplicas", int64(3)),
			want: WorkloadStatus{Found: true, Generation: 2, ObservedGeneration: 2, Replicas: 3, ReadyReplicas: 3, ResourceVersion: "41", Health: "Healthy"},
		},
		{
			name: "ready, an old replica still terminating",
			obj: workloadObj("Deployment", "reviews-v2",
				"spec.replicas", int64(3), "status.readyReplicas", int64(3), "status.observedGeneration", int64(2),
				"status.replicas", int64(4), "status.updatedReplicas", int64(3), "status.availableReplicas", int64(3)),
			want: WorkloadStatus{Found: true, Generation: 2, ObservedGeneration: 2, Replicas: 3, ReadyReplicas: 3,
				Health: "Progressing", HealthMessage: "Waiting for rollout to finish: 1 old replicas are pending termination..."},
		},
		{
			name: "not ready, ready count omitted while zero",
			obj:  workloadObj("Deployment", "reviews-v2", "spec.replicas", int64(3), "status.observedGeneration", int64(1)),
			want: WorkloadStatus{Found: true, Generation: 2, ObservedGeneration: 1, Replicas: 3, ReadyReplicas: 0, Unresolved: ".status.readyReplicas",
				Health: "Progressing", HealthMessage: "Waiting for rollout to finish: observed deployment generation less than desired generation"},
		},
		{
			name: "partly ready",
			obj: workloadObj("Deployment", "reviews-v2",
				"spec.replicas", int64(3), "status.readyReplicas", int64(1), "status.observedGeneration", int64(2)),
			want: WorkloadStatus{Found: true, Generation: 2, ObservedGeneration: 2, Replicas: 3, ReadyReplicas: 1,
				Health: "Progressing", HealthMessage: "Waiting for rollout to finish: 0 out of 3 new replicas have been updated..."},
		},
		{
			name: "replicas absent means 1",
			obj:  workloadObj("Deployment", "reviews-v2", "status.readyReplicas", int64(1)),
			want: WorkloadStatus{Found: true, Generation: 2, Replicas: 1, ReadyReplicas: 1, Unresolved: ".spec.replicas",
				Health: "Progressing", HealthMessage: "Waiting for rollout to finish: observed deployment generation less than desired generation"},
		},
		{
			name: "scaled to zero",
			obj:  workloadObj("Deployment", "reviews-v2", "spec.replicas", int64(0)),
			want: WorkloadStatus{Found: true, Generation: 2, Replicas: 0, ReadyReplicas: 0, Unresolved: ".status.readyReplicas",
				Health: "Progressing", HealthMessage: "Waiting for rollout to finish: observed deployment generation less than desired generation"},
		},
		{
			name: "not found",
			obj:  workloadObj("Deployment", "someone-else"),
			want: WorkloadStatus{Found: false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCluster(t, nil, nil, tt.obj)
			got, err := c.Workload(context.Background(), deploymentRef("reviews-v2"))
			if err != nil {
				t.Fatalf("Workload: %v", err)
			}
			if got != tt.want {
				t.Errorf("Workload = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestWorkloadRefWithoutResourceUsesKind(t *testing.T) {
	c := newTestCluster(t, nil, nil, workloadObj("Deployment", "reviews-v1", "spec.replicas", int64(2), "status.readyReplicas", int64(2)))
	got, err := c.Workload(context.Background(), Ref{Group: "apps", Kind: "Deployment", Namespace: "bookinfo", Name: "reviews-v1"})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Found || got.Replicas != 2 || got.ReadyReplicas != 2 {
		t.Errorf("Workload = %+v, want found 2/2", got)
	}
}

func TestWorkloadDaemonSet(t *testing.T) {
	ds := workloadObj("DaemonSet", "agent",
		"status.desiredNumberScheduled", int64(4), "status.numberReady", int64(3), "status.observedGeneration", int64(2))
	c := newTestCluster(t, nil, nil, ds)
	got, err := c.Workload(context.Background(), Ref{Group: "apps", Version: "v1", Kind: "DaemonSet", Resource: "daemonsets", Namespace: "bookinfo", Name: "agent"})
	if err != nil {
		t.Fatal(err)
	}
	want := WorkloadStatus{Found: true, Generation: 2, ObservedGeneration: 2, Replicas: 4, ReadyReplicas: 3,
		Health: "Progressing", HealthMessage: `Waiting for daemon set "agent" rollout to finish: 0 out of 4 new pods have been updated...`}
	if got != want {
		t.Errorf("Workload = %+v, want %+v", got, want)
	}
}

func TestWorkloadStatefulSet(t *testing.T) {
	sts := workloadObj("StatefulSet", "db", "spec.replicas", int64(3), "status.readyReplicas", int64(3))
	c := newTestCluster(t, nil, nil, sts)
	got, err := c.Workload(context.Background(), Ref{Group: "apps", Kind: "StatefulSet", Namespace: "bookinfo", Name: "db"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Replicas != 3 || got.ReadyReplicas != 3 {
		t.Errorf("Workload = %+v, want 3/3", got)
	}
}

// deploymentConfig is DESIGN §3's reference custom kind.
var deploymentConfig = Kind{
	Group: "apps.openshift.io", Version: "v1", Kind: "DeploymentConfig", Resource: "deploymentconfigs",
	PodTemplate: ".spec.template", Selector: ".spec.selector",
	Replicas: ".spec.replicas", ReadyReplicas: ".status.availableReplicas",
	Name: "deploymentconfigs",
}

func TestWorkloadCustomKind(t *testing.T) {
	kinds := NewKinds()
	if err := kinds.Register(deploymentConfig); err != nil {
		t.Fatal(err)
	}
	dc := obj("apps.openshift.io/v1", "DeploymentConfig", "bookinfo", "reviews",
		"spec.selector", map[string]any{"app": "reviews"},
		"spec.template", map[string]any{},
		"spec.replicas", int64(2), "status.availableReplicas", int64(1))
	c := newTestCluster(t, kinds, nil, dc)
	got, err := c.Workload(context.Background(), Ref{Group: "apps.openshift.io", Kind: "DeploymentConfig", Namespace: "bookinfo", Name: "reviews"})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Found || got.Replicas != 2 || got.ReadyReplicas != 1 {
		t.Errorf("Workload = %+v, want found 1/2", got)
	}
}

func TestWorkloadPathErrors(t *testing.T) {
	tests := []struct {
		name    string
		obj     *unstructured.Unstructured
		wantErr []string // substrings
	}{
		{
			name:    "selector path missing",
			obj:     workloadObj("Deployment", "reviews-v2", "spec.selector", nil),
			wantErr: []string{"Deployment bookinfo/reviews-v2", ".spec.selector.matchLabels", "not found"},
		},
		{
			name:    "pod template missing",
			obj:     workloadObj("Deployment", "reviews-v2", "spec.template", nil),
			wantErr: []string{"Deployment bookinfo/reviews-v2", ".spec.template", "not found"},
		},
		{
			name:    "replicas of the wrong type",
			obj:     workloadObj("Deployment", "reviews-v2", "spec.replicas", "three"),
			wantErr: []string{"Deployment bookinfo/reviews-v2", ".spec.replicas", "want an integer"},
		},
		{
			name:    "path runs through a scalar",
			obj:     workloadObj("Deployment", "reviews-v2", "status", "broken"),
			wantErr: []string{"Deployment bookinfo/reviews-v2", ".status.readyReplicas", "runs through .status"},
		},
		{
			name:    "selector value not a string",
			obj:     workloadObj("Deployment", "reviews-v2", "spec.selector.matchLabels", map[string]any{"app": int64(1)}),
			wantErr: []string{".spec.selector.matchLabels", `key "app"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCluster(t, nil, nil, tt.obj)
			_, err := c.Workload(context.Background(), deploymentRef("reviews-v2"))
			if err == nil {
				t.Fatal("Workload: want an error")
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestWorkloadCustomKindPathMissing(t *testing.T) {
	kinds := NewKinds()
	if err := kinds.Register(deploymentConfig); err != nil {
		t.Fatal(err)
	}
	// Selector configured as .spec.selector but the object has none.
	dc := obj("apps.openshift.io/v1", "DeploymentConfig", "bookinfo", "reviews", "spec.template", map[string]any{})
	c := newTestCluster(t, kinds, nil, dc)
	_, err := c.Workload(context.Background(), Ref{Group: "apps.openshift.io", Kind: "DeploymentConfig", Namespace: "bookinfo", Name: "reviews"})
	want := "DeploymentConfig bookinfo/reviews: selector path .spec.selector not found (selector of kind apps.openshift.io/DeploymentConfig)"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestWorkloadUnregisteredKind(t *testing.T) {
	c := newTestCluster(t, nil, nil)
	_, err := c.Workload(context.Background(), Ref{Group: "argoproj.io", Kind: "Rollout", Namespace: "bookinfo", Name: "reviews"})
	if err == nil || !strings.Contains(err.Error(), "argoproj.io/Rollout is not a registered workload kind") {
		t.Errorf("error = %v, want not registered", err)
	}
}

func TestExists(t *testing.T) {
	dr := obj("networking.istio.io/v1", "DestinationRule", "bookinfo", "reviews")
	c := newTestCluster(t, nil, nil, dr, workloadObj("Deployment", "reviews-v1"))
	drRef := Ref{Group: "networking.istio.io", Version: "v1", Kind: "DestinationRule", Resource: "destinationrules", Namespace: "bookinfo"}
	tests := []struct {
		name    string
		ref     Ref
		want    bool
		wantErr string
	}{
		{name: "custom resource present", ref: withName(drRef, "reviews"), want: true},
		{name: "custom resource absent", ref: withName(drRef, "ratings"), want: false},
		{name: "workload kind without resource", ref: Ref{Group: "apps", Kind: "Deployment", Namespace: "bookinfo", Name: "reviews-v1"}, want: true},
		{name: "workload absent", ref: deploymentRef("reviews-v9"), want: false},
		{name: "unknown kind without resource", ref: Ref{Group: "example.com", Kind: "Thing", Name: "x"}, wantErr: "no resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Exists(context.Background(), tt.ref)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Exists error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Exists = %v, want %v", got, tt.want)
			}
		})
	}
}

func withName(r Ref, name string) Ref { r.Name = name; return r }
