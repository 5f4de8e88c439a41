package machine

import (
	"testing"
	"time"
)

// TestPoller: each change of what the release waits for is looked at
// after pollInterval; a wait that stays the same is looked at less and
// less often, up to slowPoll; a side effect starts afresh.
func TestPoller(t *testing.T) {
	var p poller
	seq := []struct {
		reason string
		wait   time.Duration
		want   time.Duration
	}{
		{"Argo CD: sync requested", 0, pollInterval},
		{"Argo CD: operation Running", pollInterval, pollInterval},
		{"Argo CD: operation Running", pollInterval, 2 * pollInterval},
		{"Argo CD: operation Running", 0, 4 * pollInterval},
		{"Argo CD: operation Running", 0, slowPoll},
		{"Argo CD: operation Running", 10 * time.Second, slowPoll},
		{"Argo CD: health not reassessed", 0, pollInterval},
		{"Argo CD: health not reassessed", 100 * time.Millisecond, 100 * time.Millisecond},
	}
	for i, s := range seq {
		if got := p.next(Outcome{Reason: s.reason, Wait: s.wait}); got != s.want {
			t.Errorf("look %d (%q, wait %s): %s, want %s", i, s.reason, s.wait, got, s.want)
		}
	}
	p.reset()
	if got := p.next(Outcome{Reason: "Argo CD: health not reassessed"}); got != pollInterval {
		t.Errorf("after a side effect: %s, want %s", got, pollInterval)
	}
}
