package machine

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/release"
)

// BenchmarkPause measures, on the real clock, what a release waiting in a
// pause costs: a timed pause of GITCANARY_PAUSE (default 10m), then a
// pause until approved that another process (its own clone cache, straight
// to the git server) aborts after GITCANARY_PAUSE_ABORT_AFTER (default
// 1m). Git is a real git daemon on loopback behind a counting proxy; Argo
// CD and the cluster are machinetest's scripted fakes behind a counting
// client. It prints git fetches, ref checks, connections to the git server
// and Argo CD calls per minute of each pause, and how long after the abort
// was pushed the driving process saw it. `make bench-pause`.
func BenchmarkPause(b *testing.B) {
	pause := envDuration(b, "GITCANARY_PAUSE", 10*time.Minute)
	abortAfter := envDuration(b, "GITCANARY_PAUSE_ABORT_AFTER", time.Minute)
	for b.Loop() {
		pw := newPauseWorld(b, true)
		ctx, cancel := context.WithTimeout(context.Background(), pause+abortAfter+5*time.Minute)
		r := releaseWith(b, fmt.Sprintf("[{setWeight: 10}, {pause: {duration: %s}}, {setWeight: 50}, {pause: {}}, {setWeight: 100}]", pause))
		if _, err := pw.m.Start(ctx, r); err != nil {
			b.Fatal(err)
		}
		if _, err := pw.m.Run(ctx, pausedAt(1), nil); err != nil {
			b.Fatal(err)
		}
		start, base := time.Now(), pw.snapshot()
		if _, err := pw.m.Run(ctx, func(o Outcome) bool { return o.Release.Status.Step == 2 }, nil); err != nil {
			b.Fatal(err)
		}
		timed := pw.since(start, time.Now(), base)
		fmt.Printf("timed pause of %s: %s\n", pause, timed)

		if _, err := pw.m.Run(ctx, pausedAt(3), nil); err != nil {
			b.Fatal(err)
		}
		var mu sync.Mutex
		var abortedAt, noticed time.Time
		var during counts
		start, base = time.Now(), pw.snapshot()
		go func() {
			time.Sleep(abortAfter)
			other := pw.other(b)
			if _, err := other.Abort(ctx, "from another process"); err != nil {
				b.Error(err)
			}
			mu.Lock()
			abortedAt = time.Now()
			mu.Unlock()
		}()
		if _, err := pw.m.Run(ctx, untilDone, func(o Outcome) {
			mu.Lock()
			defer mu.Unlock()
			if noticed.IsZero() && o.Release.Status.Phase == release.Abandoning {
				noticed, during = time.Now(), pw.since(start, time.Now(), base)
			}
		}); err != nil {
			b.Fatal(err)
		}
		cancel()
		mu.Lock()
		fmt.Printf("pause until approved, aborted by another process after %s: %s\n", abortAfter, during)
		fmt.Printf("the abort pushed by the other process was seen by the driving process %s later (its next step syncs it)\n", noticed.Sub(abortedAt).Round(10*time.Millisecond))
		mu.Unlock()
	}
}

func envDuration(b *testing.B, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		b.Fatalf("%s=%q: %v", name, v, err)
	}
	return d
}
