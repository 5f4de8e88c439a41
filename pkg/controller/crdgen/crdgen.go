// Package crdgen generates the Release CustomResourceDefinition from the Go
// types: pkg/release's Spec and pkg/controller's Status, with the field
// comments as descriptions. Its test keeps deploy/crd/release.yaml equal
// to what it generates.
package crdgen

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"reflect"
	"sort"
	"strings"
	"time"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/gitcanary/gitcanary/pkg/controller"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Generate returns the CRD as YAML. srcDirs are the source directories of
// the packages whose comments describe the fields.
func Generate(srcDirs ...string) ([]byte, error) {
	docs, err := comments(srcDirs)
	if err != nil {
		return nil, err
	}
	g := &gen{docs: docs}
	spec := g.schema(reflect.TypeOf(release.Spec{}))
	spec.Description = "What the release is and what people ask of it (spec.control)."
	status := g.schema(reflect.TypeOf(controller.Status{}))
	status.Description = "The release's record from git, mirrored by the controller, and its conditions."
	gvk := controller.ReleaseGVK
	crd := apiextv1.CustomResourceDefinition{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"},
		ObjectMeta: metav1.ObjectMeta{Name: "releases." + gvk.Group},
		Spec: apiextv1.CustomResourceDefinitionSpec{
			Group: gvk.Group,
			Names: apiextv1.CustomResourceDefinitionNames{Kind: gvk.Kind, ListKind: gvk.Kind + "List", Plural: "releases", Singular: "release", ShortNames: []string{"rel"}, Categories: []string{"gitcanary"}},
			Scope: apiextv1.NamespaceScoped,
			Versions: []apiextv1.CustomResourceDefinitionVersion{{
				Name: gvk.Version, Served: true, Storage: true,
				Subresources: &apiextv1.CustomResourceSubresources{Status: &apiextv1.CustomResourceSubresourceStatus{}},
				AdditionalPrinterColumns: []apiextv1.CustomResourceColumnDefinition{
					{Name: "Phase", Type: "string", JSONPath: ".status.phase"},
					{Name: "Weight", Type: "integer", JSONPath: ".status.canaryWeight", Description: "the new version's share of the traffic, in percent"},
					{Name: "Step", Type: "integer", JSONPath: ".status.step"},
					{Name: "Version", Type: "string", JSONPath: ".spec.version"},
					{Name: "Age", Type: "date", JSONPath: ".metadata.creationTimestamp"},
				},
				Schema: &apiextv1.CustomResourceValidation{OpenAPIV3Schema: &apiextv1.JSONSchemaProps{
					Type:        "object",
					Description: "A canary release of one service, driven by gitcanary run: every step is a git commit that Argo CD applies.",
					Properties: map[string]apiextv1.JSONSchemaProps{
						"apiVersion": {Type: "string"}, "kind": {Type: "string"}, "metadata": {Type: "object"},
						"spec": spec, "status": status,
					},
					Required: []string{"spec"},
				}},
			}},
		},
	}
	data, err := yaml.Marshal(crd)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	delete(m["metadata"].(map[string]any), "creationTimestamp")
	out, err := yaml.Marshal(m)
	if err != nil {
		return nil, err
	}
	return append([]byte("# Generated from the Go types by pkg/controller/crdgen (go test ./pkg/controller/crdgen -update). Do not edit.\n"), out...), nil
}

type gen struct{ docs map[string]string }

var (
	timeType      = reflect.TypeOf(time.Time{})
	durationType  = reflect.TypeOf(release.Duration{})
	conditionType = reflect.TypeOf(metav1.Condition{})
	phaseType     = reflect.TypeOf(release.Phase(""))
)

func (g *gen) schema(t reflect.Type) apiextv1.JSONSchemaProps {
	switch t {
	case timeType:
		return apiextv1.JSONSchemaProps{Type: "string", Format: "date-time"}
	case durationType:
		return apiextv1.JSONSchemaProps{Type: "string", Description: "A duration such as 90s, 2m or 1h30m.", Pattern: `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`}
	case conditionType:
		return conditionSchema()
	case phaseType:
		var phases []apiextv1.JSON
		var names []string
		for p := range release.Transitions {
			if p != "" {
				names = append(names, string(p))
			}
		}
		sort.Strings(names)
		for _, n := range names {
			phases = append(phases, apiextv1.JSON{Raw: []byte(`"` + n + `"`)})
		}
		return apiextv1.JSONSchemaProps{Type: "string", Enum: phases}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem())
	case reflect.String:
		return apiextv1.JSONSchemaProps{Type: "string"}
	case reflect.Bool:
		return apiextv1.JSONSchemaProps{Type: "boolean"}
	case reflect.Int32:
		return apiextv1.JSONSchemaProps{Type: "integer", Format: "int32"}
	case reflect.Int, reflect.Int64:
		return apiextv1.JSONSchemaProps{Type: "integer", Format: "int64"}
	case reflect.Float64:
		return apiextv1.JSONSchemaProps{Type: "number"}
	case reflect.Slice:
		items := g.schema(t.Elem())
		return apiextv1.JSONSchemaProps{Type: "array", Items: &apiextv1.JSONSchemaPropsOrArray{Schema: &items}}
	case reflect.Map:
		v := g.schema(t.Elem())
		return apiextv1.JSONSchemaProps{Type: "object", AdditionalProperties: &apiextv1.JSONSchemaPropsOrBool{Allows: true, Schema: &v}}
	case reflect.Struct:
		s := apiextv1.JSONSchemaProps{Type: "object", Properties: map[string]apiextv1.JSONSchemaProps{}}
		g.fields(t, &s)
		return s
	}
	panic(fmt.Sprintf("crdgen: no schema for %s", t))
}

// fields adds a struct's JSON fields; embedded structs without a name are inlined.
func (g *gen) fields(t reflect.Type, s *apiextv1.JSONSchemaProps) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			g.fields(f.Type, s)
			continue
		}
		if name == "" {
			name = f.Name
		}
		p := g.schema(f.Type)
		if d := g.docs[t.Name()+"."+f.Name]; d != "" {
			p.Description = d
		}
		s.Properties[name] = p
	}
}

func conditionSchema() apiextv1.JSONSchemaProps {
	str := apiextv1.JSONSchemaProps{Type: "string"}
	return apiextv1.JSONSchemaProps{
		Type: "object",
		Properties: map[string]apiextv1.JSONSchemaProps{
			"type": str, "status": {Type: "string", Enum: []apiextv1.JSON{{Raw: []byte(`"True"`)}, {Raw: []byte(`"False"`)}, {Raw: []byte(`"Unknown"`)}}},
			"reason": str, "message": str, "lastTransitionTime": {Type: "string", Format: "date-time"},
			"observedGeneration": {Type: "integer", Format: "int64"},
		},
		Required: []string{"type", "status", "lastTransitionTime", "reason", "message"},
	}
}

// comments reads field comments of the structs in dirs, keyed Type.Field.
func comments(dirs []string) (map[string]string, error) {
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, dir := range dirs {
		pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		for _, pkg := range pkgs {
			ast.Inspect(pkg, func(n ast.Node) bool {
				ts, ok := n.(*ast.TypeSpec)
				if !ok {
					return true
				}
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					return true
				}
				for _, f := range st.Fields.List {
					text := strings.Join(strings.Fields(f.Doc.Text()), " ")
					if text == "" && f.Comment != nil {
						text = strings.Join(strings.Fields(f.Comment.Text()), " ")
					}
					for _, n := range f.Names {
						out[ts.Name.Name+"."+n.Name] = text
					}
				}
				return true
			})
		}
	}
	return out, nil
}
