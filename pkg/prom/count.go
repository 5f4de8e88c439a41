package prom

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// ErrNotCounter means a selected series holds a value no counter of events
// can hold (negative, fractional, or beyond 2^53 where float64 stops
// counting by one): the selector does not select counters.
var ErrNotCounter = errors.New("not an event counter")

// Sample is one raw sample as Prometheus stores it: milliseconds since the
// Unix epoch and the value.
type Sample struct {
	T int64
	V float64
}

// Series is one time series: its labels (the metric name in __name__) and
// its raw samples in time order.
type Series struct {
	Labels  map[string]string
	Samples []Sample
}

// Window is one look: the interval (Start, End] whose events are counted.
// Both ends come from git, so a later process counts the same samples.
type Window struct {
	Start, End time.Time
	// Step, when set, splits the window into sub-intervals (Start+k·Step,
	// Start+(k+1)·Step] (the last one ends at End) and Count.Steps gives
	// the events of each: what the judge estimates over-dispersion from.
	Step time.Duration
}

// Count is the exact number of events that a group of counter series
// recorded in a window.
type Count struct {
	// Events is the sum over the group's series of the counter's increase
	// from its last sample at or before Start (0 for a series that had
	// none: it started at 0 after it) to its last sample at or before End.
	Events int64
	// Steps are Events by sub-interval of Window.Step: an increase is
	// counted in the sub-interval of the sample that first shows it.
	Steps []int64
	// Series counts the series with a sample in the window; New those of
	// them with no sample in the lookback before Start (counted from 0).
	Series, New int
	// Resets counts drops of a counter (its process restarted at 0).
	Resets int
	// Last is the newest sample at or before End of the group, zero when
	// there is none: how current the count is.
	Last time.Time
}

// ms converts a time to Prometheus's milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// maxExact is the largest integer from which float64 still counts by one.
const maxExact = 1 << 53

// Increase counts exactly, per value of the label by ("" groups all
// series into one group, keyed ""), the events that counter series
// recorded in w. It needs every sample of each series in
// [w.Start-lookback, w.End]; samples outside are ignored. It never
// interpolates or extrapolates:
//
//   - a series' baseline is its last sample in [Start-lookback, Start];
//     a series without one is new and counts from 0, as a counter that
//     Envoy creates at its first event does (PromQL's increase() drops
//     that first increase);
//   - between consecutive samples a rise counts fully and a drop means the
//     counter restarted from 0, so the new value counts fully;
//   - NaN samples (Prometheus's stale markers) are skipped: a scrape gap
//     joins the samples on either side, unless scraped (when not nil) says
//     the series' target was scraped successfully within the gap: the
//     series was then absent from a scrape that worked, so its counter
//     went away (a proxy restart, which drops every counter) and the
//     value after the gap counts fully, even when it is not below the
//     value before (a restart that a drop alone would not show).
//
// Groups are returned for the label values present in series only.
func Increase(series []Series, by string, w Window, lookback time.Duration) (map[string]*Count, error) {
	return IncreaseScraped(series, by, w, lookback, nil)
}

// Scraped reports whether the target of the series with labels was
// scraped successfully strictly between two times (Unix milliseconds).
type Scraped func(labels map[string]string, after, before int64) bool

// IncreaseScraped is Increase with a way to tell a scrape gap from a
// counter that went away (see Increase).
func IncreaseScraped(series []Series, by string, w Window, lookback time.Duration, scraped Scraped) (map[string]*Count, error) {
	start, end := ms(w.Start), ms(w.End)
	if end <= start {
		return nil, fmt.Errorf("window end %s is not after its start %s", w.End.UTC().Format(time.RFC3339Nano), w.Start.UTC().Format(time.RFC3339Nano))
	}
	from := start - lookback.Milliseconds()
	var step, bins int64
	if w.Step > 0 {
		step = w.Step.Milliseconds()
		if step <= 0 {
			return nil, fmt.Errorf("window step %s is under a millisecond", w.Step)
		}
		bins = (end - start + step - 1) / step
	}
	out := map[string]*Count{}
	for _, s := range series {
		key := ""
		if by != "" {
			key = s.Labels[by]
		}
		c := out[key]
		if c == nil {
			c = &Count{}
			if bins > 0 {
				c.Steps = make([]int64, bins)
			}
			out[key] = c
		}
		if err := addSeries(c, s, from, start, end, step, scraped); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func addSeries(c *Count, s Series, from, start, end, step int64, scraped Scraped) error {
	var prev, prevT int64
	interval := scrapeInterval(s.Samples)
	base, seen := false, false
	last := int64(math.MinInt64)
	for _, p := range s.Samples {
		if p.T < from || p.T > end || math.IsNaN(p.V) {
			continue
		}
		if p.T <= last {
			return fmt.Errorf("series %s: samples out of order at %d ms", labelsKey(s.Labels), p.T)
		}
		last = p.T
		if p.V < 0 || p.V > maxExact || p.V != math.Trunc(p.V) {
			return fmt.Errorf("%w: series %s has the value %v at %s", ErrNotCounter, labelsKey(s.Labels), p.V,
				time.UnixMilli(p.T).UTC().Format(time.RFC3339Nano))
		}
		v := int64(p.V)
		gapFrom := int64(-1) // the previous sample's time, when a gap follows it
		if (base || seen) && interval > 0 && p.T-prevT > interval+interval/2 {
			gapFrom = prevT
		}
		prevT = p.T
		if p.T <= start {
			prev, base = v, true
			continue
		}
		if !seen {
			seen = true
			c.Series++
			if !base {
				c.New++
			}
		}
		inc := v - prev
		if v < prev || gapFrom >= 0 && scraped != nil && scraped(s.Labels, gapFrom, p.T) {
			inc = v
			c.Resets++
		}
		prev = v
		c.Events += inc
		if step > 0 && inc > 0 {
			c.Steps[(p.T-start-1)/step] += inc
		}
	}
	if last > math.MinInt64 {
		if t := time.UnixMilli(last); t.After(c.Last) {
			c.Last = t
		}
	}
	return nil
}

// Groups returns the keys of counts in order, for stable output.
func Groups(counts map[string]*Count) []string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Sub returns a − b step by step: e.g. the requests slower than a bucket
// bound, from the count of all requests and the bucket's count. Series,
// New and Resets are a's; Last is the older of the two.
func Sub(a, b Count) (Count, error) {
	out := a
	out.Events -= b.Events
	if len(a.Steps) != len(b.Steps) {
		return Count{}, fmt.Errorf("counts of different windows: %d and %d steps", len(a.Steps), len(b.Steps))
	}
	if a.Steps != nil {
		out.Steps = make([]int64, len(a.Steps))
		for i := range a.Steps {
			out.Steps[i] = a.Steps[i] - b.Steps[i]
		}
	}
	if b.Last.Before(a.Last) {
		out.Last = b.Last
	}
	if out.Events < 0 {
		return Count{}, fmt.Errorf("%w: the subtracted count (%d) exceeds the total (%d)", ErrNotCounter, b.Events, a.Events)
	}
	return out, nil
}

// sortSeries orders series by their labels, so results do not depend on
// the order of Prometheus's answer.
func sortSeries(s []Series) {
	sort.SliceStable(s, func(i, j int) bool { return labelsKey(s[i].Labels) < labelsKey(s[j].Labels) })
}

// scrapeInterval is the shortest time between two consecutive samples of
// a series: its scrape interval, to tell a gap (0 with fewer than two).
func scrapeInterval(samples []Sample) int64 {
	var min int64
	for i := 1; i < len(samples); i++ {
		if math.IsNaN(samples[i].V) || math.IsNaN(samples[i-1].V) {
			continue
		}
		if d := samples[i].T - samples[i-1].T; d > 0 && (min == 0 || d < min) {
			min = d
		}
	}
	return min
}
