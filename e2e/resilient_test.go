package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/netfault"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

// gitDown and argoDown are how the output of a command waiting on an
// outage names it.
var (
	gitDown  = regexp.MustCompile(`(?m)Retrying +fetch main from git://[^ ]+: .*connection refused`)
	argoDown = regexp.MustCompile(`(?m)(cannot read Argo CD application|connect to Argo CD at|cannot request a sync).*(Unavailable|connection refused|connection reset|EOF)`)
)

// commandResult is what a CLI command run in the background ended with.
type commandResult struct {
	code int
	out  string
	at   time.Time
}

// background runs the command line as s.cli does, in a goroutine.
func (s *scenario) background(args ...string) <-chan commandResult {
	done := make(chan commandResult, 1)
	go func() {
		code, out := s.cli(args...)
		done <- commandResult{code, out, time.Now()}
	}()
	return done
}

// TestGitAndArgoCDOutage: the scenario's git server is down for 60 s while
// an approval is given, then Argo CD's API (as gitcanary reaches it,
// through a proxy on loopback: the bed's argocd-server and everyone else's
// connections to it stay up) is down for 60 s in the middle of the
// release. Each time the CLI waits, says what it waits for, and completes
// once the outage is over: paused at the next step, then Promoted, every
// Gitcanary-Seq once, never abandoned.
func TestGitAndArgoCDOutage(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "outage-git", templates.ReleaseParams{Steps: "[{setWeight: 10}, {pause: {}}, {setWeight: 50}, {pause: {}}, {setWeight: 100}]"})
	argo := netfault.New(t, s.env.ArgoServer)
	via := []string{"--server", argo.Addr(), "--timeout", "8m"}
	if code, _ := s.cli(append([]string{"start", "-f", s.file}, via...)...); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	if rec := s.recordAtHead(); rec.Status.Phase != release.Paused || rec.Status.Step != 1 {
		t.Fatalf("start left the release %s at step %d, want Paused at step 1", rec.Status.Phase, rec.Status.Step)
	}

	// The git server goes away; the approval waits for it.
	s.server.Stop()
	stopped := time.Now()
	approved := s.background(append([]string{"approve", "-f", s.file}, via...)...)
	time.Sleep(outageLength)
	select {
	case r := <-approved:
		t.Fatalf("approve returned during the git outage: exit %d\n%s", r.code, r.out)
	default:
	}
	if err := s.server.Restart(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	t.Logf("git server down for %s", back.Sub(stopped).Round(time.Second))
	r := <-approved
	if r.code != cli.ExitOK {
		t.Fatalf("approve after the git outage exited %d", r.code)
	}
	if !gitDown.MatchString(r.out) {
		t.Errorf("the approval's output does not name the git outage (%s)", gitDown)
	}
	if rec := s.recordAtHead(); rec.Status.Phase != release.Paused || rec.Status.Step != 3 {
		t.Errorf("after the git outage the release is %s at step %d, want Paused at step 3", rec.Status.Phase, rec.Status.Step)
	}
	t.Logf("approve returned %s after the git server came back", r.at.Sub(back).Round(time.Second))

	// Argo CD's API goes away once the next approval is committed, while
	// the command drives the release through 100% and the retirement.
	seq := s.recordAtHead().Status.Seq
	approved = s.background(append([]string{"approve", "-f", s.file, "--wait-for=done"}, via...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for s.recordAtHead().Status.Seq == seq && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	argo.Down()
	downAt := time.Now()
	t.Logf("Argo CD API down at seq %d", s.recordAtHead().Status.Seq)
	time.Sleep(outageLength)
	select {
	case r := <-approved:
		t.Fatalf("approve --wait-for=done returned during the Argo CD outage: exit %d\n%s", r.code, r.out)
	default:
	}
	if rec := s.recordAtHead(); rec.Status.Phase.Abandoning() || rec.Status.Phase.Terminal() {
		t.Errorf("during the Argo CD outage the release went on to %s (%s)", rec.Status.Phase, rec.Status.Message)
	}
	if err := argo.Up(); err != nil {
		t.Fatal(err)
	}
	back = time.Now()
	t.Logf("Argo CD API down for %s", back.Sub(downAt).Round(time.Second))
	r = <-approved
	if r.code != cli.ExitOK {
		t.Errorf("approve after the Argo CD outage exited %d", r.code)
	}
	if !argoDown.MatchString(r.out) {
		t.Errorf("the approval's output does not name the Argo CD outage (%s)", argoDown)
	}
	t.Logf("approve --wait-for=done returned %s after Argo CD came back", r.at.Sub(back).Round(time.Second))

	if rec := s.recordAtHead(); rec.Status.Phase != release.Promoted {
		t.Errorf("%s %s %s, want Promoted", rec.Status.Phase, rec.Status.Reason, rec.Status.Message)
	}
	s.checkNotAbandoned()
	if got := s.routes(context.Background()); got != "v2=100" {
		t.Errorf("cluster routes %s, want v2=100", got)
	}
	seqs := strings.Fields(s.server.Git(t, "apps.git", "log", "--format=%(trailers:key=Gitcanary-Seq,valueonly)", "main"))
	seen := map[string]bool{}
	for _, q := range seqs {
		if seen[q] {
			t.Errorf("Gitcanary-Seq %s is on two commits: %v", q, seqs)
		}
		seen[q] = true
	}
}
