package lint

import (
	"testing"

	"github.com/gitcanary/gitcanary/pkg/kube"
)

func TestInjection(t *testing.T) {
	const disabledHead = `Namespace bookinfo: label istio-injection=disabled turns sidecar injection off for every pod in the namespace, ` +
		`and no pod label or annotation turns it back on (not even the sidecar.istio.io/inject: "true" gitcanary sets on new versions), ` +
		`so new versions would run without a sidecar; remove the label, then opt the pods in with `
	dep := builtin(t, "apps", "Deployment")
	tests := []struct {
		name     string
		kind     kube.Kind
		labels   map[string]string
		want     []string
		severity Severity
		check    string
	}{
		{name: "labels unknown", kind: deploymentConfig, labels: nil},
		{name: "no injection label", kind: deploymentConfig, labels: map[string]string{"kubernetes.io/metadata.name": "bookinfo"}},
		{name: "disabled", kind: dep, labels: map[string]string{"istio-injection": "disabled"},
			want:     []string{disabledHead + `istio-injection=enabled on the namespace or the label sidecar.istio.io/inject: "true" on the stable Deployment's pod template`},
			severity: Error, check: CheckInjectionDisabled},
		{name: "disabled, with helper pods", kind: deploymentConfig, labels: map[string]string{"istio-injection": "disabled"},
			want: []string{disabledHead + `the label sidecar.istio.io/inject: "true" on the stable DeploymentConfig's pod template ` +
				`(not istio-injection=enabled, which would also inject the DeploymentConfig's deployer pods)`},
			severity: Error, check: CheckInjectionDisabled},
		{name: "disabled wins over a revision", kind: dep, labels: map[string]string{"istio-injection": "disabled", "istio.io/rev": "1-24"},
			want:     []string{disabledHead + `istio-injection=enabled on the namespace or the label sidecar.istio.io/inject: "true" on the stable Deployment's pod template`},
			severity: Error, check: CheckInjectionDisabled},
		{name: "enabled, no helper pods", kind: dep, labels: map[string]string{"istio-injection": "enabled"}},
		{name: "revision, no helper pods", kind: dep, labels: map[string]string{"istio.io/rev": "1-24"}},
		{name: "enabled, with helper pods", kind: deploymentConfig, labels: map[string]string{"istio-injection": "enabled"},
			want: []string{`Namespace bookinfo: label istio-injection=enabled also injects the sidecar into the DeploymentConfig's deployer pods, ` +
				`which then never finish; remove the label and opt in per pod template instead: ` +
				`add the label sidecar.istio.io/inject: "true" to the stable DeploymentConfig's pod template (the versions gitcanary creates copy it)`},
			severity: Warning, check: CheckInjectionHelperPods},
		{name: "revision, with helper pods", kind: deploymentConfig, labels: map[string]string{"istio.io/rev": "canary"},
			want: []string{`Namespace bookinfo: label istio.io/rev=canary also injects the sidecar into the DeploymentConfig's deployer pods, ` +
				`which then never finish; remove the label and opt in per pod template instead: ` +
				`add the label istio.io/rev: canary to the stable DeploymentConfig's pod template (the versions gitcanary creates copy it)`},
			severity: Warning, check: CheckInjectionHelperPods},
		{name: "istio-injection takes precedence over a revision", kind: deploymentConfig,
			labels: map[string]string{"istio-injection": "enabled", "istio.io/rev": "canary"},
			want: []string{`Namespace bookinfo: label istio-injection=enabled also injects the sidecar into the DeploymentConfig's deployer pods, ` +
				`which then never finish; remove the label and opt in per pod template instead: ` +
				`add the label sidecar.istio.io/inject: "true" to the stable DeploymentConfig's pod template (the versions gitcanary creates copy it)`},
			severity: Warning, check: CheckInjectionHelperPods},
		{name: "another istio-injection value turns the revision off", kind: deploymentConfig,
			labels: map[string]string{"istio-injection": "false", "istio.io/rev": "canary"}},
		{name: "VMs get no injected sidecar", kind: builtin(t, "networking.istio.io", "WorkloadGroup"), labels: map[string]string{"istio-injection": "disabled"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := reviews(t, serviceYAML(goodSpec))
			in.Kind, in.NamespaceLabels = tt.kind, tt.labels
			got := Injection(in)
			expect(t, got, tt.want...)
			for _, f := range got {
				if f.Severity != tt.severity || f.Check != tt.check {
					t.Errorf("severity %s, check %s; want %s, %s", f.Severity, f.Check, tt.severity, tt.check)
				}
			}
		})
	}
}

func TestInjectionLocatesTheNamespace(t *testing.T) {
	const namespaces = `apiVersion: v1
kind: Namespace
metadata:
  name: ratings
---
apiVersion: v1
kind: Namespace
metadata:
  name: bookinfo
  labels:
    istio-injection: disabled
`
	in := reviews(t, serviceYAML(goodSpec))
	in.Files["platform/namespaces.yaml"] = []byte(namespaces)
	in.NamespaceLabels = map[string]string{"istio-injection": "disabled"}
	got := Injection(in)
	if len(got) != 1 || got[0].File != "platform/namespaces.yaml" {
		t.Errorf("Injection = %v, want one finding in platform/namespaces.yaml", got)
	}
}
