// Package testbed gives end-to-end tests the address and credentials of the
// local test bed started by `make testbed-up` (e2e/testbed/up.sh): a real
// kube-apiserver with kwok nodes, Argo CD, a git daemon and Prometheus on
// 127.0.0.1.
//
// It imports only the standard library so that tests using it compile fast.
package testbed

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const modulePath = "github.com/gitcanary/gitcanary"

// Env is what a test needs to talk to a running test bed.
type Env struct {
	Kubeconfig string // path of the admin kubeconfig
	ArgoServer string // host:port of argocd-server (plaintext gRPC and HTTP)
	ArgoToken  string // API token of the gitcanary account (role:admin)
	GitBase    string // base URL of the git daemon, "git://127.0.0.1:PORT/"
	BinDir     string // directory with kubectl, argocd, kustomize …
	Dir        string // the bed's state directory (pids, logs, env, git)
	// PrometheusURL is the bed's Prometheus, "http://127.0.0.1:PORT", and
	// PrometheusTargets its file_sd directory; both "" for a bed started
	// before Prometheus was part of it (see Prometheus).
	PrometheusURL     string
	PrometheusTargets string
}

// ErrNotUp means no env file was found: the test bed has not been started.
var ErrNotUp = errors.New("test bed not up")

// Dir returns the state directory of the test bed: $GITCANARY_TESTBED_DIR,
// else .work/testbed under the root of the gitcanary module found by walking
// up from the working directory.
func Dir() (string, error) {
	if d := os.Getenv("GITCANARY_TESTBED_DIR"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if isRoot(filepath.Join(d, "go.mod")) {
			return filepath.Join(d, ".work", "testbed"), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod of module %s above %s; set GITCANARY_TESTBED_DIR", modulePath, wd)
		}
	}
}

// isRoot reports whether goMod declares the gitcanary module (and not one of
// the test bed's wrapper modules nested inside it).
func isRoot(goMod string) bool {
	b, err := os.ReadFile(goMod)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == modulePath
		}
	}
	return false
}

// Load reads the env file that up.sh writes into the state directory.
func Load() (Env, error) {
	dir, err := Dir()
	if err != nil {
		return Env{}, err
	}
	path := filepath.Join(dir, "env")
	vars, err := readEnvFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Env{}, fmt.Errorf("%w: no %s", ErrNotUp, path)
	}
	if err != nil {
		return Env{}, err
	}
	e := Env{
		Kubeconfig: vars["KUBECONFIG"],
		ArgoServer: vars["ARGOCD_SERVER"],
		ArgoToken:  vars["ARGOCD_AUTH_TOKEN"],
		GitBase:    vars["GITCANARY_TESTBED_GIT"],
		BinDir:     vars["GITCANARY_TESTBED_BIN"],
		Dir:        dir,

		PrometheusURL:     vars["GITCANARY_PROMETHEUS_URL"],
		PrometheusTargets: vars["GITCANARY_TESTBED_PROMETHEUS_TARGETS"],
	}
	for k, v := range map[string]string{
		"KUBECONFIG": e.Kubeconfig, "ARGOCD_SERVER": e.ArgoServer, "ARGOCD_AUTH_TOKEN": e.ArgoToken,
		"GITCANARY_TESTBED_GIT": e.GitBase, "GITCANARY_TESTBED_BIN": e.BinDir,
	} {
		if v == "" {
			return Env{}, fmt.Errorf("%s: %s is missing; restart the bed with `make testbed-down testbed-up`", path, k)
		}
	}
	return e, nil
}

// readEnvFile parses KEY='value' lines (an optional "export " and quotes are
// stripped; # starts a comment line).
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			return nil, fmt.Errorf("%s: bad line %q", path, line)
		}
		if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		vars[strings.TrimSpace(k)] = v
	}
	return vars, sc.Err()
}

// Require returns the Env of a running test bed. When the bed is not up it
// fails the test if GITCANARY_E2E=1 is set, and skips it otherwise.
func Require(t testing.TB) Env {
	t.Helper()
	e, err := Load()
	if err == nil {
		err = e.ping()
	}
	if err != nil {
		detail := strings.TrimPrefix(err.Error(), ErrNotUp.Error()+": ")
		msg := fmt.Sprintf("test bed not up: run `make testbed-up` (%s)", detail)
		if os.Getenv("GITCANARY_E2E") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return e
}

// ping checks that the apiserver and argocd-server accept connections, so a
// stale env file of a stopped bed is not taken for a running one.
func (e Env) ping() error {
	api, err := e.APIServer()
	if err != nil {
		return err
	}
	for _, addr := range []string{api, e.ArgoServer} {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrNotUp, err)
		}
		c.Close()
	}
	return nil
}

// APIServer returns host:port of the kube-apiserver named in the kubeconfig.
func (e Env) APIServer() (string, error) {
	b, err := os.ReadFile(e.Kubeconfig)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "server:"); ok {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil {
				return "", fmt.Errorf("%s: %w", e.Kubeconfig, err)
			}
			return u.Host, nil
		}
	}
	return "", fmt.Errorf("%s: no server", e.Kubeconfig)
}

// GitURL returns the git:// URL of repo (a path under the daemon's base,
// e.g. "apps.git").
func (e Env) GitURL(repo string) string {
	return strings.TrimSuffix(e.GitBase, "/") + "/" + strings.TrimPrefix(repo, "/")
}

// GitDir returns the directory the git daemon serves; a bare repository
// created at GitDir()/x.git is reachable at GitURL("x.git").
func (e Env) GitDir() string { return filepath.Join(e.Dir, "git") }

// Run runs a program of BinDir (or of PATH when BinDir has none) and returns
// its stdout; the error carries stderr.
func (e Env) Run(ctx context.Context, name string, args ...string) (string, error) {
	prog := filepath.Join(e.BinDir, name)
	if _, err := os.Stat(prog); err != nil {
		prog = name
	}
	cmd := exec.CommandContext(ctx, prog, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.Kubeconfig)
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(redact(args), " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// redact hides the value of --auth-token so errors never carry a token.
func redact(args []string) []string {
	out := append([]string(nil), args...)
	for i := range out {
		if out[i] == "--auth-token" && i+1 < len(out) {
			out[i+1] = "REDACTED"
		}
	}
	return out
}

// KubectlE runs kubectl against the bed and returns its stdout.
func (e Env) KubectlE(ctx context.Context, args ...string) (string, error) {
	return e.Run(ctx, "kubectl", append([]string{"--kubeconfig", e.Kubeconfig}, args...)...)
}

// Kubectl runs kubectl against the bed and fails the test if it fails.
func (e Env) Kubectl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := e.KubectlE(context.Background(), args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ArgocdE runs the argocd CLI against the bed as the gitcanary account.
func (e Env) ArgocdE(ctx context.Context, args ...string) (string, error) {
	// The CLI's own config file would land in $HOME; server and token are flags.
	cfg := filepath.Join(e.Dir, "argocd", "cli-config")
	base := []string{"--plaintext", "--server", e.ArgoServer, "--auth-token", e.ArgoToken, "--config", cfg}
	return e.Run(ctx, "argocd", append(base, args...)...)
}

// Argocd runs the argocd CLI and fails the test if it fails.
func (e Env) Argocd(t testing.TB, args ...string) string {
	t.Helper()
	out, err := e.ArgocdE(context.Background(), args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
