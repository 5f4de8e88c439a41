package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/gitcanary/gitcanary/e2e/testbed"
	"github.com/gitcanary/gitcanary/pkg/controller"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// releaseCRD is the Release CustomResourceDefinition, relative to this
// package's directory.
const releaseCRD = "../deploy/crd/release.yaml"

var (
	crdOnce sync.Once
	crdErr  error
)

// installReleaseCRD applies the Release CRD once per run (idempotent: the
// bed is shared by every run) and waits until the API server serves it.
func installReleaseCRD(t testing.TB, env testbed.Env) {
	t.Helper()
	crdOnce.Do(func() {
		ctx := context.Background()
		if _, crdErr = env.KubectlE(ctx, "apply", "-f", releaseCRD); crdErr == nil {
			_, crdErr = env.KubectlE(ctx, "wait", "--for=condition=Established", "--timeout=60s", "crd/releases.gitcanary.io")
		}
	})
	if crdErr != nil {
		t.Fatal(crdErr)
	}
}

// controllerProc is one `gitcanary run` of the built binary.
type controllerProc struct {
	t       testing.TB
	name    string
	cmd     *exec.Cmd
	out     *lockedBuffer
	metrics string // host:port of /metrics
	probes  string // host:port of /healthz and /readyz
	exited  chan struct{}
	err     error // the process's exit, once exited is closed
}

// lockedBuffer is the process's combined output, read while it is written.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freeAddr returns a 127.0.0.1 address with a port free at the time of the call.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startController runs `gitcanary run` for the scenario: Release resources
// of its namespace only (so runs sharing the bed never drive each other's
// releases), the leader-election Lease in that namespace, short lease
// timings, and metrics and probes on free loopback ports. args come after
// the defaults and may add to or override them. The process is stopped
// when the test ends, and its log printed if the test failed.
func (s *scenario) startController(name, cache string, args ...string) *controllerProc {
	s.t.Helper()
	p := &controllerProc{t: s.t, name: name, out: &lockedBuffer{}, metrics: freeAddr(s.t), probes: freeAddr(s.t), exited: make(chan struct{})}
	base := []string{
		"--cache-dir", cache, "--server", s.env.ArgoServer, "--plaintext", "--kubeconfig", s.env.Kubeconfig, "--log-level", "info",
		"run", "--namespace", s.ns, "--leader-election-namespace", s.ns,
		"--leader-election-lease-duration", "4s", "--leader-election-renew-deadline", "3s", "--leader-election-retry-period", "1s",
		"--metrics-bind-address", p.metrics, "--health-probe-bind-address", p.probes,
		"--poll", "1s", "--releases-interval", "1s",
	}
	p.cmd = exec.Command(gitcanaryBinary(s.t), append(base, args...)...)
	p.cmd.Env = append(append(os.Environ(), "ARGOCD_AUTH_TOKEN="+s.env.ArgoToken), s.procEnv...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	s.t.Cleanup(func() {
		p.stop(syscall.SIGTERM)
		if s.t.Failed() {
			s.t.Logf("controller %s (pid %d) log:\n%s", p.name, p.cmd.Process.Pid, p.out.String())
		}
	})
	return p
}

// stop signals the process and waits for it to exit (SIGKILL after 15s);
// it returns the exit code, or -1 when a signal ended it.
func (p *controllerProc) stop(sig syscall.Signal) int {
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Signal(sig)
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			p.t.Errorf("controller %s did not exit 15s after %v", p.name, sig)
			p.cmd.Process.Kill()
			<-p.exited
		}
	}
	return p.cmd.ProcessState.ExitCode()
}

func (p *controllerProc) log() string { return p.out.String() }

// waitLog waits until the log holds want n times.
func (p *controllerProc) waitLog(want string, n int, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for strings.Count(p.log(), want) < n {
		select {
		case <-p.exited:
			p.t.Fatalf("controller %s exited (%v) before logging %q %d times", p.name, p.err, want, n)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("controller %s logged %q %d times in %s, want %d", p.name, want, strings.Count(p.log(), want), timeout, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// get fetches path from addr and returns the status code and body.
func (p *controllerProc) get(addr, path string) (int, string) {
	p.t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		p.t.Fatalf("controller %s: GET %s: %v", p.name, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// checkProbes asserts /healthz and /readyz answer 200.
func (p *controllerProc) checkProbes() {
	p.t.Helper()
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := p.get(p.probes, path); code != http.StatusOK {
			p.t.Errorf("controller %s: %s answered %d %s", p.name, path, code, body)
		}
	}
}

// scrape reads /metrics into series → value, e.g.
// `gitcanary_releases{phase="Paused"}` → "1".
func (p *controllerProc) scrape() map[string]string {
	p.t.Helper()
	code, body := p.get(p.metrics, "/metrics")
	if code != http.StatusOK {
		p.t.Fatalf("controller %s: /metrics answered %d", p.name, code)
	}
	series := map[string]string{}
	for _, line := range strings.Split(body, "\n") {
		if i := strings.LastIndexByte(line, ' '); i > 0 && !strings.HasPrefix(line, "#") {
			series[line[:i]] = line[i+1:]
		}
	}
	return series
}

var (
	leases   = schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}
	releases = schema.GroupVersionResource{Group: "gitcanary.io", Version: "v1alpha1", Resource: "releases"}
)

// dynamic is a client of the bed for reading Leases, Release resources,
// EndpointSlices … (polled: kubectl would cost a process each time). It is
// made once per scenario.
func (s *scenario) dynamic() dynamic.Interface {
	s.t.Helper()
	if s.dyn != nil {
		return s.dyn
	}
	cfg, err := kube.Config(s.env.Kubeconfig, "")
	if err != nil {
		s.t.Fatal(err)
	}
	if s.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		s.t.Fatal(err)
	}
	return s.dyn
}

// leaseHolder is the holder of the scenario's leader-election Lease, "" when none.
func (s *scenario) leaseHolder(dyn dynamic.Interface) string {
	u, err := dyn.Resource(leases).Namespace(s.ns).Get(context.Background(), "gitcanary-gitcanary", metav1.GetOptions{})
	if err != nil {
		return ""
	}
	h, _, _ := unstructured.NestedString(u.Object, "spec", "holderIdentity")
	return h
}

// waitLeaseHolder waits until the Lease has a holder for which ok holds.
func (s *scenario) waitLeaseHolder(dyn dynamic.Interface, what string, ok func(string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h := s.leaseHolder(dyn)
		if ok(h) {
			return h
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("waiting for %s: Lease gitcanary-gitcanary held by %q", what, h)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// crStatus reads the status of the scenario's Release resource.
func (s *scenario) crStatus(dyn dynamic.Interface) (controller.Status, error) {
	var st controller.Status
	u, err := dyn.Resource(releases).Namespace(s.ns).Get(context.Background(), s.name(), metav1.GetOptions{})
	if err != nil {
		return st, err
	}
	if raw, ok := u.Object["status"]; ok {
		b, err := json.Marshal(raw)
		if err != nil {
			return st, err
		}
		err = json.Unmarshal(b, &st)
	}
	return st, err
}

// crWait bounds how long a scenario waits for a controller-driven phase.
// It is a bound on waiting, not a speed target: with every scenario
// running at once on two cores, one step has been seen to take two
// minutes to converge (Argo CD's controller is shared by all of them).
const crWait = 4 * time.Minute

// waitCR waits until the Release resource's status satisfies ok.
func (s *scenario) waitCR(dyn dynamic.Interface, what string, timeout time.Duration, ok func(controller.Status) bool) controller.Status {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st, err := s.crStatus(dyn)
		if err == nil && ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("waiting %s for %s: Release status %s %s weight %d (%v), conditions %s", timeout, what, st.Phase, release.FormatWeights(st.Weights), st.CanaryWeight, err, conditions(st))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// conditionTrue reports whether the status has condition t with status True.
func conditionTrue(st controller.Status, t string) bool {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c.Status == "True"
		}
	}
	return false
}

func conditions(st controller.Status) string {
	var parts []string
	for _, c := range st.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s(%s)", c.Type, c.Status, c.Reason))
	}
	return strings.Join(parts, " ")
}

// recordAtHead parses the release's record at the app repository's head;
// nil when there is none yet.
func (s *scenario) recordAtHead() *release.Release {
	s.t.Helper()
	file := s.recordPath()
	if s.server.Git(s.t, "apps.git", "ls-tree", "--name-only", "main", file) == "" {
		return nil
	}
	rec, err := release.Parse(s.server.ReadFile(s.t, "apps.git", file))
	if err != nil {
		s.t.Fatal(err)
	}
	return rec
}

// waitRecord waits until git's record of the release satisfies ok.
func (s *scenario) waitRecord(what string, timeout time.Duration, ok func(*release.Release) bool) *release.Release {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rec := s.recordAtHead()
		if rec != nil && ok(rec) {
			return rec
		}
		if time.Now().After(deadline) {
			got := "no record"
			if rec != nil {
				got = fmt.Sprintf("%s %s", rec.Status.Phase, release.FormatWeights(rec.Status.Weights))
			}
			s.t.Fatalf("waiting %s for %s: git has %s", timeout, what, got)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// checkHead waits until Argo CD has applied the release's last commit as
// recorded at the app repository's head (a controller syncs every commit it
// makes but the finishing one; other writers may have committed since),
// then checks that git's record, Argo CD and the cluster's routes agree.
// It returns the record.
func (s *scenario) checkHead() *release.Release {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec := s.recordAtHead()
	if rec == nil {
		s.t.Fatalf("no record of %s in %s at the head", s.name(), s.path)
	}
	if !rec.Status.Phase.Terminal() {
		s.waitApplied(ctx, s.commitOf(rec.Status.Seq))
	}
	s.checkConverged(ctx, rec)
	return rec
}

// checkSeqs asserts Gitcanary-Seq trailers 1..N, each once: no action was
// committed twice.
func (s *scenario) checkSeqs() {
	s.t.Helper()
	for i, q := range s.seqs() {
		if q != fmt.Sprint(i+1) {
			s.t.Fatalf("Gitcanary-Seq trailers %v: duplicate or gap", s.seqs())
		}
	}
}
