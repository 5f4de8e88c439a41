package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/gitcanary/gitcanary/e2e/testbed"
	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

// The shipped examples, relative to this package's directory (go test's
// working directory).
const (
	exampleConfig           = "../examples/config/custom-workloads.yaml"
	exampleDeploymentConfig = "../examples/workloads/deploymentconfig.yaml"
)

var deploymentConfigs = kube.Ref{Group: "apps.openshift.io", Version: "v1", Kind: "DeploymentConfig", Resource: "deploymentconfigs"}

// TestDeploymentConfig: a release of an OpenShift DeploymentConfig, a kind
// gitcanary knows only from examples/config, through to promote with the
// CLI. First a config with a wrong ready-replicas path is refused before
// anything is committed, naming the path and the live object.
func TestDeploymentConfig(t *testing.T) {
	t.Parallel()
	env := testbed.Require(t)
	installDeploymentConfigs(t, env)
	stable, err := os.ReadFile(exampleDeploymentConfig)
	if err != nil {
		t.Fatal(err)
	}
	s := newScenario(t, "dc", templates.ReleaseParams{Kind: "DeploymentConfig"},
		withFile("apps/reviews/deployment.yaml", stable), playDeploymentConfigController)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := env.KubectlE(context.Background(), "get", "deploymentconfigs", "-n", s.ns, "-o", "yaml")
			t.Logf("DeploymentConfigs at the end:\n%s", out)
		}
	})

	// A ready-replicas path that the live reviews-v1 lacks: refused before
	// the first commit.
	head := s.head()
	code, out := s.cli("--config", badConfig(t, ".status.readyReplica"), "start", "-f", s.file, "--wait-for=done")
	want := fmt.Sprintf("gitcanary: DeploymentConfig %s/reviews-v1: path .status.readyReplica of custom workload deploymentconfigs does not resolve in the live object; "+
		"check customWorkloads in the config file (is the field named differently, or does the workload have no ready replicas?)\n", s.ns)
	if code != cli.ExitInvalid || out != want {
		t.Errorf("start with a wrong statusReadyReplicas: exit %d, want %d; output:\n%s\nwant:\n%s", code, cli.ExitInvalid, out, want)
	}
	if after := s.head(); after != head {
		t.Fatalf("the refused start committed: main moved from %s to %s", head[:8], after[:8])
	}

	// The release, driven by the CLI one converged phase at a time (start
	// again resumes it), so that git, Argo CD and the cluster are compared
	// at each. The last start waits for the end from Promoting: once the
	// head records Promoted, start no longer resumes the release.
	ctx := context.Background()
	for i, want := range []struct {
		phase   release.Phase
		weights string
	}{
		{release.Preparing, "v1=100"},
		{release.Routing, "v1=100,v2=0"},
		{release.Progressing, "v1=90,v2=10"},
		{release.Progressing, "v1=50,v2=50"},
		{release.Progressing, "v1=0,v2=100"},
		{release.Promoting, "v2=100"},
	} {
		if code, _ := s.cli("--config", exampleConfig, "start", "-f", s.file, "--wait-for="+string(want.phase)); code != cli.ExitOK {
			t.Fatalf("start --wait-for=%s (#%d) exited %d", want.phase, i+1, code)
		}
		rec := s.synced(ctx)
		if got := release.FormatWeights(rec.Status.Weights); rec.Status.Phase != want.phase || got != want.weights {
			t.Errorf("#%d: Argo CD last synced %s %s, want %s %s", i+1, rec.Status.Phase, got, want.phase, want.weights)
		}
		s.checkConverged(ctx, rec)
	}
	code, out = s.cli("--config", exampleConfig, "start", "-f", s.file, "--wait-for=done")
	if code != cli.ExitOK || !strings.Contains(out, "reviews-v2: Promoted, weights v2=100") {
		t.Fatalf("start --wait-for=done: exit %d\n%s", code, out)
	}
	// The Promoted record changes nothing rendered and is not synced: the
	// last phase Argo CD applied is Retiring, and the finish is checked
	// against the branch head as Argo CD compares it.
	s.checkConverged(ctx, s.synced(ctx))
	s.checkFinished(ctx, release.Promoted, s.head())
	if want := []release.Phase{release.Preparing, release.Routing, release.Progressing, release.Promoting, release.Retiring}; !slices.Equal(s.phases, want) {
		t.Errorf("phases seen converged: %v, want %v", s.phases, want)
	}

	var v2 struct {
		Spec struct {
			Selector map[string]string `json:"selector"`
			Template struct {
				Metadata struct {
					Labels map[string]string `json:"labels"`
				} `json:"metadata"`
				Spec struct {
					Containers []struct {
						Image string `json:"image"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(env.Kubectl(t, "get", "deploymentconfig", "reviews-v2", "-n", s.ns, "-o", "json")), &v2); err != nil {
		t.Fatal(err)
	}
	tmpl := v2.Spec.Template
	if v2.Spec.Selector["version"] != "v2" || len(tmpl.Spec.Containers) != 1 || tmpl.Spec.Containers[0].Image != "example/reviews:2.0" ||
		tmpl.Metadata.Labels["sidecar.istio.io/inject"] != "true" {
		t.Errorf("DeploymentConfig reviews-v2: selector %v, template labels %v, containers %+v", v2.Spec.Selector, tmpl.Metadata.Labels, tmpl.Spec.Containers)
	}
	if s.existsAs(deploymentConfigs, "reviews-v1") {
		t.Error("DeploymentConfig reviews-v1 is still in the cluster")
	}
	if got := s.routes(ctx); got != "v2=100" {
		t.Errorf("cluster routes %s", got)
	}
	// Argo CD calls reviews-v2 Healthy through its own DeploymentConfig
	// health check, fed by the stand-in controller's status.
	app, err := s.argo.Get(ctx, s.ns, false)
	if err != nil {
		t.Fatal(err)
	}
	health := "not listed"
	for _, r := range app.Status.Resources {
		if r.Kind == "DeploymentConfig" && r.Name == "reviews-v2" && r.Health != nil {
			health = string(r.Health.Status)
		}
	}
	if health != "Healthy" || string(app.Status.Sync.Status) != "Synced" || string(app.Status.Health.Status) != "Healthy" {
		t.Errorf("Argo CD: app %s/%s, DeploymentConfig reviews-v2 %s", app.Status.Sync.Status, app.Status.Health.Status, health)
	}
}

// badConfig writes the example config with the DeploymentConfig's
// statusReadyReplicas path replaced by path.
func badConfig(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	good := "statusReadyReplicas: .status.availableReplicas"
	if !strings.Contains(string(data), good) {
		t.Fatalf("%s has no %q", exampleConfig, good)
	}
	file := filepath.Join(t.TempDir(), "config.yaml")
	bad := strings.Replace(string(data), good, "statusReadyReplicas: "+path, 1)
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// installDeploymentConfigs makes the bed serve DeploymentConfigs and makes
// Argo CD watch them. The CRD is applied idempotently and left installed:
// it is cluster-wide, other tests may run after this one, and removing it
// would make Argo CD drop and rediscover the kind on every run.
func installDeploymentConfigs(t *testing.T, env testbed.Env) {
	t.Helper()
	env.Kubectl(t, "apply", "-f", "testdata/deploymentconfig-crd.yaml")
	argoCDLearnsKind(t, env, "deploymentconfigs.apps.openshift.io")
}

// argoCDLearnsKind waits until the CRD named crd (plural.group) is
// Established and served by discovery, then makes sure Argo CD watches it.
func argoCDLearnsKind(t testing.TB, env testbed.Env, crd string) {
	t.Helper()
	ref := "customresourcedefinition/" + crd
	_, group, _ := strings.Cut(crd, ".")
	env.Kubectl(t, "wait", "--for=condition=Established", ref, "--timeout=60s")
	// Established can come a moment before discovery serves the resource.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		out, err := env.KubectlE(ctx, "api-resources", "--api-group="+group, "-o", "name")
		if err == nil && strings.Contains(out, crd) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("discovery does not serve %s: %v", crd, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Argo CD's cluster cache learns of new kinds from its watch on CRDs:
	// each CRD event makes it run discovery again and start the watches it
	// lacks. If the events of a new CRD all came before discovery served
	// the kind, Argo CD would not watch it until its next full resync (12h
	// by default). An event now, with the kind served, closes that gap.
	env.Kubectl(t, "annotate", "--overwrite", ref, "gitcanary.io/e2e-discovered="+time.Now().UTC().Format(time.RFC3339Nano))
}

// playDeploymentConfigController stands in for OpenShift's controller,
// which the bed does not run: while the test runs, it reports every
// DeploymentConfig of the scenario's namespace rolled out, with all its
// replicas available, in the status Argo CD's DeploymentConfig health
// check calls Healthy. It is an option of newScenario so that it runs
// before the app's first sync.
func playDeploymentConfigController(s *scenario) {
	dcs := s.dynamic().Resource(schema.GroupVersionResource{Group: deploymentConfigs.Group, Version: deploymentConfigs.Version, Resource: deploymentConfigs.Resource}).Namespace(s.ns)
	rcs := s.dynamic().Resource(schema.GroupVersionResource{Version: "v1", Resource: "replicationcontrollers"}).Namespace(s.ns)
	s.standIn("DeploymentConfig stand-in controller", func(ctx context.Context) error { return rollOutAll(ctx, dcs, rcs) })
}

// standIn plays a controller the test bed lacks: step runs every 200 ms
// until the test ends (an error, such as a conflict, is logged and
// retried on the next tick). Its cleanup stops the loop and waits for it,
// so cleanups registered before it run after the loop has stopped.
func (s *scenario) standIn(what string, step func(ctx context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			if err := step(ctx); err != nil && ctx.Err() == nil {
				s.t.Logf("%s: %v", what, err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	s.t.Cleanup(func() { cancel(); wg.Wait() })
}

func rollOutAll(ctx context.Context, dcs, rcs dynamic.ResourceInterface) error {
	list, err := dcs.List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	var errs []error
	for i := range list.Items {
		errs = append(errs, rollOut(ctx, dcs, &list.Items[i]), replicate(ctx, rcs, &list.Items[i]))
	}
	return errors.Join(errs...)
}

// replicate creates the ReplicationController <dc>-1 that OpenShift's
// controller runs a DeploymentConfig's pods with (same plain-map selector,
// template and replicas, owned by the DeploymentConfig so the garbage
// collector removes it with it). The bed's controller-manager and kwok
// then make real, ready pods: the endpoints a route's subset must select.
func replicate(ctx context.Context, rcs dynamic.ResourceInterface, dc *unstructured.Unstructured) error {
	name := dc.GetName() + "-1"
	if _, err := rcs.Get(ctx, name, metav1.GetOptions{}); err == nil || !apierrors.IsNotFound(err) {
		return err
	}
	spec, _, _ := unstructured.NestedMap(dc.Object, "spec")
	rc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ReplicationController",
		"metadata": map[string]any{"name": name, "ownerReferences": []any{map[string]any{
			"apiVersion": dc.GetAPIVersion(), "kind": dc.GetKind(), "name": dc.GetName(), "uid": string(dc.GetUID()),
		}}},
		"spec": map[string]any{"replicas": spec["replicas"], "selector": spec["selector"], "template": spec["template"]},
	}}
	_, err := rcs.Create(ctx, rc, metav1.CreateOptions{})
	return err
}

// rollOut writes dc's status as OpenShift reports a finished rollout,
// unless it already says so for dc's generation.
func rollOut(ctx context.Context, dcs dynamic.ResourceInterface, dc *unstructured.Unstructured) error {
	replicas, found, err := unstructured.NestedInt64(dc.Object, "spec", "replicas")
	if err != nil {
		return err
	}
	if !found {
		replicas = 1 // the API default
	}
	gen := dc.GetGeneration()
	observed, _, _ := unstructured.NestedInt64(dc.Object, "status", "observedGeneration")
	available, _, _ := unstructured.NestedInt64(dc.Object, "status", "availableReplicas")
	if observed == gen && available == replicas {
		return nil
	}
	now := time.Now().UTC().Format(time.RFC3339)
	dc.Object["status"] = map[string]any{
		"observedGeneration": gen,
		"latestVersion":      int64(1),
		"replicas":           replicas,
		"updatedReplicas":    replicas,
		"availableReplicas":  replicas,
		"readyReplicas":      replicas,
		// health.lua of apps.openshift.io/DeploymentConfig (Argo CD 2.14):
		// Healthy takes both of these True.
		"conditions": []any{
			map[string]any{"type": "Available", "status": "True", "lastUpdateTime": now, "lastTransitionTime": now,
				"message": "Deployment config has minimum availability."},
			map[string]any{"type": "Progressing", "status": "True", "lastUpdateTime": now, "lastTransitionTime": now,
				"reason": "NewReplicationControllerAvailable", "message": fmt.Sprintf("replication controller %q successfully rolled out", dc.GetName()+"-1")},
		},
	}
	_, err = dcs.UpdateStatus(ctx, dc, metav1.UpdateOptions{})
	return err
}
