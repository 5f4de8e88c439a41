// Package doctor checks that a cluster, Argo CD and an app repository have
// what a release needs, and says what to do about what is missing. Checks
// are data: a name, the earlier checks they need, and a func returning a
// Result. Run prints them as a checklist.
package doctor

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Status is the outcome of one check.
type Status string

const (
	// OK: what a release needs is there.
	OK Status = "ok"
	// Warn: a release can run, but something deserves a look.
	Warn Status = "warn"
	// Fail: a release would fail, or we could not find out.
	Fail Status = "FAIL"
	// Skip: the check did not run, because a check it needs did not pass
	// or its input was not given.
	Skip Status = "skip"
)

// Result is what a check found.
type Result struct {
	Status Status
	Detail string
	// Remedy says exactly what to do; printed for Warn and Fail.
	Remedy string
}

// Check is one line of the checklist.
type Check struct {
	Name string
	// Needs names earlier checks this one depends on. When one of them did
	// not pass (Fail or Skip), this one is skipped instead of run.
	Needs []string
	Run   func(ctx context.Context) Result
}

// CheckTimeout bounds each check, so that one unreachable server cannot
// hang the checklist.
const CheckTimeout = 2 * time.Minute

func ok(format string, a ...any) Result { return Result{Status: OK, Detail: fmt.Sprintf(format, a...)} }

func skip(format string, a ...any) Result {
	return Result{Status: Skip, Detail: fmt.Sprintf(format, a...)}
}

func fail(remedy, format string, a ...any) Result {
	return Result{Status: Fail, Detail: fmt.Sprintf(format, a...), Remedy: remedy}
}

func warn(remedy, format string, a ...any) Result {
	return Result{Status: Warn, Detail: fmt.Sprintf(format, a...), Remedy: remedy}
}

// Run runs the checks in order, prints one line per check (and a remedy
// line under each warning and failure) to w, and reports whether any
// check failed. Warnings and skips are not failures.
func Run(ctx context.Context, w io.Writer, checks []Check) (failed bool) {
	width := 0
	for _, c := range checks {
		width = max(width, len(c.Name))
	}
	done := map[string]Status{}
	for _, c := range checks {
		r := runOne(ctx, c, done)
		done[c.Name] = r.Status
		failed = failed || r.Status == Fail
		tag := "[" + string(r.Status) + "]"
		fmt.Fprintf(w, "%-6s %-*s  %s\n", tag, width, c.Name, r.Detail)
		if r.Remedy != "" && (r.Status == Fail || r.Status == Warn) {
			fmt.Fprintf(w, "%s remedy: %s\n", strings.Repeat(" ", 6), r.Remedy)
		}
	}
	return failed
}

func runOne(ctx context.Context, c Check, done map[string]Status) Result {
	for _, need := range c.Needs {
		switch st, ran := done[need]; {
		case !ran:
			// A programming error in the list, said plainly rather than hidden.
			return fail("report this as a bug in gitcanary", "needs %q, which is not an earlier check", need)
		case st == Fail:
			return skip("needs %s, which failed", need)
		case st == Skip:
			return skip("needs %s, which was skipped", need)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	return c.Run(ctx)
}
