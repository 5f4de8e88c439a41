package machine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Argo CD's sync windows (docs/schedules.md, "Argo CD's sync windows";
// pkg/argocd/syncwindows.go for their semantics) refuse the syncs
// gitcanary requests while they are closed for the Application. gitcanary
// does not push what Argo CD would not apply: before a commit that moves
// the release forward or prepares it, it asks Argo CD whether a sync is
// allowed now, and while it is not the release waits in its phase, saying
// which window holds it and until when. The way back (an abort, an
// abandon) is committed all the same: the person's decision is recorded
// in git at once, and the release waits, in Abandoning, for Argo CD to
// apply it, which it does at once when the deny windows have manualSync
// (every sync gitcanary requests is manual), otherwise when the window
// ends. A commit whose sync a window refuses or holds (a window that
// opened between the check and the sync, or during a long sync) waits
// the same way, and that wait does not count against the progress
// deadline.

// syncWindowRecheck is how often a release held by Argo CD's sync windows
// asks again, at the latest: a person may remove the window (an
// incident), and the project's time zones may be unreadable.
const syncWindowRecheck = time.Minute

// blockedCommits remembers, per commit, when this process last saw Argo
// CD's sync windows refuse or hold its sync: the progress deadline counts
// from then. A process that starts after the window has ended counts from
// the sync operation's start instead (observe).
type blockedCommits struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (b *blockedCommits) note(commit string, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen == nil {
		b.seen = map[string]time.Time{}
	}
	if len(b.seen) > 64 {
		clear(b.seen) // a release has one commit in flight at a time
	}
	b.seen[commit] = at
}

func (b *blockedCommits) last(commit string) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seen[commit]
}

// syncWindowHold returns the wait of a commit Argo CD's sync windows
// would not let it apply now, or nil. The way back and the commits that
// are never synced (the end of a release) are not held.
func (m *Machine) syncWindowHold(ctx context.Context, rec *release.Release, next func() (effect, error)) *Outcome {
	eff, err := next()
	if err != nil || eff.phase.Abandoning() || eff.phase.Terminal() {
		return nil
	}
	w, err := m.deps.Argo.SyncWindows(ctx, rec.Spec.ArgoCD.Application)
	if err != nil {
		// Older Argo CD, or a flaky read: the sync says no if it must.
		m.deps.log().Debug("cannot read Argo CD's sync windows", "app", rec.Spec.ArgoCD.Application, "err", err)
		return nil
	}
	if w.CanSync {
		return nil
	}
	why, wait := syncWindowHeld(w, m.deps.now())
	return &Outcome{Release: rec, Converged: true, Gated: true, Window: true, Wait: wait,
		Reason: fmt.Sprintf("waiting for Argo CD's sync windows before %s: %s", eff.action, why)}
}

// syncWindowHeld says why w holds a release, and how soon it looks
// again: when the windows open, at most syncWindowRecheck from now.
func syncWindowHeld(w *argocd.SyncWindows, now time.Time) (string, time.Duration) {
	why, until := w.Hold(now)
	if until.IsZero() {
		return why, syncWindowRecheck
	}
	return why, min(max(until.Sub(now), time.Second), syncWindowRecheck)
}

// syncRefused is the outcome of a sync Argo CD's sync windows refused or
// hold: the release waits for a window, its deadline stopped.
func (m *Machine) syncRefused(ctx context.Context, rec *release.Release, commit, what string) Outcome {
	now := m.deps.now()
	m.deps.Memory.blocked.note(commit, now)
	out := Outcome{Release: rec, Gated: true, Window: true, Wait: syncWindowRecheck,
		Reason: fmt.Sprintf("%s %s: blocked by Argo CD's sync windows", what, shortHash(commit))}
	w, err := m.deps.Argo.SyncWindows(ctx, rec.Spec.ArgoCD.Application)
	switch {
	case err != nil:
	case w.CanSync:
		// Argo CD's controller marks a new operation blocked for a moment
		// (its first pass reads the operation as automated) and then runs
		// it: look again soon.
		out.Wait = errorPoll
		out.Reason = fmt.Sprintf("%s %s: Argo CD says a sync window holds it, and its windows allow a manual sync now", what, shortHash(commit))
	default:
		why, wait := syncWindowHeld(w, now)
		out.Wait, out.Reason = wait, fmt.Sprintf("%s %s: %s", what, shortHash(commit), why)
	}
	return out
}
