package argocd

import (
	"io"
	"os"

	"fmt"
	"github.com/sirupsen/logrus"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
)

func deny(schedule, duration string) v1alpha1.SyncWindow {
	return v1alpha1.SyncWindow{Kind: "deny", Schedule: schedule, Duration: duration, Applications: []string{"*"}}
}

func allow(schedule, duration string) v1alpha1.SyncWindow {
	return v1alpha1.SyncWindow{Kind: "allow", Schedule: schedule, Duration: duration, Applications: []string{"*"}}
}

func in(w v1alpha1.SyncWindow, tz string) v1alpha1.SyncWindow { w.TimeZone = tz; return w }

func manual(w v1alpha1.SyncWindow) v1alpha1.SyncWindow { w.ManualSync = true; return w }

// TestSyncWindowsLikeArgoCD: on random windows, CanSyncAt agrees with Argo
// CD's own CanSync (v1alpha1, which reads time.Now()), manual or not.
func TestSyncWindowsLikeArgoCD(t *testing.T) {
	if s := time.Now().Second(); s == 0 || s == 59 {
		time.Sleep(2 * time.Second) // keep both evaluations on one side of a minute
	}
	logrus.SetOutput(io.Discard) // Argo CD warns of the unknown zone at every evaluation
	t.Cleanup(func() { logrus.SetOutput(os.Stderr) })
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	h, m := now.UTC().Hour(), now.UTC().Minute()
	schedules := []string{
		"* * * * *", "0 * * * *", "0 9 * * 1-5", "0 22 * * *", "30 1 1 * *",
		// starting just before and just after now, on UTC's clock
		minuteCron(h, m-1), minuteCron(h, m+1), minuteCron(h-1, m), minuteCron(h+1, m),
	}
	durations := []string{"1m", "30m", "1h", "2h", "8h", "24h"}
	zones := []string{"", "UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Not/AZone"}
	for i := range 2000 {
		var ws v1alpha1.SyncWindows
		for range 1 + rng.IntN(3) {
			w := v1alpha1.SyncWindow{Kind: []string{"allow", "deny"}[rng.IntN(2)], Schedule: schedules[rng.IntN(len(schedules))],
				Duration: durations[rng.IntN(len(durations))], TimeZone: zones[rng.IntN(len(zones))], ManualSync: rng.IntN(2) == 0,
				Applications: []string{"*"}}
			ws = append(ws, &w)
		}
		ours := &SyncWindows{}
		for _, w := range ws {
			ours.Windows = append(ours.Windows, *w)
		}
		for _, isManual := range []bool{true, false} {
			want, err := ws.CanSync(isManual)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ours.CanSyncAt(time.Now(), isManual)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("case %d, manual %v: CanSyncAt %v, Argo CD %v, windows %s", i, isManual, got, want, listWindows(ours.Windows))
			}
		}
	}
}

// minuteCron is a daily schedule at h:m (UTC clock, wrapped).
func minuteCron(h, m int) string {
	h, m = ((h+m/60)%24+24)%24, (m%60+60)%60
	return fmt.Sprintf("%d %d * * *", m, h)
}

func TestSyncWindowsAt(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	tests := []struct {
		name    string
		windows []v1alpha1.SyncWindow
		at      time.Time
		open    bool
		until   time.Time
		reason  string
	}{
		{name: "no windows", at: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC), open: true},
		{name: "nightly freeze in Berlin", windows: []v1alpha1.SyncWindow{in(deny("0 22 * * *", "8h"), "Europe/Berlin")},
			at: time.Date(2026, 12, 2, 23, 0, 0, 0, berlin), until: time.Date(2026, 12, 3, 6, 0, 0, 0, berlin),
			reason: `deny sync window "0 22 * * *" for 8h in Europe/Berlin of project default refuses syncs`},
		{name: "before the freeze", windows: []v1alpha1.SyncWindow{in(deny("0 22 * * *", "8h"), "Europe/Berlin")},
			at: time.Date(2026, 12, 2, 21, 59, 0, 0, berlin), open: true},
		{name: "end is out", windows: []v1alpha1.SyncWindow{deny("0 22 * * *", "8h")},
			at: time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC), open: true},
		{name: "manualSync lets gitcanary through", windows: []v1alpha1.SyncWindow{manual(deny("* * * * *", "1h"))},
			at: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC), open: true},
		{name: "weekend outside business hours", windows: []v1alpha1.SyncWindow{allow("0 9 * * 1-5", "8h")},
			at: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC), until: time.Date(2026, 12, 7, 9, 0, 1, 0, time.UTC),
			reason: `allow sync windows of project default are all closed ("0 9 * * 1-5" for 8h)`},
		{name: "deny wins over allow, then allow ends", windows: []v1alpha1.SyncWindow{allow("0 9 * * *", "8h"), deny("0 12 * * *", "6h")},
			at: time.Date(2026, 12, 2, 13, 0, 0, 0, time.UTC), until: time.Date(2026, 12, 3, 9, 0, 1, 0, time.UTC),
			reason: `deny sync window "0 12 * * *" for 6h of project default refuses syncs`},
		{name: "a freeze over the year boundary", windows: []v1alpha1.SyncWindow{deny("0 0 20 12 *", "336h")},
			at: time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), until: time.Date(2027, 1, 3, 0, 0, 0, 0, time.UTC),
			reason: `deny sync window "0 0 20 12 *" for 336h of project default refuses syncs`},
		{name: "never opens", windows: []v1alpha1.SyncWindow{deny("* * * * *", "1h")},
			at:     time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC),
			reason: `deny sync window "* * * * *" for 1h of project default refuses syncs`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &SyncWindows{Project: "default", Windows: tt.windows}
			st, err := w.At(tt.at)
			if err != nil {
				t.Fatal(err)
			}
			if st.Open != tt.open || !st.Until.Equal(tt.until) || st.Reason != tt.reason {
				t.Errorf("At = %+v\nwant open %v until %s reason %q", st, tt.open, tt.until, tt.reason)
			}
		})
	}
}

func TestSyncWindowsInvalid(t *testing.T) {
	for _, w := range []v1alpha1.SyncWindow{deny("@daily", "1h"), deny("0 22 * * *", "1d"), deny("0 0 22 * * *", "1h")} {
		s := &SyncWindows{Project: "default", Windows: []v1alpha1.SyncWindow{w}}
		if _, err := s.At(time.Now()); err == nil || !strings.Contains(err.Error(), "syncWindows[0]") {
			t.Errorf("%s %s: err %v", w.Schedule, w.Duration, err)
		}
		if d := s.Describe(time.Now()); !strings.Contains(d, "are invalid") {
			t.Errorf("Describe: %s", d)
		}
	}
}

func TestSyncWindowsForecast(t *testing.T) {
	at := time.Date(2026, 12, 2, 20, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		windows []v1alpha1.SyncWindow
		span    time.Duration
		want    []string
	}{
		{name: "none"},
		{name: "closed now", windows: []v1alpha1.SyncWindow{deny("0 19 * * *", "2h")}, span: time.Hour,
			want: []string{`now, Argo CD's deny sync window "0 19 * * *" for 2h of project default refuses syncs until 2026-12-02T21:00:00Z: the release's commits would wait (the way back is committed and waits for Argo CD)`}},
		{name: "closes within the release", windows: []v1alpha1.SyncWindow{deny("0 22 * * *", "8h")}, span: 3 * time.Hour,
			want: []string{`Argo CD's deny sync window "0 22 * * *" for 8h of project default refuses syncs from 2026-12-02T22:00:01Z, within the release's 3h0m0s from now: a step falling in it waits until 2026-12-03T06:00:00Z`}},
		{name: "closes after the release", windows: []v1alpha1.SyncWindow{deny("0 22 * * *", "8h")}, span: time.Hour},
		{name: "manualSync", windows: []v1alpha1.SyncWindow{manual(deny("0 19 * * *", "2h"))}, span: time.Hour,
			want: []string{`deny sync window "0 19 * * *" for 2h, manualSync has manualSync: gitcanary's syncs (manual) go through it, automated sync and selfHeal do not`}},
		{name: "invalid", windows: []v1alpha1.SyncWindow{deny("@daily", "2h")}, span: time.Hour,
			want: []string{`Argo CD's sync windows of project default are invalid (syncWindows[0]: cannot parse schedule "@daily": parser does not accept descriptors: @daily): Argo CD refuses every sync of the app until they are fixed`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := (&SyncWindows{Project: "default", Windows: tt.windows}).Forecast(at, tt.span)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Forecast:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
