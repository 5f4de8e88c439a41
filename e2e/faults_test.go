package e2e

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/fault"
	"github.com/gitcanary/gitcanary/templates"
)

// boundaries are the moments a driver can die between two side effects of
// a release (pkg/fault), each at a hit that falls mid-release: the third
// commit (step/0, after start and route), the third sync, the first sync
// that prunes (the retirement of reviews-v1).
var boundaries = []struct {
	name, point string
	hit         int
}{
	{"after the commit, before the push", fault.AfterCommit, 3},
	{"after the push, before the sync", fault.AfterPush, 3},
	{"after the sync request, before Argo CD finishes", fault.AfterSync, 3},
	{"during the prune", fault.AfterPruneSync, 1},
}

// wantFaultActions is the whole release, each action once, whatever the
// driver died at.
const wantFaultActions = "start route step/0/weight/10 step/1/weight/50 step/2/weight/100 promote retire promoted"

// TestFaultsCLI: `gitcanary start --wait-for=done` is SIGKILLed at each
// side-effect boundary and started again with the same cache; every run
// converges to Promoted with each action committed once (Gitcanary-Seq
// 1..N), and nothing orphaned in git or the cluster.
func TestFaultsCLI(t *testing.T) {
	t.Parallel()
	for _, b := range boundaries {
		t.Run(b.point, func(t *testing.T) {
			t.Parallel()
			s := newScenario(t, "fault", templates.ReleaseParams{})
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
			defer cancel()
			s.procEnv = []string{fault.Env + "=" + b.point + ":" + itoa(b.hit)}
			out, err := s.command(ctx, "start", "-f", s.file, "--wait-for=done").CombinedOutput()
			if !killed(err) || !strings.Contains(string(out), "killed at "+b.point) {
				t.Fatalf("the first run was not killed %s: %v\n%s", b.name, err, out)
			}
			t.Logf("killed %s; commits so far: %v", b.name, s.actions())
			s.procEnv = nil
			out, err = s.command(ctx, "start", "-f", s.file, "--wait-for=done").CombinedOutput()
			if err != nil {
				t.Fatalf("the resumed run failed: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "resuming") {
				t.Errorf("the second start did not say it resumes the release:\n%s", out)
			}
			s.checkFaultEnd()
		})
	}
}

// TestFaultsController: the controller, driving a Release resource, is
// SIGKILLed at each boundary; a second controller with the same cache
// takes over and the release converges as with the CLI.
func TestFaultsController(t *testing.T) {
	t.Parallel()
	for _, b := range boundaries {
		t.Run(b.point, func(t *testing.T) {
			t.Parallel()
			s := newScenario(t, "fault-ctl", templates.ReleaseParams{})
			installReleaseCRD(t, s.env)
			dyn := s.dynamic()
			s.procEnv = []string{fault.Env + "=" + b.point + ":" + itoa(b.hit)}
			first := s.startController("faulty", s.cache)
			s.procEnv = nil
			s.env.Kubectl(t, "apply", "-n", s.ns, "-f", s.file)
			select {
			case <-first.exited:
			case <-time.After(crWait):
				t.Fatalf("the controller was not killed %s within %s:\n%s", b.name, crWait, first.log())
			}
			if !strings.Contains(first.log(), "killed at "+b.point) {
				t.Fatalf("the controller ended, but not at %s: %v\n%s", b.point, first.err, first.log())
			}
			t.Logf("killed %s; commits so far: %v", b.name, s.actions())
			s.startController("second", s.cache)
			s.waitCR(dyn, "Promoted", 2*crWait, promoted)
			s.checkFaultEnd()
		})
	}
}

// checkFaultEnd: Promoted in git, Argo CD and the cluster (checkPromoted:
// routes, workloads, Seq 1..N once each), every action once, nothing of
// the release left in git but its record, and the namespace holding
// exactly the app's objects at the new version.
func (s *scenario) checkFaultEnd() {
	s.t.Helper()
	s.checkPromoted()
	if got := strings.Join(s.actions(), " "); got != wantFaultActions {
		s.t.Errorf("commits %s, want %s", got, wantFaultActions)
	}
	tree := s.server.Git(s.t, "apps.git", "ls-tree", "-r", "--name-only", "main", s.path+"/.gitcanary")
	if tree != s.path+"/.gitcanary/releases/reviews-v2.yaml" {
		s.t.Errorf("gitcanary's files left in git after the hand-back:\n%s", tree)
	}
	var names []string
	for _, line := range strings.Split(s.snapshot(), "\n") {
		names = append(names, strings.Fields(line)[0])
	}
	want := "Deployment/reviews-v2 DestinationRule/reviews Gateway/bookinfo-gateway Service/reviews VirtualService/reviews"
	if got := strings.Join(names, " "); got != want {
		s.t.Errorf("objects in namespace %s: %s, want %s", s.ns, got, want)
	}
}

// killed reports whether a process ended by SIGKILL.
func killed(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

func itoa(n int) string { return strconv.Itoa(n) }
