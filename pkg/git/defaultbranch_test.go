package git

import (
	"context"
	"strings"
	"testing"
)

// TestDefaultBranch reads the branch HEAD names from a real git daemon, as
// Argo CD resolves targetRevision HEAD; moving HEAD changes the answer.
func TestDefaultBranch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	got, err := DefaultBranch(ctx, Options{URL: e.url})
	if err != nil || got != "main" {
		t.Fatalf("DefaultBranch = %q, %v; want main", got, err)
	}
	e.srv.Git(t, e.name, "branch", "release-1", "main")
	e.srv.Git(t, e.name, "symbolic-ref", "HEAD", "refs/heads/release-1")
	if got, err := DefaultBranch(ctx, Options{URL: e.url}); err != nil || got != "release-1" {
		t.Errorf("after moving HEAD: DefaultBranch = %q, %v; want release-1", got, err)
	}
	if _, err := DefaultBranch(ctx, Options{URL: e.srv.URL("missing.git")}); err == nil || !strings.Contains(err.Error(), "missing.git") {
		t.Errorf("a missing repository: %v", err)
	}
}
