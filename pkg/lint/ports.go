package lint

import (
	"fmt"
	"strings"

	"github.com/gitcanary/gitcanary/pkg/overlay"
)

// protocols are the port-name prefixes Istio selects a protocol by. Service
// port names are DNS labels, so lower case is the only case that occurs.
var protocols = []string{"http", "http2", "https", "tcp", "tls", "grpc", "grpc-web", "mongo", "mysql", "redis", "udp"}

// Ports checks that every port of the host's Service tells Istio its
// protocol, by its name (<protocol> or <protocol>-<suffix>) or appProtocol.
// Without it Istio treats the port as opaque TCP or sniffs it, and a
// VirtualService's HTTP routes, where the weights live, may never apply.
func Ports(in Input) []Finding {
	svc, missing, ok := service(in)
	if !ok {
		return []Finding{missing}
	}
	ports, _ := overlay.Lookup(svc, ".spec.ports").([]any)
	var out []Finding
	for i, p := range ports {
		port, _ := p.(map[string]any)
		if msg := portProblem(port, i); msg != "" {
			out = append(out, serviceFinding(in, svc, Error, CheckPortProtocol, msg))
		}
	}
	return out
}

// portProblem says what is wrong with one port, or "" when nothing is.
func portProblem(port map[string]any, index int) string {
	// Istio proxies TCP only: a UDP or SCTP port's name selects nothing.
	if proto, _ := port["protocol"].(string); proto != "" && proto != "TCP" {
		return ""
	}
	if app, _ := port["appProtocol"].(string); app != "" {
		return ""
	}
	name, _ := port["name"].(string)
	if namesProtocol(name) {
		return ""
	}
	what, rename, others := portLabel(port, index)+" has no name", "http", "grpc, tcp…"
	if name != "" {
		what = fmt.Sprintf("%s is named %q", portLabel(port, index), name)
		rename, others = "http-"+name, "http, grpc, tcp…"
	}
	return fmt.Sprintf("%s: Istio picks the protocol from the port name; name it %s (or %s, optionally with a -suffix) or set appProtocol",
		what, rename, others)
}

// namesProtocol reports whether a port name is <protocol> or <protocol>-<suffix>.
func namesProtocol(name string) bool {
	for _, p := range protocols {
		if name == p || strings.HasPrefix(name, p+"-") {
			return true
		}
	}
	return false
}

// portLabel is "port 9080", or "ports[1]" for a port without a number.
func portLabel(port map[string]any, index int) string {
	if n, ok := port["port"]; ok && n != nil {
		return fmt.Sprintf("port %v", n)
	}
	return fmt.Sprintf("ports[%d]", index)
}

// serviceFinding is a finding about the host's Service.
func serviceFinding(in Input, svc overlay.Object, sev Severity, check, msg string) Finding {
	ns := namespaceOf(svc, in.Namespace)
	return Finding{
		Severity: sev,
		Check:    check,
		File:     locate(in, "Service", svc.Name(), ns),
		Object:   objectName("Service", ns, svc.Name()),
		Message:  msg,
	}
}

// istioProtocols spells each protocol as a ServiceEntry port declares it.
var istioProtocols = map[string]string{
	"http": "HTTP", "http2": "HTTP2", "https": "HTTPS", "tcp": "TCP", "tls": "TLS", "grpc": "GRPC",
	"grpc-web": "GRPC-Web", "mongo": "Mongo", "mysql": "MySQL", "redis": "Redis", "udp": "UDP",
}

// Protocol returns the Istio protocol of a Service port, from its
// appProtocol, else its name (the longest matching prefix), else TCP.
func Protocol(port map[string]any) string {
	for _, field := range []string{"appProtocol", "name"} {
		v, _ := port[field].(string)
		best := ""
		for _, p := range protocols {
			if (v == p || strings.HasPrefix(v, p+"-")) && len(p) > len(best) {
				best = p
			}
		}
		if best != "" {
			return istioProtocols[best]
		}
	}
	return "TCP"
}
