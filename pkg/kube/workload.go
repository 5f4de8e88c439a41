package kube

import (
	"fmt"
	"math"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Status reads a workload object of this kind. It is pure, so fakes and
// tests can turn manifests into the same facts Workload reports.
//
// The pod template must be an object and the selector a map of strings,
// because gitcanary copies and relabels them; a missing replicas field means
// 1 (the API default) and a missing ready count means 0 (status counters are
// omitted while zero). A field of the wrong type, or a path running through
// a non-object, is an error naming the kind, object and path.
func (k Kind) Status(obj *unstructured.Unstructured) (WorkloadStatus, error) {
	st := WorkloadStatus{Found: true}
	name := objectName(obj)
	fail := func(path, format string, args ...any) (WorkloadStatus, error) {
		return WorkloadStatus{}, fmt.Errorf("%s %s: %s %s", k.Kind, name, path, fmt.Sprintf(format, args...))
	}

	tmpl, found, err := lookupPath(obj.Object, k.PodTemplate)
	if err != nil {
		return fail(k.PodTemplate, "%v", err)
	}
	if !found {
		return fail(k.PodTemplate, "not found (pod template path of kind %s)", k)
	}
	if _, ok := tmpl.(map[string]any); !ok {
		return fail(k.PodTemplate, "is a %T, want an object (pod template)", tmpl)
	}

	if _, err := k.SelectorOf(obj.Object); err != nil {
		return WorkloadStatus{}, fmt.Errorf("%s %s: %v", k.Kind, name, err)
	}
	if k.VM {
		// A group's readiness is its entries'; the cluster counts them.
		st.Generation, _ = toInt64OrZero(obj.Object, ".metadata.generation")
		st.ObservedGeneration = st.Generation
		return st, nil
	}

	for _, c := range []struct {
		path string
		dst  *int64
		def  int64
	}{
		{k.Replicas, &st.Replicas, 1},
		{k.ReadyReplicas, &st.ReadyReplicas, 0},
		{".metadata.generation", &st.Generation, 0},
		{".status.observedGeneration", &st.ObservedGeneration, 0},
	} {
		v, found, err := lookupPath(obj.Object, c.path)
		if err != nil {
			return fail(c.path, "%v", err)
		}
		if !found || v == nil {
			if c.path == k.Replicas || c.path == k.ReadyReplicas {
				st.Unresolved = strings.TrimSpace(st.Unresolved + " " + c.path)
			}
			*c.dst = c.def
			continue
		}
		n, err := toInt64(v)
		if err != nil {
			return fail(c.path, "%v", err)
		}
		*c.dst = n
	}
	return st, nil
}

// lookupPath walks a dot path through nested maps. found is false when a
// field along the way is absent or null; err is set when the path runs
// through something that is not an object.
func lookupPath(obj map[string]any, path string) (v any, found bool, err error) {
	fields, err := parsePath(path)
	if err != nil {
		return nil, false, err
	}
	var cur any = obj
	for i, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false, fmt.Errorf("runs through .%s, which is a %T, not an object", strings.Join(fields[:i], "."), cur)
		}
		cur, ok = m[f]
		if !ok || cur == nil {
			return nil, false, nil
		}
	}
	return cur, true, nil
}

func checkStringMap(v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("is a %T, want a map of strings", v)
	}
	for key, val := range m {
		if _, ok := val.(string); !ok {
			return fmt.Errorf("key %q is a %T, want a string", key, val)
		}
	}
	return nil
}

// toInt64 accepts the number types the JSON decoders of apimachinery and of
// hand-built test objects produce.
func toInt64(v any) (int64, error) {
	switch n := v.(type) {
	case int64:
		return n, nil
	case int:
		return int64(n), nil
	case int32:
		return int64(n), nil
	case float64:
		if n != math.Trunc(n) || n > math.MaxInt64 || n < math.MinInt64 {
			return 0, fmt.Errorf("is %v, want an integer", n)
		}
		return int64(n), nil
	default:
		return 0, fmt.Errorf("is a %T, want an integer", v)
	}
}

// toInt64OrZero reads an integer at path; 0 when absent or not an integer.
func toInt64OrZero(obj map[string]any, path string) (int64, bool) {
	v, found, err := lookupPath(obj, path)
	if err != nil || !found {
		return 0, false
	}
	n, err := toInt64(v)
	return n, err == nil
}

func objectName(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return ns + "/" + obj.GetName()
	}
	return obj.GetName()
}
