package schedule

import (
	"strings"
	"testing"
	"time"
)

func tm(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func win(t *testing.T, expr string, d time.Duration) Window {
	t.Helper()
	w, err := ParseWindow(expr, d)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestAt: business hours in Berlin, a freeze across the new year, clocks
// going forward and back, a start time and a start cron.
func TestAt(t *testing.T) {
	loc := berlin(t)
	weekdays := win(t, "0 9 * * 1-5", 8*time.Hour)
	freeze := win(t, "0 0 20 12 *", 336*time.Hour)
	daily := win(t, "0 9 * * *", 8*time.Hour)
	started := tm(t, "2026-12-02T10:00:00+01:00")
	cases := []struct {
		name   string
		s      Schedule
		at     string
		open   bool
		reason string
		until  string // RFC 3339, "" for none
	}{
		{"inside business hours", Schedule{Location: loc, Allow: []Window{weekdays}}, "2026-12-02T10:00:00+01:00", true, "", "2026-12-02T17:00:00+01:00"},
		{"after business hours", Schedule{Location: loc, Allow: []Window{weekdays}}, "2026-12-02T18:00:00+01:00", false, "outside the allow windows", "2026-12-03T09:00:00+01:00"},
		{"at the very opening", Schedule{Location: loc, Allow: []Window{weekdays}}, "2026-12-03T09:00:00+01:00", true, "", "2026-12-03T17:00:00+01:00"},
		{"at the very closing", Schedule{Location: loc, Allow: []Window{weekdays}}, "2026-12-03T17:00:00+01:00", false, "outside the allow windows", "2026-12-04T09:00:00+01:00"},
		{"friday evening waits for monday", Schedule{Location: loc, Allow: []Window{weekdays}}, "2026-12-04T17:30:00+01:00", false, "outside the allow windows", "2026-12-07T09:00:00+01:00"},
		{"the freeze spans the new year", Schedule{Location: loc, Allow: []Window{weekdays}, Deny: []Window{freeze}}, "2026-12-18T17:30:00+01:00", false, "outside the allow windows", "2027-01-04T09:00:00+01:00"},
		{"inside the freeze", Schedule{Location: loc, Allow: []Window{weekdays}, Deny: []Window{freeze}}, "2026-12-22T10:00:00+01:00", false, `in the deny window "0 0 20 12 *" (336h0m0s)`, "2027-01-04T09:00:00+01:00"},
		{"a freeze alone ends at its end", Schedule{Location: loc, Deny: []Window{freeze}}, "2026-12-31T23:59:00+01:00", false, `in the deny window`, "2027-01-03T00:00:00+01:00"},
		{"no windows", Schedule{Location: loc}, "2026-12-02T03:00:00+01:00", true, "", ""},
		{"the day clocks go forward", Schedule{Location: loc, Allow: []Window{daily}}, "2026-03-29T09:30:00+02:00", true, "", "2026-03-29T17:00:00+02:00"},
		{"the night clocks go forward", Schedule{Location: loc, Allow: []Window{daily}}, "2026-03-28T20:00:00+01:00", false, "outside the allow windows", "2026-03-29T09:00:00+02:00"},
		// A window's duration is real time: 24 hours from Saturday 09:00
		// CET end at 10:00 CEST on Sunday.
		{"a day-long window across the change", Schedule{Location: loc, Allow: []Window{win(t, "0 9 * * 6", 24*time.Hour)}}, "2026-03-29T09:30:00+02:00", true, "", "2026-03-29T10:00:00+02:00"},
		{"the day clocks go back", Schedule{Location: loc, Allow: []Window{daily}}, "2026-10-25T08:00:00+01:00", false, "outside the allow windows", "2026-10-25T09:00:00+01:00"},
		// robfig/cron skips an activation in the hour clocks skip, and
		// activates twice in the hour they repeat.
		{"an opening in the skipped hour", Schedule{Location: loc, Allow: []Window{win(t, "30 2 * * *", time.Hour)}}, "2026-03-29T00:00:00+01:00", false, "outside the allow windows", "2026-03-30T02:30:00+02:00"},
		{"an opening in the repeated hour", Schedule{Location: loc, Allow: []Window{win(t, "30 2 * * *", time.Hour)}}, "2026-10-25T02:45:00+02:00", true, "", "2026-10-25T03:30:00+01:00"},
		{"before startAt", Schedule{Location: loc, StartAt: tm(t, "2026-12-02T09:30:00+01:00")}, "2026-12-02T08:00:00+01:00", false, "before startAt 2026-12-02T09:30:00+01:00", "2026-12-02T09:30:00+01:00"},
		{"startAt inside a closed window waits for the window", Schedule{Location: loc, Allow: []Window{weekdays}, StartAt: tm(t, "2026-12-05T12:00:00+01:00")}, "2026-12-04T10:00:00+01:00", false, "before startAt", "2026-12-07T09:00:00+01:00"},
		{"before the start cron", Schedule{Location: loc, StartCron: win(t, "30 9 * * 1-5", time.Hour).sched}, "2026-12-02T11:00:00+01:00", false, "before the start (startCron) at 2026-12-03T09:30:00+01:00", "2026-12-03T09:30:00+01:00"},
		{"after the start cron", Schedule{Location: loc, StartCron: win(t, "30 9 * * 1-5", time.Hour).sched}, "2026-12-03T10:00:00+01:00", true, "", ""},
		{"always open", Schedule{Location: loc, Allow: []Window{win(t, "* * * * *", 8*time.Hour)}}, "2026-12-03T10:00:00+01:00", true, "", ""},
		{"two allow windows that touch", Schedule{Location: loc, Allow: []Window{win(t, "0 9 * * *", 4*time.Hour), win(t, "0 13 * * *", 4*time.Hour)}}, "2026-12-03T10:00:00+01:00", true, "", "2026-12-03T17:00:00+01:00"},
		{"a descriptor", Schedule{Location: loc, Allow: []Window{win(t, "@daily", 2*time.Hour)}}, "2026-12-03T10:00:00+01:00", false, "outside the allow windows", "2026-12-04T00:00:00+01:00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.s.At(tm(t, tc.at), started)
			if st.Open != tc.open || !strings.Contains(st.Reason, tc.reason) || (tc.reason == "" && st.Reason != "") {
				t.Errorf("open %v %q; want %v %q", st.Open, st.Reason, tc.open, tc.reason)
			}
			switch {
			case tc.until == "" && !st.Until.IsZero():
				t.Errorf("until %s; want none", st.Until.In(loc).Format(time.RFC3339))
			case tc.until != "" && !st.Until.Equal(tm(t, tc.until)):
				t.Errorf("until %s; want %s", st.Until.In(loc).Format(time.RFC3339), tc.until)
			}
		})
	}
}

func TestParseWindowErrors(t *testing.T) {
	cases := []struct {
		expr string
		d    time.Duration
		want string
	}{
		{"", time.Hour, "is empty"},
		{"0 9 * *", time.Hour, `"0 9 * *" is not a cron expression: expected exactly 5 fields, found 4`},
		{"61 9 * * *", time.Hour, "is not a cron expression"},
		{"@every 1h", time.Hour, "repeats from whenever it is read"},
		{"CRON_TZ=UTC 0 9 * * *", time.Hour, "sets its own time zone; set spec.schedule.timezone instead"},
		{"0 9 * * *", 0, "duration must be positive, got 0s"},
		{"0 9 * * *", 400 * 24 * time.Hour, "is more than a year"},
	}
	for _, tc := range cases {
		_, err := ParseWindow(tc.expr, tc.d)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseWindow(%q, %s) = %v; want %q", tc.expr, tc.d, err, tc.want)
		}
	}
}
