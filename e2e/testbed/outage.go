package testbed

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

//go:embed outage.sh
var outageScript []byte

// outageMu lets one outage run at a time in a test process; outage.sh's
// lock does the same across processes sharing the bed.
var outageMu sync.Mutex

// Outage is one component of the bed taken away for a while by outage.sh.
type Outage struct {
	Name    string
	PID     int       // the stopped process
	Stopped time.Time // when it was down
	out     string    // the script's output file
	script  string
	done    chan struct{}
	err     error
}

// Outage stops the bed's component name (e.g. "argocd-repo-server", as in
// pids/) and starts it again, with the same program, arguments and
// environment, d later. It returns once the component is down. The script
// runs in its own session, so the component comes back even if the test
// process dies; wait for that with Wait. Every other user of the bed sees
// the outage too: run it from a test that runs alone.
func (e Env) Outage(ctx context.Context, name string, d time.Duration) (*Outage, error) {
	outageMu.Lock()
	// Other processes' tests that need every component (Steady) hold the
	// bed's outage lock shared; the outage waits for them, and they for it.
	lock, err := e.lockOutages(syscall.LOCK_EX)
	if err != nil {
		outageMu.Unlock()
		return nil, err
	}
	o := &Outage{Name: name, done: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			lock.Close()
			outageMu.Unlock()
		}
	}()
	f, err := os.CreateTemp("", "gitcanary-outage-*.sh")
	if err != nil {
		return nil, err
	}
	o.script = f.Name()
	_, err = f.Write(outageScript)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	o.out = o.script + ".log"
	log, err := os.Create(o.out)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	// Output to a file, not a pipe: a dead test must not end the script
	// with SIGPIPE before the component is back.
	cmd := exec.Command("bash", o.script, name, strconv.Itoa(int(d.Round(time.Second)/time.Second)))
	cmd.Env = append(os.Environ(), "GITCANARY_TESTBED_DIR="+e.Dir)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		if err := cmd.Wait(); err != nil {
			o.err = fmt.Errorf("outage of %s: %v: %s", name, err, o.output())
		}
		close(o.done)
		lock.Close()
		outageMu.Unlock()
	}()
	ok = true
	for {
		if pid, found := o.line("stopped "); found {
			o.PID, _ = strconv.Atoi(pid)
			o.Stopped = time.Now()
			return o, nil
		}
		select {
		case <-o.done:
			return nil, o.err
		case <-ctx.Done():
			return o, fmt.Errorf("outage of %s: not stopped yet: %w; output: %s", name, ctx.Err(), o.output())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Wait waits until the component runs again (or ctx ends) and returns the
// script's failure, if any.
func (o *Outage) Wait(ctx context.Context) error {
	select {
	case <-o.done:
		os.Remove(o.script)
		os.Remove(o.out)
		return o.err
	case <-ctx.Done():
		return fmt.Errorf("outage of %s: not over: %w", o.Name, ctx.Err())
	}
}

// Over reports whether the component was started again (or the script
// failed: see Wait).
func (o *Outage) Over() bool {
	select {
	case <-o.done:
		return true
	default:
		return false
	}
}

func (o *Outage) output() string {
	b, _ := os.ReadFile(o.out)
	return strings.TrimSpace(string(b))
}

// line finds the script's output line starting with prefix and returns
// the rest of it.
func (o *Outage) line(prefix string) (string, bool) {
	for _, l := range strings.Split(o.output(), "\n") {
		if rest, ok := strings.CutPrefix(l, prefix); ok {
			return rest, true
		}
	}
	return "", false
}

// PID returns the recorded PID of the bed's component name.
func (e Env) PID(name string) (int, error) {
	b, err := os.ReadFile(filepath.Join(e.Dir, "pids", name+".pid"))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// lockOutages takes the bed's steady lock (a flock on DIR/steady.lock;
// outage.sh's own DIR/outage.lock only keeps two outages apart) in mode
// how; closing the file releases it.
func (e Env) lockOutages(how int) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(e.Dir, "steady.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return f, nil
}

// Steady keeps every component of the bed up for the rest of the test:
// an Outage, in this process or another (the e2e package's
// TestRepoServerOutage while this package's tests run), waits until the
// test ends, and the test waits for one under way to end first.
func (e Env) Steady(t testing.TB) {
	t.Helper()
	lock, err := e.lockOutages(syscall.LOCK_SH)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() })
}
