package gittest_test

import (
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gitcanary/gitcanary/pkg/git/gittest"
)

func TestServer(t *testing.T) {
	srv := gittest.NewServer(t)
	fixture := fstest.MapFS{
		"kustomization.yaml": {Data: []byte("resources: [deployment.yaml]\n")},
		"deployment.yaml":    {Data: []byte("kind: Deployment\n")},
	}
	url := srv.CreateRepoFS(t, "apps.git", fixture, "apps/reviews")
	if url != "git://"+srv.Addr()+"/apps.git" {
		t.Errorf("URL = %q", url)
	}
	if got := string(srv.ReadFile(t, "apps.git", "apps/reviews/deployment.yaml")); got != "kind: Deployment\n" {
		t.Errorf("ReadFile = %q", got)
	}

	srv.Push(t, "apps.git", map[string][]byte{"apps/reviews/deployment.yaml": nil, "new.txt": []byte("n")}, "second")
	if got := srv.Commits(t, "apps.git"); !reflect.DeepEqual(got, []string{"second", "initial"}) {
		t.Errorf("Commits = %q", got)
	}
	if got := srv.Git(t, "apps.git", "ls-tree", "-r", "--name-only", "main"); got != "apps/reviews/kustomization.yaml\nnew.txt" {
		t.Errorf("files = %q", got)
	}
	if got := srv.Git(t, "apps.git", "log", "-1", "--format=%an <%ae>"); got != gittest.AuthorName+" <"+gittest.AuthorEmail+">" {
		t.Errorf("author = %q", got)
	}

	// A real client can clone over git:// and is refused a force push.
	work := t.TempDir()
	git(t, "", "clone", "--quiet", url, work)
	git(t, work, "commit", "--quiet", "--amend", "-m", "rewritten")
	if out, err := gitErr(work, "push", "--force", "origin", "HEAD:main"); err == nil {
		t.Errorf("force push accepted: %s", out)
	}

	srv.Stop()
	srv.Stop() // idempotent
	if _, err := gitErr("", "ls-remote", url); err == nil {
		t.Error("server still answers after Stop")
	}
	// Back on the same port, with the same repositories.
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if out, err := gitErr("", "ls-remote", url, "main"); err != nil || !strings.Contains(out, "refs/heads/main") {
		t.Errorf("ls-remote after Restart: %v: %s", err, out)
	}
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	if out, err := gitErr(dir, args...); err != nil {
		t.Fatalf("git %v: %v: %s", args, err, out)
	}
}

func gitErr(dir string, args ...string) (string, error) {
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.Command("git", args...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
