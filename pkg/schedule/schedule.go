// Package schedule decides when a release may advance: allow windows,
// deny windows (freezes) and a start time, in one time zone. A window is
// a cron expression, whose activations open it, and a duration: the
// window of the activation a is [a, a+duration). Expressions are parsed
// by robfig/cron as Argo CD's sync windows are: the standard five fields
// or a descriptor such as @daily; @every is refused (a window needs a
// start on the calendar). Durations are real time: a window opened at
// 09:00 for 8h on the day clocks go forward closes at 18:00 local.
//
// A schedule is open at t when t is inside an allow window (or none is
// given), inside no deny window, and at or after the start. The package
// is pure: the clock is the caller's.
package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Window is one parsed window.
type Window struct {
	Cron     string
	Duration time.Duration
	sched    cron.Schedule
}

// ParseWindow parses a window's cron expression; the duration must be
// positive and at most a year.
func ParseWindow(expr string, d time.Duration) (Window, error) {
	w := Window{Cron: expr, Duration: d}
	s, err := ParseCron(expr)
	if err != nil {
		return w, err
	}
	if err := CheckDuration(d); err != nil {
		return w, fmt.Errorf("duration %w", err)
	}
	w.sched = s
	return w, nil
}

// CheckDuration checks a window's duration: positive, at most a year.
func CheckDuration(d time.Duration) error {
	switch {
	case d <= 0:
		return fmt.Errorf("must be positive, got %s", d)
	case d > maxDuration:
		return fmt.Errorf("%s is more than a year", d)
	}
	return nil
}

const maxDuration = 366 * 24 * time.Hour

// ParseCron parses a cron expression as a window or a start uses it.
func ParseCron(expr string) (cron.Schedule, error) {
	e := strings.TrimSpace(expr)
	switch {
	case e == "":
		return nil, errors.New("is empty; want five fields (minute hour day-of-month month day-of-week) or a descriptor such as @daily")
	case strings.HasPrefix(e, "TZ=") || strings.HasPrefix(e, "CRON_TZ="):
		return nil, fmt.Errorf("%q sets its own time zone; set spec.schedule.timezone instead", expr)
	case strings.HasPrefix(e, "@every"):
		return nil, fmt.Errorf("%q repeats from whenever it is read, not on the calendar; use five fields such as \"0 9 * * 1-5\"", expr)
	}
	s, err := cron.ParseStandard(e)
	if err != nil {
		return nil, fmt.Errorf("%q is not a cron expression: %v", expr, err)
	}
	return s, nil
}

// next is the first activation strictly after t, in loc.
func (w Window) next(t time.Time, loc *time.Location) time.Time {
	return w.sched.Next(t.In(loc))
}

// until returns when w's part in the state at t changes next: the end of
// the run of overlapping windows around t when t is inside one, else the
// next activation. Zero: not before limit.
func (w Window) until(t, limit time.Time, loc *time.Location) time.Time {
	a := w.next(t.Add(-w.Duration), loc)
	if a.IsZero() || a.After(t) {
		return a
	}
	end := a.Add(w.Duration)
	for i := 0; i < maxSteps && !end.After(limit); i++ {
		n := w.next(a, loc)
		if n.IsZero() || n.After(end) {
			return end
		}
		end = later(end, n.Add(w.Duration))
		a = n
	}
	return time.Time{}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// contains reports whether t is inside a window of w.
func (w Window) contains(t time.Time, loc *time.Location) bool {
	a := w.next(t.Add(-w.Duration), loc)
	return !a.IsZero() && !a.After(t)
}

// Schedule is a release's windows in its time zone.
type Schedule struct {
	Location *time.Location
	Allow    []Window
	Deny     []Window
	// StartAt, when set, is the earliest time the release advances.
	StartAt time.Time
	// StartCron, when set, makes the release advance from its first
	// activation after the release was started.
	StartCron cron.Schedule
}

// State is whether a schedule is open at a time.
type State struct {
	Open bool
	// Reason says why it is closed.
	Reason string
	// Until is when Open changes next: when a closed schedule opens, or
	// an open one closes. Zero: not within the search horizon (two
	// years), or never.
	Until time.Time
}

// horizon bounds the search for the next change.
const horizon = 2 * 366 * 24 * time.Hour

// maxSteps bounds the candidates examined while searching: a window of
// every minute examines one per minute.
const maxSteps = 200_000

// At returns the state at t of a release started at started.
func (s *Schedule) At(t, started time.Time) State {
	open, reason := s.open(t, started)
	st := State{Open: open, Reason: reason}
	cur, limit := t, t.Add(horizon)
	for i := 0; i < maxSteps; i++ {
		c := s.nextCandidate(cur, started, limit)
		if c.IsZero() || c.After(limit) {
			break
		}
		if o, _ := s.open(c, started); o != open {
			st.Until = c
			break
		}
		cur = c
	}
	return st
}

// open reports whether the schedule is open at t, and why not.
func (s *Schedule) open(t, started time.Time) (bool, string) {
	loc := s.loc()
	if !s.StartAt.IsZero() && t.Before(s.StartAt) {
		return false, fmt.Sprintf("before startAt %s", s.StartAt.In(loc).Format(time.RFC3339))
	}
	if s.StartCron != nil {
		if first := s.StartCron.Next(started.In(loc)); t.Before(first) {
			return false, fmt.Sprintf("before the start (startCron) at %s", first.In(loc).Format(time.RFC3339))
		}
	}
	for _, w := range s.Deny {
		if w.contains(t, loc) {
			return false, fmt.Sprintf("in the deny window %q (%s)", w.Cron, w.Duration)
		}
	}
	if len(s.Allow) == 0 {
		return true, ""
	}
	for _, w := range s.Allow {
		if w.contains(t, loc) {
			return true, ""
		}
	}
	return false, "outside the allow windows"
}

// nextCandidate is the first time after t at which the state may change:
// a window's run ends or a window opens, or the start comes.
func (s *Schedule) nextCandidate(t, started, limit time.Time) time.Time {
	loc := s.loc()
	var best time.Time
	consider := func(c time.Time) {
		if c.After(t) && (best.IsZero() || c.Before(best)) {
			best = c
		}
	}
	for _, ws := range [][]Window{s.Allow, s.Deny} {
		for _, w := range ws {
			consider(w.until(t, limit, loc))
		}
	}
	consider(s.StartAt)
	if s.StartCron != nil {
		consider(s.StartCron.Next(started.In(loc)))
	}
	return best
}

func (s *Schedule) loc() *time.Location {
	if s.Location == nil {
		return time.UTC
	}
	return s.Location
}
