package machine

import (
	"context"
	"fmt"
	"time"

	"github.com/gitcanary/gitcanary/pkg/release"
)

// Until says when Run stops, given the outcome of the last step.
type Until func(o Outcome) bool

// How Run waits in a pause (see idle): a ref check every refCheck, a full
// step (a fetch, Argo CD and the cluster) at least every revisit.
const (
	refCheck = 3 * time.Second
	revisit  = 30 * time.Second
)

// Run steps the release until until returns true, the context ends or an
// error that is not Transient occurs. report sees every outcome (for
// progress output), and also every transient failure, as an Errored
// outcome whose Reason names it (once a record has been read).
//
// Between steps it waits:
//   - after a side effect, not at all;
//   - while Argo CD and the cluster catch up with a commit, pollInterval,
//     growing to slowPoll while what it waits for stays the same (poller);
//   - while it cannot find out (Errored) or git, Argo CD or the API server
//     fail transiently, by Backoff: about 1 s, doubling to about 15 s;
//   - in a pause whose commit has converged, or while a webhook gate holds
//     the next commit, idle: cheap ref checks of the branch, and a full
//     step only when it moved, the pause is due or a webhook wants one
//     (Outcome.Wake: a gate asked again, a rollback webhook polled, the background analysis's next look).
func (m *Machine) Run(ctx context.Context, until Until, report func(Outcome)) (*release.Release, error) {
	var rec *release.Release // the record of the last step that succeeded
	var b Backoff
	var p poller
	for {
		out, err := m.Step(ctx)
		if err != nil {
			if ctx.Err() != nil || Classify(err) != Transient {
				return rec, err
			}
			d := b.Next()
			if report != nil && rec != nil {
				report(Outcome{Release: rec, Errored: true, Wait: d, Reason: fmt.Sprintf("%v (trying again in %s)", err, d.Round(100*time.Millisecond))})
			}
			m.deps.log().Warn("retrying", "release", m.name, "in", d.Round(100*time.Millisecond), "err", err)
			if err := m.deps.sleep(ctx, d); err != nil {
				return rec, err
			}
			continue
		}
		rec = out.Release
		if report != nil {
			report(out)
		}
		if out.Superseded {
			return out.Release, fmt.Errorf("release %s: %w: %s", m.name, ErrSuperseded, out.Reason)
		}
		if until(out) {
			return out.Release, nil
		}
		if out.Done {
			return out.Release, nil
		}
		if out.Did != "" {
			b.Reset()
			p.reset()
			continue // a side effect happened: look again at once
		}
		if out.Errored {
			if err := m.deps.sleep(ctx, b.Next()); err != nil {
				return out.Release, err
			}
			continue
		}
		b.Reset()
		if p := out.Release.Status.Phase; (out.Window || out.Converged && (p == release.Paused || p == release.Analyzing || out.Gated)) && out.Head != "" {
			wait, awaiting := out.Wait, out.Awaiting
			if out.Wake > 0 && (awaiting || wait <= 0 || out.Wake < wait) {
				wait, awaiting = out.Wake, false // a webhook's poll or retry, or the background analysis's look, is due first
			}
			if err := m.idle(ctx, out.Head, wait, awaiting); err != nil {
				return out.Release, err
			}
			continue
		}
		if err := m.deps.sleep(ctx, p.next(out)); err != nil {
			return out.Release, err
		}
	}
}

// poller spaces the looks while Argo CD and the cluster catch up with a
// commit: pollInterval while what the release waits for changes (a sync
// requested, then running, then health reassessed: each change is seen
// at once), growing to slowPoll while it stays the same (a rollout that
// takes a minute is looked at every 2 s, not 120 times: every look is a
// fetch from the git server and a read of Argo CD and the cluster). A
// step asking for less than pollInterval gets it.
type poller struct {
	reason string
	wait   time.Duration
}

// slowPoll is the longest wait between looks while Argo CD works.
const slowPoll = 2 * time.Second

func (p *poller) reset() { p.reason, p.wait = "", 0 }

func (p *poller) next(out Outcome) time.Duration {
	if out.Reason != p.reason || p.wait == 0 {
		p.reason, p.wait = out.Reason, pollInterval
	} else {
		p.wait = min(p.wait*2, slowPoll)
	}
	if out.Wait > 0 && out.Wait < pollInterval {
		return out.Wait
	}
	return p.wait
}

// idle waits in a pause, or for an analysis's next look, without asking
// Argo CD or the cluster anything.
// Every refCheck it asks the git server where the branch is (its ref
// advertisement, as `git ls-remote` shows it: no objects are fetched) and
// returns as soon as the branch moved from head, the commit the pause was
// looked at on: that commit may approve, abort or change the release. It
// also returns when the pause is due (wait, unless it waits for an
// approval) and after revisit, so that a full step looks at Argo CD and
// the cluster again now and then (the new version's pods may fail during
// a pause). A failed ref check ends the wait too: the full step that
// follows retries the failure, or reports it.
func (m *Machine) idle(ctx context.Context, head string, wait time.Duration, awaiting bool) error {
	span := revisit
	if !awaiting && wait > 0 && wait < span {
		span = wait
	}
	end := m.deps.now().Add(span)
	for {
		left := end.Sub(m.deps.now())
		if left <= 0 {
			return nil
		}
		if err := m.deps.sleep(ctx, min(left, refCheck)); err != nil {
			return err
		}
		if !m.deps.now().Before(end) {
			return nil
		}
		h, err := m.deps.Repo.Peek(ctx)
		if err != nil || h != head {
			return nil
		}
	}
}
