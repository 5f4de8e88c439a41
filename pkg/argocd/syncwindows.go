package argocd

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/robfig/cron/v3"
)

// Argo CD's sync windows (an AppProject's spec.syncWindows) decide when
// Argo CD syncs an Application. What follows is how Argo CD v2.14
// evaluates them (pkg/apis/application/v1alpha1: SyncWindows.Matches,
// CanSync, active; server/application: Sync; controller/sync.go), which
// this file mirrors to say when a window opens:
//
//   - A window applies to an app when one of its applications globs
//     matches the app's name, or a clusters glob its destination's name or
//     server, or a namespaces glob its destination namespace (an OR).
//   - A window is active at t when its 5-field cron schedule (no seconds,
//     no descriptors), read on the wall clock of its timeZone (the zone's
//     UTC offset at t; an unknown zone is UTC), started within the last
//     duration: the start is in, the end is out.
//   - A sync is refused while any active deny window applies, unless the
//     sync is manual and every active deny window has manualSync; when
//     allow windows apply and none is active, a sync is refused unless it
//     is manual and every inactive allow window has manualSync. Deny wins.
//   - Every sync requested through the API (what gitcanary does) is
//     manual. A refused one is a gRPC PermissionDenied "cannot sync:
//     blocked by sync window" (RBAC refusals share the code, not the
//     message); nothing is started. An operation already running when a
//     window closes stays Running with the message "Sync operation
//     blocked by sync window" until the window opens again.
//   - Automated sync (and selfHeal) is skipped, silently, while the
//     windows refuse a non-manual sync, manualSync or not.

// ErrSyncWindow means Argo CD refused a sync because of the project's sync
// windows. It is not a refusal of the token: the same sync succeeds once a
// window opens.
var ErrSyncWindow = errors.New("blocked by Argo CD's sync windows")

// BlockedOperationMessage is the message Argo CD sets on a running sync
// operation while a sync window holds it.
const BlockedOperationMessage = "Sync operation blocked by sync window"

// SyncWindows is what an Application's project says about syncing it.
type SyncWindows struct {
	// Project is the Application's AppProject.
	Project string
	// CanSync is Argo CD's own answer, by its clock, for a manual sync now.
	CanSync bool
	// Windows are the project's windows that apply to the app.
	Windows []v1alpha1.SyncWindow
	// NoTimeZones: the project itself could not be read (the token may
	// read Applications, not projects), so Windows are those the
	// Application API lists, without their time zones: UTC is assumed.
	NoTimeZones bool
}

// WindowsState is the state of sync windows at a time, for a manual sync.
type WindowsState struct {
	Open bool
	// Reason names the windows that refuse the sync.
	Reason string
	// Until is when a manual sync is next allowed (zero: not within two
	// years, or the windows cannot be read).
	Until time.Time
}

// At evaluates the windows at t, for a manual sync, as Argo CD would at
// t; an invalid window (Argo CD then refuses every sync) is an error.
func (w *SyncWindows) At(t time.Time) (WindowsState, error) {
	ws, err := compileWindows(w.Windows)
	if err != nil {
		return WindowsState{}, err
	}
	if canSync(ws, t, true) {
		return WindowsState{Open: true}, nil
	}
	st := WindowsState{Reason: refusing(ws, t, w.Project)}
	st.Until = nextOpen(ws, t)
	return st, nil
}

// Describe says why a sync is refused now and until when, with Argo CD's
// own verdict as the authority on now.
func (w *SyncWindows) Describe(now time.Time) string {
	msg, _ := w.Hold(now)
	return msg
}

// Hold is Describe and when a manual sync is next allowed (zero when
// unknown: windows that do not open within the search, invalid ones, or
// an Argo CD that refuses while they look open here), from one
// evaluation of the windows.
func (w *SyncWindows) Hold(now time.Time) (string, time.Time) {
	st, err := w.At(now)
	switch {
	case err != nil:
		return fmt.Sprintf("Argo CD's sync windows of project %s are invalid (%v), and Argo CD refuses every sync of the app", w.Project, err), time.Time{}
	case st.Open:
		// Our clock or the zones differ from Argo CD's: it refuses now.
		return fmt.Sprintf("Argo CD's sync windows of project %s refuse syncs of the app now (%s)", w.Project, listWindows(w.Windows)), time.Time{}
	}
	msg := "Argo CD's " + st.Reason
	if !st.Until.IsZero() {
		msg += " until " + st.Until.UTC().Format(time.RFC3339)
		if w.NoTimeZones {
			msg += " (if its windows are in UTC: the token may not read the project's time zones)"
		}
	}
	return msg, st.Until
}

// window is a sync window compiled.
type window struct {
	spec     v1alpha1.SyncWindow
	schedule cron.Schedule
	duration time.Duration
	loc      *time.Location
}

// windowParser parses a schedule as Argo CD does: five fields, no
// descriptors.
var windowParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

func compileWindows(specs []v1alpha1.SyncWindow) ([]window, error) {
	ws := make([]window, 0, len(specs))
	for i, s := range specs {
		sched, err := windowParser.Parse(s.Schedule)
		if err != nil {
			return nil, fmt.Errorf("syncWindows[%d]: cannot parse schedule %q: %w", i, s.Schedule, err)
		}
		d, err := time.ParseDuration(s.Duration)
		if err != nil {
			return nil, fmt.Errorf("syncWindows[%d]: cannot parse duration %q: %w", i, s.Duration, err)
		}
		loc, err := time.LoadLocation(s.TimeZone)
		if err != nil {
			loc = time.UTC // as Argo CD does, with a warning in its log
		}
		ws = append(ws, window{spec: s, schedule: sched, duration: d, loc: loc})
	}
	return ws, nil
}

// wall is t on the window's wall clock, as Argo CD shifts it: UTC plus the
// zone's offset at t.
func (w window) wall(t time.Time) time.Time {
	_, off := t.In(w.loc).Zone()
	return t.UTC().Add(time.Duration(off) * time.Second)
}

func (w window) active(t time.Time) bool {
	wall := w.wall(t)
	return w.schedule.Next(wall.Add(-w.duration)).Before(wall)
}

// CanSyncAt is Argo CD's CanSync at t, for a manual sync (one requested
// through the API) or an automated one.
func (w *SyncWindows) CanSyncAt(t time.Time, manual bool) (bool, error) {
	ws, err := compileWindows(w.Windows)
	if err != nil {
		return false, err
	}
	return canSync(ws, t, manual), nil
}

// canSync is Argo CD's CanSync(manual) at t.
func canSync(ws []window, t time.Time, manual bool) bool {
	var activeDeny, activeAllow, inactiveAllow, denyManual, allowManual = false, false, false, true, true
	for _, w := range ws {
		on := w.active(t)
		switch {
		case w.spec.Kind == "deny" && on:
			activeDeny = true
			denyManual = denyManual && w.spec.ManualSync
		case w.spec.Kind == "allow" && on:
			activeAllow = true
		case w.spec.Kind == "allow":
			inactiveAllow = true
			allowManual = allowManual && w.spec.ManualSync
		}
	}
	switch {
	case activeDeny:
		return manual && denyManual
	case activeAllow:
		return true
	case inactiveAllow:
		return manual && allowManual
	}
	return true
}

// refusing names the windows that refuse a manual sync at t.
func refusing(ws []window, t time.Time, project string) string {
	var deny, allow []v1alpha1.SyncWindow
	for _, w := range ws {
		switch {
		case w.spec.Kind == "deny" && w.active(t) && !w.spec.ManualSync:
			deny = append(deny, w.spec)
		case w.spec.Kind == "allow" && !w.active(t):
			allow = append(allow, w.spec)
		}
	}
	if len(deny) > 0 {
		return fmt.Sprintf("deny sync window %s of project %s refuses syncs", listWindows(deny), project)
	}
	return fmt.Sprintf("allow sync windows of project %s are all closed (%s)", project, listWindows(allow))
}

func listWindows(specs []v1alpha1.SyncWindow) string {
	parts := make([]string, 0, len(specs))
	for _, s := range specs {
		p := fmt.Sprintf("%q for %s", s.Schedule, s.Duration)
		if s.TimeZone != "" {
			p += " in " + s.TimeZone
		}
		if s.ManualSync {
			p += ", manualSync"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// horizon and maxEdges bound the search for the next open time (a window
// that starts every minute and lasts an hour is never closed: the search
// gives up after maxEdges starts, about two weeks of them).
const (
	horizon  = 2 * 365 * 24 * time.Hour
	maxEdges = 20000
)

// nextOpen is the first time after t at which a manual sync is allowed.
func nextOpen(ws []window, t time.Time) time.Time { return nextWhere(ws, t, t.Add(horizon), true) }

// nextWhere is the first time in (from, to) at which a manual sync is
// allowed (open) or refused (!open), or zero: the windows change state
// only where one starts or ends, so it visits those instants in order.
func nextWhere(ws []window, from, to time.Time, open bool) time.Time {
	for cur, n := from, 0; n < maxEdges; n++ {
		next := to
		for _, w := range ws {
			for _, b := range w.edges(cur) {
				if b.After(cur) && b.Before(next) {
					next = b
				}
			}
		}
		if !next.Before(to) {
			return time.Time{}
		}
		if canSync(ws, next, true) == open {
			return next
		}
		cur = next
	}
	return time.Time{}
}

// edges are the window's next start after t (the second after, where the
// start is in) and, when it is active at t, the end of that activation.
func (w window) edges(t time.Time) []time.Time {
	wall := w.wall(t)
	back := wall.Sub(t) // the wall clock's shift from real time
	out := []time.Time{w.schedule.Next(wall).Add(time.Second - back)}
	if start := w.schedule.Next(wall.Add(-w.duration)); start.Before(wall) {
		out = append(out, start.Add(w.duration-back))
	}
	return out
}

// Forecast warns, for a release that runs from from for span (its timed
// steps; longer when it waits for people), where the windows will hold it:
// closed now, closing within the span, invalid, or only open by
// manualSync (which lets gitcanary's syncs through but not automated
// sync). No windows, no warnings.
func (w *SyncWindows) Forecast(from time.Time, span time.Duration) []string {
	if len(w.Windows) == 0 {
		return nil
	}
	ws, err := compileWindows(w.Windows)
	if err != nil {
		return []string{fmt.Sprintf("Argo CD's sync windows of project %s are invalid (%v): Argo CD refuses every sync of the app until they are fixed", w.Project, err)}
	}
	var out []string
	if !canSync(ws, from, true) {
		out = append(out, fmt.Sprintf("now, %s: the release's commits would wait (the way back is committed and waits for Argo CD)", w.Describe(from)))
	} else if at := nextWhere(ws, from, from.Add(span), false); !at.IsZero() {
		st, _ := w.At(at)
		msg := fmt.Sprintf("Argo CD's %s from %s, within the release's %s from now: a step falling in it waits", st.Reason, at.UTC().Format(time.RFC3339), span)
		if !st.Until.IsZero() {
			msg += " until " + st.Until.UTC().Format(time.RFC3339)
		}
		out = append(out, msg)
	}
	for _, x := range ws {
		if x.spec.ManualSync {
			out = append(out, fmt.Sprintf("%s sync window %s has manualSync: gitcanary's syncs (manual) go through it, automated sync and selfHeal do not", x.spec.Kind, listWindows([]v1alpha1.SyncWindow{x.spec})))
		}
	}
	if w.NoTimeZones {
		out = append(out, "the token may not read project "+w.Project+" (projects, get): its windows' time zones are unknown and UTC is assumed")
	}
	return out
}
