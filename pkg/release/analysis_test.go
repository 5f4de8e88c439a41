package release

import (
	"errors"
	"strings"
	"testing"
)

// analysisYAML is validYAML with an analysis step and defaults.
const analysisYAML = validYAML + `  analysis:
    prometheus: {address: "http://prometheus.istio-system.svc:9090"}
    alpha: 0.01
    detect: 2
`

const analysisStep = `    - analysis:
        duration: 5m
        interval: 30s
        warmup: 30s
        metrics:
          - {name: errors, compare: {istio: errors}}
          - {name: latency, compare: {istio: latency, slowerThan: 250ms}}
          - {name: checkout, compare: {bad: 'checkout_total{outcome="failed"}', total: checkout_total, versionLabel: app_version}}
`

func withAnalysis() string {
	return strings.Replace(analysisYAML, "    - setWeight: 50\n", analysisStep+"    - setWeight: 50\n", 1)
}

func TestAnalysisStepValidates(t *testing.T) {
	r, err := Parse([]byte(withAnalysis()))
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(r, ValidateOptions{}); err != nil {
		t.Fatal(err)
	}
	a := r.Spec.Steps[2].Analysis
	if a == nil || a.Looks() != 9 || a.IntervalOrDefault().String() != "30s" || a.WarmupOrZero().String() != "30s" {
		t.Fatalf("analysis step = %+v, looks %d", a, a.Looks())
	}
	if got := r.Spec.Steps[2].Describe(); got != "analysis 5m0s" {
		t.Errorf("Describe = %q", got)
	}
	if r.Spec.Analysis.AlphaOrDefault() != 0.01 || r.Spec.Analysis.DetectOrDefault() != 2 || r.Spec.Analysis.PrometheusAddress() == "" {
		t.Errorf("defaults = %+v", r.Spec.Analysis)
	}
	var none *AnalysisDefaults
	if none.AlphaOrDefault() != DefaultAlpha || none.DetectOrDefault() != DefaultDetect || none.PrometheusAddress() != "" {
		t.Error("nil defaults")
	}
}

func TestBackgroundValidates(t *testing.T) {
	doc := strings.Replace(withAnalysis(), "    detect: 2\n", "    detect: 2\n    background: {startingStep: 1, interval: 20s, metrics: [{name: errors, compare: {istio: errors}}]}\n", 1)
	r, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(r, ValidateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := r.Spec.Analysis.Background
	if b == nil || b.StartingStep != 1 || b.IntervalOrDefault().String() != "20s" || len(b.Metrics) != 1 {
		t.Fatalf("background = %+v", b)
	}
}

func TestAnalysisValidation(t *testing.T) {
	cases := []struct{ name, old, new, want string }{
		{"no duration", "        duration: 5m\n", "", "spec.steps[2].analysis.duration: is required: the horizon at which the verdict is final (e.g. 5m)"},
		{"negative duration", "duration: 5m", "duration: -5m", "spec.steps[2].analysis.duration: must be positive, got -5m0s"},
		{"warmup eats the horizon", "warmup: 30s", "warmup: 5m", "spec.steps[2].analysis.duration: 5m0s leaves no look after a warmup of 5m0s at one look every 30s"},
		{"too many looks", "duration: 5m\n        interval: 30s", "duration: 2h\n        interval: 1s", "spec.steps[2].analysis.interval: 1s gives 7170 looks in 2h0m0s; at most 1000: make it longer"},
		{"interval under a second", "interval: 30s", "interval: 100ms", "spec.steps[2].analysis.interval: must be at least 1s, got 100ms"},
		{"no metrics", "        metrics:\n", "        metrics: []\n        x:\n", "spec.steps[2].analysis.x: unknown field"},
		{"empty metrics", "          - {name: errors, compare: {istio: errors}}\n          - {name: latency, compare: {istio: latency, slowerThan: 250ms}}\n          - {name: checkout, compare: {bad: 'checkout_total{outcome=\"failed\"}', total: checkout_total, versionLabel: app_version}}\n", "", "spec.steps[2].analysis.metrics: is required: at least one metric to judge"},
		{"metric name twice", "name: latency", "name: errors", `spec.steps[2].analysis.metrics[1].name: "errors" is used twice in this analysis`},
		{"metric name not a label", "name: latency", "name: Latency_P99", `spec.steps[2].analysis.metrics[1].name: "Latency_P99" is not a DNS-1123 label`},
		{"unknown istio metric", "istio: errors}", "istio: saturation}", `spec.steps[2].analysis.metrics[0].compare.istio: must be errors or latency, got "saturation"`},
		{"latency without bound", "istio: latency, slowerThan: 250ms", "istio: latency", "spec.steps[2].analysis.metrics[1].compare.slowerThan: is required with istio: latency"},
		{"latency bound not a bucket", "slowerThan: 250ms", "slowerThan: 300ms", "spec.steps[2].analysis.metrics[1].compare.slowerThan: 300ms is not a bucket bound of istio_request_duration_milliseconds; use one of 500µs, 1ms, 5ms"},
		{"errors with a bound", "istio: errors}", "istio: errors, slowerThan: 250ms}", "spec.steps[2].analysis.metrics[0].compare.slowerThan: goes with istio: latency, not istio: errors"},
		{"istio and selectors", "istio: errors}", "istio: errors, total: x_total}", "spec.steps[2].analysis.metrics[0].compare: istio and bad/total are exclusive"},
		{"bad without total", ", total: checkout_total", "", "spec.steps[2].analysis.metrics[2].compare: set istio (errors or latency), or both bad and total (counter selectors)"},
		{"bad is a function", `bad: 'checkout_total{outcome="failed"}'`, `bad: 'rate(checkout_total[1m])'`, `spec.steps[2].analysis.metrics[2].compare.bad: invalid series selector "rate(checkout_total[1m])": unexpected "(checkout_total[1m])" after the metric name; only a metric name and {label matchers} are allowed (no functions, ranges or offsets)`},
		{"bad with a range", `bad: 'checkout_total{outcome="failed"}'`, `bad: 'checkout_total{outcome="failed"}[5m]'`, `unexpected "[5m]" after the selector; only a metric name and {label matchers} are allowed`},
		{"bad regexp", `bad: 'checkout_total{outcome="failed"}'`, `bad: 'checkout_total{outcome=~"fail("}'`, "invalid series selector: label outcome: regular expression \"fail(\""},
		{"bad selects on the version", `bad: 'checkout_total{outcome="failed"}'`, `bad: 'checkout_total{outcome="failed",app_version="v2"}'`, "spec.steps[2].analysis.metrics[2].compare.bad: selects on app_version, the version label: gitcanary adds the canary's and the stable version's values itself"},
		{"scrape interval too short", `address: "http://prometheus.istio-system.svc:9090"`, `address: "http://prometheus.istio-system.svc:9090", scrapeInterval: 100ms`, "spec.analysis.prometheus.scrapeInterval: must be from 1s to 10m, got 100ms"},
		{"bad version label", "versionLabel: app_version", "versionLabel: app-version", `spec.steps[2].analysis.metrics[2].compare.versionLabel: "app-version" is not a Prometheus label name`},
		{"no kind of metric", "{name: errors, compare: {istio: errors}}", "{name: errors}", "spec.steps[2].analysis.metrics[0]: set exactly one of compare, query, web"},
		{"query and compare", "{name: errors, compare: {istio: errors}}", "{name: errors, compare: {istio: errors}, query: 'up'}", "spec.steps[2].analysis.metrics[0]: set exactly one of compare, query, web"},
		{"condition does not parse", "{name: errors, compare: {istio: errors}}", "{name: errors, query: 'up', successCondition: 'result[0] <'}", `spec.steps[2].analysis.metrics[0].successCondition: "result[0] <" does not parse: unexpected token EOF`},
		{"unknown placeholder", "{name: errors, compare: {istio: errors}}", "{name: errors, query: 'up{v=\"{{version}}\"}'}", "spec.steps[2].analysis.metrics[0].query: unknown placeholder {{version}}; use {{canary}}, {{stable}}, {{namespace}}, {{host}}, {{interval}} or, in a template, {{args.NAME}}"},
		{"args outside a template", "{name: errors, compare: {istio: errors}}", "{name: errors, query: 'up > {{args.x}}'}", "spec.steps[2].analysis.metrics[0].query: {{args.x}}: args are given to AnalysisTemplates; a metric in the Release has none"},
		{"failure limit below -1", "{name: errors, compare: {istio: errors}}", "{name: errors, query: up, failureLimit: -2}", "spec.steps[2].analysis.metrics[0].failureLimit: must be -1 (never fail on Failed looks) or more, got -2"},
		{"negative error limit", "{name: errors, compare: {istio: errors}}", "{name: errors, query: up, consecutiveErrorLimit: -1}", "spec.steps[2].analysis.metrics[0].consecutiveErrorLimit: must not be negative, got -1"},
		{"limit on compare", "{name: errors, compare: {istio: errors}}", "{name: errors, compare: {istio: errors}, failureLimit: 2}", "spec.steps[2].analysis.metrics[0]: failureLimit, inconclusiveLimit and consecutiveErrorLimit go with query and web, not compare"},
		{"web with a password", "{name: errors, compare: {istio: errors}}", "{name: errors, web: {url: 'http://u:pw@tester/run'}}", "spec.steps[2].analysis.metrics[0].web.url: carries a password in its user info"},
		{"web not http", "{name: errors, compare: {istio: errors}}", "{name: errors, web: {url: 'ftp://tester/run'}}", `spec.steps[2].analysis.metrics[0].web.url: scheme "ftp" is not supported; use http:// or https://`},
		{"web body with GET", "{name: errors, compare: {istio: errors}}", "{name: errors, web: {url: 'http://tester/run', body: '{}'}}", "spec.steps[2].analysis.metrics[0].web.body: goes with method POST or PUT, not GET"},
		{"web method", "{name: errors, compare: {istio: errors}}", "{name: errors, web: {url: 'http://tester/run', method: DELETE}}", `spec.steps[2].analysis.metrics[0].web.method: must be GET, POST or PUT, got "DELETE"`},
		{"web jsonPath", "{name: errors, compare: {istio: errors}}", "{name: errors, web: {url: 'http://tester/run', jsonPath: '{$.ok'}}", `spec.steps[2].analysis.metrics[0].web.jsonPath: "{$.ok": unclosed action`},
		{"web header with a value", "{name: errors, compare: {istio: errors}}", "{name: errors, web: {url: 'http://tester/run', headers: ['Authorization: Bearer x']}}", `spec.steps[2].analysis.metrics[0].web.headers[0]: "Authorization: Bearer x": give the header's name only; its value comes from gitcanary's configuration`},
		{"web timeout", "{name: errors, compare: {istio: errors}}", "{name: errors, web: {url: 'http://tester/run', timeout: 10m}}", "spec.steps[2].analysis.metrics[0].web.timeout: must be from 100ms to 5m, got 10m0s"},
		{"condition on compare", "{name: errors, compare: {istio: errors}}", "{name: errors, compare: {istio: errors}, successCondition: 'true'}", "spec.steps[2].analysis.metrics[0]: successCondition and failureCondition go with query and web"},
		{"background starting step out of range", "    detect: 2\n", "    detect: 2\n    background: {startingStep: 9, metrics: [{name: errors, compare: {istio: errors}}]}\n", "spec.analysis.background.startingStep: 9 is not a step: spec.steps has 5, numbered from 0"},
		{"background negative starting step", "    detect: 2\n", "    detect: 2\n    background: {startingStep: -1, metrics: [{name: errors, compare: {istio: errors}}]}\n", "spec.analysis.background.startingStep: -1 is not a step"},
		{"background interval under a second", "    detect: 2\n", "    detect: 2\n    background: {interval: 10ms, metrics: [{name: errors, compare: {istio: errors}}]}\n", "spec.analysis.background.interval: must be at least 1s, got 10ms"},
		{"background without metrics", "    detect: 2\n", "    detect: 2\n    background: {startingStep: 1}\n", "spec.analysis.background.metrics: is required: at least one metric to judge"},
		{"background bad metric", "    detect: 2\n", "    detect: 2\n    background: {metrics: [{name: errors, compare: {istio: saturation}}]}\n", `spec.analysis.background.metrics[0].compare.istio: must be errors or latency, got "saturation"`},
		{"background with a horizon", "    detect: 2\n", "    detect: 2\n    background: {duration: 5m, metrics: [{name: errors, compare: {istio: errors}}]}\n", "spec.analysis.background.duration: unknown field"},
		{"template by a string", "        warmup: 30s\n", "        warmup: 30s\n        templates: [golden-signals]\n", "spec.steps.analysis.templates: expected an object, got a string"},
		{"template arg without value", "        warmup: 30s\n", "        warmup: 30s\n        templates: [{name: golden-signals, args: [{name: max}]}]\n", "spec.steps[2].analysis.templates[0].args[0].value: is required"},
		{"template listed twice", "        warmup: 30s\n", "        warmup: 30s\n        templates: [{name: slo}, {name: slo}]\n", `spec.steps[2].analysis.templates[1].name: template "slo" is listed twice`},
		{"template dir outside", "detect: 2", "detect: 2\n    templateDir: ../analysis", `spec.analysis.templateDir: "../analysis" is not a directory of the repository`},
		{"alpha too big", "alpha: 0.01", "alpha: 0.5", "spec.analysis.alpha: must be more than 0 and at most 0.2, got 0.5"},
		{"detect one", "detect: 2", "detect: 1", "spec.analysis.detect: must be more than 1 (a canary as bad as the stable version cannot be told apart) and at most 100, got 1"},
		{"prometheus with a password", "http://prometheus.istio-system.svc:9090", "http://admin:hunter2@prometheus:9090", "spec.analysis.prometheus.address: carries a password in its user info (user:password@); credentials for Prometheus go in gitcanary's configuration"},
		{"prometheus not http", "http://prometheus.istio-system.svc:9090", "prometheus:9090", `spec.analysis.prometheus.address: scheme "prometheus" is not supported; use http:// or https://`},
		{"prometheus empty", `address: "http://prometheus.istio-system.svc:9090"`, `address: ""`, "spec.analysis.prometheus.address: is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := withAnalysis()
			doc := strings.Replace(base, tc.old, tc.new, 1)
			if doc == base {
				t.Fatalf("edit %q did not apply", tc.old)
			}
			r, err := Parse([]byte(doc))
			if err == nil {
				err = Validate(r, ValidateOptions{})
			}
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}
