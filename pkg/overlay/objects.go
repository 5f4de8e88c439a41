package overlay

import (
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"
)

// Object is one rendered Kubernetes object.
type Object map[string]any

// Kind returns the object's kind.
func (o Object) Kind() string { s, _ := o["kind"].(string); return s }

// APIVersion returns the object's apiVersion.
func (o Object) APIVersion() string { s, _ := o["apiVersion"].(string); return s }

// Name returns metadata.name.
func (o Object) Name() string { s, _ := Lookup(o, ".metadata.name").(string); return s }

// Namespace returns metadata.namespace.
func (o Object) Namespace() string { s, _ := Lookup(o, ".metadata.namespace").(string); return s }

// Group returns the API group of the object's apiVersion ("" for core).
func (o Object) Group() string { return GroupOf(o.APIVersion()) }

// GroupOf returns the API group of an apiVersion: "apps" for "apps/v1", "" for "v1".
func GroupOf(apiVersion string) string {
	g, _, ok := strings.Cut(apiVersion, "/")
	if !ok {
		return ""
	}
	return g
}

// ParseObjects splits multi-document YAML (as kustomize prints it) into objects.
func ParseObjects(data []byte) ([]Object, error) {
	var out []Object
	for i, doc := range strings.Split("\n"+string(data), "\n---") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var o Object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if o != nil {
			out = append(out, o)
		}
	}
	return out, nil
}

// Find returns the objects of a kind, optionally with a name.
func Find(objs []Object, kind, name string) []Object {
	var out []Object
	for _, o := range objs {
		if o.Kind() == kind && (name == "" || o.Name() == name) {
			out = append(out, o)
		}
	}
	return out
}

// Lookup reads a dot path such as ".spec.template.metadata.labels" from a
// nested map; nil when any part is missing.
func Lookup(o map[string]any, path string) any {
	var cur any = o
	for _, part := range PathFields(path) {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// ensureMap returns the map at path, creating missing maps on the way.
func ensureMap(o map[string]any, path string) (map[string]any, error) {
	cur := o
	for _, part := range PathFields(path) {
		next, ok := cur[part]
		if !ok || next == nil {
			m := map[string]any{}
			cur[part] = m
			cur = m
			continue
		}
		m, ok := next.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: %q is not a map", path, part)
		}
		cur = m
	}
	return cur, nil
}

// PathFields splits a dot path: ".spec.template" → [spec template].
func PathFields(path string) []string {
	var parts []string
	for _, p := range strings.Split(strings.TrimPrefix(path, "."), ".") {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return parts
}

// pointer turns a dot path into a JSON pointer: ".spec.template" → "/spec/template".
func pointer(path string, more ...string) string {
	var b strings.Builder
	for _, p := range append(PathFields(path), more...) {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1"))
	}
	return b.String()
}
