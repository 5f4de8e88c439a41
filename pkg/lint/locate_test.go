package lint

import (
	"testing"
)

func TestLocate(t *testing.T) {
	const service = `apiVersion: v1
kind: Service
metadata:
  name: reviews
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
`
	const serviceInFrontend = `apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: frontend
spec:
  ports: [{name: http, port: 9080}]
`
	const configMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: reviews
data: {LOG_LEVEL: info}
`
	tests := []struct {
		name            string
		files           map[string]string
		appPath         string
		kind, namespace string
		want            string
	}{
		{name: "nested under the app", appPath: "apps/reviews", kind: "Service", namespace: "bookinfo",
			files: map[string]string{
				"apps/reviews/kustomization.yaml":    kustomizationYAML,
				"apps/reviews/base/deployment.yaml":  deploymentYAML,
				"apps/reviews/base/net/service.yaml": service,
			}, want: "apps/reviews/base/net/service.yaml"},
		{name: "in a multi-document file", appPath: "apps/reviews", kind: "Service", namespace: "bookinfo",
			files: map[string]string{
				"apps/reviews/all.yml": "# the whole app\n" + deploymentYAML + "---\n" + configMap + "---\n" + service,
			}, want: "apps/reviews/all.yml"},
		{name: "outside the app path, in a shared base", appPath: "apps/reviews", kind: "Service", namespace: "bookinfo",
			files: map[string]string{
				"apps/reviews/kustomization.yaml": "resources: [../../bases/reviews]\n",
				"bases/reviews/service.yaml":      service,
			}, want: "bases/reviews/service.yaml"},
		{name: "the app's files come before earlier paths elsewhere", appPath: "apps/reviews/", kind: "Service", namespace: "bookinfo",
			files: map[string]string{
				"apps/a-copy/service.yaml":      service,
				"apps/reviews-old/service.yaml": service, // a sibling, not under apps/reviews
				"apps/reviews/z/service.yaml":   service,
			}, want: "apps/reviews/z/service.yaml"},
		{name: "sorted path order", appPath: "apps/reviews", kind: "Service", namespace: "bookinfo",
			files: map[string]string{
				"apps/reviews/b/service.yaml": service,
				"apps/reviews/a/service.yaml": service,
			}, want: "apps/reviews/a/service.yaml"},
		{name: "another namespace is another object", appPath: "apps/reviews", kind: "Service", namespace: "bookinfo",
			files: map[string]string{
				"apps/reviews/frontend.yaml": serviceInFrontend,
				"apps/reviews/service.yaml":  service,
			}, want: "apps/reviews/service.yaml"},
		{name: "the namespace when both say one", appPath: "apps/reviews", kind: "Service", namespace: "frontend",
			files: map[string]string{
				"apps/reviews/frontend.yaml": serviceInFrontend,
			}, want: "apps/reviews/frontend.yaml"},
		{name: "same name, other kind", appPath: "apps/reviews", kind: "Service", namespace: "bookinfo",
			files: map[string]string{
				"apps/reviews/configmap.yaml":       configMap,
				"apps/reviews/destinationrule.yaml": destinationRuleYAML,
			}, want: ""},
		{name: "not YAML, or not parseable", appPath: "apps/reviews", kind: "Service", namespace: "bookinfo",
			files: map[string]string{
				"apps/reviews/service.json":     `{"kind": "Service", "metadata": {"name": "reviews"}}`,
				"apps/reviews/README.md":        service,
				"charts/reviews/templates.yaml": "kind: Service\nmetadata:\n  name: {{ .Values.name }}\n  reviews: [\n",
			}, want: ""},
		{name: "not found", appPath: "apps/reviews", kind: "Service", namespace: "bookinfo",
			files: map[string]string{
				"apps/reviews/deployment.yaml": deploymentYAML,
			}, want: ""},
		{name: "no files", appPath: "apps/reviews", kind: "Service", namespace: "bookinfo", want: ""},
		{name: "the repository root as the app", appPath: ".", kind: "Service", namespace: "bookinfo",
			files: map[string]string{"service.yaml": service}, want: "service.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{Files: bytesOf(tt.files), AppPath: tt.appPath}
			if got := locate(in, tt.kind, "reviews", tt.namespace); got != tt.want {
				t.Errorf("locate = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFindingsNameTheDeclaringFile shows the located file in the findings.
func TestFindingsNameTheDeclaringFile(t *testing.T) {
	const service = `apiVersion: v1
kind: Service
metadata:
  name: reviews
spec:
  selector: {app: reviews}
  ports: [{port: 9080}]
`
	in := reviews(t, service)
	delete(in.Files, "apps/reviews/service.yaml")
	in.Files["bases/reviews/service.yaml"] = []byte(service)
	expect(t, Ports(in), "bases/reviews/service.yaml: Service bookinfo/reviews: port 9080 has no name: "+
		"Istio picks the protocol from the port name; name it http (or grpc, tcp…, optionally with a -suffix) or set appProtocol")

	delete(in.Files, "bases/reviews/service.yaml")
	expect(t, Ports(in), "Service bookinfo/reviews: port 9080 has no name: "+
		"Istio picks the protocol from the port name; name it http (or grpc, tcp…, optionally with a -suffix) or set appProtocol")
}
