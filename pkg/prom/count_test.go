package prom

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

// t0 is a look's start in these tests; samples are given in seconds from it.
var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func at(sec float64) int64 { return t0.UnixMilli() + int64(math.Round(sec*1000)) }

// series builds one series of version v from (seconds, value) pairs.
func series(v string, pairs ...float64) Series {
	s := Series{Labels: map[string]string{"__name__": "istio_requests_total", "destination_version": v}}
	for i := 0; i < len(pairs); i += 2 {
		s.Samples = append(s.Samples, Sample{T: at(pairs[i]), V: pairs[i+1]})
	}
	return s
}

func TestIncrease(t *testing.T) {
	w := Window{Start: t0, End: t0.Add(30 * time.Second), Step: 10 * time.Second}
	stale := math.Float64frombits(0x7ff0000000000002)
	for _, tc := range []struct {
		name   string
		series []Series
		want   map[string]*Count
	}{{
		name:   "rises from the baseline at the start",
		series: []Series{series("v1", -2, 100, 0, 103, 5, 110, 15, 120, 30, 150, 31, 999)},
		want:   map[string]*Count{"v1": {Events: 47, Steps: []int64{7, 10, 30}, Series: 1, Last: ts(30)}},
	}, {
		name: "a series first seen in the window counts from 0 (increase() would lose its first 4)",
		series: []Series{
			series("v2", 1, 4, 11, 9, 21, 9),
		},
		want: map[string]*Count{"v2": {Events: 9, Steps: []int64{4, 5, 0}, Series: 1, New: 1, Last: ts(21)}},
	}, {
		name:   "a drop is a restart from 0: the new value counts",
		series: []Series{series("v1", 0, 50, 10, 60, 20, 3, 30, 8)},
		want:   map[string]*Count{"v1": {Events: 10 + 3 + 5, Steps: []int64{10, 3, 5}, Series: 1, Resets: 1, Last: ts(30)}},
	}, {
		name:   "a scrape gap (stale markers) joins the samples around it",
		series: []Series{series("v1", 0, 10, 5, 12, 6, stale, 7, stale, 25, 40)},
		want:   map[string]*Count{"v1": {Events: 30, Steps: []int64{2, 0, 28}, Series: 1, Last: ts(25)}},
	}, {
		name:   "a baseline older than the lookback does not count: the series is new",
		series: []Series{series("v1", -400, 5, 3, 7)},
		want:   map[string]*Count{"v1": {Events: 7, Steps: []int64{7, 0, 0}, Series: 1, New: 1, Last: ts(3)}},
	}, {
		name:   "a series that ended before the window counts nothing",
		series: []Series{series("v1", -20, 5, -10, 9)},
		want:   map[string]*Count{"v1": {Steps: []int64{0, 0, 0}, Last: ts(-10)}},
	}, {
		name: "series of a version add up; versions stay apart",
		series: []Series{
			series("v1", 0, 1, 30, 2),
			series("v1", -1, 10, 29.999, 20),
			series("v2", 0.001, 1),
		},
		want: map[string]*Count{
			"v1": {Events: 11, Steps: []int64{0, 0, 11}, Series: 2, Last: ts(30)},
			"v2": {Events: 1, Steps: []int64{1, 0, 0}, Series: 1, New: 1, Last: ts(0.001)},
		},
	}, {
		name:   "samples after the end are not counted; at the end they are",
		series: []Series{series("v1", 0, 0, 30, 5, 30.001, 6)},
		want:   map[string]*Count{"v1": {Events: 5, Steps: []int64{0, 0, 5}, Series: 1, Last: ts(30)}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Increase(tc.series, "destination_version", w, DefaultLookback)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				for k, c := range got {
					t.Logf("got %s: %+v", k, *c)
				}
				t.Fatalf("want %v", tc.want)
			}
			var sum int64
			for _, c := range got {
				for _, s := range c.Steps {
					sum += s
				}
				sum -= c.Events
			}
			if sum != 0 {
				t.Fatalf("steps do not add up to the events: off by %d", sum)
			}
		})
	}
}

func ts(sec float64) time.Time { return time.UnixMilli(at(sec)) }

func TestIncreaseLooksTelescope(t *testing.T) {
	// Counting consecutive looks gives, in total, the count of the whole
	// span: no event falls between two looks or into both.
	s := []Series{
		series("v1", -1, 3, 2, 5, 7, 9, 9, 1, 14, 4, 20, 30),
		series("v1", 12, 2, 18, 6),
	}
	whole, err := Increase(s, "", Window{Start: t0, End: t0.Add(20 * time.Second)}, DefaultLookback)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	bounds := []float64{0, 5, 9, 12, 15, 20}
	for i := 1; i < len(bounds); i++ {
		w := Window{Start: time.UnixMilli(at(bounds[i-1])), End: time.UnixMilli(at(bounds[i]))}
		c, err := Increase(s, "", w, DefaultLookback)
		if err != nil {
			t.Fatal(err)
		}
		sum += c[""].Events
	}
	if sum != whole[""].Events || sum != 2+4+1+3+26+6 {
		t.Fatalf("looks add up to %d, the whole span to %d", sum, whole[""].Events)
	}
}

func TestIncreaseRefuses(t *testing.T) {
	w := Window{Start: t0, End: t0.Add(time.Minute)}
	for _, tc := range []struct {
		name string
		s    Series
		is   error
	}{
		{"fractional", series("v1", 1, 2.5), ErrNotCounter},
		{"negative", series("v1", 1, -1), ErrNotCounter},
		{"beyond 2^53", series("v1", 1, 1<<54), ErrNotCounter},
		{"infinite", series("v1", 1, math.Inf(1)), ErrNotCounter},
		{"out of order", series("v1", 2, 1, 1, 2), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Increase([]Series{tc.s}, "", w, DefaultLookback)
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("got %v, want an error (%v)", err, tc.is)
			}
		})
	}
	if _, err := Increase(nil, "", Window{Start: t0, End: t0}, DefaultLookback); err == nil {
		t.Fatal("an empty window was accepted")
	}
}

func TestSub(t *testing.T) {
	all := Count{Events: 10, Steps: []int64{4, 6}, Series: 2, Last: ts(20)}
	fast := Count{Events: 7, Steps: []int64{3, 4}, Series: 2, Last: ts(19)}
	got, err := Sub(all, fast)
	if err != nil {
		t.Fatal(err)
	}
	want := Count{Events: 3, Steps: []int64{1, 2}, Series: 2, Last: ts(19)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if _, err := Sub(fast, all); !errors.Is(err, ErrNotCounter) {
		t.Fatalf("a negative difference gave %v", err)
	}
}

// TestIncreaseScraped: a series absent from scrapes that worked (its
// counter went away: a proxy restart) and back at a value not below the
// one before counts that value fully; across a gap where no scrape worked
// (the target unreachable) the samples are joined.
func TestIncreaseScraped(t *testing.T) {
	w := Window{Start: t0, End: t0.Add(30 * time.Second)}
	// Scraped every second; gone from 5 s to 12 s; back at 2 (it was 2).
	s := []Series{series("v1", -1, 1, 0, 1, 1, 1, 2, 2, 3, 2, 4, 2, 12, 2, 13, 3)}
	s[0].Labels["job"], s[0].Labels["instance"] = "mesh", "10.0.0.7:15020"
	var asked [][2]int64
	restarted := func(labels map[string]string, after, before int64) bool {
		asked = append(asked, [2]int64{after, before})
		return labels["instance"] == "10.0.0.7:15020"
	}
	got, err := IncreaseScraped(s, "", w, DefaultLookback, restarted)
	if err != nil {
		t.Fatal(err)
	}
	if c := got[""]; c.Events != 1+2+1 || c.Resets != 1 {
		t.Errorf("after a restart: %+v, want 4 events (1 before, 2 and 1 after), 1 reset", c)
	}
	if want := [2]int64{ms(ts(4)), ms(ts(12))}; len(asked) != 1 || asked[0] != want {
		t.Errorf("asked about %v, want only the gap %v", asked, want)
	}
	unreachable := func(map[string]string, int64, int64) bool { return false }
	got, err = IncreaseScraped(s, "", w, DefaultLookback, unreachable)
	if err != nil {
		t.Fatal(err)
	}
	if c := got[""]; c.Events != 2 || c.Resets != 0 {
		t.Errorf("across a scrape gap: %+v, want 2 events, no reset", c)
	}
}
