package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// gitcanaryBinary builds the real binary once per test run.
func gitcanaryBinary(t testing.TB) string {
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gitcanary-e2e-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "gitcanary")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/gitcanary").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func (s *scenario) command(ctx context.Context, args ...string) *exec.Cmd {
	base := []string{"--cache-dir", s.cache, "--server", s.env.ArgoServer, "--plaintext", "--kubeconfig", s.env.Kubeconfig, "--log-level", "info"}
	cmd := exec.CommandContext(ctx, gitcanaryBinary(s.t), append(base, args...)...)
	cmd.Env = append(append(os.Environ(), "ARGOCD_AUTH_TOKEN="+s.env.ArgoToken), s.procEnv...)
	return cmd
}

// TestKilledAfterPush: the orchestrator is SIGKILLed right after a push
// and started again; the release resumes from git and finishes with no
// duplicate commit.
func TestKilledAfterPush(t *testing.T) {
	s := newScenario(t, "kill", templates.ReleaseParams{})
	gitcanaryBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	first := s.command(ctx, "start", "-f", s.file, "--wait-for=done")
	stderr, err := first.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// "committed" is logged right after a push lands. Kill after the third
	// (start, route, step/0): mid-release, nothing synced yet for that commit.
	pushes := 0
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "msg=committed") {
			pushes++
			if pushes == 3 {
				first.Process.Signal(syscall.SIGKILL)
				break
			}
		}
	}
	first.Wait()
	if pushes < 3 {
		t.Fatalf("saw %d pushes before the first process ended", pushes)
	}
	killedAt := s.seqs()
	t.Logf("killed after commit seq %s", killedAt[len(killedAt)-1])

	second := s.command(ctx, "start", "-f", s.file, "--wait-for=done")
	out, err := second.CombinedOutput()
	t.Logf("second run:\n%s", out)
	if err != nil {
		t.Fatalf("the resumed run failed: %v", err)
	}
	if !strings.Contains(string(out), "resuming") {
		t.Errorf("the second start did not resume")
	}
	if rec := s.machineRecord(); rec.Status.Phase != release.Promoted {
		t.Fatalf("phase %s", rec.Status.Phase)
	}
	// Seq 1..N, each exactly once: no action was committed twice.
	seqs := s.seqs()
	for i, q := range seqs {
		if q != fmt.Sprint(i+1) {
			t.Fatalf("Gitcanary-Seq trailers %v: duplicate or gap", seqs)
		}
	}
	want := "start route step/0/weight/10 step/1/weight/50 step/2/weight/100 promote retire promoted"
	if got := strings.Join(s.actions(), " "); got != want {
		t.Errorf("commits %s, want %s", got, want)
	}
}
