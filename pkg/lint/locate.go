package lint

import (
	"path"
	"sort"
	"strings"

	"github.com/gitcanary/gitcanary/pkg/overlay"
	"sigs.k8s.io/yaml"
)

// locate returns the path of the file that declares a rendered object: the
// first YAML document with the same kind and name, and the same namespace
// when both say one, in the app's files first and then in the rest of the
// render's files, each in sorted path order, then in the rest of the
// repository (Input.More). "" when no file declares it.
func locate(in Input, kind, name, namespace string) string {
	return find(in, kind, name, func(ns string) bool { return ns == "" || namespace == "" || ns == namespace })
}

// locateMissing is locate for an object the render lacks: a document
// without a namespace would have been rendered into the app's namespace,
// so only one that names the namespace declares it.
func locateMissing(in Input, kind, name, namespace string) string {
	return find(in, kind, name, func(ns string) bool { return ns == namespace })
}

func find(in Input, kind, name string, namespaceMatches func(string) bool) string {
	for _, p := range searchOrder(in.Files, in.AppPath) {
		if declares(in.Files[p], kind, name, namespaceMatches) {
			return p
		}
	}
	if in.More == nil {
		return ""
	}
	for p, data := range in.More {
		if _, read := in.Files[p]; read || !isYAML(p) {
			continue
		}
		if declares(data, kind, name, namespaceMatches) {
			return p
		}
	}
	return ""
}

func isYAML(p string) bool {
	ext := path.Ext(p)
	return ext == ".yaml" || ext == ".yml"
}

// searchOrder lists the YAML files under appPath, then the others.
func searchOrder(files map[string][]byte, appPath string) []string {
	dir := path.Clean(appPath)
	var inApp, rest []string
	for p := range files {
		if !isYAML(p) {
			continue
		}
		if dir == "." || strings.HasPrefix(p, dir+"/") {
			inApp = append(inApp, p)
		} else {
			rest = append(rest, p)
		}
	}
	sort.Strings(inApp)
	sort.Strings(rest)
	return append(inApp, rest...)
}

// declares reports whether one document of data is the object. A document
// that does not parse is skipped, not an error: a repository holds YAML
// that is not Kubernetes objects (CI configs, Helm templates).
func declares(data []byte, kind, name string, namespaceMatches func(string) bool) bool {
	for _, doc := range strings.Split("\n"+string(data), "\n---") {
		if !strings.Contains(doc, name) {
			continue // cheap skip before parsing
		}
		var o overlay.Object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil || o == nil {
			continue
		}
		if o.Kind() == kind && o.Name() == name && namespaceMatches(o.Namespace()) {
			return true
		}
	}
	return false
}
