package machine

import (
	"fmt"
	"time"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/release"
)

type decisionKind int

const (
	doWait decisionKind = iota
	doSync
	doCommit
	doDone
	doRefresh // ask Argo CD to compare with git again
)

// decision is what decide concludes; the Machine carries it out.
type decision struct {
	kind   decisionKind
	prune  bool          // doSync
	mutate mutation      // doCommit
	wait   time.Duration // doWait
	reason string
	// converged: the last commit took effect; this decision is the phase's own.
	converged bool
	// awaiting: the release waits for a human (an indefinite pause).
	awaiting bool
	// errored: the wait is for something that could not be found out.
	errored bool
	// final: the commit records the end of the release.
	final bool
	// blocked: a sync window holds Argo CD's operation for the commit.
	blocked bool
	// wake, when positive, is when something other than a person is due
	// during an awaiting wait (the background analysis's next look).
	wake time.Duration
}

func wait(d time.Duration, format string, args ...any) decision {
	return decision{kind: doWait, wait: d, reason: fmt.Sprintf(format, args...)}
}

func commitTo(reason string, m mutation) decision {
	return decision{kind: doCommit, mutate: m, reason: reason}
}

// final marks a commit that records the end of the release: it changes
// nothing Argo CD renders and is not synced, but the Application's
// annotations are updated to show it.
func final(d decision) decision {
	d.final = true
	return d
}

// handler decides what follows a phase whose commit has converged.
type handler func(v view) decision

// handlers: one per phase, each in the file of its part of the lifecycle.
var handlers = map[release.Phase]handler{
	release.Preparing:   onPrepared,
	release.Routing:     onStepDone,
	release.Progressing: onStepDone,
	release.Paused:      onPaused,
	release.Analyzing:   onAnalyzingWithHooks,
	release.Promoting:   onPromoteRouted,
	release.Retiring:    onRetired,
	release.Promoted:    onFinished,
	release.Abandoning:  onAbandonRouted,
	release.Reverting:   onReverted,
	release.Abandoned:   onFinished,
}

// prunes lists the phases whose commit removes objects from the cluster.
var prunes = map[release.Phase]bool{release.Retiring: true, release.Reverting: true}

// decide first makes the last commit converge (sync it, wait for Argo CD
// and the cluster, abandon past the deadline), then asks the phase's handler.
//
// Only "the answer was no" abandons: the sync failed on the release's own
// resources, one of them is Degraded, or the commit did not converge
// within the progress deadline. "Could not find out" (Argo CD or the
// cluster unreachable, a comparison error, an operation that errored) is
// a wait that never runs into the deadline.
func decide(v view) decision {
	phase := v.rec.Status.Phase
	switch state := v.argo.State; {
	case effective(v.argo, phase):
		// applied: the cluster check below decides
	case v.lag == lagging:
		// Argo CD's health lags the cluster: not an answer (lag.go).
		return decision{kind: doWait, wait: errorPoll, reason: "Argo CD: " + v.argo.Reason}
	case state == argocd.NeedsSync:
		return decision{kind: doSync, prune: prunes[phase], reason: "sync: " + v.argo.Reason}
	case state == argocd.Errored:
		if v.argo.Resync && v.now.Sub(v.argo.Since) >= retryAfter {
			return decision{kind: doSync, prune: prunes[phase], reason: "retry: " + v.argo.Reason, errored: true}
		}
		if !v.argo.Resync && v.argo.Since.IsZero() {
			return decision{kind: doWait, wait: errorPoll, reason: "waiting: " + v.argo.Reason, errored: true}
		}
		return decision{kind: doRefresh, wait: errorPoll, reason: "waiting: " + v.argo.Reason, errored: true}
	case state == argocd.Failed:
		if !phase.CanAbandon() {
			// Nothing to fall back to: retry the sync and let a human see why.
			if v.now.Sub(v.since) < retryAfter {
				return wait(errorPoll, "Argo CD: %s", v.argo.Reason)
			}
			return decision{kind: doSync, prune: prunes[phase], reason: "retry failed sync: " + v.argo.Reason}
		}
		return commitTo("Argo CD failed: "+v.argo.Reason, abandon("SyncFailed", "Argo CD could not apply "+shortHash(v.last.Hash)+": "+v.argo.Reason))
	case v.argo.Blocked:
		return decision{kind: doWait, blocked: true, reason: "Argo CD: " + v.argo.Reason}
	default:
		reason := "Argo CD: " + v.argo.Reason
		if v.cluster != nil && v.cluster.problem != "" {
			reason += "; cluster: " + v.cluster.problem
		}
		return untilDeadline(v, reason)
	}
	if v.cluster != nil && v.cluster.unreadable != "" {
		return decision{kind: doWait, wait: errorPoll, reason: "cannot read the cluster: " + v.cluster.unreadable, errored: true}
	}
	if v.cluster != nil && v.cluster.problem != "" {
		return untilDeadline(v, "cluster: "+v.cluster.problem)
	}
	h, ok := handlers[phase]
	if !ok {
		return wait(0, "unknown phase %q", phase)
	}
	d := background(v, h(v))
	d.converged = true
	if v.lag == lagProven {
		d.reason += " (" + v.argo.Reason + ")"
	}
	return d
}

// untilDeadline waits, or abandons once the commit has not converged within
// the progress deadline. A release already on its way out keeps waiting.
func untilDeadline(v view, reason string) decision {
	deadline := v.rec.Spec.Deadline()
	waited := v.now.Sub(v.since)
	if waited <= deadline || !v.rec.Status.Phase.CanAbandon() {
		return wait(pollInterval, "%s", reason)
	}
	msg := fmt.Sprintf("%s did not converge within the progress deadline (%s): %s", v.rec.Status.Action, deadline, reason)
	return commitTo(msg, abandon("ProgressDeadlineExceeded", msg))
}

func onFinished(v view) decision {
	return decision{kind: doDone, reason: fmt.Sprintf("release %s", v.rec.Status.Phase)}
}
