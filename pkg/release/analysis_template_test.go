package release

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

const errorRatioTemplate = `apiVersion: gitcanary.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: error-ratio}
spec:
  args:
    - {name: max, value: "0.05"}
    - {name: service}
  metrics:
    - name: error-ratio
      query: 'sum(rate(errors{service="{{args.service}}",version="{{canary}}"}[{{interval}}])) / sum(rate(requests{service="{{args.service}}"}[{{interval}}]))'
      successCondition: 'isNaN(result[0]) || result[0] <= {{args.max}}'
      failureLimit: 1
    - name: smoke
      web: {url: 'http://tester/run?svc={{args.service}}&v={{canary}}', jsonPath: '{$.ok}'}
      successCondition: result == true
      dryRun: true
`

// repoFiles is a ReadFile over a map of files.
func repoFiles(files map[string]string) ReadFile {
	return func(p string) ([]byte, error) {
		if data, ok := files[p]; ok {
			return []byte(data), nil
		}
		return nil, &fs.PathError{Op: "read", Path: p, Err: fs.ErrNotExist}
	}
}

func templateSpec(t *testing.T, step string) Spec {
	t.Helper()
	r, err := Parse([]byte(strings.Replace(analysisYAML, "    - setWeight: 50\n", step+"    - setWeight: 50\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(r, ValidateOptions{}); err != nil {
		t.Fatal(err)
	}
	return r.Spec
}

const templateStep = `    - analysis:
        duration: 2m
        metrics: [{name: errors, compare: {istio: errors}}]
        templates:
          - name: error-ratio
            args: [{name: service, value: reviews}]
`

// TestExpandMetrics: a template's metrics follow the step's own, args
// substituted (defaults where the step gives none), built-in placeholders
// left for the start of the analysis, the file recorded.
func TestExpandMetrics(t *testing.T) {
	spec := templateSpec(t, templateStep)
	ms, err := ExpandMetrics(spec, 2, repoFiles(map[string]string{"analysis/error-ratio.yaml": errorRatioTemplate}))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 || ms[0].Name != "errors" || ms[1].Name != "error-ratio" || ms[2].Name != "smoke" {
		t.Fatalf("metrics %+v", ms)
	}
	q := ms[1]
	if want := `sum(rate(errors{service="reviews",version="{{canary}}"}[{{interval}}])) / sum(rate(requests{service="reviews"}[{{interval}}]))`; q.Query != want {
		t.Errorf("query\n got %s\nwant %s", q.Query, want)
	}
	if q.SuccessCondition != "isNaN(result[0]) || result[0] <= 0.05" || q.FailureLimitOrDefault() != 1 || q.ConsecutiveErrorLimitOrDefault() != 4 {
		t.Errorf("conditions %+v", q.Metric)
	}
	if q.Template != "analysis/error-ratio.yaml" || q.Args["max"] != "0.05" || q.Args["service"] != "reviews" {
		t.Errorf("provenance %s %v", q.Template, q.Args)
	}
	if w := ms[2]; w.Web.URL != "http://tester/run?svc=reviews&v={{canary}}" || !w.DryRun {
		t.Errorf("web %+v", w.Web)
	}
	// Another directory, a .yml file.
	spec.Analysis.TemplateDir = "ops/templates/"
	if _, err := ExpandMetrics(spec, 2, repoFiles(map[string]string{"ops/templates/error-ratio.yml": errorRatioTemplate})); err != nil {
		t.Errorf("templateDir: %v", err)
	}
}

// TestExpandMetricsErrors: each mistake names the file and the field.
func TestExpandMetricsErrors(t *testing.T) {
	tmpl := func(old, new string) map[string]string {
		s := strings.Replace(errorRatioTemplate, old, new, 1)
		if s == errorRatioTemplate && old != "" {
			t.Fatalf("edit %q did not apply", old)
		}
		return map[string]string{"analysis/error-ratio.yaml": s}
	}
	for _, tt := range []struct {
		name  string
		files map[string]string
		step  string
		want  string
	}{
		{"no file", map[string]string{}, templateStep,
			`spec.steps[2].analysis.templates[0].name: AnalysisTemplate "error-ratio": no file analysis/error-ratio.yaml (nor .yml) in the repository; templates live in spec.analysis.templateDir (default analysis/) from the repository's root`},
		{"missing arg", tmpl("", ""), strings.Replace(templateStep, "{name: service, value: reviews}", "", 1),
			`spec.steps[2].analysis.templates[0].args: arg "service" of analysis/error-ratio.yaml has no default: give it a value`},
		{"unknown arg", tmpl("", ""), strings.Replace(templateStep, "{name: service, value: reviews}", "{name: service, value: reviews}, {name: maximum, value: '1'}", 1),
			`spec.steps[2].analysis.templates[0].args[1].name: analysis/error-ratio.yaml has no arg "maximum"; its args are max, service`},
		{"undeclared arg", tmpl("{{args.max}}", "{{args.limit}}"), templateStep,
			`analysis/error-ratio.yaml: invalid analysis template:
  spec.metrics[0].successCondition: {{args.limit}}: "limit" is not declared in spec.args`},
		{"bad metric", tmpl("failureLimit: 1", "failureLimit: -5"), templateStep,
			`analysis/error-ratio.yaml (args from spec.steps[2].analysis.templates[0]): invalid analysis template:
  spec.metrics[0].failureLimit: must be -1 (never fail on Failed looks) or more, got -5`},
		{"bad condition after args", tmpl(`value: "0.05"`, `value: "0.05 <"`), templateStep,
			`spec.metrics[0].successCondition: "isNaN(result[0]) || result[0] <= 0.05 <" does not parse`},
		{"unknown field", tmpl("failureLimit: 1", "failureLimt: 1"), templateStep,
			`analysis/error-ratio.yaml: invalid analysis template:
  spec.metrics[0].failureLimt: unknown field`},
		{"wrong kind", tmpl("kind: AnalysisTemplate", "kind: ClusterAnalysisTemplate"), templateStep,
			`kind: must be AnalysisTemplate, got "ClusterAnalysisTemplate"`},
		{"name differs", tmpl("name: error-ratio}", "name: errors}"), templateStep,
			`analysis/error-ratio.yaml: invalid analysis template:
  metadata.name: is "errors", but the file is named for "error-ratio" (spec.steps[2].analysis.templates[0] uses it)`},
		{"two metrics of one name", tmpl("- name: smoke", "- name: errors"), templateStep,
			`spec.steps[2].analysis: two metrics are named "errors" (in the step and in analysis/error-ratio.yaml); metric names must be unique in an analysis`},
		{"not YAML", map[string]string{"analysis/error-ratio.yaml": "spec: [\n"}, templateStep,
			"analysis/error-ratio.yaml: invalid analysis template:\n  (document): not valid YAML"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ExpandMetrics(templateSpec(t, tt.step), 2, repoFiles(tt.files))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant ErrInvalid containing:\n%s", err, tt.want)
			}
		})
	}
}

// TestSubstitute: placeholders with spaces, unknown ones left alone.
func TestSubstitute(t *testing.T) {
	got := Substitute(`a{{ canary }}b{{args.x}}c{{other}}`, map[string]string{"canary": "v2", "args.x": "1"})
	if got != "av2b1c{{other}}" {
		t.Errorf("got %q", got)
	}
	if p := Placeholders("{{canary}} {{ args.max }}"); len(p) != 2 || p[1] != "args.max" {
		t.Errorf("placeholders %q", p)
	}
}
