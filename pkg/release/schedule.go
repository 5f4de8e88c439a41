package release

import (
	"fmt"
	"time"

	"github.com/gitcanary/gitcanary/pkg/schedule"
)

// Schedule is spec.schedule: when the release may advance. Steps (and the
// promotion that follows the last) advance only inside an allow window
// (any time when none is given), never inside a deny window, and not
// before the start. Abort and everything on the way back are never held.
type Schedule struct {
	// Timezone is an IANA zone name (default UTC) the cron expressions
	// are read in.
	Timezone string           `json:"timezone,omitempty"`
	Allow    []ScheduleWindow `json:"allow,omitempty"`
	Deny     []ScheduleWindow `json:"deny,omitempty"`
	// StartAt is the earliest time of the first step (RFC 3339).
	StartAt string `json:"startAt,omitempty"`
	// StartCron starts the first step at the cron's first activation
	// after the release was started.
	StartCron string `json:"startCron,omitempty"`
}

// ScheduleWindow is a window: each activation of Cron opens it for Duration.
type ScheduleWindow struct {
	Cron     string    `json:"cron"`
	Duration *Duration `json:"duration"`
}

// Compile parses the schedule (validated first: errors here name no field).
func (s *Schedule) Compile() (*schedule.Schedule, error) {
	out := &schedule.Schedule{Location: time.UTC}
	if s == nil {
		return out, nil
	}
	if s.Timezone != "" {
		loc, err := time.LoadLocation(s.Timezone)
		if err != nil {
			return nil, fmt.Errorf("timezone %q: %w", s.Timezone, err)
		}
		out.Location = loc
	}
	for _, l := range []struct {
		in  []ScheduleWindow
		out *[]schedule.Window
	}{{s.Allow, &out.Allow}, {s.Deny, &out.Deny}} {
		for _, w := range l.in {
			var d time.Duration
			if w.Duration != nil {
				d = w.Duration.Duration
			}
			pw, err := schedule.ParseWindow(w.Cron, d)
			if err != nil {
				return nil, err
			}
			*l.out = append(*l.out, pw)
		}
	}
	if s.StartAt != "" {
		t, err := time.Parse(time.RFC3339, s.StartAt)
		if err != nil {
			return nil, fmt.Errorf("startAt: %w", err)
		}
		out.StartAt = t
	}
	if s.StartCron != "" {
		c, err := schedule.ParseCron(s.StartCron)
		if err != nil {
			return nil, fmt.Errorf("startCron %w", err)
		}
		out.StartCron = c
	}
	return out, nil
}

func (v *validator) schedule(p string, s *Schedule) {
	if s == nil {
		return
	}
	if s.Timezone != "" {
		if _, err := time.LoadLocation(s.Timezone); err != nil {
			v.add(p+".timezone", "%q is not a time zone of the IANA database (e.g. Europe/Berlin, America/New_York, UTC)", s.Timezone)
		}
	}
	for _, l := range []struct {
		name string
		ws   []ScheduleWindow
	}{{"allow", s.Allow}, {"deny", s.Deny}} {
		for i, w := range l.ws {
			wp := fmt.Sprintf("%s.%s[%d]", p, l.name, i)
			if _, err := schedule.ParseCron(w.Cron); err != nil {
				v.add(wp+".cron", "%v", err)
			}
			if w.Duration == nil {
				v.add(wp+".duration", "is required: how long each activation of the cron keeps the window open (e.g. 8h)")
			} else if err := schedule.CheckDuration(w.Duration.Duration); err != nil {
				v.add(wp+".duration", "%v", err)
			}
		}
	}
	if s.StartAt != "" {
		if _, err := time.Parse(time.RFC3339, s.StartAt); err != nil {
			v.add(p+".startAt", "%q is not an RFC 3339 time with its offset (e.g. 2026-12-02T09:30:00+01:00)", s.StartAt)
		}
	}
	if s.StartCron != "" {
		if s.StartAt != "" {
			v.add(p+".startCron", "startAt and startCron are exclusive: set one")
		} else if _, err := schedule.ParseCron(s.StartCron); err != nil {
			v.add(p+".startCron", "%v", err)
		}
	}
}
