package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestDoctorInput: bad input exits 2; an unreachable cluster and Argo CD
// exit 1 with the failing checks and their remedies, the rest skipped.
func TestDoctorInput(t *testing.T) {
	w := newCLIWorld(t)
	for _, args := range [][]string{
		{"doctor", "reviews"},
		{"doctor", "--bogus"},
		{"doctor", "-f", filepath.Join(t.TempDir(), "missing.yaml")},
	} {
		if code, out, errs := w.run(args...); code != ExitInvalid || out != "" {
			t.Errorf("%s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, ExitInvalid, out, errs)
		}
	}
	none := filepath.Join(t.TempDir(), "no-kubeconfig")
	code, out, errs := w.run("doctor", "-f", w.file, "--kubeconfig", none, "--server", "127.0.0.1:1", "--plaintext")
	if code != ExitError || !strings.Contains(errs, "doctor: a check failed") {
		t.Errorf("exit %d, want %d; stderr %s", code, ExitError, errs)
	}
	for _, line := range []string{
		"[FAIL] Kubernetes API          load kubeconfig: stat " + none + ": no such file or directory\n" +
			"       remedy: point --kubeconfig (or KUBECONFIG) and --context at the cluster",
		"[skip] namespace injection     needs Kubernetes API, which failed\n",
		"[FAIL] Argo CD API             connect to Argo CD at 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused\n" +
			"       remedy: check that --server (ARGOCD_SERVER) is argocd-server's host:port",
		"[skip] app path renders        needs Argo CD Application, which was skipped\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
	code, out, _ = w.run("doctor", "--kubeconfig", none, "--server=")
	if code != ExitError || !strings.Contains(out, "[FAIL] Argo CD API             no Argo CD server given\n") {
		t.Errorf("without a server: exit %d\n%s", code, out)
	}
}
