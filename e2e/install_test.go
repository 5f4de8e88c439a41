package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/e2e/testbed"
)

// TestInstallRBAC applies deploy/install to the bed and checks, through
// the API server's own authorizer (kubectl auth can-i --as), that the
// controller's ServiceAccount may do what `gitcanary run` does and nothing
// that changes workloads or routing.
func TestInstallRBAC(t *testing.T) {
	t.Parallel()
	env := testbed.Require(t)
	env.Kubectl(t, "apply", "-k", "../deploy/install")
	const sa = "system:serviceaccount:gitcanary-system:gitcanary"
	tests := []struct {
		verb, resource, namespace string
		allowed                   bool
	}{
		{"watch", "releases.gitcanary.io", "bookinfo", true},
		{"update", "releases.gitcanary.io/status", "bookinfo", true},
		{"create", "events", "bookinfo", true},
		{"create", "events.events.k8s.io", "bookinfo", true},
		{"get", "deployments.apps", "bookinfo", true},
		{"get", "virtualservices.networking.istio.io", "bookinfo", true},
		{"list", "virtualservices.networking.istio.io", "", true},
		{"list", "workloadentries.networking.istio.io", "bookinfo", true},
		{"list", "destinationrules.networking.istio.io", "bookinfo", true},
		{"list", "serviceentries.networking.istio.io", "bookinfo", true},
		{"get", "services", "bookinfo", true},
		{"list", "pods", "bookinfo", true},
		{"list", "endpointslices.discovery.k8s.io", "bookinfo", true},
		{"get", "namespaces", "", true},
		{"update", "leases.coordination.k8s.io", "gitcanary-system", true},
		// Everything else goes through git and Argo CD.
		{"update", "leases.coordination.k8s.io", "bookinfo", false},
		{"update", "releases.gitcanary.io", "bookinfo", false},
		{"patch", "deployments.apps", "bookinfo", false},
		{"update", "virtualservices.networking.istio.io", "bookinfo", false},
		{"update", "destinationrules.networking.istio.io", "bookinfo", false},
		{"delete", "pods", "bookinfo", false},
		{"get", "secrets", "gitcanary-system", false},
		{"patch", "applications.argoproj.io", "argocd", false},
	}
	for _, tt := range tests {
		resource, sub, _ := strings.Cut(tt.resource, "/")
		args := []string{"auth", "can-i", tt.verb, resource, "--as", sa}
		if sub != "" {
			args = append(args, "--subresource", sub)
		}
		if tt.namespace != "" {
			args = append(args, "-n", tt.namespace)
		}
		out, _ := env.KubectlE(context.Background(), args...) // exit 1 means "no"
		if got := strings.TrimSpace(out) == "yes"; got != tt.allowed {
			t.Errorf("can-i %s %s -n %q = %q, want allowed=%v", tt.verb, tt.resource, tt.namespace, strings.TrimSpace(out), tt.allowed)
		}
	}
}
