package e2e

import (
	"context"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

// repoServerDown is how the output of a release waiting on the outage may
// name its cause: the repo-server, the comparison error Argo CD reports,
// or the refused connection behind it.
var repoServerDown = regexp.MustCompile(`(?i)repo-?server|ComparisonError|connection refused|unavailable`)

// outageLength is how long Argo CD's repo-server is down: long enough for
// both releases to be waiting on it when the checks in the outage run.
const outageLength = 30 * time.Second

// TestRepoServerOutage: Argo CD's repo-server is stopped for 30 s while two
// releases are in their pause. One is approved during the outage: it
// waits, its output naming the cause, and completes once the repo-server is
// back. The other is aborted during the outage: the abandon reaches the
// cluster once the repo-server is back. Neither is abandoned by mistake.
//
// Not parallel: the outage is the whole bed's (Go runs the package's
// parallel tests only after the sequential ones). Another process using the
// bed at the same time sees it too.
func TestRepoServerOutage(t *testing.T) {
	waits := newScenario(t, "outage-wait", templates.ReleaseParams{Steps: "[{setWeight: 10}, {pause: {}}, {setWeight: 50}, {setWeight: 100}]"})
	aborts := newScenario(t, "outage-abort", templates.ReleaseParams{Steps: "[{setWeight: 20}, {pause: {}}, {setWeight: 100}]"})
	before := aborts.snapshot()
	for _, s := range []*scenario{waits, aborts} {
		if code, _ := s.cli("start", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
			t.Fatalf("%s: start exited %d", s.ns, code)
		}
		if r := s.drive(s.machine(), awaiting); r.Status.Phase != release.Paused {
			t.Fatalf("%s: waiting at %s (%s %s), want Paused", s.ns, r.Status.Phase, r.Status.Reason, r.Status.Message)
		}
	}

	ctx := context.Background()
	outage, err := waits.env.Outage(ctx, "argocd-repo-server", outageLength)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("argocd-repo-server (pid %d) stopped for %s", outage.PID, outageLength)
	t.Cleanup(func() { // never leave the bed without its repo-server
		ctx, cancel := context.WithTimeout(context.Background(), outageLength+time.Minute)
		defer cancel()
		if err := outage.Wait(ctx); err != nil {
			t.Error(err)
		}
	})

	type result struct {
		code int
		out  string
		at   time.Time
	}
	var wg sync.WaitGroup
	var approved, aborted result
	t.Cleanup(wg.Wait) // the commands log to t
	wg.Add(2)
	go func() {
		defer wg.Done()
		approved.code, approved.out = waits.cli("approve", "-f", waits.file, "--wait-for=done", "--timeout=6m")
		approved.at = time.Now()
	}()
	time.Sleep(5 * time.Second)
	go func() {
		defer wg.Done()
		aborted.code, aborted.out = aborts.cli("abort", "-f", aborts.file, "--reason", "during the outage", "--wait-for=done", "--timeout=6m")
		aborted.at = time.Now()
	}()

	// Near the end of the outage neither release has moved on or given up.
	time.Sleep(outageLength - 10*time.Second)
	if outage.Over() {
		t.Error("the repo-server came back before the checks in the outage")
	}
	if rec := waits.recordAtHead(); rec.Status.Phase.Abandoning() {
		t.Errorf("%s was abandoned during the outage: %s %s", waits.ns, rec.Status.Reason, rec.Status.Message)
	}
	if rec := aborts.recordAtHead(); rec.Status.Reason != "Aborted" {
		t.Errorf("%s: the abort given during the outage is not in git: %s %s", aborts.ns, rec.Status.Phase, rec.Status.Reason)
	}

	wctx, cancel := context.WithTimeout(ctx, outageLength)
	defer cancel()
	if err := outage.Wait(wctx); err != nil {
		t.Error(err)
	}
	back := time.Now()
	t.Logf("argocd-repo-server started again, %s after it stopped", back.Sub(outage.Stopped).Round(time.Second))
	wg.Wait()

	if approved.code != cli.ExitOK {
		t.Errorf("%s: approve exited %d, want %d", waits.ns, approved.code, cli.ExitOK)
	} else if approved.at.Before(back) {
		t.Errorf("%s: approve returned during the outage", waits.ns)
	}
	if !repoServerDown.MatchString(approved.out) {
		t.Errorf("%s: the output of the approval waiting on the outage does not name its cause (%s)", waits.ns, repoServerDown)
	}
	if rec := waits.recordAtHead(); rec.Status.Phase != release.Promoted {
		t.Errorf("%s: %s %s %s, want Promoted", waits.ns, rec.Status.Phase, rec.Status.Reason, rec.Status.Message)
	}
	waits.checkNotAbandoned()
	if got := waits.routes(ctx); got != "v2=100" {
		t.Errorf("%s: cluster routes %s, want v2=100", waits.ns, got)
	}
	t.Logf("%s: approve returned %s after the repo-server came back", waits.ns, approved.at.Sub(back).Round(time.Second))

	if aborted.code != cli.ExitOK {
		t.Errorf("%s: abort exited %d, want %d", aborts.ns, aborted.code, cli.ExitOK)
	}
	if rec := aborts.recordAtHead(); rec.Status.Phase != release.Abandoned || rec.Status.Reason != "Aborted" {
		t.Errorf("%s: %s %s %s, want Abandoned Aborted", aborts.ns, rec.Status.Phase, rec.Status.Reason, rec.Status.Message)
	}
	if got := aborts.routes(ctx); got != "v1=100" {
		t.Errorf("%s: cluster routes %s, want v1=100", aborts.ns, got)
	}
	if after := aborts.snapshot(); after != before {
		t.Errorf("%s: cluster after the abandon differs from before the release:\nbefore:\n%s\nafter:\n%s", aborts.ns, before, after)
	}
	t.Logf("%s: abort returned %s after the repo-server came back", aborts.ns, aborted.at.Sub(back).Round(time.Second))
}
