package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/templates"
)

// argocdSnippet is the Release health check and resource actions.
const argocdSnippet = "../deploy/argocd/argocd-cm.yaml"

// TestControllerArgoCDAction: a Release resource deployed by its own Argo
// CD Application shows in Argo CD with the shipped health check, and the
// shipped approve action, run through the Argo CD API (argocd app actions
// run), ends its pause; the controller then promotes it.
func TestControllerArgoCDAction(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "ctrl-ui", templates.ReleaseParams{Steps: pauseSteps})
	installReleaseCRD(t, s.env)
	argoCDLearnsKind(t, s.env, "releases.gitcanary.io")
	// The shared bed's argocd-cm gets the snippet merged in (idempotent).
	s.env.Kubectl(t, "patch", "configmap", "argocd-cm", "-n", "argocd", "--type", "merge", "--patch-file", argocdSnippet)

	// The Release lives in its own repository and Application: never in
	// the Application it releases (docs/controller.md).
	doc, err := os.ReadFile(s.file)
	if err != nil {
		t.Fatal(err)
	}
	cr := strings.Replace(string(doc), "metadata:\n", "metadata:\n  namespace: "+s.ns+"\n", 1)
	url := s.server.CreateRepo(t, "releases.git", map[string][]byte{"releases/reviews-v2.yaml": []byte(cr)})
	appName := s.ns + "-releases"
	app, err := templates.Application(templates.ApplicationParams{Name: appName, RepoURL: url, Path: "releases", Revision: "main", Namespace: s.ns})
	if err != nil {
		t.Fatal(err)
	}
	appFile := filepath.Join(t.TempDir(), "releases-app.yaml")
	if err := os.WriteFile(appFile, app, 0o644); err != nil {
		t.Fatal(err)
	}
	s.env.Kubectl(t, "apply", "-f", appFile)
	t.Cleanup(func() {
		s.env.KubectlE(context.Background(), "delete", "application", "-n", "argocd", appName, "--wait=false")
	})

	dyn := s.dynamic()
	s.startController("a", s.cache)
	s.env.Argocd(t, "app", "sync", appName, "--timeout", "60")
	s.waitCR(dyn, "the pause at 10%", crWait, pausedAt10)

	// Argo CD judges the Release with the shipped Lua: Suspended, waiting for approval.
	deadline := time.Now().Add(60 * time.Second)
	for {
		out := s.env.Argocd(t, "app", "get", appName, "--refresh", "-o", "json")
		if strings.Contains(out, `"kind": "Release"`) && strings.Contains(out, `"status": "Suspended"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Argo CD does not show the Release Suspended:\n%s", out)
		}
		time.Sleep(time.Second)
	}
	actions := s.env.Argocd(t, "app", "actions", "list", appName, "--kind", "Release", "--group", "gitcanary.io")
	if !strings.Contains(actions, "approve") {
		t.Fatalf("argocd app actions list:\n%s", actions)
	}
	s.env.Argocd(t, "app", "actions", "run", appName, "approve", "--kind", "Release", "--group", "gitcanary.io",
		"--resource-name", "reviews-v2", "--namespace", s.ns)

	s.waitCR(dyn, "Promoted", crWait, promoted)
	s.checkPromoted()
}
