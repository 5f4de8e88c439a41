package lint

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	networking "istio.io/api/networking/v1alpha3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/gitcanary/gitcanary/pkg/overlay"
)

// CheckShape: an object gitcanary reads has a field of the wrong type
// (`http: [x]`, `replicas: "two"`, `subsets: {}`): the API server would
// refuse it, and nothing else can be checked on it.
const CheckShape = "shape"

// istioSpecs are the Istio kinds gitcanary reads or writes, by kind, as
// the messages their spec must decode into.
var istioSpecs = map[string]func() proto.Message{
	"VirtualService":  func() proto.Message { return &networking.VirtualService{} },
	"DestinationRule": func() proto.Message { return &networking.DestinationRule{} },
	"ServiceEntry":    func() proto.Message { return &networking.ServiceEntry{} },
	"Gateway":         func() proto.Message { return &networking.Gateway{} },
	"WorkloadEntry":   func() proto.Message { return &networking.WorkloadEntry{} },
	"WorkloadGroup":   func() proto.Message { return &networking.WorkloadGroup{} },
}

// kubeKinds are the Kubernetes kinds gitcanary reads, as the Go types
// their whole object must decode into.
var kubeKinds = map[string]func() any{
	"Deployment":  func() any { return &appsv1.Deployment{} },
	"StatefulSet": func() any { return &appsv1.StatefulSet{} },
	"DaemonSet":   func() any { return &appsv1.DaemonSet{} },
	"Service":     func() any { return &corev1.Service{} },
	"Namespace":   func() any { return &corev1.Namespace{} },
}

// Shapes checks that every object of a kind gitcanary reads has the types
// its API declares, the way the API server's schema would: a list where a
// list goes, an object where an object goes, a number where a number
// goes. Unknown fields are not its business (the API server prunes or
// keeps them). Each finding names the file, the object and the field.
// The other checks read objects that pass it.
func Shapes(in Input) []Finding {
	var out []Finding
	for _, o := range in.Objects {
		var msg string
		switch {
		// By kind alone, as the other checks find objects.
		case istioSpecs[o.Kind()] != nil:
			if spec, ok := o["spec"]; ok {
				msg = shapeOf(spec, istioSpecs[o.Kind()]().ProtoReflect().Descriptor(), "spec")
			}
		case kubeKinds[o.Kind()] != nil:
			msg = kubeShape(o, kubeKinds[o.Kind()]())
		}
		if msg == "" {
			msg = metadataShape(o)
		}
		if msg != "" {
			out = append(out, in.finding(o, CheckShape, msg))
		}
	}
	return out
}

// metadataShape checks the metadata every check reads, of any kind.
func metadataShape(o overlay.Object) string {
	md, ok := o["metadata"].(map[string]any)
	if !ok {
		return "metadata: expected an object"
	}
	for _, f := range []string{"labels", "annotations"} {
		v, ok := md[f]
		if !ok || v == nil {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Sprintf("metadata.%s: expected an object of strings, got %s", f, typeName(v))
		}
		for k, s := range m {
			if _, ok := s.(string); !ok {
				return fmt.Sprintf("metadata.%s.%s: expected a string, got %s", f, k, typeName(s))
			}
		}
	}
	return ""
}

// kubeShape decodes a whole object into its Go type; the decoder's error
// names the field ("spec.replicas").
func kubeShape(o overlay.Object, into any) string {
	raw, err := json.Marshal(o)
	if err != nil {
		return err.Error()
	}
	err = json.Unmarshal(raw, into)
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &te):
		return fmt.Sprintf("%s: expected %s, got %s", te.Field, jsonType(te.Type.Kind().String()), jsonValue(te.Value))
	}
	return err.Error()
}

// jsonType names a Go kind as the JSON type that decodes into it.
func jsonType(kind string) string {
	switch kind {
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "a list"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	}
	return "a number"
}

// jsonValue names the JSON value kinds encoding/json reports.
func jsonValue(v string) string {
	switch v {
	case "object":
		return "an object"
	case "array":
		return "a list"
	case "bool":
		return "true or false"
	}
	return "a " + v
}

// shapeOf walks a JSON value along a message descriptor and returns the
// first type mismatch, with its field path, or "".
func shapeOf(v any, md protoreflect.MessageDescriptor, at string) string {
	if v == nil {
		return ""
	}
	if msg, special := wellKnown(v, md, at); special {
		return msg
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return fmt.Sprintf("%s: expected an object (%s), got %s", at, md.Name(), typeName(v))
	}
	fields := md.Fields()
	for key, val := range obj {
		fd := fields.ByJSONName(key)
		if fd == nil {
			fd = fields.ByName(protoreflect.Name(key))
		}
		if fd == nil || val == nil {
			continue
		}
		if msg := fieldShape(val, fd, at+"."+key); msg != "" {
			return msg
		}
	}
	return ""
}

func fieldShape(v any, fd protoreflect.FieldDescriptor, at string) string {
	switch {
	case fd.IsMap():
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: expected an object, got %s", at, typeName(v))
		}
		for k, item := range m {
			if msg := singleShape(item, fd.MapValue(), at+"."+k); msg != "" {
				return msg
			}
		}
		return ""
	case fd.IsList():
		list, ok := v.([]any)
		if !ok {
			return fmt.Sprintf("%s: expected a list, got %s", at, typeName(v))
		}
		for i, item := range list {
			if msg := singleShape(item, fd, fmt.Sprintf("%s[%d]", at, i)); msg != "" {
				return msg
			}
		}
		return ""
	}
	return singleShape(v, fd, at)
}

// singleShape checks one value of a field (one list item, one map value).
func singleShape(v any, fd protoreflect.FieldDescriptor, at string) string {
	if v == nil {
		return ""
	}
	want := ""
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return shapeOf(v, fd.Message(), at)
	case protoreflect.StringKind, protoreflect.BytesKind:
		if _, ok := v.(string); !ok {
			want = "a string"
		}
	case protoreflect.BoolKind:
		if _, ok := v.(bool); !ok {
			want = "true or false"
		}
	case protoreflect.EnumKind:
		switch v.(type) {
		case string, float64:
		default:
			want = "one of the names of " + string(fd.Enum().Name())
		}
	default: // numbers; protojson also takes them quoted
		switch x := v.(type) {
		case float64:
		case string:
			if _, err := strconv.ParseFloat(x, 64); err != nil {
				want = "a number"
			}
		default:
			want = "a number"
		}
	}
	if want == "" {
		return ""
	}
	return fmt.Sprintf("%s: expected %s, got %s", at, want, typeName(v))
}

// wellKnown checks the google.protobuf types protojson writes as scalars.
func wellKnown(v any, md protoreflect.MessageDescriptor, at string) (string, bool) {
	name := string(md.FullName())
	if !strings.HasPrefix(name, "google.protobuf.") {
		return "", false
	}
	switch strings.TrimPrefix(name, "google.protobuf.") {
	case "Duration", "Timestamp", "FieldMask":
		if _, ok := v.(string); !ok {
			return fmt.Sprintf("%s: expected a string such as \"5s\", got %s", at, typeName(v)), true
		}
	case "BoolValue":
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("%s: expected true or false, got %s", at, typeName(v)), true
		}
	case "StringValue", "BytesValue":
		if _, ok := v.(string); !ok {
			return fmt.Sprintf("%s: expected a string, got %s", at, typeName(v)), true
		}
	case "DoubleValue", "FloatValue", "Int64Value", "UInt64Value", "Int32Value", "UInt32Value":
		if msg := singleNumber(v, at); msg != "" {
			return msg, true
		}
	}
	return "", true // Struct, Value, ListValue, Any, Empty: anything goes
}

func singleNumber(v any, at string) string {
	switch x := v.(type) {
	case float64:
		return ""
	case string:
		if _, err := strconv.ParseFloat(x, 64); err == nil {
			return ""
		}
	}
	return fmt.Sprintf("%s: expected a number, got %s", at, typeName(v))
}

// typeName names a JSON value's type for a message.
func typeName(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return fmt.Sprintf("the string %q", x)
	case bool:
		return fmt.Sprintf("%v", x)
	case float64:
		return fmt.Sprintf("the number %v", x)
	}
	return fmt.Sprintf("%T", v)
}
