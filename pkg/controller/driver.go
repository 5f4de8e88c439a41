// Package controller is `gitcanary run`: a long-running process that drives
// releases by itself, from Release custom resources and from Release files
// under releases/ in watched git repositories. Both sources go through one
// Driver, which does what a person at the CLI would: start the release,
// act on spec.control, and step it. Waits are requeues, never sleeps.
package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gitcanary/gitcanary/pkg/analysis"
	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Driver reconciles one release at a time; it is safe for concurrent use
// on different releases.
type Driver struct {
	// OpenRepo opens (or returns the cached) clone of an app repository.
	OpenRepo func(ctx context.Context, r release.Repo) (git.Repo, error)
	Argo     argocd.Client
	Cluster  kube.Cluster
	Kinds    *kube.Kinds
	Builder  kustomize.Builder
	Clock    func() time.Time
	Log      *slog.Logger
	// Poll bounds how long a release waits before it is looked at again
	// when nothing tells the controller it changed (Argo CD syncing, pods
	// becoming ready). Default 5s.
	Poll time.Duration
	// ApprovalPoll is how soon a release paused until approved is looked
	// at again (default 30s). What ends such a pause reaches the
	// controller by itself: an edit of a Release resource is watched, an
	// edited Release file is acted on at the next fetch of its repository,
	// and `gitcanary approve` drives the release on itself. The poll only
	// finds an approval committed by other means, such as
	// `gitcanary approve --wait-for=none`.
	ApprovalPoll time.Duration
	Metrics      *Metrics
	// Instance is this gitcanary's name in Applications' grant annotation
	// (default "gitcanary"): every release's start and every sync is
	// checked against it, and a Release resource's against its namespace
	// too (docs/security.md).
	Instance string
	// DefaultBranch reads a repository's default branch, for an
	// Application whose targetRevision is HEAD; nil refuses such an
	// Application.
	DefaultBranch func(ctx context.Context, r release.Repo) (string, error)
	// MetricsSource opens the metrics store of an analysis; Analysis holds the
	// analysis settings from outside the spec; Looks caches the looks read
	// across reconciles (machine.Deps).
	MetricsSource func(run *release.AnalysisRun) (analysis.Source, error)
	Analysis      analysis.Settings
	Looks         analysis.Cache
	// Hooks calls the releases' webhooks (nil: without configured
	// headers or secrets).
	Hooks *machine.Hooks
	// Memory is what the machines saw across reconciles.
	Memory machine.Memory

	repos repoCache
}

// Result is what one reconcile did.
type Result struct {
	// Record is the release as recorded in git after the reconcile; nil
	// when it could not be read.
	Record *release.Release
	// Did is "start", "control", "commit", "sync" or "" (a check).
	Did    string
	Commit string
	// Pushes a commit took (see machine.Outcome).
	Pushes int
	// Converged: the release's last commit has taken effect.
	Converged bool
	// Reason says what the release waits for, when it waits.
	Reason string
	// Window: what it waits for is a window, the release's schedule or
	// Argo CD's sync windows (Progressing's reason says so).
	Window bool
	// Requeue is when to look again; 0 with Done false means at once.
	Requeue time.Duration
	Done    bool

	// priorConverged: a commit was made once the previous one had taken
	// effect (for the sync latency metric).
	priorConverged bool
}

// ErrChangedSpec: the release in git has another spec than the source's.
var ErrChangedSpec = errors.New("the release's spec differs from the one it started with")

// Reconcile moves a release one side effect further: it starts it when git
// has no record of it, else acts on the first pending spec.control
// request, else takes one Step. r is a Release file's: the Applications it
// drives must grant this instance.
func (d *Driver) Reconcile(ctx context.Context, r *release.Release) (Result, error) {
	return d.ReconcileIn(ctx, "", r)
}

// ReconcileIn is Reconcile for the Release resource r of namespace ns:
// its Application must also grant ns (argocd.NamespacesAnnotation), and
// it drives only a release that a Release resource of ns started.
//
// A panic below is a bug, but one release's file must not stop the
// others: it is recovered into an ErrPanic error on this release (a
// Stalled condition and an Event), logged with its stack, and retried
// after a while, so a fix in git or in gitcanary lets it go on.
func (d *Driver) ReconcileIn(ctx context.Context, ns string, r *release.Release) (res Result, err error) {
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			if d.Log != nil {
				d.Log.Error("recovered a panic", "release", key(r), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
			res, err = Result{}, fmt.Errorf("release %s: %w: %v", key(r), ErrPanic, p)
		}
		d.Metrics.observe(r, res, err, time.Since(start))
	}()
	return d.reconcile(ctx, ns, r)
}

// ErrPanic wraps a panic recovered while driving one release.
var ErrPanic = errors.New("internal error (a gitcanary bug; please report it with the log line \"recovered a panic\")")

// ErrOtherNamespace: a Release resource names a release that was started
// from another namespace, or from the CLI or a Release file.
var ErrOtherNamespace = errors.New("the release was started from another namespace")

func (d *Driver) reconcile(ctx context.Context, ns string, r *release.Release) (Result, error) {
	repo, err := d.repo(ctx, r.Spec.Repo)
	if err != nil {
		return Result{}, err
	}
	grant := argocd.Grant{Instance: d.Instance, Namespace: ns}
	argo := d.Argo
	if argo != nil {
		argo = argocd.GrantedTo(argo, grant)
	}
	m := machine.New(machine.Deps{Repo: repo, Argo: argo, Cluster: d.Cluster, Kinds: d.Kinds, Builder: d.Builder, Clock: d.Clock, Log: d.Log,
		Metrics: d.MetricsSource, Analysis: d.Analysis, Looks: &d.Looks, Hooks: d.Hooks, Memory: &d.Memory},
		r.Metadata.Name, r.Spec.Repo.Path)
	rec, app, err := m.Load(ctx)
	switch {
	case errors.Is(err, machine.ErrNotFound):
		opts := machine.StartOptions{Grant: grant}
		if d.DefaultBranch != nil {
			opts.DefaultBranch = func(ctx context.Context) (string, error) { return d.DefaultBranch(ctx, r.Spec.Repo) }
		}
		res, err := m.StartWith(ctx, r, opts)
		var gate *machine.GateError
		if errors.As(err, &gate) {
			// A confirm-start webhook said no: nothing committed, asked again.
			return Result{Reason: gate.Error(), Requeue: gate.Retry()}, nil
		}
		if err != nil {
			return Result{}, err
		}
		rec, _, err := m.Load(ctx)
		return Result{Record: rec, Did: "start", Commit: res.Commit.Hash, Pushes: res.Attempts}, err
	case err != nil:
		return Result{}, err
	case ns != "" && rec.Metadata.Namespace != ns:
		return Result{}, fmt.Errorf("release %s in %s was started by %s; a Release resource in namespace %q may not drive it: %w",
			r.Metadata.Name, r.Spec.Repo.Path, startedBy(rec), ns, ErrOtherNamespace)
	case !release.SameRelease(rec.Spec, r.Spec):
		return Result{Record: rec}, fmt.Errorf("release %s: %w; a new release needs a new name: %w", r.Metadata.Name, ErrChangedSpec, release.ErrInvalid)
	}
	// Control fetches and reads the head again to act; most reconciles
	// have nothing for it, which the record just loaded tells.
	if !rec.Status.Phase.Terminal() && machine.ControlPending(rec, r.Spec.Control, d.now()) {
		// A request commits before any sync: the namespace's grant is
		// read first, so revoking it stops requests too.
		if err := d.checkGrant(ctx, grant, r); err != nil {
			return Result{Record: rec}, err
		}
		res, acted, err := m.Control(ctx, r.Spec.Control)
		if err != nil {
			return Result{Record: rec}, err
		}
		if acted {
			rec, _, err := m.Load(ctx)
			return Result{Record: rec, Did: "control", Commit: res.Commit.Hash, Pushes: res.Attempts}, err
		}
	}
	out, err := m.StepFrom(ctx, rec, app)
	if err != nil {
		return Result{Record: rec}, err
	}
	if out.Superseded {
		return Result{Record: rec, Done: true, Reason: out.Reason}, fmt.Errorf("release %s: %w: %s", r.Metadata.Name, machine.ErrSuperseded, out.Reason)
	}
	res := Result{Record: out.Release, Did: out.Did, Commit: out.Commit, Pushes: out.Pushes, Reason: out.Reason, Done: out.Done, Converged: out.Converged, Window: out.Window}
	if out.Did == "commit" {
		// out.Release and out.Converged describe the record the decision
		// was taken on; report the one just committed, as start and
		// control do, which has not taken effect yet.
		rec, _, err := m.Load(ctx)
		if err != nil {
			return res, err
		}
		res.Record, res.Converged, res.priorConverged = rec, false, out.Converged
	}
	if out.Did == "" && !out.Done {
		res.Requeue = d.poll()
		switch {
		case out.Gated:
			res.Requeue = out.Wait // a webhook gate, asked again at its interval
		case out.Awaiting:
			res.Requeue = d.approvalPoll()
		case out.Wait > 0 && out.Wait < res.Requeue:
			res.Requeue = out.Wait
		}
		if out.Wake > 0 && out.Wake < res.Requeue {
			res.Requeue = out.Wake // a rollback webhook's poll, the background analysis's look
		}
	}
	return res, nil
}

// startedBy says who started a release, from its record.
func startedBy(rec *release.Release) string {
	if rec.Metadata.Namespace == "" {
		return "the CLI or a Release file (its record names no namespace)"
	}
	return fmt.Sprintf("a Release resource in namespace %q", rec.Metadata.Namespace)
}

// checkGrant reads the release's Application and checks that it grants
// a Release resource's namespace (a Release file's grant is read at every
// sync, as the CLI's is).
func (d *Driver) checkGrant(ctx context.Context, g argocd.Grant, r *release.Release) error {
	if g.Namespace == "" || d.Argo == nil {
		return nil
	}
	app, err := d.Argo.Get(ctx, r.Spec.ArgoCD.Application, false)
	if err != nil {
		return err
	}
	return g.Check(app)
}

func (d *Driver) poll() time.Duration {
	if d.Poll > 0 {
		return d.Poll
	}
	return 5 * time.Second
}

func (d *Driver) approvalPoll() time.Duration {
	if d.ApprovalPoll > 0 {
		return d.ApprovalPoll
	}
	return 30 * time.Second
}

// repo returns the cached clone of a repository: one per URL and branch,
// shared by every release in it.
func (d *Driver) repo(ctx context.Context, r release.Repo) (git.Repo, error) {
	return d.repos.get(ctx, d.OpenRepo, r)
}

// repoCache keeps one opened repository per URL and branch.
type repoCache struct{ m sync.Map } // URL#branch → git.Repo

func (c *repoCache) get(ctx context.Context, open func(context.Context, release.Repo) (git.Repo, error), r release.Repo) (git.Repo, error) {
	key := r.URL + "#" + r.BranchOrDefault()
	if v, ok := c.m.Load(key); ok {
		return v.(git.Repo), nil
	}
	repo, err := open(ctx, r)
	if err != nil {
		return nil, err
	}
	v, _ := c.m.LoadOrStore(key, repo)
	return v.(git.Repo), nil
}

var shortHash = git.ShortHash

// now is the driver's clock.
func (d *Driver) now() time.Time {
	if d.Clock != nil {
		return d.Clock()
	}
	return time.Now()
}
