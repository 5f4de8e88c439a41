package controller

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Options configure Run.
type Options struct {
	Config *rest.Config
	Driver *Driver
	Kinds  *kube.Kinds
	// Resources: reconcile Release custom resources (the CRD must be installed).
	Resources bool
	// Namespace limits the custom resources watched; "" watches all.
	Namespace string
	// GitRepos are repositories whose releases/ files are driven.
	GitRepos    []release.Repo
	GitInterval time.Duration
	Workers     int

	MetricsAddr string // "0" disables the metrics endpoint
	ProbeAddr   string // "0" disables the health and readiness probes

	LeaderElect             bool
	LeaderElectionID        string
	LeaderElectionNamespace string
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election
	// (controller-runtime's defaults: 15s, 10s, 2s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration

	Log *slog.Logger
}

// eventBurst is how many Events one Release may record before client-go
// throttles it to one per 5 minutes: about three per step (commit, sync,
// phase) of a long release.
const eventBurst = 200

// Run starts the controller and blocks until ctx ends. With leader
// election, only the leader drives releases; the others serve probes and
// wait.
func Run(ctx context.Context, o Options) error {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	logger := logr.FromSlogHandler(log.Handler())
	// Informers log through controller-runtime's global logger, which
	// otherwise prints a stack trace saying it was never set.
	ctrl.SetLogger(logger)
	mo := ctrl.Options{
		Scheme:                        scheme,
		Logger:                        logger,
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsAddr},
		HealthProbeBindAddress:        o.ProbeAddr,
		LeaderElection:                o.LeaderElect,
		LeaderElectionID:              o.LeaderElectionID,
		LeaderElectionNamespace:       o.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		// client-go's default spam filter lets an object have 25 Events and
		// then one per 5 minutes; a release records a few per step, so a
		// three-step release would lose its Promoted Event. The broadcaster
		// stops with ctx, which is what the deprecation warns about.
		EventBroadcaster: record.NewBroadcaster(record.WithContext(ctx), //nolint:staticcheck
			record.WithCorrelatorOptions(record.CorrelatorOptions{BurstSize: eventBurst})),
	}
	for _, d := range []struct {
		v   time.Duration
		dst **time.Duration
	}{{o.LeaseDuration, &mo.LeaseDuration}, {o.RenewDeadline, &mo.RenewDeadline}, {o.RetryPeriod, &mo.RetryPeriod}} {
		if d.v > 0 {
			v := d.v
			*d.dst = &v
		}
	}
	if o.Namespace != "" {
		mo.Cache = cache.Options{DefaultNamespaces: map[string]cache.Config{o.Namespace: {}}}
	}
	mgr, err := ctrl.NewManager(o.Config, mo)
	if err != nil {
		return fmt.Errorf("create the controller manager: %w", err)
	}
	if o.Driver.Metrics == nil {
		o.Driver.Metrics = NewMetrics(metrics.Registry)
	}
	if o.ProbeAddr != "0" {
		if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
			return err
		}
		if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
			return err
		}
	}
	if o.Resources {
		r := &CRReconciler{Client: mgr.GetClient(), Driver: o.Driver, Recorder: redactingRecorder{mgr.GetEventRecorderFor("gitcanary")}, Kinds: o.Kinds, Workers: o.Workers}
		if err := r.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("set up the Release controller: %w", err)
		}
	}
	if len(o.GitRepos) > 0 {
		src := &GitSource{Repos: o.GitRepos, OpenRepo: o.Driver.OpenRepo, Driver: o.Driver, Kinds: o.Kinds, Interval: o.GitInterval, Workers: o.Workers, Log: log}
		if err := mgr.Add(src); err != nil {
			return err
		}
	}
	log.Info("gitcanary controller starting", "resources", o.Resources, "repos", len(o.GitRepos), "leaderElection", o.LeaderElect)
	return mgr.Start(ctx)
}
