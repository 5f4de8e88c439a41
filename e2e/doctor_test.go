package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/templates"
)

// TestDoctor runs `gitcanary doctor` against the test bed, which has the
// Istio CRDs but no istiod: the injector check fails with its remedy, the
// Application and its render pass. A second run names a missing
// Application and a namespace with injection disabled, a third a bad token.
func TestDoctor(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "doctor", templates.ReleaseParams{})
	cfg, err := kube.Config(s.env.Kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	var version struct {
		Server struct {
			GitVersion string `json:"gitVersion"`
		} `json:"serverVersion"`
	}
	if err := json.Unmarshal([]byte(s.env.Kubectl(t, "version", "-o", "json")), &version); err != nil {
		t.Fatal(err)
	}
	head := s.head()

	code, out := s.cli("doctor", "-f", s.file)
	want := clusterLines(cfg.Host, version.Server.GitVersion) +
		fmt.Sprintf("[ok]   namespace injection     namespace %s has no istio-injection or istio.io/rev label: the versions gitcanary creates get the pod label sidecar.istio.io/inject=true, which Istio injects\n", s.ns) +
		fmt.Sprintf("[ok]   Argo CD API             %s answers\n", s.env.ArgoServer) +
		fmt.Sprintf("[ok]   Argo CD Application     %s deploys %s path apps/reviews at main, manual sync, granted to gitcanary\n", s.ns, s.url) +
		fmt.Sprintf("[ok]   app path renders        apps/reviews at main (%s): 5 objects\n", git.ShortHash(head)) +
		fmt.Sprintf("[ok]   release source          release reviews-v2 commits to what Application %s deploys\n", s.ns) +
		fmt.Sprintf("[ok]   Argo CD sync windows    no sync window applies to %s\n", s.ns) +
		"gitcanary: doctor: a check failed; its remedy is printed under it\n"
	if code != cli.ExitError || out != want {
		t.Errorf("doctor -f: exit %d, want %d; output:\n%s\nwant:\n%s", code, cli.ExitError, out, want)
	}

	off := "doctor-off-" + randSuffix()
	s.env.Kubectl(t, "create", "namespace", off)
	t.Cleanup(func() { s.env.KubectlE(context.Background(), "delete", "namespace", off, "--wait=false") })
	s.env.Kubectl(t, "label", "namespace", off, "istio-injection=disabled")
	missing := "doctor-missing-" + randSuffix()
	code, out = s.cli("doctor", "--app", missing, "--namespace", off)
	want = clusterLines(cfg.Host, version.Server.GitVersion) +
		fmt.Sprintf("[FAIL] namespace injection     namespace %s has istio-injection=disabled: no pod there gets a sidecar, and the per-pod sidecar.istio.io/inject label and annotation gitcanary sets cannot override it\n", off) +
		fmt.Sprintf("       remedy: remove the label: `kubectl label namespace %s istio-injection-` (or set it to enabled)\n", off) +
		fmt.Sprintf("[ok]   Argo CD API             %s answers\n", s.env.ArgoServer) +
		fmt.Sprintf("[FAIL] Argo CD Application     Application %s not found, or the token may not read it\n", missing) +
		"       remedy: create the Application (its source path the app path), or name the one that deploys the app with --app or spec.argocd.application\n" +
		"[skip] app path renders        needs Argo CD Application, which failed\n" +
		"[skip] release source          needs Argo CD Application, which failed\n" +
		"[skip] Argo CD sync windows    needs Argo CD Application, which failed\n" +
		"gitcanary: doctor: a check failed; its remedy is printed under it\n"
	if code != cli.ExitError || out != want {
		t.Errorf("doctor --app %s: exit %d, want %d; output:\n%s\nwant:\n%s", missing, code, cli.ExitError, out, want)
	}

	// A refused token is not "not found": Argo CD says Unauthenticated.
	code, out = s.cli("doctor", "-f", s.file, "--auth-token", "not-a-token")
	refused := fmt.Sprintf("[FAIL] Argo CD API             %s refused the token: ", s.env.ArgoServer)
	remedy := "       remedy: pass a valid API token with --auth-token or ARGOCD_AUTH_TOKEN (`argocd account generate-token --account ACCOUNT`)\n" +
		"[skip] Argo CD Application     needs Argo CD API, which failed\n"
	if code != cli.ExitError || !strings.Contains(out, refused) || !strings.Contains(out, remedy) {
		t.Errorf("doctor with a bad token: exit %d; output lacks %q or %q:\n%s", code, refused, remedy, out)
	}
}

// clusterLines is the test bed's part of the checklist: the API, every
// Istio CRD in its three versions, and no istiod.
func clusterLines(host, version string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[ok]   Kubernetes API          %s, Kubernetes %s\n", host, version)
	for _, kind := range []string{"VirtualService", "DestinationRule", "ServiceEntry", "WorkloadGroup", "WorkloadEntry"} {
		fmt.Fprintf(&b, "[ok]   %-22s  networking.istio.io v1, v1beta1, v1alpha3\n", "Istio "+kind)
	}
	b.WriteString("[FAIL] Istio sidecar injector  no MutatingWebhookConfiguration has a webhook named *sidecar-injector.istio.io: istiod is not installed, so no pod gets an Envoy sidecar\n" +
		"       remedy: install istiod: `istioctl install`, or the istiod Helm chart (`helm install istiod istio/istiod -n istio-system`)\n")
	return b.String()
}
