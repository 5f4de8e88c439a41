package release

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// AnalysisTemplate files: metrics kept in git beside the app, with args,
// that an analysis step lists by name. They are read from the commit the
// analysis starts on and frozen into its record: editing a template
// later changes no analysis already started.

// TemplateKind is the kind of an AnalysisTemplate file.
const TemplateKind = "AnalysisTemplate"

// DefaultTemplateDir is where AnalysisTemplate files live, from the
// repository's root.
const DefaultTemplateDir = "analysis"

// TemplateRef is an analysis step's use of a template.
type TemplateRef struct {
	// Name is the template's metadata.name; its file is <name>.yaml in
	// spec.analysis.templateDir.
	Name string `json:"name"`
	// Args gives the template's args their values.
	Args []Arg `json:"args,omitempty"`
}

// Arg is a template's arg: declared in the template (Value is then its
// default), or given by a step.
type Arg struct {
	Name  string  `json:"name"`
	Value *string `json:"value,omitempty"`
}

// AnalysisTemplate is an AnalysisTemplate file.
type AnalysisTemplate struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Metadata   Metadata     `json:"metadata"`
	Spec       TemplateSpec `json:"spec"`
}

// TemplateSpec is a template's args and metrics (any kind).
type TemplateSpec struct {
	Args    []Arg    `json:"args,omitempty"`
	Metrics []Metric `json:"metrics"`
}

// TemplateDirOrDefault returns the directory of template files in effect.
func (a *AnalysisDefaults) TemplateDirOrDefault() string {
	if a == nil || a.TemplateDir == "" {
		return DefaultTemplateDir
	}
	return path.Clean(a.TemplateDir)
}

// ExpandedMetric is a metric of an analysis step: its own, or a
// template's with args substituted.
type ExpandedMetric struct {
	Metric
	// Template is the file it came from; Args the values it was given.
	Template string
	Args     map[string]string
}

// ReadFile reads a file of the repository at the commit an analysis
// starts on; its error wraps fs.ErrNotExist when there is none.
type ReadFile func(path string) ([]byte, error)

// ExpandMetrics returns the metrics of analysis step i: the step's own,
// then each template's, args substituted and checked as the step's are.
// A missing file, a bad template, a missing or unknown arg and two
// metrics of one name are each an *InvalidError naming the file and field.
func ExpandMetrics(spec Spec, i int, read ReadFile) ([]ExpandedMetric, error) {
	a := spec.Steps[i].Analysis
	return expandMetrics(spec, fmt.Sprintf("spec.steps[%d].analysis", i), "the step", a.Metrics, a.Templates, read)
}

// ExpandBackground is ExpandMetrics for spec.analysis.background.
func ExpandBackground(spec Spec, read ReadFile) ([]ExpandedMetric, error) {
	b := spec.Analysis.Background
	return expandMetrics(spec, "spec.analysis.background", "the background analysis", b.Metrics, b.Templates, read)
}

// expandMetrics expands the metrics and templates of the analysis at p.
func expandMetrics(spec Spec, p, own string, metrics []Metric, templates []TemplateRef, read ReadFile) ([]ExpandedMetric, error) {
	var out []ExpandedMetric
	for _, m := range metrics {
		out = append(out, ExpandedMetric{Metric: m})
	}
	dir := spec.Analysis.TemplateDirOrDefault()
	for j, ref := range templates {
		at := fmt.Sprintf("%s.templates[%d]", p, j)
		ms, err := expandTemplate(dir, at, ref, read)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	seen := map[string]string{}
	for _, m := range out {
		where := own
		if m.Template != "" {
			where = m.Template
		}
		if prev, ok := seen[m.Name]; ok {
			return nil, &InvalidError{Errors: []FieldError{{Path: p,
				Reason: fmt.Sprintf("two metrics are named %q (in %s and in %s); metric names must be unique in an analysis", m.Name, prev, where)}}}
		}
		seen[m.Name] = where
	}
	return out, nil
}

func expandTemplate(dir, at string, ref TemplateRef, read ReadFile) ([]ExpandedMetric, error) {
	file := path.Join(dir, ref.Name+".yaml")
	data, err := read(file)
	if errors.Is(err, fs.ErrNotExist) {
		alt := path.Join(dir, ref.Name+".yml")
		if data, err = read(alt); err == nil {
			file = alt
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &InvalidError{Errors: []FieldError{{Path: at + ".name", Reason: fmt.Sprintf("AnalysisTemplate %q: no file %s (nor .yml) in the repository; templates live in spec.analysis.templateDir (default %s/) from the repository's root", ref.Name, file, DefaultTemplateDir)}}}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: read AnalysisTemplate %s: %w", at, file, err)
	}
	t, err := ParseTemplate(data, file)
	if err != nil {
		return nil, err
	}
	if t.Metadata.Name != ref.Name {
		return nil, &InvalidError{Source: file, Doc: "analysis template", Errors: []FieldError{{Path: "metadata.name", Reason: fmt.Sprintf("is %q, but the file is named for %q (%s uses it)", t.Metadata.Name, ref.Name, at)}}}
	}
	args, err := templateArgs(file, at, t, ref)
	if err != nil {
		return nil, err
	}
	var out []ExpandedMetric
	v := &validator{}
	for k, m := range t.Spec.Metrics {
		m = substituteMetric(m, args)
		v.metric(fmt.Sprintf("spec.metrics[%d]", k), m)
		out = append(out, ExpandedMetric{Metric: m, Template: file, Args: args})
	}
	if len(v.errs) > 0 {
		return nil, &InvalidError{Source: fmt.Sprintf("%s (args from %s)", file, at), Doc: "analysis template", Errors: v.errs}
	}
	return out, nil
}

// templateArgs gives every arg of t its value: the step's, else the
// template's default.
func templateArgs(file, at string, t *AnalysisTemplate, ref TemplateRef) (map[string]string, error) {
	args := map[string]string{}
	var errs []FieldError
	declared := map[string]bool{}
	for _, a := range t.Spec.Args {
		declared[a.Name] = true
		if a.Value != nil {
			args[a.Name] = *a.Value
		}
	}
	for k, a := range ref.Args {
		if !declared[a.Name] {
			errs = append(errs, FieldError{Path: fmt.Sprintf("%s.args[%d].name", at, k), Reason: fmt.Sprintf("%s has no arg %q; its args are %s", file, a.Name, argList(t.Spec.Args))})
			continue
		}
		if a.Value != nil {
			args[a.Name] = *a.Value
		}
	}
	for _, a := range t.Spec.Args {
		if _, ok := args[a.Name]; !ok {
			errs = append(errs, FieldError{Path: at + ".args", Reason: fmt.Sprintf("arg %q of %s has no default: give it a value", a.Name, file)})
		}
	}
	if len(errs) > 0 {
		return nil, &InvalidError{Errors: errs}
	}
	return args, nil
}

func argList(args []Arg) string {
	if len(args) == 0 {
		return "none"
	}
	var names []string
	for _, a := range args {
		names = append(names, a.Name)
	}
	return strings.Join(names, ", ")
}

// substituteMetric fills the args of a template's metric.
func substituteMetric(m Metric, args map[string]string) Metric {
	vars := map[string]string{}
	for k, v := range args {
		vars[argsPrefix+k] = v
	}
	sub := func(s *string) { *s = Substitute(*s, vars) }
	sub(&m.Query)
	sub(&m.SuccessCondition)
	sub(&m.FailureCondition)
	if m.Web != nil {
		w := *m.Web
		sub(&w.URL)
		sub(&w.JSONPath)
		sub(&w.Body)
		m.Web = &w
	}
	if m.Compare != nil {
		c := *m.Compare
		sub(&c.Bad)
		sub(&c.Total)
		m.Compare = &c
	}
	return m
}

// ParseTemplate reads an AnalysisTemplate file strictly and checks its
// shape: apiVersion, kind, name, args, and that every {{args.NAME}} its
// metrics use is declared. Its metrics are checked once args are given.
func ParseTemplate(data []byte, file string) (*AnalysisTemplate, error) {
	inv := &InvalidError{Source: file, Doc: "analysis template"}
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		inv.Errors = []FieldError{{Path: "(document)", Reason: "not valid YAML: " + cleanYAMLError(err)}}
		return nil, inv
	}
	var t AnalysisTemplate
	strict, err := kjson.UnmarshalStrict(j, &t, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		inv.Errors = []FieldError{decodeError(err)}
		return nil, inv
	}
	for _, e := range strict {
		inv.Errors = append(inv.Errors, strictError(e))
	}
	if len(inv.Errors) > 0 {
		return nil, inv
	}
	v := &validator{}
	if t.APIVersion != APIVersion {
		v.add("apiVersion", "must be %s, got %q", APIVersion, t.APIVersion)
	}
	if t.Kind != TemplateKind {
		v.add("kind", "must be %s, got %q", TemplateKind, t.Kind)
	}
	v.dnsSubdomain("metadata.name", t.Metadata.Name)
	declared := map[string]bool{}
	for i, a := range t.Spec.Args {
		p := fmt.Sprintf("spec.args[%d].name", i)
		switch {
		case !validArgName(a.Name):
			v.add(p, "%q is not an arg name (letters, digits, - and _)", a.Name)
		case declared[a.Name]:
			v.add(p, "%q is declared twice", a.Name)
		}
		declared[a.Name] = true
	}
	if len(t.Spec.Metrics) == 0 {
		v.add("spec.metrics", "is required: at least one metric")
	}
	for i, m := range t.Spec.Metrics {
		p := fmt.Sprintf("spec.metrics[%d]", i)
		for field, s := range metricStrings(m) {
			for _, name := range Placeholders(s) {
				if arg, ok := strings.CutPrefix(name, argsPrefix); ok && !declared[arg] {
					v.add(p+"."+field, "{{%s}}: %q is not declared in spec.args", name, arg)
				}
			}
		}
	}
	if len(v.errs) > 0 {
		inv.Errors = v.errs
		return nil, inv
	}
	return &t, nil
}

// metricStrings are a metric's fields that may hold placeholders.
func metricStrings(m Metric) map[string]string {
	out := map[string]string{"query": m.Query, "successCondition": m.SuccessCondition, "failureCondition": m.FailureCondition}
	if m.Web != nil {
		out["web.url"], out["web.jsonPath"], out["web.body"] = m.Web.URL, m.Web.JSONPath, m.Web.Body
	}
	if m.Compare != nil {
		out["compare.bad"], out["compare.total"] = m.Compare.Bad, m.Compare.Total
	}
	return out
}

func validArgName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// templateRefs checks a step's template references; the files are read
// when the analysis starts (and by plan, lint and start).
func (v *validator) templateRefs(p string, refs []TemplateRef) {
	for i, r := range refs {
		rp := fmt.Sprintf("%s[%d]", p, i)
		v.dnsSubdomain(rp+".name", r.Name)
		if slices.IndexFunc(refs, func(o TemplateRef) bool { return o.Name == r.Name }) < i {
			v.add(rp+".name", "template %q is listed twice", r.Name)
		}
		seen := map[string]bool{}
		for k, a := range r.Args {
			ap := fmt.Sprintf("%s.args[%d]", rp, k)
			if !validArgName(a.Name) {
				v.add(ap+".name", "%q is not an arg name (letters, digits, - and _)", a.Name)
			} else if seen[a.Name] {
				v.add(ap+".name", "%q is given twice", a.Name)
			}
			seen[a.Name] = true
			if a.Value == nil {
				v.add(ap+".value", "is required")
			}
		}
	}
}

// templateDir checks spec.analysis.templateDir: a directory of the
// repository, from its root.
func (v *validator) templateDir(p, dir string) {
	if dir == "" {
		return
	}
	if !fs.ValidPath(strings.TrimSuffix(dir, "/")) || strings.HasPrefix(dir, "/") {
		v.add(p, "%q is not a directory of the repository: give a relative path without .. (e.g. analysis)", dir)
	}
}
