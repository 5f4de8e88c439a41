package prom_test

import (
	"fmt"
	"time"

	"github.com/gitcanary/gitcanary/pkg/prom"
)

// A 30-second look (docs/analysis.md, "How gitcanary counts"): the stable pod's counter
// goes 100 → 160; the canary's first series is born at 12 s with 4
// requests in it, and its sidecar restarts before 25 s (the counter drops
// from 9 to 2). increase() would say about 60 for the stable version and
// lose the canary's first 4 and the 9 before the restart.
func ExampleIncrease() {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	at := func(s int) int64 { return t0.Add(time.Duration(s) * time.Second).UnixMilli() }
	series := []prom.Series{
		{Labels: map[string]string{"destination_version": "v1", "pod": "reviews-v1-a"},
			Samples: []prom.Sample{{T: at(-5), V: 100}, {T: at(10), V: 120}, {T: at(20), V: 140}, {T: at(30), V: 160}}},
		{Labels: map[string]string{"destination_version": "v2", "pod": "reviews-v2-a"},
			Samples: []prom.Sample{{T: at(12), V: 4}, {T: at(20), V: 9}, {T: at(25), V: 2}, {T: at(30), V: 6}}},
	}
	w := prom.Window{Start: t0, End: t0.Add(30 * time.Second), Step: 10 * time.Second}
	counts, err := prom.Increase(series, "destination_version", w, prom.DefaultLookback)
	if err != nil {
		panic(err)
	}
	for _, v := range prom.Groups(counts) {
		c := counts[v]
		fmt.Printf("%s: %d events, per 10 s %v, new series %d, resets %d\n", v, c.Events, c.Steps, c.New, c.Resets)
	}
	// Output:
	// v1: 60 events, per 10 s [20 20 20], new series 0, resets 0
	// v2: 15 events, per 10 s [0 9 6], new series 1, resets 1
}
