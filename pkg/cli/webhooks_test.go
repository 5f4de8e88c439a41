package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestStartHeldByConfirmStart: `start --wait-for=none` with a
// confirm-start webhook that answers 403 commits nothing, prints the
// answer while it asks again, and times out (exit 4); the configured
// header reaches the webhook and is printed nowhere. Answering 200, the
// start commits.
func TestStartHeldByConfirmStart(t *testing.T) {
	const token = "Bearer gate-token-0123456789"
	var code atomic.Int64
	code.Store(http.StatusForbidden)
	var calls, authorized atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") == token {
			authorized.Add(1)
		}
		w.WriteHeader(int(code.Load()))
		w.Write([]byte("ticket CHG-1 not approved"))
	}))
	defer srv.Close()
	w := newCLIWorld(t)
	data := string(mustRead(t, w.file)) + "  webhooks: [{name: ticket, type: confirm-start, url: '" + srv.URL + "/gate', interval: 1s}]\n"
	if err := os.WriteFile(w.file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("webhooks:\n- name: ticket\n  headersFromEnv: {Authorization: GITCANARY_TEST_GATE_AUTH}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GITCANARY_TEST_GATE_AUTH", token)
	head := w.server.Git(t, "apps.git", "rev-parse", "main")
	// 15 s: the start plans the release (kustomize renders) before the
	// first call; on a loaded machine that alone can take seconds.
	exit, out, errs := w.run("--config", cfg, "start", "-f", w.file, "--wait-for=none", "--timeout=15s")
	if exit != ExitTimeout || !strings.Contains(out, "waiting for webhook ticket (confirm-start): it answered 403: ticket CHG-1 not approved") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", exit, out, errs)
	}
	if n := calls.Load(); n < 2 || authorized.Load() != n {
		t.Errorf("%d calls, %d with the configured header", n, authorized.Load())
	}
	if strings.Contains(out+errs, "gate-token") {
		t.Errorf("the header's value was printed")
	}
	if h := w.server.Git(t, "apps.git", "rev-parse", "main"); h != head {
		t.Fatalf("the branch moved while the gate said no")
	}
	code.Store(http.StatusOK)
	if exit, out, errs := w.run("--config", cfg, "start", "-f", w.file, "--wait-for=none"); exit != ExitOK {
		t.Fatalf("exit %d\n%s%s", exit, out, errs)
	}
	if tr := w.server.Git(t, "apps.git", "log", "-1", "--format=%(trailers:key=Gitcanary-Webhook,valueonly)", "main"); strings.TrimSpace(tr) != "ticket confirm-start 200" {
		t.Errorf("start commit's trailer %q", tr)
	}
}
