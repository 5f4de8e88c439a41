package testbed

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestOutageRestartsSameCommand runs outage.sh on a stand-in component (no
// bed needed): a `sleep` recorded in pids/ as a bed component would be. It
// must be stopped, started again with the same arguments and environment,
// and its new PID recorded.
func TestOutageRestartsSameCommand(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"pids", "logs"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("sleep", "300")
	cmd.Env = append(os.Environ(), "GITCANARY_OUTAGE_MARK=kept")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }() // reap it once stopped, as init does for the bed's processes
	t.Cleanup(func() { cmd.Process.Kill() })
	pidFile := filepath.Join(dir, "pids", "sleep.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	env := Env{Dir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o, err := env.Outage(ctx, "sleep", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if o.PID != cmd.Process.Pid {
		t.Errorf("stopped PID %d, want %d", o.PID, cmd.Process.Pid)
	}
	if err := o.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	pid, err := env.PID("sleep")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) }) // the restarted stand-in
	if pid == cmd.Process.Pid {
		t.Fatalf("pids/sleep.pid still names the stopped process %d", pid)
	}
	select {
	case <-exited:
	case <-time.After(2 * time.Second):
		t.Errorf("the stopped process %d still runs", cmd.Process.Pid)
	}
	args, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		t.Fatalf("the restarted process %d: %v", pid, err)
	}
	if want := []byte("sleep\x00300\x00"); !bytes.Equal(args, want) {
		t.Errorf("restarted as %q, want %q", args, want)
	}
	environ, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(environ, []byte("GITCANARY_OUTAGE_MARK=kept\x00")) {
		t.Error("the restarted process lacks the stopped one's environment")
	}
	// The restarted component must not hold the outage lock.
	o, err = env.Outage(ctx, "sleep", time.Second)
	if err != nil {
		t.Fatalf("a second outage after the first: %v", err)
	}
	if err := o.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if pid2, err := env.PID("sleep"); err == nil && pid2 != pid {
		syscall.Kill(pid2, syscall.SIGKILL)
	} else {
		t.Errorf("the second outage recorded PID %d (%v), the first's was %d", pid2, err, pid)
	}
}
