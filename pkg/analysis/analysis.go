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
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/redact"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Source reads counters. Prometheus implements it (pkg/prom).
type Source interface {
	// Increase returns the exact increase of the counters sel selects
	// (summed over their series) from t0 to t1, and the increases between
	// the samples in that window (the sub-intervals the judge estimates
	// dispersion from). It depends only on samples stored at or before
	// t1, so asking again later gives the same answer. An error that is
	// not the selector's fault wraps ErrUnavailable.
	Increase(ctx context.Context, sel release.Selector, t0, t1 time.Time) (Increase, error)
}

// Increase is what a Source counted.
type Increase struct {
	Total int64
	// Steps are the increases between consecutive samples, in order.
	Steps []int64
}

// ErrUnavailable marks an error of the metrics store (unreachable, an
// error status, a timeout): the analysis could not find out, which is
// never evidence against the canary.
var ErrUnavailable = errors.New("metrics unavailable")

// DefaultLag is how long after a look's end its counts are read: two
// scrape intervals of Istio's default 15 s, so that Prometheus holds the
// samples at the look's end.
const DefaultLag = 30 * time.Second

// Istio's standard metrics, as its telemetry exports them (reporter
// "destination": the sidecar of the pod that served the request).
const (
	istioRequests = "istio_requests_total"
	istioDuration = "istio_request_duration_milliseconds"
	istioVersion  = "destination_version"
)

// Settings are what a run takes from outside the step.
type Settings struct {
	// Prometheus is the address used when spec.analysis has none.
	Prometheus string
	// Lag overrides DefaultLag (0: the default).
	Lag time.Duration
}

// Resolve makes the record of the analysis of step, starting now: the
// schedule of looks and every metric as counter selectors.
func Resolve(spec release.Spec, step int, stable string, now time.Time, s Settings) (*release.AnalysisRun, error) {
	a := spec.Steps[step].Analysis
	if a == nil {
		return nil, fmt.Errorf("step %d is not an analysis", step)
	}
	addr := spec.Analysis.PrometheusAddress()
	if addr == "" {
		addr = s.Prometheus
	}
	if addr == "" {
		return nil, fmt.Errorf("step %d is an analysis, but no Prometheus is set: set spec.analysis.prometheus.address, --prometheus or GITCANARY_PROMETHEUS_URL: %w", step, release.ErrInvalid)
	}
	lag := s.Lag
	if lag <= 0 {
		lag = DefaultLag
	}
	run := &release.AnalysisRun{
		Step:       step,
		Start:      now.UTC().Truncate(time.Second),
		Interval:   release.Duration{Duration: a.IntervalOrDefault()},
		Warmup:     release.Duration{Duration: a.WarmupOrZero()},
		Looks:      a.Looks(),
		Lag:        release.Duration{Duration: lag},
		Alpha:      spec.Analysis.AlphaOrDefault(),
		Detect:     spec.Analysis.DetectOrDefault(),
		Canary:     spec.Version,
		Stable:     stable,
		Prometheus: redact.URL(addr),
	}
	host := kube.HostFQDN(spec.Traffic.Host, spec.Workload.Namespace)
	for _, m := range a.Metrics {
		r, err := resolveMetric(m, host)
		if err != nil {
			return nil, fmt.Errorf("step %d metric %s: %w", step, m.Name, err)
		}
		run.Metrics = append(run.Metrics, r)
	}
	return run, nil
}

func resolveMetric(m release.Metric, host string) (release.ResolvedMetric, error) {
	c := m.Compare
	if c == nil {
		return release.ResolvedMetric{}, fmt.Errorf("only compare metrics can be run: %w", release.ErrInvalid)
	}
	server := []release.Matcher{{Label: "reporter", Op: "=", Value: "destination"}, {Label: "destination_service", Op: "=", Value: host}}
	switch c.Istio {
	case release.IstioErrors:
		total := release.Selector{Name: istioRequests, Matchers: server}
		bad := total.With(release.Matcher{Label: "response_code", Op: "=~", Value: "5.."})
		return release.ResolvedMetric{Name: m.Name, Bad: bad.String(), Total: total.String(), VersionLabel: istioVersion}, nil
	case release.IstioLatency:
		ms := float64(c.SlowerThan.Duration) / float64(time.Millisecond)
		total := release.Selector{Name: istioDuration + "_count", Matchers: server}
		fast := release.Selector{Name: istioDuration + "_bucket", Matchers: server}.With(release.Matcher{Label: "le", Op: "=", Value: strconv.FormatFloat(ms, 'g', -1, 64)})
		return release.ResolvedMetric{Name: m.Name, Bad: fast.String(), Total: total.String(), VersionLabel: istioVersion, Complement: true}, nil
	}
	label := c.VersionLabel
	if label == "" {
		label = "version"
	}
	return release.ResolvedMetric{Name: m.Name, Bad: c.Bad, Total: c.Total, VersionLabel: label}, nil
}
