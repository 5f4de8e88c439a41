// Command demo runs a real gitcanary release on the local test bed: it
// seeds the fixture app into the bed's git server, registers a manual-sync
// Argo CD Application, deploys the stable version, then runs
// `gitcanary start` 10% → 50% → 100% → promote with live progress, and
// prints the release's git history and the final VirtualService.
// `make demo` builds what it needs and runs it.
package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gitcanary/gitcanary/e2e/testbed"
	"github.com/gitcanary/gitcanary/fixtures"
	"github.com/gitcanary/gitcanary/templates"
)

const (
	namespace = "bookinfo-demo"
	appName   = "reviews-demo"
	repoName  = "demo-apps.git"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	env, err := testbed.Load()
	if err != nil {
		return err
	}
	bin, err := filepath.Abs("bin/gitcanary")
	if err != nil {
		return err
	}
	work := filepath.Join(env.Dir, "demo")
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	title("1. Seed the sample app (reviews v1) into the test bed's git server")
	url, err := seed(env, work)
	if err != nil {
		return err
	}
	fmt.Println("   ", url, "path apps/reviews")

	title("2. Register a manual-sync Argo CD Application and deploy v1")
	kubectl(env, "delete", "application", appName, "-n", "argocd", "--ignore-not-found", "--wait=true")
	kubectl(env, "delete", "namespace", namespace, "--ignore-not-found", "--wait=true")
	if _, err := env.KubectlE(ctx, "create", "namespace", namespace); err != nil {
		return err
	}
	app, err := templates.Application(templates.ApplicationParams{Name: appName, RepoURL: url, Path: "apps/reviews", Revision: "main", Namespace: namespace})
	if err != nil {
		return err
	}
	appFile := filepath.Join(work, "application.yaml")
	if err := os.WriteFile(appFile, app, 0o644); err != nil {
		return err
	}
	if _, err := env.KubectlE(ctx, "apply", "-f", appFile); err != nil {
		return err
	}
	if _, err := env.ArgocdE(ctx, "app", "sync", appName, "--timeout", "120"); err != nil {
		return err
	}
	if _, err := env.ArgocdE(ctx, "app", "wait", appName, "--health", "--sync", "--timeout", "120"); err != nil {
		return err
	}
	fmt.Print(kubectl(env, "get", "deployments,virtualservices", "-n", namespace))

	title("3. The release: reviews v1 → v2 in steps 10% → 50% → 100%, then promote")
	relFile := filepath.Join(work, "reviews-v2.yaml")
	rel, err := templates.Release(templates.ReleaseParams{RepoURL: url, Application: appName, Namespace: namespace, ProgressDeadline: "5m"})
	if err != nil {
		return err
	}
	if err := os.WriteFile(relFile, rel, 0o644); err != nil {
		return err
	}
	fmt.Print(string(rel))
	gc := func(args ...string) error {
		base := []string{"--cache-dir", filepath.Join(work, "cache"), "--server", env.ArgoServer, "--plaintext", "--kubeconfig", env.Kubeconfig}
		cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
		cmd.Env = append(os.Environ(), "ARGOCD_AUTH_TOKEN="+env.ArgoToken)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		fmt.Printf("\n$ gitcanary %s\n", strings.Join(args, " "))
		return cmd.Run()
	}
	if err := gc("lint", "-f", relFile); err != nil {
		return err
	}
	began := time.Now()
	if err := gc("start", "-f", relFile, "--wait-for=done", "--timeout=10m"); err != nil {
		return err
	}
	fmt.Printf("release finished in %s\n", time.Since(began).Round(time.Second))

	title("4. The release's audit trail: its commits in git")
	if err := gc("history", "-f", relFile); err != nil {
		return err
	}
	title("5. The VirtualService in the cluster, as Argo CD applied it from git")
	fmt.Print(kubectl(env, "get", "virtualservice", "reviews", "-n", namespace, "-o", "yaml"))
	fmt.Print(kubectl(env, "get", "deployments", "-n", namespace))
	out, _ := env.ArgocdE(ctx, "app", "get", appName)
	fmt.Print(out)

	title("6. The app path handed back: the user's own files describe what runs")
	bare := filepath.Join(env.GitDir(), repoName)
	for _, args := range [][]string{
		{"ls-tree", "-r", "--name-only", "main", "apps/reviews"},
		{"show", "main:apps/reviews/deployment.yaml"},
		{"show", "main:apps/reviews/kustomization.yaml"},
	} {
		fmt.Printf("\n$ git %s\n", strings.Join(args, " "))
		out, err := exec.CommandContext(ctx, "git", append([]string{"-C", bare}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
		}
		fmt.Print(string(out))
	}

	title("Inspect and stop")
	fmt.Printf(`  export KUBECONFIG=%s
  %s/kubectl get deploy,vs,dr -n %s
  %s/argocd --plaintext --server %s --auth-token "$ARGOCD_AUTH_TOKEN" app get %s   # token: ARGOCD_AUTH_TOKEN in %s
  git clone %s && cd demo-apps && git log --format='%%h %%s%%n%%(trailers)'
  bin/gitcanary status -f %s
  make demo-down      # stop the test bed
`, env.Kubeconfig, env.BinDir, namespace, env.BinDir, env.ArgoServer, appName, filepath.Join(env.Dir, "env"), url, relFile)
	return nil
}

func title(s string) { fmt.Printf("\n== %s\n", s) }

func kubectl(env testbed.Env, args ...string) string {
	out, err := env.KubectlE(context.Background(), args...)
	if err != nil {
		return err.Error() + "\n"
	}
	return out
}

// seed writes the fixture app into a fresh bare repository served by the bed's git daemon.
func seed(env testbed.Env, work string) (string, error) {
	bare := filepath.Join(env.GitDir(), repoName)
	if err := os.RemoveAll(bare); err != nil {
		return "", err
	}
	src := filepath.Join(work, "seed")
	err := fs.WalkDir(fixtures.Apps, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fixtures.Apps, p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(src, filepath.Dir(p)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(src, p), data, 0o644)
	})
	if err != nil {
		return "", err
	}
	steps := [][]string{
		{"init", "--bare", "--quiet", "--initial-branch=main", bare},
		{"-C", src, "init", "--quiet", "--initial-branch=main"},
		{"-C", src, "add", "."},
		{"-C", src, "-c", "user.name=demo", "-c", "user.email=demo@localhost", "commit", "--quiet", "-m", "reviews v1"},
		{"-C", src, "push", "--quiet", bare, "main"},
	}
	for _, s := range steps {
		if out, err := exec.Command("git", s...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("git %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return env.GitURL(repoName), nil
}
