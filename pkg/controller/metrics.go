package controller

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Metrics are the controller's Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	releases    *prometheus.GaugeVec
	weight      *prometheus.GaugeVec
	step        *prometheus.HistogramVec
	pushRetries prometheus.Counter
	syncLatency prometheus.Histogram
	errors      *prometheus.CounterVec

	mu      sync.Mutex
	phases  map[string]release.Phase // release key → phase, for the releases gauge
	weights map[string][]release.Weight
	synced  map[string]time.Time // release key → when its sync was requested
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		releases: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gitcanary_releases", Help: "Releases the controller drives, by phase.",
		}, []string{"phase"}),
		weight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gitcanary_release_weight", Help: "Traffic weight per version of each release, as last committed.",
		}, []string{"release", "version"}),
		step: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gitcanary_step_duration_seconds", Help: "Duration of one reconcile of a release, by what it did (start, control, commit, sync, or check).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"did"}),
		pushRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gitcanary_git_push_retries_total", Help: "Pushes rejected because the branch moved, retried on the new head.",
		}),
		syncLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gitcanary_argocd_sync_latency_seconds", Help: "From a sync request to Argo CD until the commit took effect in the cluster.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 12),
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitcanary_errors_total", Help: "Reconcile errors by reason.",
		}, []string{"reason"}),
		phases:  map[string]release.Phase{},
		weights: map[string][]release.Weight{},
		synced:  map[string]time.Time{},
	}
	reg.MustRegister(m.releases, m.weight, m.step, m.pushRetries, m.syncLatency, m.errors)
	return m
}

// ErrorReason classifies an error for gitcanary_errors_total.
func ErrorReason(err error) string {
	switch {
	case errors.Is(err, ErrChangedSpec):
		return "changed-spec"
	case errors.Is(err, ErrPanic):
		return "panic"
	case errors.Is(err, release.ErrInvalid):
		return "invalid"
	case errors.Is(err, machine.ErrRefused):
		return "refused"
	case errors.Is(err, machine.ErrSuperseded):
		return "superseded"
	case errors.Is(err, argocd.ErrNotAuthorized):
		return "not-granted"
	case errors.Is(err, argocd.ErrMismatch):
		return "application"
	case errors.Is(err, ErrOtherNamespace):
		return "other-namespace"
	case errors.Is(err, argocd.ErrNotFound):
		return "argocd"
	}
	return "other"
}

func key(r *release.Release) string { return r.Metadata.Namespace + "/" + r.Metadata.Name }

func (m *Metrics) observe(r *release.Release, res Result, err error, took time.Duration) {
	if m == nil {
		return
	}
	did := res.Did
	if did == "" {
		did = "check"
	}
	m.step.WithLabelValues(did).Observe(took.Seconds())
	if err != nil {
		m.errors.WithLabelValues(ErrorReason(err)).Inc()
	}
	if res.Pushes > 1 {
		m.pushRetries.Add(float64(res.Pushes - 1))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := key(r)
	switch {
	case res.Did == "sync":
		m.synced[k] = time.Now()
	case res.Converged || res.priorConverged:
		if t, ok := m.synced[k]; ok {
			m.syncLatency.Observe(time.Since(t).Seconds())
			delete(m.synced, k)
		}
	}
	if res.Record != nil && res.Record.Status != nil {
		m.setLocked(k, res.Record.Status.Phase, res.Record.Status.Weights)
	}
}

// Forget drops a release the controller no longer drives (deleted).
func (m *Metrics) Forget(namespace, name string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := namespace + "/" + name
	m.setLocked(k, "", nil)
	delete(m.phases, k)
	delete(m.synced, k)
}

func (m *Metrics) setLocked(k string, phase release.Phase, ws []release.Weight) {
	if old, ok := m.phases[k]; ok {
		m.releases.WithLabelValues(string(old)).Dec()
	}
	if phase != "" {
		m.phases[k] = phase
		m.releases.WithLabelValues(string(phase)).Inc()
	}
	for _, w := range m.weights[k] {
		m.weight.DeleteLabelValues(k, w.Version)
	}
	m.weights[k] = ws
	for _, w := range ws {
		m.weight.WithLabelValues(k, w.Version).Set(float64(w.Weight))
	}
	if ws == nil {
		delete(m.weights, k)
	}
}
