package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/e2e/trafficsim"
)

var (
	simOnce sync.Once
	simPath string
	simErr  error
)

// simBinary builds the traffic simulator's command once per test run.
func simBinary(t testing.TB) string {
	simOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gitcanary-e2e-sim")
		if err != nil {
			simErr = err
			return
		}
		simPath = filepath.Join(dir, "trafficsim")
		out, err := exec.Command("go", "build", "-o", simPath, "./trafficsim/cmd/trafficsim").CombinedOutput()
		if err != nil {
			simErr = fmt.Errorf("go build trafficsim: %v\n%s", err, out)
		}
	})
	if simErr != nil {
		t.Fatal(simErr)
	}
	return simPath
}

// simProcess is the traffic simulator run as a process of its own
// (e2e/trafficsim/cmd/trafficsim), for the analysis scenarios. In the
// test binary, a simulator shares its two cores' worth of scheduling and
// garbage collection with every scenario running in parallel; once,
// under make test, its metrics endpoint did not answer Prometheus's
// 1-second scrapes for over a minute during an analysis. As a process it
// is scheduled as Prometheus is. Tests that compare Prometheus's counts
// with what was generated (TestPrometheusCountsExact) keep the simulator
// in process, where its counts can be read.
type simProcess struct {
	addr string
	mu   sync.Mutex
	out  []string // its output, for a failing test's log
}

var simListening = regexp.MustCompile(`metrics on http://([0-9.:]+)/metrics`)

// startSimProcess runs the simulator against the reviews Service of ns
// until the test ends.
func startSimProcess(t *testing.T, kubeconfig, ns string, rps float64, seed uint64, profiles map[string]trafficsim.Profile) *simProcess {
	t.Helper()
	// The cluster is read every second, not every 300 ms: a weight moves
	// at a commit, and seven simulators at 300 ms were 70 reads a second
	// of the API server under make test.
	args := []string{"-kubeconfig", kubeconfig, "-namespace", ns, "-service", "reviews", "-rps", fmt.Sprint(rps), "-seed", fmt.Sprint(seed), "-refresh", "1s"}
	for key, p := range profiles {
		if p.ErrorCode != 0 || p.Sigma != 0 {
			t.Fatalf("profile %s: the simulator's command sets error rate, burst and latency only", key)
		}
		burst, latency := max(p.Burst, 1), p.Latency
		if latency == 0 {
			latency = 20 * time.Millisecond
		}
		args = append(args, "-profile", fmt.Sprintf("%s=%g,%d,%s", key, p.ErrorRate, burst, latency))
	}
	cmd := exec.Command(simBinary(t), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &simProcess{}
	addr := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.out = append(p.out, line)
			p.mu.Unlock()
			if m := simListening.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	select {
	case p.addr = <-addr:
	case <-done:
		t.Fatalf("the traffic simulator exited:\n%s", p.output())
	case <-time.After(2 * time.Minute):
		t.Fatalf("the traffic simulator did not start listening in 2 minutes:\n%s", p.output())
	}
	return p
}

// output is what the simulator printed.
func (p *simProcess) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.out, "\n")
}

// waitScraped waits until Prometheus has scraped the simulator twice.
func waitScraped(ctx context.Context, health func() (bool, time.Time)) error {
	var first time.Time
	for {
		up, last := health()
		switch {
		case up && first.IsZero():
			first = last
		case up && last.After(first):
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
