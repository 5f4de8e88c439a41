package testbed_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/e2e/testbed"
)

// TestSmoke proves the bed works end to end: a kustomize app pushed to the git
// daemon, synced by Argo CD into a fresh namespace, becomes Synced + Healthy;
// kwok makes its Deployment Available; a pod with a `never-ready` image runs
// but never turns Ready.
func TestSmoke(t *testing.T) {
	env := testbed.Require(t)
	env.Steady(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	name := "smoke-" + randHex(t)
	ns := name

	// A bare repository served by the git daemon, filled by a real push.
	repo := name + ".git"
	bare := filepath.Join(env.GitDir(), repo)
	git(t, "", "init", "-q", "--bare", "--initial-branch=main", bare)
	t.Cleanup(func() { os.RemoveAll(bare) })
	work := t.TempDir()
	git(t, work, "init", "-q", "--initial-branch=main")
	writeApp(t, filepath.Join(work, "app"))
	git(t, work, "add", ".")
	git(t, work, "-c", "user.name=testbed", "-c", "user.email=testbed@gitcanary.invalid", "commit", "-q", "-m", "smoke app")
	git(t, work, "push", "-q", env.GitURL(repo), "main")
	sha := strings.TrimSpace(git(t, work, "rev-parse", "HEAD"))
	if remote := strings.Fields(git(t, work, "ls-remote", env.GitURL(repo), "refs/heads/main")); len(remote) == 0 || remote[0] != sha {
		t.Fatalf("git daemon serves %q for main, want %s", remote, sha)
	}

	// The broken canary: a bare Pod, not part of the app, so that the app's
	// health does not depend on it.
	env.Kubectl(t, "create", "namespace", ns)
	t.Cleanup(func() {
		ctx := context.Background()
		env.KubectlE(ctx, "-n", "argocd", "delete", "application", name, "--ignore-not-found", "--wait=false")
		env.KubectlE(ctx, "delete", "namespace", ns, "--ignore-not-found", "--wait=false")
	})
	apply(t, env, fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata:
  name: broken
  namespace: %s
spec:
  containers:
  - name: reviews
    image: example/reviews:never-ready
`, ns))

	// A manual-sync Application (no automated policy: gitcanary syncs).
	apply(t, env, fmt.Sprintf(`
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: %s
  namespace: argocd
spec:
  project: default
  source:
    repoURL: %s
    targetRevision: main
    path: app
  destination:
    server: https://kubernetes.default.svc
    namespace: %s
`, name, env.GitURL(repo), ns))

	if out, err := env.ArgocdE(ctx, "app", "sync", name, "--revision", sha, "--timeout", "120"); err != nil {
		t.Fatalf("sync: %v\n%s", err, out)
	}

	// Argo CD's health right after a sync can be stale: wait until it has
	// reconciled after the operation finished, then read the verdict.
	app := func(path string) string {
		out, _ := env.KubectlE(ctx, "-n", "argocd", "get", "application", name, "-o", "jsonpath={"+path+"}")
		return out
	}
	eventually(t, ctx, "application Synced and Healthy at "+sha, func() (bool, string) {
		got := fmt.Sprintf("sync=%s health=%s revision=%s phase=%s reconciledAt=%s finishedAt=%s",
			app(".status.sync.status"), app(".status.health.status"), app(".status.sync.revision"),
			app(".status.operationState.phase"), app(".status.reconciledAt"), app(".status.operationState.finishedAt"))
		reconciled, errR := time.Parse(time.RFC3339, app(".status.reconciledAt"))
		finished, errF := time.Parse(time.RFC3339, app(".status.operationState.finishedAt"))
		return errR == nil && errF == nil && !reconciled.Before(finished) &&
			app(".status.operationState.phase") == "Succeeded" &&
			app(".status.sync.status") == "Synced" && app(".status.health.status") == "Healthy" &&
			app(".status.sync.revision") == sha, got
	})

	// The state of the cluster, not only Argo CD's opinion of it.
	kube := func(args ...string) string {
		out, err := env.KubectlE(ctx, append([]string{"-n", ns}, args...)...)
		if err != nil {
			return "error: " + err.Error()
		}
		return strings.TrimSpace(out)
	}
	eventually(t, ctx, "deployment reviews Available with 1 ready replica", func() (bool, string) {
		avail := kube("get", "deployment", "reviews", "-o", `jsonpath={.status.conditions[?(@.type=="Available")].status}`)
		ready := kube("get", "deployment", "reviews", "-o", "jsonpath={.status.readyReplicas}")
		return avail == "True" && ready == "1", "Available=" + avail + " readyReplicas=" + ready
	})
	if node := kube("get", "pods", "-l", "app=reviews", "-o", "jsonpath={.items[*].spec.nodeName}"); node != "kwok-node-0" {
		t.Errorf("reviews pod on node %q, want kwok-node-0", node)
	}
	if host := kube("get", "virtualservice.networking.istio.io", "reviews", "-o", "jsonpath={.spec.http[0].route[0].destination.host}"); host != "reviews" {
		t.Errorf("VirtualService reviews routes to %q, want reviews", host)
	}
	if ip := kube("get", "service", "reviews", "-o", "jsonpath={.spec.clusterIP}"); !strings.HasPrefix(ip, "10.96.") {
		t.Errorf("Service reviews clusterIP %q, want one in 10.96.0.0/16", ip)
	}

	podState := func() string {
		return kube("get", "pod", "broken", "-o",
			`jsonpath=phase={.status.phase} ready={.status.conditions[?(@.type=="Ready")].status} started={.status.containerStatuses[0].started}`)
	}
	eventually(t, ctx, "pod broken Running but not Ready", func() (bool, string) {
		s := podState()
		return s == "phase=Running ready=False started=true", s
	})
	// It must stay so: kwok's stock pod-ready stage must not pick it up later.
	time.Sleep(3 * time.Second)
	if s := podState(); s != "phase=Running ready=False started=true" {
		t.Errorf("pod broken became %q, want it to stay Running and not Ready", s)
	}
}

func writeApp(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- deployment.yaml
- service.yaml
- virtualservice.yaml
`,
		"deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews
  labels: {app: reviews}
spec:
  replicas: 1
  selector:
    matchLabels: {app: reviews}
  template:
    metadata:
      labels: {app: reviews, version: v1}
    spec:
      containers:
      - name: reviews
        image: example/reviews:v1
        ports:
        - containerPort: 9080
`,
		"service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: reviews
  labels: {app: reviews}
spec:
  selector: {app: reviews}
  ports:
  - name: http
    port: 9080
`,
		"virtualservice.yaml": `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        host: reviews
      weight: 100
`,
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func apply(t *testing.T, env testbed.Env, manifest string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(f, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	env.Kubectl(t, "apply", "-f", f)
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	// Keep the user's git config out of the test.
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// eventually polls cond every 250 ms until it holds or ctx ends; on timeout it
// fails with the last observed state.
func eventually(t *testing.T, ctx context.Context, what string, cond func() (bool, string)) {
	t.Helper()
	start := time.Now()
	var last string
	for {
		ok, state := cond()
		if ok {
			t.Logf("%s after %v", what, time.Since(start).Round(10*time.Millisecond))
			return
		}
		last = state
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s; last state: %s", what, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func randHex(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
