package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
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
