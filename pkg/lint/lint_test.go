package lint

import (
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/overlay"
)

const kustomizationYAML = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
  - service.yaml
  - destinationrule.yaml
`

const deploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews-v1
  labels: {app: reviews, version: v1}
spec:
  replicas: 2
  selector:
    matchLabels: {app: reviews, version: v1}
  template:
    metadata:
      labels: {app: reviews, version: v1}
    spec:
      containers:
        - name: reviews
          image: example/reviews:1.0
          ports: [{containerPort: 9080, name: http}]
`

const destinationRuleYAML = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
    - name: v1
      labels: {version: v1}
`

// serviceYAML is the reviews Service with the given spec lines (indented
// by two spaces under spec:).
func serviceYAML(spec string) string {
	return `apiVersion: v1
kind: Service
metadata:
  name: reviews
  labels: {app: reviews}
spec:
` + spec
}

// goodSpec is a Service spec every check accepts.
const goodSpec = `  selector: {app: reviews}
  ports:
    - name: http
      port: 9080
      targetPort: 9080
`

// reviews is the bookinfo reviews app, its Service written as service.
// The render is the files' documents, as kustomize would print them.
func reviews(t *testing.T, service string) Input {
	t.Helper()
	files := map[string]string{
		"apps/reviews/kustomization.yaml":   kustomizationYAML,
		"apps/reviews/deployment.yaml":      deploymentYAML,
		"apps/reviews/service.yaml":         service,
		"apps/reviews/destinationrule.yaml": destinationRuleYAML,
	}
	return Input{
		Objects:   render(t, deploymentYAML, service, destinationRuleYAML),
		Files:     bytesOf(files),
		AppPath:   "apps/reviews",
		Host:      "reviews",
		Namespace: "bookinfo",
		Kind:      builtin(t, "apps", "Deployment"),
	}
}

// render parses documents as kustomize prints them, one stream.
func render(t *testing.T, docs ...string) []overlay.Object {
	t.Helper()
	objs, err := overlay.ParseObjects([]byte(strings.Join(docs, "---\n")))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func bytesOf(files map[string]string) map[string][]byte {
	out := make(map[string][]byte, len(files))
	for p, s := range files {
		out[p] = []byte(s)
	}
	return out
}

func builtin(t *testing.T, group, kind string) kube.Kind {
	t.Helper()
	k, ok := kube.NewKinds().Lookup(group, kind)
	if !ok {
		t.Fatalf("no built-in kind %s/%s", group, kind)
	}
	return k
}

// deploymentConfig is a custom kind whose controller runs deployer pods.
var deploymentConfig = kube.Kind{
	Group: "apps.openshift.io", Version: "v1", Kind: "DeploymentConfig", Resource: "deploymentconfigs",
	HelperPods:  "deployer pods",
	PodTemplate: ".spec.template", Selector: ".spec.selector",
	Replicas: ".spec.replicas", ReadyReplicas: ".status.availableReplicas",
}

// expect compares findings by their String form, in order.
func expect(t *testing.T, got []Finding, want ...string) {
	t.Helper()
	var lines []string
	for _, f := range got {
		lines = append(lines, f.String())
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", numbered(lines), numbered(want))
	}
}

func numbered(lines []string) string {
	if len(lines) == 0 {
		return "  (none)"
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("  - " + l + "\n")
	}
	return b.String()
}

func TestFindingString(t *testing.T) {
	f := Finding{Severity: Error, Check: CheckPortProtocol, File: "apps/reviews/service.yaml", Object: "Service bookinfo/reviews", Message: "port 9080 has no name"}
	if got, want := f.String(), "apps/reviews/service.yaml: Service bookinfo/reviews: port 9080 has no name"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	f.File = ""
	if got, want := f.String(), "Service bookinfo/reviews: port 9080 has no name"; got != want {
		t.Errorf("String() without a file = %q, want %q", got, want)
	}
}

func TestAllOrdersErrorsFirstAndReportsAMissingServiceOnce(t *testing.T) {
	in := reviews(t, serviceYAML(goodSpec))
	in.Host = "ratings" // not rendered: a warning from Ports and from Selector
	in.Kind = deploymentConfig
	in.NamespaceLabels = map[string]string{"istio.io/rev": "1-24"}
	missing := "Service bookinfo/ratings: not rendered by apps/reviews, so its ports and selector were not checked; " +
		"if another app deploys it, name its ports for their protocol there and keep version out of its selector"
	helper := "Namespace bookinfo: label istio.io/rev=1-24 also injects the sidecar into the DeploymentConfig's deployer pods, which then never finish; " +
		"remove the label and opt in per pod template instead: add the label istio.io/rev: 1-24 to the stable DeploymentConfig's pod template " +
		"(the versions gitcanary creates copy it)"
	expect(t, All(in), missing, helper)
	expect(t, Errors(All(in)))

	in = reviews(t, serviceYAML(`  selector: {app: reviews, version: v1}
  ports:
    - {name: web, port: 9080}
`))
	in.NamespaceLabels = map[string]string{"istio-injection": "disabled"}
	all := All(in)
	expect(t, all,
		`apps/reviews/service.yaml: Service bookinfo/reviews: port 9080 is named "web": Istio picks the protocol from the port name; `+
			`name it http-web (or http, grpc, tcp…, optionally with a -suffix) or set appProtocol`,
		"apps/reviews/service.yaml: Service bookinfo/reviews: spec.selector includes version: v1, so the Service selects only that version "+
			"and a new version could never get traffic through it; remove version from the selector (the DestinationRule's subsets split traffic by version)",
		`Namespace bookinfo: label istio-injection=disabled turns sidecar injection off for every pod in the namespace, `+
			`and no pod label or annotation turns it back on (not even the sidecar.istio.io/inject: "true" gitcanary sets on new versions), `+
			`so new versions would run without a sidecar; remove the label, then opt the pods in with istio-injection=enabled on the namespace `+
			`or the label sidecar.istio.io/inject: "true" on the stable Deployment's pod template`,
	)
	if got := Errors(all); len(got) != 3 {
		t.Errorf("Errors kept %d of 3 errors", len(got))
	}
	for _, f := range all {
		if f.Severity != Error {
			t.Errorf("%s: severity %s, want error", f.Check, f.Severity)
		}
	}
}

func TestAllWarningsFollowErrors(t *testing.T) {
	in := reviews(t, serviceYAML(goodSpec))
	in.Host = "ratings"
	in.NamespaceLabels = map[string]string{"istio-injection": "disabled"}
	got := All(in)
	if len(got) != 2 || got[0].Check != CheckInjectionDisabled || got[1].Check != CheckServiceMissing {
		t.Errorf("All = %v, want the injection error before the service-missing warning", got)
	}
	if errs := Errors(got); len(errs) != 1 || errs[0].Check != CheckInjectionDisabled {
		t.Errorf("Errors = %v", errs)
	}
}

func TestHostService(t *testing.T) {
	tests := []struct{ host, name, namespace string }{
		{"reviews", "reviews", "bookinfo"},
		{"reviews.frontend", "reviews", "frontend"},
		{"reviews.frontend.svc", "reviews", "frontend"},
		{"reviews.frontend.svc.cluster.local", "reviews", "frontend"},
	}
	for _, tt := range tests {
		name, ns := hostService(tt.host, "bookinfo")
		if name != tt.name || ns != tt.namespace {
			t.Errorf("hostService(%q) = %s, %s; want %s, %s", tt.host, name, ns, tt.name, tt.namespace)
		}
	}
}
