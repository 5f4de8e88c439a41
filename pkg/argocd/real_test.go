package argocd

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestRealArgoCD reads one Application from a running Argo CD. It is opt-in:
//
//	GITCANARY_E2E_ARGOCD=1 ARGOCD_SERVER=127.0.0.1:8080 ARGOCD_AUTH_TOKEN=… \
//	ARGOCD_OPTS=--plaintext GITCANARY_E2E_APP=reviews go test ./pkg/argocd -run Real
//
// The e2e suite covers sync and convergence against the real test bed.
func TestRealArgoCD(t *testing.T) {
	if os.Getenv("GITCANARY_E2E_ARGOCD") != "1" {
		t.Skip("set GITCANARY_E2E_ARGOCD=1 (with ARGOCD_SERVER, ARGOCD_AUTH_TOKEN, GITCANARY_E2E_APP) to run")
	}
	if os.Getenv(EnvServer) == "" || os.Getenv(EnvAuthToken) == "" {
		t.Skip("ARGOCD_SERVER and ARGOCD_AUTH_TOKEN must be set")
	}
	name := os.Getenv("GITCANARY_E2E_APP")
	if name == "" {
		t.Skip("GITCANARY_E2E_APP must name an application")
	}
	opts, err := OptionsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, closer, err := New(ctx, opts)
	if err != nil {
		t.Fatalf("New(%s): %v", opts, err)
	}
	defer closer.Close()

	app, err := c.Get(ctx, name, true)
	if err != nil {
		t.Fatal(err)
	}
	if app.Name != name {
		t.Errorf("Get(%q) returned application %q", name, app.Name)
	}
	t.Logf("%s: sync %s at %s, health %s, %s", name, app.Status.Sync.Status, app.Status.Sync.Revision,
		app.Status.Health.Status, Assess(app, Exact(app.Status.Sync.Revision)).Reason)

	if _, err := c.Get(ctx, name+"-does-not-exist", false); !isNotFound(err) {
		t.Errorf("Get of a missing app: %v, want ErrNotFound", err)
	}
}
