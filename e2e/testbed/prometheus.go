package testbed

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

//go:embed prometheus.sh
var prometheusScript []byte

// Prometheus is a Prometheus on 127.0.0.1 that scrapes, every second, the
// targets listed in the *.json files (Prometheus's file_sd format) of its
// Targets directory.
type Prometheus struct {
	URL     string // http://127.0.0.1:PORT
	Targets string // the file_sd directory
	// PID is the process a test started, 0 for the bed's own.
	PID int
	Dir string // state directory of one a test started
}

// Prometheus returns the bed's Prometheus, or, when the bed has none (it
// was started before Prometheus was part of it) or it does not answer,
// one started for this test with the bed's own script and stopped when
// the test ends.
func (e Env) Prometheus(t testing.TB) *Prometheus {
	t.Helper()
	if e.PrometheusURL != "" && e.PrometheusTargets != "" {
		p := &Prometheus{URL: e.PrometheusURL, Targets: e.PrometheusTargets}
		err := p.ready(context.Background())
		if err == nil {
			return p
		}
		t.Logf("the bed's Prometheus does not answer (%v); starting one for the test", err)
	}
	return StartPrometheus(t, t.TempDir())
}

// StartPrometheus runs prometheus.sh (what up.sh runs for the bed) with its
// state in dir, on a free port of 127.0.0.1, waits until it is ready and
// stops exactly that process when the test ends.
func StartPrometheus(t testing.TB, dir string) *Prometheus {
	t.Helper()
	script := filepath.Join(dir, "prometheus.sh")
	if err := os.WriteFile(script, prometheusScript, 0o755); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		p, err := startPrometheus(t, script, filepath.Join(dir, "prometheus"))
		if err == nil {
			return p
		}
		lastErr = err
	}
	t.Fatalf("start Prometheus: %v", lastErr)
	return nil
}

func startPrometheus(t testing.TB, script, dir string) (*Prometheus, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "prometheus.log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command("bash", script, dir, strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = log, log
	// Its own session, as up.sh starts components: a Ctrl-C of the test
	// reaches the test, which stops it in Cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	p := &Prometheus{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Targets: filepath.Join(dir, "targets"), PID: cmd.Process.Pid, Dir: dir}
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		err := p.ready(ctx)
		if err == nil {
			break
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("prometheus exited: %s", tail(string(b), 10))
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("prometheus not ready on %s: %v", p.URL, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Cleanup(stop)
	return p, nil
}

// ready asks /-/ready once.
func (p *Prometheus) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/-/ready", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/-/ready: HTTP %d", resp.StatusCode)
	}
	return nil
}

// AddTarget has Prometheus scrape addr (host:port, path /metrics) with
// these target labels, through the file name.json in Targets (written
// atomically: Prometheus reads only *.json), and removes it when the test
// ends. Prometheus notices the file within a second (inotify; every 5 s at
// the latest).
func (p *Prometheus) AddTarget(t testing.TB, name, addr string, labels map[string]string) {
	t.Helper()
	if strings.ContainsAny(name, "/.") || name == "" {
		t.Fatalf("target name %q: want a plain file name without dots", name)
	}
	group := []map[string]any{{"targets": []string{addr}, "labels": labels}}
	b, err := json.Marshal(group)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(p.Targets, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(p.Targets, name+".json")
	tmp := filepath.Join(p.Targets, "."+name+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(file) })
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("no TCP address")
	}
	return addr.Port, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Target is Prometheus's view of one scrape target (/api/v1/targets).
type Target struct {
	Found              bool
	Health             string // up, down, unknown
	LastError          string
	LastScrape         time.Time
	LastScrapeDuration float64 // seconds
	Of                 int     // active targets in all
}

// Target reads Prometheus's view of the target at addr (host:port).
func (p *Prometheus) Target(addr string) (Target, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/api/v1/targets", nil)
	if err != nil {
		return Target{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Target{}, fmt.Errorf("Prometheus does not answer: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			ActiveTargets []struct {
				ScrapeURL          string    `json:"scrapeUrl"`
				Health             string    `json:"health"`
				LastError          string    `json:"lastError"`
				LastScrape         time.Time `json:"lastScrape"`
				LastScrapeDuration float64   `json:"lastScrapeDuration"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return Target{}, fmt.Errorf("targets: %w", err)
	}
	out := Target{Of: len(body.Data.ActiveTargets)}
	for _, t := range body.Data.ActiveTargets {
		if strings.Contains(t.ScrapeURL, "//"+addr+"/") {
			out.Found, out.Health, out.LastError, out.LastScrape, out.LastScrapeDuration = true, t.Health, t.LastError, t.LastScrape, t.LastScrapeDuration
		}
	}
	return out, nil
}

// TargetHealth describes Prometheus's view of the target at addr, for a
// failing test's log: why samples stopped.
func (p *Prometheus) TargetHealth(addr string) string {
	t, err := p.Target(addr)
	switch {
	case err != nil:
		return err.Error()
	case !t.Found:
		return fmt.Sprintf("target %s is not among Prometheus's %d active targets", addr, t.Of)
	}
	return fmt.Sprintf("target %s: %s, last scrape %s took %.3fs, last error %q (of %d targets)",
		addr, t.Health, t.LastScrape.Format(time.RFC3339), t.LastScrapeDuration, t.LastError, t.Of)
}
