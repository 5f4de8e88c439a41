package release

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gitcanary/gitcanary/pkg/prom"
	"github.com/gitcanary/gitcanary/pkg/redact"
)

// AnalysisDefaults is spec.analysis: what every analysis step of the
// release uses unless the step says otherwise.
type AnalysisDefaults struct {
	// Prometheus is where metrics are read; --prometheus or
	// GITCANARY_PROMETHEUS_URL when absent.
	Prometheus *Prometheus `json:"prometheus,omitempty"`
	// Alpha is the false-positive budget of one analysis on a canary
	// that is as good as the stable version (default 0.01).
	Alpha *float64 `json:"alpha,omitempty"`
	// Detect is the smallest canary/stable ratio of bad-event rates an
	// analysis must detect with 95% power (default 2).
	Detect *float64 `json:"detect,omitempty"`
	// Background is an analysis that runs alongside the steps, from
	// StartingStep until the promotion; it can only fail the release.
	Background *Background `json:"background,omitempty"`
	// TemplateDir is the repository directory of AnalysisTemplate files,
	// from the repository's root (default "analysis").
	TemplateDir string `json:"templateDir,omitempty"`
}

// Background is spec.analysis.background: one analysis from the step
// StartingStep (an index of spec.steps, as Argo Rollouts counts) until
// the promotion, never restarted. It has no horizon: it cannot succeed
// or be inconclusive, only fail, by the judge's sequential test, at any
// look, whatever the release is doing then (a pause, a weight step,
// another analysis); the failure abandons the release at once.
type Background struct {
	StartingStep int `json:"startingStep"`
	// Interval is the time between looks (default 30s).
	Interval *Duration `json:"interval,omitempty"`
	// Warmup is left out of the counts after the analysis starts.
	Warmup  *Duration `json:"warmup,omitempty"`
	Metrics []Metric  `json:"metrics,omitempty"`
	// Templates adds the metrics of AnalysisTemplate files, as a step's do.
	Templates []TemplateRef `json:"templates,omitempty"`
}

// IntervalOrDefault returns the time between looks.
func (b *Background) IntervalOrDefault() time.Duration {
	if b.Interval == nil {
		return DefaultInterval
	}
	return b.Interval.Duration
}

// WarmupOrZero returns the warmup.
func (b *Background) WarmupOrZero() time.Duration {
	if b.Warmup == nil {
		return 0
	}
	return b.Warmup.Duration
}

// BackgroundLooks is how many looks a background analysis reads at most:
// it stops reading after them (at one look every 30 s, 34 days).
const BackgroundLooks = 100_000

// Prometheus locates a Prometheus server.
type Prometheus struct {
	Address string `json:"address"`
	// ScrapeInterval is how often it scrapes the workloads (default 15s,
	// Istio's): a look is read two scrape intervals after its end, and
	// the stable version's counts per scrape measure how bursty its bad
	// events are.
	ScrapeInterval *Duration `json:"scrapeInterval,omitempty"`
}

// Analysis is an analysis step: the canary is judged against the stable
// version for Duration, one look per Interval after Warmup.
type Analysis struct {
	// Duration is the horizon: the verdict is final at its end at the latest.
	Duration *Duration `json:"duration,omitempty"`
	// Interval is the time between looks (default 30s).
	Interval *Duration `json:"interval,omitempty"`
	// Warmup is left out of every count: the canary's first requests
	// after a weight change (caches, connections) are not judged.
	Warmup *Duration `json:"warmup,omitempty"`
	// Metrics are judged together: the analysis fails when one fails.
	Metrics []Metric `json:"metrics,omitempty"`
	// Templates adds the metrics of AnalysisTemplate files (in
	// spec.analysis.templateDir), with their args.
	Templates []TemplateRef `json:"templates,omitempty"`
}

// Metric is one metric of an analysis step; exactly one of Compare,
// Query and Web is set.
type Metric struct {
	Name    string   `json:"name"`
	Compare *Compare `json:"compare,omitempty"`
	// Query is PromQL evaluated once per look, at the look's end.
	Query string `json:"query,omitempty"`
	// Web is an HTTP endpoint read once per look.
	Web *Web `json:"web,omitempty"`
	// SuccessCondition and FailureCondition go with Query and Web:
	// expr-lang expressions over result (Argo Rollouts' semantics).
	SuccessCondition string `json:"successCondition,omitempty"`
	FailureCondition string `json:"failureCondition,omitempty"`
	// FailureLimit is how many Failed looks a query or web metric
	// tolerates (default 0; negative: never fails on them).
	FailureLimit *int `json:"failureLimit,omitempty"`
	// InconclusiveLimit is how many Inconclusive looks it tolerates (default 0).
	InconclusiveLimit *int `json:"inconclusiveLimit,omitempty"`
	// ConsecutiveErrorLimit is how many looks in a row it tolerates that
	// could not be measured (default 4).
	ConsecutiveErrorLimit *int `json:"consecutiveErrorLimit,omitempty"`
	// DryRun: the metric is measured and recorded but never decides.
	DryRun bool `json:"dryRun,omitempty"`
}

// Web is a web metric: an HTTP endpoint and a JSONPath into its answer.
type Web struct {
	URL string `json:"url"`
	// JSONPath selects the value in a JSON answer (default {$}).
	JSONPath string `json:"jsonPath,omitempty"`
	// Method is GET (default), POST or PUT; Body goes with POST and PUT.
	Method string `json:"method,omitempty"`
	Body   string `json:"body,omitempty"`
	// Timeout bounds one request (default 10s).
	Timeout *Duration `json:"timeout,omitempty"`
	// Headers names headers whose values come from gitcanary's
	// configuration for the URL, never from git.
	Headers []string `json:"headers,omitempty"`
}

// Compare judges the canary's share of bad events against the stable
// version's. Either Istio names a built-in, or Bad and Total are counter
// selectors.
type Compare struct {
	// Istio is a built-in on Istio's standard metrics: "errors" (the
	// share of 5xx responses) or "latency" (the share of requests slower
	// than SlowerThan).
	Istio string `json:"istio,omitempty"`
	// SlowerThan is the latency bound for istio: latency; it must be a
	// bucket bound of istio_request_duration_milliseconds.
	SlowerThan *Duration `json:"slowerThan,omitempty"`
	// Bad and Total are PromQL selectors of counters (a metric name with
	// label matchers, no functions), e.g. http_requests_total{code=~"5.."}.
	Bad   string `json:"bad,omitempty"`
	Total string `json:"total,omitempty"`
	// VersionLabel is the label of Bad and Total naming the version
	// (default "version").
	VersionLabel string `json:"versionLabel,omitempty"`
}

// VersionLabelOrDefault returns the version label of Bad and Total.
func (c *Compare) VersionLabelOrDefault() string {
	if c.VersionLabel == "" {
		return "version"
	}
	return c.VersionLabel
}

// The built-in comparisons.
const (
	IstioErrors  = "errors"
	IstioLatency = "latency"
)

// IstioBuckets are the bucket bounds, in milliseconds, of Istio's
// istio_request_duration_milliseconds histogram (its default buckets).
var IstioBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

// Defaults of an analysis.
const (
	DefaultAlpha    = 0.01
	DefaultDetect   = 2.0
	DefaultInterval = 30 * time.Second
)

// AlphaOrDefault returns the false-positive budget in effect.
func (a *AnalysisDefaults) AlphaOrDefault() float64 {
	if a == nil || a.Alpha == nil {
		return DefaultAlpha
	}
	return *a.Alpha
}

// DetectOrDefault returns the ratio to detect in effect.
func (a *AnalysisDefaults) DetectOrDefault() float64 {
	if a == nil || a.Detect == nil {
		return DefaultDetect
	}
	return *a.Detect
}

// DefaultScrapeInterval is Istio's Prometheus scrape interval.
const DefaultScrapeInterval = 15 * time.Second

// ScrapeIntervalOrDefault returns the scrape interval in effect.
func (a *AnalysisDefaults) ScrapeIntervalOrDefault() time.Duration {
	if a == nil || a.Prometheus == nil || a.Prometheus.ScrapeInterval == nil {
		return DefaultScrapeInterval
	}
	return a.Prometheus.ScrapeInterval.Duration
}

// PrometheusAddress returns spec.analysis.prometheus.address, "" when absent.
func (a *AnalysisDefaults) PrometheusAddress() string {
	if a == nil || a.Prometheus == nil {
		return ""
	}
	return a.Prometheus.Address
}

// IntervalOrDefault returns the time between looks.
func (a *Analysis) IntervalOrDefault() time.Duration {
	if a.Interval == nil {
		return DefaultInterval
	}
	return a.Interval.Duration
}

// WarmupOrZero returns the warmup.
func (a *Analysis) WarmupOrZero() time.Duration {
	if a.Warmup == nil {
		return 0
	}
	return a.Warmup.Duration
}

// Looks is the number of looks up to the horizon.
func (a *Analysis) Looks() int {
	if a.Duration == nil {
		return 0
	}
	return int((a.Duration.Duration - a.WarmupOrZero()) / a.IntervalOrDefault())
}

// maxLooks bounds one analysis: each look is a set of queries recorded
// as evidence in git.
const maxLooks = 1000

func (v *validator) analysisDefaults(a *AnalysisDefaults, steps int) {
	if a == nil {
		return
	}
	if b := a.Background; b != nil {
		v.background("spec.analysis.background", b, steps)
	}
	if a.Prometheus != nil {
		v.prometheus("spec.analysis.prometheus.address", a.Prometheus.Address)
		if si := a.Prometheus.ScrapeInterval; si != nil && (si.Duration < time.Second || si.Duration > 10*time.Minute) {
			v.add("spec.analysis.prometheus.scrapeInterval", "must be from 1s to 10m, got %s", si.Duration)
		}
	}
	if a.Alpha != nil && !(*a.Alpha > 0 && *a.Alpha <= 0.2) {
		v.add("spec.analysis.alpha", "must be more than 0 and at most 0.2, got %g", *a.Alpha)
	}
	v.templateDir("spec.analysis.templateDir", a.TemplateDir)
	if a.Detect != nil && !(*a.Detect > 1 && *a.Detect <= 100) {
		v.add("spec.analysis.detect", "must be more than 1 (a canary as bad as the stable version cannot be told apart) and at most 100, got %g", *a.Detect)
	}
}

// prometheus checks a Prometheus address: an http(s) URL without credentials.
func (v *validator) prometheus(p, addr string) {
	if !v.required(p, addr) {
		return
	}
	if what := redact.Credential(addr); what != "" {
		v.add(p, "carries %s; credentials for Prometheus go in gitcanary's configuration, never in the Release, which is committed", what)
		return
	}
	u, err := url.Parse(addr)
	switch {
	case err != nil:
		v.add(p, "%q is not a URL: %v", addr, err)
	case u.Scheme != "http" && u.Scheme != "https":
		v.add(p, "scheme %q is not supported; use http:// or https://", u.Scheme)
	case u.Host == "":
		v.add(p, "%q has no host", addr)
	}
}

func (v *validator) analysis(p string, a *Analysis) {
	v.templateRefs(p+".templates", a.Templates)
	if a.Duration == nil {
		v.add(p+".duration", "is required: the horizon at which the verdict is final (e.g. 5m)")
	} else if a.Duration.Duration <= 0 {
		v.add(p+".duration", "must be positive, got %s", a.Duration.Duration)
	}
	if a.Interval != nil && a.Interval.Duration < time.Second {
		v.add(p+".interval", "must be at least 1s, got %s", a.Interval.Duration)
	}
	if a.Warmup != nil && a.Warmup.Duration < 0 {
		v.add(p+".warmup", "must not be negative, got %s", a.Warmup.Duration)
	}
	if a.Duration != nil && a.Duration.Duration > 0 && (a.Interval == nil || a.Interval.Duration >= time.Second) && (a.Warmup == nil || a.Warmup.Duration >= 0) {
		switch n := a.Looks(); {
		case n < 1:
			v.add(p+".duration", "%s leaves no look after a warmup of %s at one look every %s", a.Duration.Duration, a.WarmupOrZero(), a.IntervalOrDefault())
		case n > maxLooks:
			v.add(p+".interval", "%s gives %d looks in %s; at most %d: make it longer", a.IntervalOrDefault(), n, a.Duration.Duration, maxLooks)
		}
	}
	v.metrics(p, a.Metrics, len(a.Templates) > 0)
}

// background checks spec.analysis.background against a release of steps steps.
func (v *validator) background(p string, b *Background, steps int) {
	v.templateRefs(p+".templates", b.Templates)
	if b.StartingStep < 0 || b.StartingStep >= steps {
		v.add(p+".startingStep", "%d is not a step: spec.steps has %d, numbered from 0", b.StartingStep, steps)
	}
	if b.Interval != nil && b.Interval.Duration < time.Second {
		v.add(p+".interval", "must be at least 1s, got %s", b.Interval.Duration)
	}
	if b.Warmup != nil && b.Warmup.Duration < 0 {
		v.add(p+".warmup", "must not be negative, got %s", b.Warmup.Duration)
	}
	v.metrics(p, b.Metrics, len(b.Templates) > 0)
}

// metrics checks the metrics of an analysis at p.
func (v *validator) metrics(p string, ms []Metric, templates bool) {
	if len(ms) == 0 && !templates {
		v.add(p+".metrics", "is required: at least one metric to judge (or templates)")
	}
	names := map[string]bool{}
	for i, m := range ms {
		mp := fmt.Sprintf("%s.metrics[%d]", p, i)
		v.dnsLabel(mp+".name", m.Name)
		if names[m.Name] {
			v.add(mp+".name", "%q is used twice in this analysis", m.Name)
		}
		names[m.Name] = true
		v.metric(mp, m)
	}
}

func (v *validator) metric(p string, m Metric) {
	n := 0
	for _, set := range []bool{m.Compare != nil, m.Query != "", m.Web != nil} {
		if set {
			n++
		}
	}
	switch {
	case n != 1:
		v.add(p, "set exactly one of compare, query, web")
		return
	case m.Query != "" || m.Web != nil:
		v.conditionMetric(p, m)
		return
	case m.SuccessCondition != "" || m.FailureCondition != "":
		v.add(p, "successCondition and failureCondition go with query and web, not compare (compare is judged against the stable version)")
	case m.FailureLimit != nil || m.InconclusiveLimit != nil || m.ConsecutiveErrorLimit != nil:
		v.add(p, "failureLimit, inconclusiveLimit and consecutiveErrorLimit go with query and web, not compare (compare is judged statistically)")
	}
	c := m.Compare
	cp := p + ".compare"
	switch c.Istio {
	case IstioErrors:
		if c.SlowerThan != nil {
			v.add(cp+".slowerThan", "goes with istio: latency, not istio: errors")
		}
	case IstioLatency:
		switch {
		case c.SlowerThan == nil:
			v.add(cp+".slowerThan", "is required with istio: latency: the bound above which a request counts as slow (e.g. 250ms)")
		case !slices.Contains(IstioBuckets, float64(c.SlowerThan.Duration)/float64(time.Millisecond)):
			v.add(cp+".slowerThan", "%s is not a bucket bound of istio_request_duration_milliseconds; use one of %s", c.SlowerThan.Duration, bucketList())
		}
	case "":
		if c.SlowerThan != nil {
			v.add(cp+".slowerThan", "goes with istio: latency")
		}
		if c.Bad == "" || c.Total == "" {
			v.add(cp, "set istio (errors or latency), or both bad and total (counter selectors)")
			return
		}
		for _, f := range []struct{ name, sel string }{{"bad", c.Bad}, {"total", c.Total}} {
			if sel, err := prom.ParseSelector(f.sel); err != nil {
				v.add(cp+"."+f.name, "%v", err)
			} else if label := c.VersionLabelOrDefault(); sel.Has(label) {
				v.add(cp+"."+f.name, "selects on %s, the version label: gitcanary adds the canary's and the stable version's values itself", label)
			}
		}
		if c.VersionLabel != "" && !validLabelName(c.VersionLabel) {
			v.add(cp+".versionLabel", "%q is not a Prometheus label name", c.VersionLabel)
		}
		return
	default:
		v.add(cp+".istio", "must be errors or latency, got %q", c.Istio)
	}
	if c.Bad != "" || c.Total != "" || c.VersionLabel != "" {
		v.add(cp, "istio and bad/total are exclusive: set one or the other")
	}
}

func bucketList() string {
	var parts []string
	for _, b := range IstioBuckets {
		parts = append(parts, (time.Duration(b * float64(time.Millisecond))).String())
	}
	return strings.Join(parts, ", ")
}

func validLabelName(s string) bool {
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return s != ""
}
