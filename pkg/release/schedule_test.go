package release

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const scheduleYAML = validYAML + `  schedule:
    timezone: Europe/Berlin
    allow: [{cron: "0 9 * * 1-5", duration: 8h}]
    deny: [{cron: "0 0 20 12 *", duration: 336h}]
    startAt: "2026-12-02T09:30:00+01:00"
`

func TestScheduleValidatesAndCompiles(t *testing.T) {
	r, err := Parse([]byte(scheduleYAML))
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(r, ValidateOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := r.Spec.Schedule.Compile()
	if err != nil {
		t.Fatal(err)
	}
	if s.Location.String() != "Europe/Berlin" || len(s.Allow) != 1 || len(s.Deny) != 1 || s.StartAt.IsZero() {
		t.Fatalf("compiled %+v", s)
	}
	// Wednesday 2 December 2026 at 11:00 in Berlin: open until 17:00.
	st := s.At(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), time.Time{})
	if !st.Open || !st.Until.Equal(time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("state %+v", st)
	}
	var none *Schedule
	if s, err := none.Compile(); err != nil || !s.At(time.Now(), time.Now()).Open {
		t.Errorf("no schedule: %v", err)
	}
}

func TestScheduleValidation(t *testing.T) {
	cases := []struct{ name, old, new, want string }{
		{"unknown zone", "timezone: Europe/Berlin", "timezone: Europe/Atlantis", `spec.schedule.timezone: "Europe/Atlantis" is not a time zone of the IANA database`},
		{"four fields", `cron: "0 9 * * 1-5"`, `cron: "0 9 * *"`, `spec.schedule.allow[0].cron: "0 9 * *" is not a cron expression: expected exactly 5 fields, found 4`},
		{"minute out of range", `cron: "0 9 * * 1-5"`, `cron: "60 9 * * 1-5"`, `spec.schedule.allow[0].cron: "60 9 * * 1-5" is not a cron expression`},
		{"every", `cron: "0 0 20 12 *"`, `cron: "@every 24h"`, `spec.schedule.deny[0].cron: "@every 24h" repeats from whenever it is read, not on the calendar`},
		{"own zone", `cron: "0 9 * * 1-5"`, `cron: "CRON_TZ=UTC 0 9 * * 1-5"`, `spec.schedule.allow[0].cron: "CRON_TZ=UTC 0 9 * * 1-5" sets its own time zone; set spec.schedule.timezone instead`},
		{"empty cron", `cron: "0 9 * * 1-5"`, `cron: ""`, "spec.schedule.allow[0].cron: is empty"},
		{"zero duration", "duration: 8h", "duration: 0s", "spec.schedule.allow[0].duration: must be positive, got 0s"},
		{"no duration", `{cron: "0 0 20 12 *", duration: 336h}`, `{cron: "0 0 20 12 *"}`, "spec.schedule.deny[0].duration: is required"},
		{"duration over a year", "duration: 336h", "duration: 9000h", "spec.schedule.deny[0].duration: 9000h0m0s is more than a year"},
		{"startAt without offset", `startAt: "2026-12-02T09:30:00+01:00"`, `startAt: "2026-12-02 09:30"`, `spec.schedule.startAt: "2026-12-02 09:30" is not an RFC 3339 time with its offset`},
		{"startAt and startCron", `startAt: "2026-12-02T09:30:00+01:00"`, `startAt: "2026-12-02T09:30:00+01:00"` + "\n    startCron: \"30 9 * * 1-5\"", "spec.schedule.startCron: startAt and startCron are exclusive"},
		{"unknown field", "timezone: Europe/Berlin", "timezone: Europe/Berlin\n    windows: []", "spec.schedule.windows: unknown field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Replace(scheduleYAML, tc.old, tc.new, 1)
			if doc == scheduleYAML {
				t.Fatalf("edit %q did not apply", tc.old)
			}
			r, err := Parse([]byte(doc))
			if err == nil {
				err = Validate(r, ValidateOptions{})
			}
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}
