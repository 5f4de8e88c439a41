// Package lint checks an app, as kustomize renders it, for the mesh
// mistakes that make a canary release fail in ways Argo CD cannot see:
// ports Istio cannot route by protocol, a Service that selects one version
// only, and namespace labels that inject too little or too much. It is pure:
// callers pass the render, the repository files and what they know of the
// cluster.
package lint

import (
	"iter"
	"sort"
	"strings"

	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/overlay"
)

// Severity says whether a finding stops a release (Error) or only informs.
type Severity string

// The severities, errors first.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// The checks, as they appear in Finding.Check.
const (
	CheckPortProtocol        = "port-protocol"
	CheckServiceSelector     = "service-selector"
	CheckServiceMissing      = "service-missing"
	CheckInjectionDisabled   = "injection-disabled"
	CheckInjectionHelperPods = "injection-helper-pods"
)

// Finding is one problem, located.
type Finding struct {
	Severity Severity
	Check    string // one of the Check constants
	File     string // repository-relative path of the file that declares the object; "" when not found in the files
	Object   string // e.g. "Service bookinfo/reviews"
	Message  string // says what is wrong and what to do
}

// String is "<file>: <object>: <message>", without the file when it is unknown.
func (f Finding) String() string {
	parts := make([]string, 0, 3)
	for _, p := range []string{f.File, f.Object, f.Message} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ": ")
}

// Input is what the checks read.
type Input struct {
	Objects   []overlay.Object  // the app rendered as the user wrote it
	Files     map[string][]byte // files the render read, by path (to locate where an object is declared)
	AppPath   string            // the app's path in the repository (its files are searched first)
	Host      string            // spec.traffic.host: "reviews" or "reviews.bookinfo.svc.cluster.local"
	Namespace string            // spec.workload.namespace, the default namespace of a short host
	Kind      kube.Kind         // the stable workload's kind
	// NamespaceLabels are the labels of the workload's namespace: from a
	// Namespace object in the render when there is one, else from the live
	// cluster; nil when unknown.
	NamespaceLabels map[string]string
	// More yields the repository's other files, path and content, one at a
	// time: searched after Files for an object the render does not declare
	// (a Namespace, a Service of another app). Nil: none.
	More iter.Seq2[string, []byte]
}

// All runs every check: errors first, then in the order the checks run
// (ports, selector, injection), each check's findings in object order.
//
// Shapes runs first: when an object has a field of the wrong type, its
// findings are the only ones, since the other checks read those fields.
func All(in Input) []Finding {
	if bad := Shapes(in); len(bad) > 0 {
		return bad
	}
	var out []Finding
	seen := map[Finding]bool{}
	// Ports and Selector both report a missing Service; say it once.
	for _, check := range []func(Input) []Finding{Ports, Selector, Injection} {
		for _, f := range check(in) {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Severity == Error && out[j].Severity != Error })
	return out
}

// Errors returns only the errors of fs, in order.
func Errors(fs []Finding) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Severity == Error {
			out = append(out, f)
		}
	}
	return out
}

// service finds the Service the host names in the render. When it is not
// there, the finding says so and the caller has nothing to check.
func service(in Input) (overlay.Object, Finding, bool) {
	name, ns := hostService(in.Host, in.Namespace)
	for _, o := range in.Objects {
		if o.Kind() == "Service" && o.Group() == "" && o.Name() == name && namespaceOf(o, in.Namespace) == ns {
			return o, Finding{}, true
		}
	}
	return nil, Finding{
		Severity: Warning,
		Check:    CheckServiceMissing,
		File:     locateMissing(in, "Service", name, ns),
		Object:   objectName("Service", ns, name),
		Message: "not rendered by " + in.AppPath + ", so its ports and selector were not checked; " +
			"if another app deploys it, name its ports for their protocol there and keep " + overlay.VersionLabel + " out of its selector",
	}, false
}

// hostService splits a host into the Service and namespace it names:
// "reviews" is in the default namespace, "reviews.bookinfo[.svc…]" in bookinfo.
func hostService(host, defaultNamespace string) (name, namespace string) {
	labels := strings.Split(host, ".")
	if len(labels) > 1 {
		return labels[0], labels[1]
	}
	return host, defaultNamespace
}

// namespaceOf is the object's namespace; one without lands in the
// workload's namespace, where Argo CD deploys the app.
func namespaceOf(o overlay.Object, defaultNamespace string) string {
	if ns := o.Namespace(); ns != "" {
		return ns
	}
	return defaultNamespace
}

// objectName is "Kind namespace/name", or "Kind name" for a cluster-scoped object.
func objectName(kind, namespace, name string) string {
	if namespace == "" {
		return kind + " " + name
	}
	return kind + " " + namespace + "/" + name
}

// Service returns the Service the host names, as the checks find it.
func Service(in Input) (overlay.Object, bool) {
	svc, _, ok := service(in)
	return svc, ok
}
