package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

// finishedOrSuperseded is what `start` of an ended release must say.
var finishedOrSuperseded = regexp.MustCompile(`(?i)finished|superseded`)

// TestFinishedReleaseNeverSyncs: two releases in a row on one app path,
// reviews-v2 promoted, then reviews-v3 started and paused at 20%. Then
// `gitcanary run`, with both Release files in its config repository, is
// started and restarted, and `start -f` is run on the old release. None of
// them requests a sync of the Application (Argo CD's operation history
// does not move), the cluster keeps v3's weights, and the old release's
// command returns at once saying it is finished or superseded.
func TestFinishedReleaseNeverSyncs(t *testing.T) {
	t.Parallel()
	v2 := newScenario(t, "supersede", templates.ReleaseParams{Steps: "[{setWeight: 50}]"})
	ctx := context.Background()
	if code, _ := v2.cli("start", "-f", v2.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("start reviews-v2 exited %d", code)
	}
	if r := v2.drive(v2.machine(), done); r.Status.Phase != release.Promoted {
		t.Fatalf("reviews-v2: %s %s %s", r.Status.Phase, r.Status.Reason, r.Status.Message)
	}
	v3 := v2.next(templates.ReleaseParams{Name: "reviews-v3", Workload: "reviews-v2", Version: "v3", Tag: "3.0", Steps: "[{setWeight: 20}, {pause: {}}, {setWeight: 100}]"})
	if code, _ := v3.cli("start", "-f", v3.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("start reviews-v3 exited %d", code)
	}
	r := v3.drive(v3.machine(), awaiting)
	const v3Weights = "v2=80,v3=20"
	if got := release.FormatWeights(r.Status.Weights); r.Status.Phase != release.Paused || got != v3Weights {
		t.Fatalf("reviews-v3 waits at %s %s, want Paused %s", r.Status.Phase, got, v3Weights)
	}
	v3Commit := v3.commitOf(r.Status.Seq)
	mark := v2.opsMark(ctx)
	t.Logf("Argo CD before: %s", mark)

	// gitcanary run drives both files; started, stopped, started again.
	files := map[string][]byte{}
	for _, s := range []*scenario{v2, v3} {
		doc, err := os.ReadFile(s.file)
		if err != nil {
			t.Fatal(err)
		}
		files["releases/"+s.name()+".yaml"] = doc
	}
	config := v2.server.CreateRepo(t, "config.git", files)
	for _, name := range []string{"first", "restarted"} {
		c := v2.startController(name, t.TempDir(), "--resources=false", "--releases-repo", config)
		c.waitReleases(2, time.Minute)
		time.Sleep(5 * time.Second) // several polls of each release (--poll 1s)
		if code := c.stop(syscall.SIGTERM); code != 0 {
			t.Errorf("controller %s exited %d after SIGTERM", name, code)
		}
		if now := v2.opsMark(ctx); !mark.same(now) {
			t.Errorf("gitcanary run (%s) requested a sync:\nbefore: %s\nafter:  %s", name, mark, now)
			mark = now
		}
		if got := v2.routes(ctx); got != v3Weights {
			t.Errorf("after gitcanary run (%s) the cluster routes %s, want reviews-v3's %s", name, got, v3Weights)
		}
	}

	// start -f of the old release.
	began := time.Now()
	code, out := v2.cli("start", "-f", v2.file, "--timeout=1m")
	took := time.Since(began)
	if code != cli.ExitOK || !finishedOrSuperseded.MatchString(out) {
		t.Errorf("start of the promoted reviews-v2: exit %d, want %d, saying it is finished or superseded; output:\n%s", code, cli.ExitOK, out)
	}
	if took > 20*time.Second {
		t.Errorf("start of the promoted reviews-v2 took %s; it has nothing to do", took.Round(time.Second))
	}
	if now := v2.opsMark(ctx); !mark.same(now) {
		t.Errorf("start -f of the old release requested a sync:\nbefore: %s\nafter:  %s", mark, now)
	}
	if got := v2.routes(ctx); got != v3Weights {
		t.Errorf("the cluster routes %s, want reviews-v3's %s", got, v3Weights)
	}
	app, err := v2.argo.Get(ctx, v2.ns, false)
	if err != nil {
		t.Fatal(err)
	}
	if f := v3.argoFacts(app, v3Commit); !f.Applied {
		t.Errorf("Argo CD no longer has reviews-v3's commit %.8s applied: %s", v3Commit, f)
	}
	if rec := v3.recordAtHead(); rec.Status.Phase != release.Paused {
		t.Errorf("reviews-v3 is %s at the head, want Paused", rec.Status.Phase)
	}
}

// waitReleases waits until the controller's gitcanary_releases gauge
// counts n releases in any phase: it has looked at each of them.
func (p *controllerProc) waitReleases(n int, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		total := 0
		if resp, err := http.Get("http://" + p.metrics + "/metrics"); err == nil { // not listening yet: look again
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, line := range strings.Split(string(body), "\n") {
				if series, v, ok := strings.Cut(line, " "); ok && strings.HasPrefix(series, "gitcanary_releases{") {
					f, _ := strconv.ParseFloat(v, 64)
					total += int(f)
				}
			}
		}
		if total >= n {
			return
		}
		select {
		case <-p.exited:
			p.t.Fatalf("controller %s exited (%v) before it counted %d releases", p.name, p.err, n)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("controller %s counts %d releases after %s, want %d", p.name, total, timeout, n)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
