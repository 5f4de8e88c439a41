package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

// The shipped examples of built-in kinds, relative to this package's
// directory.
const (
	exampleStatefulSet   = "../examples/workloads/statefulset.yaml"
	exampleDaemonSet     = "../examples/workloads/daemonset.yaml"
	exampleWorkloadGroup = "../examples/workloads/workloadgroup.yaml"
)

var (
	statefulSets = kube.Ref{Group: "apps", Version: "v1", Kind: "StatefulSet", Resource: "statefulsets"}
	daemonSets   = kube.Ref{Group: "apps", Version: "v1", Kind: "DaemonSet", Resource: "daemonsets"}
)

// promotedPhases are the phases a release that runs to its end converges in.
var promotedPhases = []release.Phase{release.Preparing, release.Routing, release.Progressing, release.Promoting, release.Retiring, release.Promoted}

// TestStatefulSet: a release of examples/workloads' StatefulSet (two
// replicas, a volume claim template) to Promoted. The bed's
// controller-manager runs each version's pods (reviews-v2-0, reviews-v2-1)
// through its StatefulSet controller, kwok makes them ready and the
// EndpointSlice controller puts them behind the Service: at every
// converged phase each routed subset has ready endpoints. The bed has no
// storage, so the test binds the pods' volume claims (playVolumeBinder);
// the new version gets volumes of its own, and the old version's claims
// outlive it (a StatefulSet's default retention).
func TestStatefulSet(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "sts", templates.ReleaseParams{Kind: "StatefulSet"},
		withFile("apps/reviews/deployment.yaml", readExample(t, exampleStatefulSet)), playVolumeBinder, withEndpointChecks())
	ctx := context.Background()
	s.promoteWorkload(ctx, statefulSets)

	var sts struct {
		Status struct {
			Replicas, ReadyReplicas, UpdatedReplicas int
			ObservedGeneration                       int64
			CurrentRevision, UpdateRevision          string
		}
		Metadata struct{ Generation int64 }
	}
	if err := json.Unmarshal([]byte(s.env.Kubectl(t, "get", "statefulset", "reviews-v2", "-n", s.ns, "-o", "json")), &sts); err != nil {
		t.Fatal(err)
	}
	if st := sts.Status; st.ReadyReplicas != 2 || st.UpdatedReplicas != 2 || st.CurrentRevision == "" || st.CurrentRevision != st.UpdateRevision || st.ObservedGeneration != sts.Metadata.Generation {
		t.Errorf("StatefulSet reviews-v2 has not rolled out: %+v, generation %d", st, sts.Metadata.Generation)
	}
	s.checkPods(ctx, "version=v2", []string{"reviews-v2-0", "reviews-v2-1"})
	claims := s.env.Kubectl(t, "get", "pvc", "-n", s.ns, "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.phase} {end}`)
	for _, want := range []string{"data-reviews-v2-0=Bound", "data-reviews-v2-1=Bound", "data-reviews-v1-0=Bound", "data-reviews-v1-1=Bound"} {
		if !strings.Contains(claims, want) {
			t.Errorf("volume claims %q, want %s among them", claims, want)
		}
	}
}

// TestDaemonSet: a release of examples/workloads' DaemonSet to Promoted.
// A DaemonSet's desired count is not in its spec: the controller-manager
// computes it from the nodes (one here, kwok-node-0, untainted), and
// gitcanary reads it from status.desiredNumberScheduled. Both versions
// run a pod on that node while traffic moves, each behind the Service.
func TestDaemonSet(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "ds", templates.ReleaseParams{Kind: "DaemonSet"},
		withFile("apps/reviews/deployment.yaml", readExample(t, exampleDaemonSet)), withEndpointChecks())
	ctx := context.Background()
	s.promoteWorkload(ctx, daemonSets)

	var ds struct {
		Status struct {
			DesiredNumberScheduled, NumberReady, NumberAvailable, UpdatedNumberScheduled int
		}
	}
	if err := json.Unmarshal([]byte(s.env.Kubectl(t, "get", "daemonset", "reviews-v2", "-n", s.ns, "-o", "json")), &ds); err != nil {
		t.Fatal(err)
	}
	if st := ds.Status; st.DesiredNumberScheduled != 1 || st.NumberReady != 1 || st.NumberAvailable != 1 || st.UpdatedNumberScheduled != 1 {
		t.Errorf("DaemonSet reviews-v2 on the bed's one node: %+v", st)
	}
	s.checkPods(ctx, "version=v2", nil)
}

// promoteWorkload runs the scenario's release of a pod workload of kind to
// Promoted, checking git, Argo CD and the cluster at every converged
// phase, then the end: the old workload gone, the new one Healthy in Argo
// CD's own health check, all traffic to it.
func (s *scenario) promoteWorkload(ctx context.Context, kind kube.Ref) {
	t := s.t
	t.Helper()
	start := time.Now()
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	r := s.drive(s.machine(), done)
	if r.Status.Phase != release.Promoted {
		t.Fatalf("phase %s: %s %s", r.Status.Phase, r.Status.Reason, r.Status.Message)
	}
	t.Logf("%s release promoted in %s", kind.Kind, time.Since(start).Round(100*time.Millisecond))
	if !slices.Equal(s.phases, promotedPhases) {
		t.Errorf("phases seen converged: %v, want %v", s.phases, promotedPhases)
	}
	if s.existsAs(kind, "reviews-v1") || !s.existsAs(kind, "reviews-v2") {
		t.Errorf("after promote: %s reviews-v1 exists=%v, reviews-v2 exists=%v", kind.Kind, s.existsAs(kind, "reviews-v1"), s.existsAs(kind, "reviews-v2"))
	}
	if got := s.routes(ctx); got != "v2=100" {
		t.Errorf("cluster routes %s", got)
	}
	s.checkArgoHealth(ctx, kind.Kind, "reviews-v2", "Healthy")
}

// checkPods asserts that the pods carrying selector are Running and Ready
// with the new image, named as names says when it is not nil. Old pods
// still terminating are left out: a promote deletes them in the
// background.
func (s *scenario) checkPods(ctx context.Context, selector string, names []string) {
	s.t.Helper()
	list, err := s.dynamic().Resource(podsGVR).Namespace(s.ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		s.t.Fatal(err)
	}
	var got []string
	for _, p := range list.Items {
		if p.GetDeletionTimestamp() != nil {
			continue
		}
		got = append(got, p.GetName())
		phase, _, _ := unstructured.NestedString(p.Object, "status", "phase")
		conds, _, _ := unstructured.NestedSlice(p.Object, "status", "conditions")
		ready := false
		for _, c := range conds {
			if m, _ := c.(map[string]any); m["type"] == "Ready" && m["status"] == "True" {
				ready = true
			}
		}
		containers, _, _ := unstructured.NestedSlice(p.Object, "spec", "containers")
		image := ""
		if len(containers) == 1 {
			image, _ = containers[0].(map[string]any)["image"].(string)
		}
		if phase != "Running" || !ready || image != "example/reviews:2.0" {
			s.t.Errorf("pod %s: phase %s, ready %v, image %q", p.GetName(), phase, ready, image)
		}
	}
	slices.Sort(got)
	if len(got) == 0 || names != nil && !slices.Equal(got, names) {
		s.t.Errorf("pods with %s: %v, want %v", selector, got, names)
	}
}

// checkArgoHealth asserts that Argo CD finds the app Synced and Healthy,
// and its resource of kind named name Synced with health want: "Healthy"
// from Argo CD's health check of the kind, "" for a kind it has none for.
func (s *scenario) checkArgoHealth(ctx context.Context, kind, name, want string) {
	s.t.Helper()
	app, err := s.argo.Get(ctx, s.ns, false)
	if err != nil {
		s.t.Fatal(err)
	}
	sync, health := "not listed", ""
	for _, r := range app.Status.Resources {
		if r.Kind == kind && r.Name == name {
			sync = string(r.Status)
			if r.Health != nil {
				health = string(r.Health.Status)
			}
		}
	}
	if sync != "Synced" || health != want || string(app.Status.Sync.Status) != "Synced" || string(app.Status.Health.Status) != "Healthy" {
		s.t.Errorf("Argo CD: app %s/%s, %s %s %s, health %q (want %q)", app.Status.Sync.Status, app.Status.Health.Status, kind, name, sync, health, want)
	}
}

func readExample(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

var (
	claimsGVR  = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
	volumesGVR = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumes"}
)

// playVolumeBinder stands in for the persistent-volume controller and a
// static provisioner, which the bed does not run (it has no storage):
// while the test runs, every claim of the scenario's namespace is bound to
// a hostPath volume made for it, as the controller binds a claim to a
// matching volume, so that the scheduler places the pods using it. It is
// an option of newScenario so that it runs before the app's first sync.
//
// At the end it also does what the protection controllers would: it
// lifts the kubernetes.io/pvc-protection and pv-protection finalizers the
// API server puts on claims and volumes, so that the namespace's deletion
// completes, and it deletes its volumes.
func playVolumeBinder(s *scenario) {
	claims := s.dynamic().Resource(claimsGVR).Namespace(s.ns)
	volumes := s.dynamic().Resource(volumesGVR)
	owner := "gitcanary.io/e2e-namespace=" + s.ns
	// Registered first, so it runs after the loop's cleanup has stopped it.
	s.t.Cleanup(func() {
		ctx := context.Background()
		unprotect := []byte(`{"metadata":{"finalizers":null}}`)
		if list, err := claims.List(ctx, metav1.ListOptions{}); err == nil {
			for _, c := range list.Items {
				claims.Patch(ctx, c.GetName(), types.MergePatchType, unprotect, metav1.PatchOptions{})
			}
		}
		if list, err := volumes.List(ctx, metav1.ListOptions{LabelSelector: owner}); err == nil {
			for _, v := range list.Items {
				volumes.Patch(ctx, v.GetName(), types.MergePatchType, unprotect, metav1.PatchOptions{})
				volumes.Delete(ctx, v.GetName(), metav1.DeleteOptions{})
			}
		}
	})
	s.standIn("volume binder stand-in", func(ctx context.Context) error { return bindAll(ctx, claims, volumes, s.ns) })
}

func bindAll(ctx context.Context, claims, volumes dynamic.ResourceInterface, ns string) error {
	list, err := claims.List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	var errs []error
	for i := range list.Items {
		c := &list.Items[i]
		if name, _, _ := unstructured.NestedString(c.Object, "spec", "volumeName"); name != "" || c.GetDeletionTimestamp() != nil {
			continue
		}
		errs = append(errs, bind(ctx, claims, volumes, ns, c))
	}
	return errors.Join(errs...)
}

// bind creates a volume for claim c, reserved for it by claimRef, and
// binds them as the persistent-volume controller does: the claim's
// spec.volumeName (settable once) and bind-completed annotation, which
// the scheduler's VolumeBinding plugin reads, then both statuses Bound.
func bind(ctx context.Context, claims, volumes dynamic.ResourceInterface, ns string, c *unstructured.Unstructured) error {
	name := ns + "-" + c.GetName()
	size, _, _ := unstructured.NestedString(c.Object, "spec", "resources", "requests", "storage")
	modes, _, _ := unstructured.NestedStringSlice(c.Object, "spec", "accessModes")
	accessModes := make([]any, len(modes))
	for i, m := range modes {
		accessModes[i] = m
	}
	pv := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolume",
		"metadata": map[string]any{"name": name, "labels": map[string]any{"gitcanary.io/e2e-namespace": ns}},
		"spec": map[string]any{
			"capacity":                      map[string]any{"storage": size},
			"accessModes":                   accessModes,
			"persistentVolumeReclaimPolicy": "Retain",
			"hostPath":                      map[string]any{"path": "/var/lib/gitcanary-e2e/" + name},
			"claimRef": map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
				"namespace": ns, "name": c.GetName(), "uid": string(c.GetUID())},
		},
	}}
	created, err := volumes.Create(ctx, pv, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = volumes.Get(ctx, name, metav1.GetOptions{})
	}
	if err != nil {
		return fmt.Errorf("volume for claim %s: %w", c.GetName(), err)
	}
	unstructured.SetNestedField(c.Object, name, "spec", "volumeName")
	ann := c.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann["pv.kubernetes.io/bind-completed"] = "yes"
	ann["pv.kubernetes.io/bound-by-controller"] = "yes"
	c.SetAnnotations(ann)
	bound, err := claims.Update(ctx, c, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("bind claim %s: %w", c.GetName(), err)
	}
	bound.Object["status"] = map[string]any{"phase": "Bound", "accessModes": accessModes, "capacity": map[string]any{"storage": size}}
	if _, err := claims.UpdateStatus(ctx, bound, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("claim %s status: %w", c.GetName(), err)
	}
	created.Object["status"] = map[string]any{"phase": "Bound"}
	if _, err := volumes.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("volume %s status: %w", name, err)
	}
	return nil
}
