// Package analysis runs the analysis steps of a release: it resolves a
// step's metrics into counter queries and a schedule of looks (recorded
// in git when the analysis starts), reads each look's exact counts from a
// Source at the recorded timestamps, and has pkg/judge decide. Reading
// at recorded timestamps is what makes a verdict reproducible: a resumed
// process, or `gitcanary analysis replay` a month later, reads the same
// counts and reaches the same verdict.
package analysis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/prom"
	"github.com/gitcanary/gitcanary/pkg/redact"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Source counts events exactly from counter series (pkg/prom's Client).
type Source interface {
	// Count counts, per value of the label by, the events of the counter
	// series sel selects in w, from the samples stored at or before its
	// end: asking again later gives the same counts. Errors that mean
	// the store could not answer wrap prom.ErrUnavailable or
	// prom.ErrNotSettled.
	Count(ctx context.Context, sel prom.Selector, by string, w prom.Window) (map[string]*prom.Count, error)
}

var _ Source = (*prom.Client)(nil)

// Istio's standard metrics, as its telemetry exports them (reporter
// "destination": the sidecar of the pod that served the request).
const (
	istioRequests = "istio_requests_total"
	istioDuration = "istio_request_duration_milliseconds"
	istioVersion  = "destination_version"
)

// Settings are what a run takes from outside the spec.
type Settings struct {
	// Prometheus is the address used when spec.analysis has none.
	Prometheus string
	// ReadFile reads the repository at the commit the analysis starts
	// on: AnalysisTemplate files. Nil: a step with templates cannot start.
	ReadFile release.ReadFile
	// Headers are the web metrics' headers of gitcanary's configuration;
	// when set, a web metric naming a header it lacks is refused at the
	// start. Nil: not checked (plan and lint without the configuration).
	Headers HeaderSource
	// Web reads web metrics (a WebClient with the same headers).
	Web Fetcher
}

// lagScrapes is how many scrape intervals after a look's end it is read:
// a sample is stamped with its scrape's start and stored when the scrape
// ends, at most a scrape timeout (at most an interval) later.
const lagScrapes = 2

// Resolve makes the record of the analysis of step, starting now: the
// schedule of looks and every metric as counter selectors.
func Resolve(spec release.Spec, step int, stable string, now time.Time, s Settings) (*release.AnalysisRun, error) {
	a := spec.Steps[step].Analysis
	if a == nil {
		return nil, fmt.Errorf("step %d is not an analysis", step)
	}
	return resolve(spec, fmt.Sprintf("step %d", step), schedule{step: step, interval: a.IntervalOrDefault(), warmup: a.WarmupOrZero(), looks: a.Looks(),
		expand: func(read release.ReadFile) ([]release.ExpandedMetric, error) {
			return release.ExpandMetrics(spec, step, read)
		}}, stable, now, s)
}

// ResolveBackground makes the record of the background analysis
// (spec.analysis.background), starting now at step: a schedule without
// horizon (release.BackgroundLooks looks).
func ResolveBackground(spec release.Spec, step int, stable string, now time.Time, s Settings) (*release.AnalysisRun, error) {
	b := spec.Analysis.Background
	if b == nil {
		return nil, fmt.Errorf("the release has no background analysis")
	}
	return resolve(spec, "the background analysis", schedule{step: step, background: true, interval: b.IntervalOrDefault(), warmup: b.WarmupOrZero(), looks: release.BackgroundLooks,
		expand: func(read release.ReadFile) ([]release.ExpandedMetric, error) {
			return release.ExpandBackground(spec, read)
		}}, stable, now, s)
}

// schedule is what an analysis step or the background analysis gives
// Resolve.
type schedule struct {
	step             int
	background       bool
	interval, warmup time.Duration
	looks            int
	// expand returns the metrics, templates expanded.
	expand func(release.ReadFile) ([]release.ExpandedMetric, error)
}

func resolve(spec release.Spec, what string, sc schedule, stable string, now time.Time, s Settings) (*release.AnalysisRun, error) {
	addr := spec.Analysis.PrometheusAddress()
	if addr == "" {
		addr = s.Prometheus
	}
	if addr == "" {
		return nil, fmt.Errorf("%s is an analysis, but no Prometheus is set: set spec.analysis.prometheus.address, --prometheus or GITCANARY_PROMETHEUS_URL: %w", what, release.ErrInvalid)
	}
	scrape := spec.Analysis.ScrapeIntervalOrDefault()
	run := &release.AnalysisRun{
		Step:       sc.step,
		Background: sc.background,
		Start:      now.UTC().Truncate(time.Second),
		Interval:   release.Duration{Duration: sc.interval},
		Warmup:     release.Duration{Duration: sc.warmup},
		Looks:      sc.looks,
		Scrape:     release.Duration{Duration: scrape},
		Lag:        release.Duration{Duration: lagScrapes * scrape},
		Alpha:      spec.Analysis.AlphaOrDefault(),
		Detect:     spec.Analysis.DetectOrDefault(),
		Canary:     spec.Version,
		Stable:     stable,
		Prometheus: redact.URL(addr),
	}
	host := kube.HostFQDN(spec.Traffic.Host, spec.Workload.Namespace)
	read := s.ReadFile
	if read == nil {
		read = func(p string) ([]byte, error) {
			return nil, fmt.Errorf("no repository to read AnalysisTemplate %s from", p)
		}
	}
	metrics, err := sc.expand(read)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{
		release.PhCanary: spec.Version, release.PhStable: stable, release.PhNamespace: spec.Workload.Namespace,
		release.PhHost: host, release.PhInterval: promDuration(run.Interval.Duration),
	}
	for _, m := range metrics {
		var r release.ResolvedMetric
		if m.Compare != nil {
			r, err = resolveMetric(m.Metric, host)
		} else {
			r, err = resolveConditions(m, vars, s.Headers)
		}
		if err != nil {
			return nil, fmt.Errorf("%s metric %s: %w", what, m.Name, err)
		}
		r.DryRun, r.Template, r.Args = m.DryRun, m.Template, m.Args
		run.Metrics = append(run.Metrics, r)
	}
	return run, nil
}

func resolveMetric(m release.Metric, host string) (release.ResolvedMetric, error) {
	c := m.Compare
	server := []prom.Matcher{prom.Eq("reporter", "destination"), prom.Eq("destination_service", host)}
	switch c.Istio {
	case release.IstioErrors:
		total := prom.NewSelector(istioRequests, server...)
		bad := total.With(prom.Re("response_code", "5.."))
		return release.ResolvedMetric{Name: m.Name, Bad: bad.String(), Total: total.String(), VersionLabel: istioVersion}, nil
	case release.IstioLatency:
		ms := float64(c.SlowerThan.Duration) / float64(time.Millisecond)
		total := prom.NewSelector(istioDuration+"_count", server...)
		fast := prom.NewSelector(istioDuration+"_bucket", server...).With(prom.Eq("le", strconv.FormatFloat(ms, 'g', -1, 64)))
		return release.ResolvedMetric{Name: m.Name, Bad: fast.String(), Total: total.String(), VersionLabel: istioVersion, Complement: true}, nil
	}
	return release.ResolvedMetric{Name: m.Name, Bad: c.Bad, Total: c.Total, VersionLabel: c.VersionLabelOrDefault()}, nil
}
