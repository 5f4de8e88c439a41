package lint

import (
	"testing"
)

// svcFile prefixes what every finding about the reviews Service starts with.
const svcFile = "apps/reviews/service.yaml: Service bookinfo/reviews: "

// renameTail ends the port-protocol message of a named port.
const renameTail = " (or http, grpc, tcp…, optionally with a -suffix) or set appProtocol"

func TestPortsAcceptEveryProtocolAlone(t *testing.T) {
	for _, p := range []string{"http", "http2", "https", "tcp", "tls", "grpc", "grpc-web", "mongo", "mysql", "redis", "udp"} {
		for _, name := range []string{p, p + "-api", p + "-v1-internal"} {
			t.Run(name, func(t *testing.T) {
				expect(t, Ports(reviews(t, serviceYAML(`  selector: {app: reviews}
  ports:
    - name: `+name+`
      port: 9080
`))))
			})
		}
	}
}

func TestPorts(t *testing.T) {
	tests := []struct {
		name  string
		ports string // the Service's spec.ports entries
		want  []string
	}{
		{name: "grpc-web is a protocol of its own", ports: `
    - {name: grpc-web, port: 8080}
    - {name: grpc-web-browser, port: 8081}
`},
		{name: "a suffix after http", ports: `
    - {name: http-foo, port: 9080}
`},
		{name: "appProtocol set, the name is free", ports: `
    - {name: web, port: 9080, appProtocol: http}
    - {port: 9443, appProtocol: kubernetes.io/h2c}
`},
		{name: "UDP and SCTP ports are not proxied", ports: `
    - {name: dns, port: 53, protocol: UDP}
    - {name: signalling, port: 3868, protocol: SCTP}
`},
		{name: "explicit TCP is checked", ports: `
    - {name: web, port: 9080, protocol: TCP}
`, want: []string{
			svcFile + `port 9080 is named "web": Istio picks the protocol from the port name; name it http-web` + renameTail,
		}},
		{name: "unnamed port", ports: `
    - port: 9080
      targetPort: 9080
`, want: []string{
			svcFile + "port 9080 has no name: Istio picks the protocol from the port name; name it http (or grpc, tcp…, optionally with a -suffix) or set appProtocol",
		}},
		{name: "wrong prefix", ports: `
    - {name: web, port: 9080}
`, want: []string{
			svcFile + `port 9080 is named "web": Istio picks the protocol from the port name; name it http-web` + renameTail,
		}},
		{name: "httpx is not http", ports: `
    - {name: httpx, port: 9080}
`, want: []string{
			svcFile + `port 9080 is named "httpx": Istio picks the protocol from the port name; name it http-httpx` + renameTail,
		}},
		// The API server refuses upper case in a port name; Istio would
		// accept it, but gitcanary lints what can be applied.
		{name: "protocol names are lower case", ports: `
    - {name: HTTP, port: 9080}
`, want: []string{
			svcFile + `port 9080 is named "HTTP": Istio picks the protocol from the port name; name it http-HTTP` + renameTail,
		}},
		{name: "every offending port, in order", ports: `
    - {name: web, port: 9080}
    - {name: http-admin, port: 9090}
    - {port: 9091}
    - {name: metrics, port: 15020, targetPort: 15020}
`, want: []string{
			svcFile + `port 9080 is named "web": Istio picks the protocol from the port name; name it http-web` + renameTail,
			svcFile + "port 9091 has no name: Istio picks the protocol from the port name; name it http (or grpc, tcp…, optionally with a -suffix) or set appProtocol",
			svcFile + `port 15020 is named "metrics": Istio picks the protocol from the port name; name it http-metrics` + renameTail,
		}},
		{name: "a port without a number is named by its index", ports: `
    - {name: http, port: 9080}
    - {name: admin, targetPort: 9090}
`, want: []string{
			svcFile + `ports[1] is named "admin": Istio picks the protocol from the port name; name it http-admin` + renameTail,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := reviews(t, serviceYAML("  selector: {app: reviews}\n  ports:"+tt.ports))
			got := Ports(in)
			expect(t, got, tt.want...)
			for _, f := range got {
				if f.Severity != Error || f.Check != CheckPortProtocol {
					t.Errorf("%s: severity %s, check %s; want error, %s", f, f.Severity, f.Check, CheckPortProtocol)
				}
			}
		})
	}
}

func TestPortsServiceMissing(t *testing.T) {
	in := reviews(t, serviceYAML(goodSpec))
	in.Host = "ratings"
	got := Ports(in)
	expect(t, got, "Service bookinfo/ratings: not rendered by apps/reviews, so its ports and selector were not checked; "+
		"if another app deploys it, name its ports for their protocol there and keep version out of its selector")
	if len(got) == 1 && (got[0].Severity != Warning || got[0].Check != CheckServiceMissing) {
		t.Errorf("severity %s, check %s; want warning, %s", got[0].Severity, got[0].Check, CheckServiceMissing)
	}
}

func TestPortsQualifiedHost(t *testing.T) {
	badPorts := `  selector: {app: reviews}
  ports:
    - {name: web, port: 9080}
`
	// The render's Service has no namespace: it lands in bookinfo, so a
	// host in frontend does not name it.
	in := reviews(t, serviceYAML(badPorts))
	in.Host = "reviews.frontend.svc.cluster.local"
	expect(t, Ports(in), "Service frontend/reviews: not rendered by apps/reviews, so its ports and selector were not checked; "+
		"if another app deploys it, name its ports for their protocol there and keep version out of its selector")

	// Declared with namespace frontend by another app: the finding names
	// its file. The app's own reviews Service, without a namespace, is not it.
	in.Files["apps/frontend/service.yaml"] = []byte(`apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: frontend
spec:
` + goodSpec)
	expect(t, Ports(in), "apps/frontend/service.yaml: Service frontend/reviews: not rendered by apps/reviews, "+
		"so its ports and selector were not checked; "+
		"if another app deploys it, name its ports for their protocol there and keep version out of its selector")

	// A Service declared in frontend is the one the host names, wherever
	// the workload runs; the one in bookinfo is not.
	frontend := `apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: frontend
spec:
` + badPorts
	in = reviews(t, serviceYAML(goodSpec))
	in.Objects = append(in.Objects, render(t, frontend)...)
	in.Files["apps/reviews/frontend-service.yaml"] = []byte(frontend)
	in.Host = "reviews.frontend.svc.cluster.local"
	expect(t, Ports(in), `apps/reviews/frontend-service.yaml: Service frontend/reviews: port 9080 is named "web": `+
		`Istio picks the protocol from the port name; name it http-web`+renameTail)

	// The short form "reviews.frontend" names the same Service.
	in.Host = "reviews.frontend"
	if got := Ports(in); len(got) != 1 || got[0].Object != "Service frontend/reviews" {
		t.Errorf("host reviews.frontend: %v", got)
	}
	// And a short host still names the one in the workload's namespace.
	in.Host = "reviews"
	expect(t, Ports(in))
}

func TestPortsIgnoreOtherServiceKinds(t *testing.T) {
	// A Knative Service of the same name is not the Kubernetes Service.
	in := reviews(t, serviceYAML(goodSpec))
	in.Objects = render(t, deploymentYAML, `apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: reviews}
spec:
  template:
    spec:
      containers: [{image: example/reviews:1.0}]
`)
	got := Ports(in)
	if len(got) != 1 || got[0].Check != CheckServiceMissing {
		t.Errorf("Ports = %v, want service-missing", got)
	}
}
