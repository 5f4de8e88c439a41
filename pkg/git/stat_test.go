package git

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/pkg/git/gittest"
)

func TestStat(t *testing.T) {
	e := newEnv(t)
	r := e.open(t, t.TempDir())
	snap, err := r.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tree := func(path string) string { return e.srv.Git(t, e.name, "rev-parse", "main:"+path) }
	tests := []struct {
		path string
		want FileInfo
	}{
		{"", FileInfo{Dir: true, Hash: e.srv.Git(t, e.name, "rev-parse", "main^{tree}")}},
		{"apps/reviews", FileInfo{Dir: true, Hash: tree("apps/reviews")}},
		{"apps/reviews/service.yaml", FileInfo{Hash: tree("apps/reviews/service.yaml"), Size: int64(len(fixture["apps/reviews/service.yaml"]))}},
	}
	for _, tt := range tests {
		if got, err := snap.Stat(tt.path); err != nil || got != tt.want {
			t.Errorf("Stat(%q) = %+v, %v; want %+v", tt.path, got, err, tt.want)
		}
	}
	for _, p := range []string{"apps/nope", "apps/reviews/service.yaml/x", "nope.yaml"} {
		if _, err := snap.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(%q): %v, want fs.ErrNotExist", p, err)
		}
	}
	if _, err := snap.Stat("../x"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Stat(../x): %v, want fs.ErrInvalid", err)
	}
}

// TestStatSymlink: git stores a link as a blob holding its target; a path
// through a link to a directory names the link.
func TestStatSymlink(t *testing.T) {
	srv := gittest.NewServer(t)
	url := srv.CreateRepo(t, "apps.git", map[string][]byte{"bases/reviews/kustomization.yaml": []byte("resources: []\n")})
	work := t.TempDir()
	gitIn(t, "", "clone", "--quiet", srv.Dir("apps.git"), work)
	if err := os.MkdirAll(filepath.Join(work, "apps"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../bases/reviews", filepath.Join(work, "apps", "base")); err != nil {
		t.Fatal(err)
	}
	gitIn(t, work, "add", "--all")
	gitIn(t, work, "commit", "--quiet", "-m", "a link")
	gitIn(t, work, "push", "--quiet", "origin", "HEAD:refs/heads/main")
	r, err := open(context.Background(), Options{URL: url, Branch: "main", CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := r.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := snap.Stat("apps/base"); err != nil || !fi.Symlink {
		t.Errorf("Stat(apps/base) = %+v, %v; want a symlink", fi, err)
	}
	_, err = snap.Stat("apps/base/kustomization.yaml")
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != "apps/base" || !errors.Is(err, ErrSymlink) {
		t.Errorf("Stat through the link: %v, want ErrSymlink naming apps/base", err)
	}
}

// TestFileSizeCap: a file over MaxFileSize is refused by name, by ReadFile
// and ReadTree, while Stat still gives its size; its neighbours read fine.
func TestFileSizeCap(t *testing.T) {
	srv := gittest.NewServer(t)
	big := bytes.Repeat([]byte("a: b\n"), MaxFileSize/5+1)
	url := srv.CreateRepo(t, "apps.git", map[string][]byte{
		"apps/reviews/kustomization.yaml": []byte("resources: []\n"),
		"apps/reviews/big.yaml":           big,
		"apps/other/kustomization.yaml":   []byte("resources: []\n"),
	})
	r, err := open(context.Background(), Options{URL: url, Branch: "main", CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := r.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := snap.Stat("apps/reviews/big.yaml"); err != nil || fi.Size != int64(len(big)) {
		t.Errorf("Stat(big) = %+v, %v; want size %d", fi, err, len(big))
	}
	want := "apps/reviews/big.yaml is 10485765 bytes (10.0 MiB), over gitcanary's limit of 10 MiB per file it reads: keep large data out of the kustomization's resources, patches and generators"
	_, err = snap.ReadFile("apps/reviews/big.yaml")
	if !errors.Is(err, ErrFileTooLarge) || err.Error() != want {
		t.Errorf("ReadFile(big): %v\nwant %s", err, want)
	}
	_, err = snap.ReadTree("apps")
	if !errors.Is(err, ErrFileTooLarge) || err.Error() != want {
		t.Errorf("ReadTree(apps): %v\nwant %s", err, want)
	}
	if data, err := snap.ReadFile("apps/reviews/kustomization.yaml"); err != nil || !strings.HasPrefix(string(data), "resources") {
		t.Errorf("ReadFile(kustomization) = %q, %v", data, err)
	}
	if files, err := snap.ReadTree("apps/other"); err != nil || len(files) != 1 {
		t.Errorf("ReadTree(apps/other) = %v, %v", files, err)
	}
}

// gitIn runs git in a work tree, as a person would, without their config.
func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.Command("git", args...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@localhost", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@localhost")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}
