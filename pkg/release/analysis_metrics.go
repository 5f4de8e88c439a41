package release

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
	"k8s.io/client-go/util/jsonpath"

	"github.com/gitcanary/gitcanary/pkg/condition"
	"github.com/gitcanary/gitcanary/pkg/redact"
)

// Query and web metrics: a value read once per look and judged by
// conditions, with Argo Rollouts' limits. Their strings may hold
// placeholders, substituted when the analysis starts (and recorded so).

// Defaults of a query or web metric, Argo Rollouts' own.
const (
	DefaultFailureLimit          = 0
	DefaultInconclusiveLimit     = 0
	DefaultConsecutiveErrorLimit = 4
	DefaultWebTimeout            = 10 * time.Second
)

// FailureLimitOrDefault returns the failure limit in effect.
func (m Metric) FailureLimitOrDefault() int { return intOr(m.FailureLimit, DefaultFailureLimit) }

// InconclusiveLimitOrDefault returns the inconclusive limit in effect.
func (m Metric) InconclusiveLimitOrDefault() int {
	return intOr(m.InconclusiveLimit, DefaultInconclusiveLimit)
}

// ConsecutiveErrorLimitOrDefault returns the consecutive error limit in effect.
func (m Metric) ConsecutiveErrorLimitOrDefault() int {
	return intOr(m.ConsecutiveErrorLimit, DefaultConsecutiveErrorLimit)
}

func intOr(p *int, d int) int {
	if p == nil {
		return d
	}
	return *p
}

// The placeholders a query, web or compare string may hold. args.NAME
// only in AnalysisTemplate files.
const (
	PhCanary    = "canary"    // the new version
	PhStable    = "stable"    // the version it is compared with
	PhNamespace = "namespace" // the workload's namespace
	PhHost      = "host"      // the traffic host, fully qualified
	PhInterval  = "interval"  // the step's interval, as a PromQL duration (30s)
	argsPrefix  = "args."
)

var placeholderRE = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

// Placeholders returns the names of the placeholders in s, in order.
func Placeholders(s string) []string {
	var out []string
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// Substitute replaces the placeholders of s named in vars; others stay.
func Substitute(s string, vars map[string]string) string {
	return placeholderRE.ReplaceAllStringFunc(s, func(ph string) string {
		if v, ok := vars[placeholderRE.FindStringSubmatch(ph)[1]]; ok {
			return v
		}
		return ph
	})
}

// builtins stand for the placeholders gitcanary fills, when a string is
// checked before they are known.
var builtins = map[string]string{PhCanary: "v2", PhStable: "v1", PhNamespace: "default", PhHost: "svc.default.svc.cluster.local", PhInterval: "30s"}

// placeholders checks the placeholders of s: the built-in ones, and none
// of args (they are substituted before a template's metrics are checked).
func (v *validator) placeholders(p, s string) {
	for _, name := range Placeholders(s) {
		switch {
		case builtins[name] != "":
		case strings.HasPrefix(name, argsPrefix):
			v.add(p, "{{%s}}: args are given to AnalysisTemplates; a metric in the Release has none", name)
		default:
			v.add(p, "unknown placeholder {{%s}}; use {{canary}}, {{stable}}, {{namespace}}, {{host}}, {{interval}} or, in a template, {{args.NAME}}", name)
		}
	}
}

// conditionMetric checks a query or web metric.
func (v *validator) conditionMetric(p string, m Metric) {
	if m.Query != "" {
		v.placeholders(p+".query", m.Query)
	}
	if m.Web != nil {
		v.web(p+".web", m.Web)
	}
	for _, c := range []struct{ field, src string }{{"successCondition", m.SuccessCondition}, {"failureCondition", m.FailureCondition}} {
		v.placeholders(p+"."+c.field, c.src)
		if _, err := condition.Compile(Substitute(c.src, builtins)); err != nil {
			v.add(p+"."+c.field, "%v", err)
		}
	}
	if l := m.FailureLimit; l != nil && *l < -1 {
		v.add(p+".failureLimit", "must be -1 (never fail on Failed looks) or more, got %d", *l)
	}
	if l := m.InconclusiveLimit; l != nil && *l < 0 {
		v.add(p+".inconclusiveLimit", "must not be negative, got %d", *l)
	}
	if l := m.ConsecutiveErrorLimit; l != nil && *l < 0 {
		v.add(p+".consecutiveErrorLimit", "must not be negative, got %d", *l)
	}
}

// web checks a web metric: an http(s) URL without credentials (headers
// with secrets come from gitcanary's configuration).
func (v *validator) web(p string, w *Web) {
	if v.required(p+".url", w.URL) {
		v.placeholders(p+".url", w.URL)
		raw := Substitute(w.URL, builtins)
		u, err := url.Parse(raw)
		switch {
		case redact.Credential(raw) != "":
			v.add(p+".url", "carries %s; a web metric's credentials go in gitcanary's configuration (web headers), never in the Release or a template, which are committed", redact.Credential(raw))
		case err != nil:
			v.add(p+".url", "%q is not a URL: %v", w.URL, err)
		case u.Scheme != "http" && u.Scheme != "https":
			v.add(p+".url", "scheme %q is not supported; use http:// or https://", u.Scheme)
		case u.Host == "":
			v.add(p+".url", "%q has no host", w.URL)
		}
	}
	if w.JSONPath != "" {
		v.placeholders(p+".jsonPath", w.JSONPath)
		if err := jsonpath.New("web").Parse(Substitute(w.JSONPath, builtins)); err != nil {
			v.add(p+".jsonPath", "%q: %v", w.JSONPath, err)
		}
	}
	switch w.Method {
	case "", http.MethodGet:
		if w.Body != "" {
			v.add(p+".body", "goes with method POST or PUT, not GET")
		}
	case http.MethodPost, http.MethodPut:
	default:
		v.add(p+".method", "must be GET, POST or PUT, got %q", w.Method)
	}
	v.placeholders(p+".body", w.Body)
	if t := w.Timeout; t != nil && (t.Duration < 100*time.Millisecond || t.Duration > 5*time.Minute) {
		v.add(p+".timeout", "must be from 100ms to 5m, got %s", t.Duration)
	}
	for i, h := range w.Headers {
		hp := fmt.Sprintf("%s.headers[%d]", p, i)
		switch {
		case strings.Contains(h, ":"):
			v.add(hp, "%q: give the header's name only; its value comes from gitcanary's configuration", h)
		case !httpguts.ValidHeaderFieldName(h):
			v.add(hp, "%q is not an HTTP header name", h)
		case slices.Index(w.Headers, h) < i:
			v.add(hp, "%q is listed twice", h)
		}
	}
}

// ResolvedConditions is the part of a resolved metric that query and web
// metrics have, and the provenance and dry run of any metric.
type ResolvedConditions struct {
	// Query is the PromQL evaluated at each look's end.
	Query string       `json:"query,omitempty"`
	Web   *ResolvedWeb `json:"web,omitempty"`
	// SuccessCondition and FailureCondition judge each look's value.
	SuccessCondition string `json:"successCondition,omitempty"`
	FailureCondition string `json:"failureCondition,omitempty"`
	// Limits are set for query and web metrics, defaults applied.
	Limits *Limits `json:"limits,omitempty"`
	// DryRun: recorded and shown, never deciding.
	DryRun bool `json:"dryRun,omitempty"`
	// Template is the AnalysisTemplate file the metric came from, Args
	// the values its args had.
	Template string            `json:"template,omitempty"`
	Args     map[string]string `json:"args,omitempty"`
}

// Limits are Argo Rollouts' limits of a query or web metric.
type Limits struct {
	Failure          int `json:"failure"`
	Inconclusive     int `json:"inconclusive"`
	ConsecutiveError int `json:"consecutiveError"`
}

// ResolvedWeb is a web metric's request, placeholders filled. Header
// values are never recorded: only the names of those the metric asks
// gitcanary's configuration for.
type ResolvedWeb struct {
	URL      string   `json:"url"`
	Method   string   `json:"method"`
	Body     string   `json:"body,omitempty"`
	JSONPath string   `json:"jsonPath"`
	Timeout  Duration `json:"timeout"`
	Headers  []string `json:"headers,omitempty"`
}

// The kinds of metrics.
const (
	KindCompare = "compare"
	KindQuery   = "query"
	KindWeb     = "web"
)

// Kind says how the metric is read and judged.
func (m ResolvedMetric) Kind() string {
	switch {
	case m.Query != "":
		return KindQuery
	case m.Web != nil:
		return KindWeb
	}
	return KindCompare
}
