// Package machine drives a release through its phases. Each call to Step
// reads the release from git and the world (Argo CD, the cluster), decides
// with the handler of the release's phase, and performs at most one side
// effect: a commit and push, a sync request, or nothing (a check that says
// wait). Any process can resume a release from git alone.
package machine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gitcanary/gitcanary/pkg/analysis"
	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/fault"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Sentinels callers branch on.
var (
	ErrNotFound = errors.New("release not found")
	ErrExists   = errors.New("release already exists")
	// ErrBadFile: a file in the repository is not what gitcanary can
	// read (an app path without a kustomization, a state file a person
	// broke). The message names the file.
	ErrBadFile = errors.New("bad file in the repository")
	// ErrRefused: the command does not apply in the release's phase.
	ErrRefused = errors.New("refused")
	// ErrSuperseded: a later commit changed what gitcanary owns in the app
	// path; the release stopped rather than undo it.
	ErrSuperseded = errors.New("superseded")
)

// Deps are the machine's collaborators. Argo and Cluster may be nil for
// commands that only commit (a CI job without cluster access).
type Deps struct {
	Repo    git.Repo
	Argo    argocd.Client
	Cluster kube.Cluster
	Kinds   *kube.Kinds
	Builder kustomize.Builder
	Clock   func() time.Time
	// Sleep waits between steps; tests pass one that advances a fake clock.
	Sleep func(ctx context.Context, d time.Duration) error
	Log   *slog.Logger
	// Metrics opens the metrics store at an address for analysis steps
	// (nil: an analysis cannot read its looks and waits, then is
	// Inconclusive). Analysis holds the analysis settings from outside
	// the spec.
	Metrics  func(run *release.AnalysisRun) (analysis.Source, error)
	Analysis analysis.Settings
	// Looks caches the looks read, across machines (nil: none).
	Looks *analysis.Cache
	// Hooks calls the release's webhooks and remembers what it called,
	// across machines (nil: a shared one without configured secrets).
	Hooks *Hooks
	// Memory is what this process saw, across machines: a controller
	// makes a machine per reconcile (nil: the machine's own).
	Memory *Memory
}

// Memory holds what a process saw of Argo CD that neither git nor Argo CD
// records: when sync windows held a commit (syncwindows.go), since when a
// live object Argo CD calls unhealthy has been Healthy (lag.go). Its zero
// value is ready to use.
type Memory struct {
	blocked blockedCommits
	healthy healthySince
}

func (d Deps) sleep(ctx context.Context, dur time.Duration) error {
	if d.Sleep != nil {
		return d.Sleep(ctx, dur)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(dur):
		return nil
	}
}

func (d Deps) now() time.Time {
	if d.Clock != nil {
		return d.Clock()
	}
	return time.Now()
}

func (d Deps) log() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Machine drives one release in one app path.
type Machine struct {
	deps Deps
	name string
	path string
	app  string // Argo CD Application, from the spec
}

// New returns a machine for release name in the app path.
func New(deps Deps, name, appPath string) *Machine {
	if deps.Builder == nil {
		deps.Builder = &kustomize.Krusty{}
	}
	if deps.Kinds == nil {
		deps.Kinds = kube.NewKinds()
	}
	if deps.Memory == nil {
		deps.Memory = &Memory{}
	}
	return &Machine{deps: deps, name: name, path: appPath}
}

// Outcome says what one Step did.
type Outcome struct {
	// Did names the side effect performed: "commit", "sync" or "" (a check).
	Did string
	// Commit is the commit made or synced, if any.
	Commit string
	// Pushes is how many pushes a commit took (more than 1: rejected
	// pushes were retried on a new head).
	Pushes int
	// Wait is set when the release waits; Reason says for what.
	Wait   time.Duration
	Reason string
	// Done is set when the release reached a terminal phase and converged.
	Done bool
	// Converged: the release's last commit has taken effect in the cluster.
	Converged bool
	// Awaiting: the release waits for an approval.
	Awaiting bool
	// Superseded: a later commit changed what gitcanary owns in the app
	// path (another release, a person); the release stopped (Done is set).
	Superseded bool
	// Errored: the release waits because Argo CD or the cluster could not
	// say (unreachable, a comparison error); Reason says what is wrong.
	Errored bool
	// Gated: a webhook gate holds the next commit (a wait like an
	// approval); Reason names it and its answer, Wait is when it is asked again.
	Gated bool
	// Window: what holds it is a window, the release's schedule
	// (spec.schedule) or Argo CD's sync windows; Wait is when it is looked
	// at again (when the window opens, or sooner).
	Window bool
	// Wake, when positive, is how soon the release wants to be looked at
	// again even in a pause that waits for a person: a webhook's poll or
	// retry (a rollback poll, a gate asked again), the background
	// analysis's next look.
	Wake time.Duration
	// Release is the record the decision was taken on.
	Release *release.Release
	// Head is the branch's commit the record was read at.
	Head string
}

// Load reads the release's record at the branch head.
func (m *Machine) Load(ctx context.Context) (*release.Release, *App, error) {
	head, err := m.deps.Repo.Head(ctx)
	if err != nil {
		return nil, nil, err
	}
	app, err := LoadApp(head, m.path)
	if err != nil {
		return nil, nil, err
	}
	rec, err := app.Record(m.name)
	if err != nil {
		return nil, nil, err
	}
	if rec == nil {
		return nil, nil, fmt.Errorf("release %s has no record in %s at %s: %w", m.name, m.path, shortHash(app.Commit), ErrNotFound)
	}
	return rec, app, nil
}

// lastCommit finds the commit that carries the release's current Seq, by
// its trailers: this is how a resumed process finds what to sync to. It
// is in the history of from, the commit the record was read at.
func (m *Machine) lastCommit(ctx context.Context, from string, seq int) (git.Commit, error) {
	want := fmt.Sprint(seq)
	cs, err := m.deps.Repo.Log(ctx, from, func(c git.Commit) bool {
		return c.Trailer(git.TrailerRelease) == m.name && c.Trailer(git.TrailerSeq) == want && OfPath(c, m.path)
	}, 1)
	if err != nil {
		return git.Commit{}, err
	}
	if len(cs) == 0 {
		return git.Commit{}, fmt.Errorf("no commit on the branch carries %s: %s and %s: %s", git.TrailerRelease, m.name, git.TrailerSeq, want)
	}
	return cs[0], nil
}

// Step performs at most one side effect towards the release's next phase.
func (m *Machine) Step(ctx context.Context) (Outcome, error) {
	rec, app, err := m.Load(ctx)
	if err != nil {
		return Outcome{}, err
	}
	return m.StepFrom(ctx, rec, app)
}

// StepFrom is Step on a record and app the caller has just loaded with
// Load, to spare a second fetch and read of the same head. A commit it
// makes is still checked against the head it pushes onto.
//
// A finished release (Promoted, Abandoned) is done without asking Argo CD
// anything: it never syncs again, so driving it after a newer release of
// the app path cannot roll the cluster back. A release whose owned files
// changed after its last commit (another release, a person) is Superseded:
// done, without syncing.
func (m *Machine) StepFrom(ctx context.Context, rec *release.Release, app *App) (Outcome, error) {
	out, err := m.stepFrom(ctx, rec, app)
	out.Head = app.Commit
	return out, err
}

func (m *Machine) stepFrom(ctx context.Context, rec *release.Release, app *App) (Outcome, error) {
	m.notify(ctx, rec, app) // event and post-release webhooks (webhooks_notify.go)
	if rec.Status.Phase.Terminal() {
		return Outcome{Release: rec, Done: true, Reason: fmt.Sprintf("release %s", rec.Status.Phase)}, nil
	}
	if m.deps.Argo == nil || m.deps.Cluster == nil {
		return Outcome{}, fmt.Errorf("driving a release needs Argo CD and cluster access")
	}
	last, err := m.lastCommit(ctx, app.Commit, rec.Status.Seq)
	if err != nil {
		return Outcome{}, err
	}
	head, err := m.deps.Repo.At(ctx, app.Commit)
	if err != nil {
		return Outcome{}, err
	}
	if why, err := m.superseded(ctx, head, last); err != nil {
		return Outcome{}, err
	} else if why != "" {
		return Outcome{Release: rec, Done: true, Superseded: true, Reason: why}, nil
	}
	abort, hooks := m.rollback(ctx, rec) // webhooks.go
	if abort != nil {
		return m.commitOutcome(ctx, rec, abort)
	}
	v, err := m.observe(ctx, rec, app, last)
	if err != nil {
		return Outcome{}, err
	}
	v.calls = m.duringAnalysis(ctx, rec, v) // webhooks_analysis.go
	dec := decide(v)
	m.deps.log().Debug("step", "release", m.name, "phase", rec.Status.Phase, "commit", shortHash(last.Hash), "argo", v.argo.State, "decision", dec.reason)
	out := Outcome{Release: rec, Reason: dec.reason, Wait: dec.wait, Converged: dec.converged, Awaiting: dec.awaiting, Errored: dec.errored, Wake: earliest(dec.wake, hooks)}
	if dec.blocked {
		return m.syncRefused(ctx, rec, last.Hash, "a sync window holds Argo CD's running operation; waiting to sync"), nil
	}
	switch dec.kind {
	case doSync:
		// The Application's target revision (the branch head, which
		// carries the commit), never the commit itself: an older commit
		// would roll back whatever others pushed since, and Argo CD
		// refuses a commit on an automated-sync app.
		err := m.deps.Argo.Sync(ctx, rec.Spec.ArgoCD.Application, "", dec.prune)
		if errors.Is(err, argocd.ErrOperationInProgress) {
			return Outcome{Release: rec, Wait: pollInterval, Reason: "another Argo CD operation is running"}, nil
		}
		if errors.Is(err, argocd.ErrSyncWindow) {
			return m.syncRefused(ctx, rec, last.Hash, "Argo CD refuses to sync"), nil // syncwindows.go
		}
		if err != nil {
			return Outcome{Release: rec, Wait: errorPoll, Errored: true, Reason: fmt.Sprintf("cannot request a sync: %v", err)}, nil
		}
		if dec.prune {
			fault.Point(fault.AfterPruneSync)
		} else {
			fault.Point(fault.AfterSync)
		}
		m.deps.log().Info("sync requested", "release", m.name, "app", rec.Spec.ArgoCD.Application, "commit", shortHash(last.Hash), "phase", rec.Status.Phase)
		out.Did, out.Commit = "sync", last.Hash
		if err := m.deps.Argo.Annotate(ctx, rec.Spec.ArgoCD.Application, appAnnotations(m.name, rec)); err != nil {
			// The release goes on; only the UI's summary lags.
			m.deps.log().Warn("cannot show the release on the Application (may the Argo CD account update it?)", "app", rec.Spec.ArgoCD.Application, "err", err)
		}
	case doRefresh:
		if _, err := m.deps.Argo.Get(ctx, rec.Spec.ArgoCD.Application, true); err != nil {
			m.deps.log().Debug("refresh", "app", rec.Spec.ArgoCD.Application, "err", err)
		}
	case doCommit:
		// What the commit would do, found once for the schedule and the gates.
		next := m.effectOnce(ctx, rec, app, dec.mutate)
		if held := m.windowHold(rec, app, next); held != nil { // schedule.go
			held.Wake = hooks // a rollback poll
			return *held, nil
		}
		if held := m.syncWindowHold(ctx, rec, next); held != nil { // syncwindows.go
			held.Wake = hooks
			return *held, nil
		}
		calls, held := m.gate(ctx, rec, app, next) // webhooks.go
		if held != nil {
			if hooks > 0 && hooks < held.Wake {
				held.Wake = hooks // a rollback poll is due sooner
			}
			return *held, nil
		}
		res, err := m.commit(ctx, rec.Status.Seq, withCalls(dec.mutate, calls))
		if errors.Is(err, ErrConflict) {
			return Outcome{Release: rec, Reason: err.Error()}, nil
		}
		if err != nil {
			return out, err
		}
		out.Did, out.Commit, out.Pushes = "commit", res.Commit.Hash, res.Attempts
		if dec.final {
			m.showEnd(ctx, rec.Spec.ArgoCD.Application)
		}
	case doDone:
		out.Done = true
	}
	return out, nil
}

// commitOutcome commits mut on the release as rec records it, as a step.
func (m *Machine) commitOutcome(ctx context.Context, rec *release.Release, mut mutation) (Outcome, error) {
	res, err := m.commit(ctx, rec.Status.Seq, mut)
	if errors.Is(err, ErrConflict) {
		return Outcome{Release: rec, Reason: err.Error()}, nil
	}
	if err != nil {
		return Outcome{Release: rec}, err
	}
	return Outcome{Release: rec, Did: "commit", Commit: res.Commit.Hash, Pushes: res.Attempts, Reason: "rollback webhook"}, nil
}

// showEnd puts the release's final record on its Application: the end is
// a commit that is never synced, so no sync updates them.
func (m *Machine) showEnd(ctx context.Context, application string) {
	rec, _, err := m.Load(ctx)
	if err == nil {
		err = m.deps.Argo.Annotate(ctx, application, appAnnotations(m.name, rec))
	}
	if err != nil {
		m.deps.log().Warn("cannot show the end of the release on the Application", "app", application, "err", err)
	}
}

// appAnnotations describe the release on its Application.
func appAnnotations(name string, rec *release.Release) map[string]string {
	st := rec.Status
	step := ""
	if st.Step >= 0 && st.Step < len(rec.Spec.Steps) {
		step = fmt.Sprintf("%d/%d", st.Step+1, len(rec.Spec.Steps))
	}
	return map[string]string{
		argocd.AnnotationRelease: name,
		argocd.AnnotationPhase:   string(st.Phase),
		argocd.AnnotationStep:    step,
		argocd.AnnotationWeights: release.FormatWeights(st.Weights),
	}
}

// pollInterval is how soon to look again while Argo CD works.
const pollInterval = 500 * time.Millisecond

// errorPoll is how soon to look again when Argo CD or the cluster could
// not answer; retryAfter spaces new syncs after an operation that errored.
const (
	errorPoll  = 3 * time.Second
	retryAfter = 10 * time.Second
)

// earliest is the earlier of two positive durations (0: none).
func earliest(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}
