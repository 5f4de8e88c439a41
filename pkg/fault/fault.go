// Package fault kills the process at a named side-effect boundary, for the
// end-to-end tests that show a release converges whatever moment a driver
// dies at (docs/testing.md, "Faults at every boundary").
//
// It is off unless GITCANARY_FAULT is set, to POINT or POINT:N: the N-th
// time (default the first) the process reaches Point(POINT), it sends
// itself SIGKILL, as a node failure or the OOM killer would: no deferred
// function runs, no buffer is flushed, no lock file is removed. The
// points are constants below; each sits exactly between two side effects.
package fault

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Env names the variable that arms a point.
const Env = "GITCANARY_FAULT"

// The boundaries.
const (
	// AfterCommit: the commit exists in the local cache, not on the server.
	AfterCommit = "after-commit"
	// AfterPush: the server has the commit; nothing was synced for it.
	AfterPush = "after-push"
	// AfterSync: Argo CD was asked to sync; its operation runs on.
	AfterSync = "after-sync"
	// AfterPruneSync: Argo CD was asked to sync with prune (a retirement
	// or a revert); it deletes objects while nobody drives the release.
	AfterPruneSync = "after-prune-sync"
	// AfterLook: a look of an analysis was read from the metrics store
	// (not from the process's cache); its verdict is not committed.
	AfterLook = "after-look"
)

var (
	once  sync.Once
	point string
	nth   = 1
	mu    sync.Mutex
	seen  int
)

func arm() {
	v := os.Getenv(Env)
	if v == "" {
		return
	}
	p, n, ok := strings.Cut(v, ":")
	point = p
	if ok {
		if i, err := strconv.Atoi(n); err == nil && i > 0 {
			nth = i
		}
	}
}

// Point is a boundary; it kills the process when GITCANARY_FAULT arms it.
func Point(name string) {
	once.Do(arm)
	if point == "" || name != point {
		return
	}
	mu.Lock()
	seen++
	hit := seen == nth
	mu.Unlock()
	if hit {
		os.Stderr.WriteString("gitcanary: fault injection: killed at " + name + "\n")
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
