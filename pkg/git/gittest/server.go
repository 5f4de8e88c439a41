// Package gittest runs a real git server on loopback for tests: `git daemon`
// serving bare repositories from a temporary directory over git://, with
// pushes enabled. Helpers seed repositories and read their state back
// through the git command line, so tests assert what is really on the server.
package gittest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Author is the identity of every commit gittest makes.
const (
	AuthorName  = "gittest"
	AuthorEmail = "gittest@localhost"
)

// Server is a git daemon on 127.0.0.1 serving the repositories under Base.
type Server struct {
	daemon string
	base   string
	port   int
	cmd    *exec.Cmd
	done   chan struct{} // closed when the daemon has exited
	logs   *logBuffer
}

// logBuffer collects the daemon's output; it is written by exec's copying
// goroutine while a failing start may read it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// NewServer starts git daemon on a free loopback port, serving a fresh
// t.TempDir(), and stops it when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	daemon := gitDaemonPath(t)
	base := t.TempDir()
	var lastErr error
	for try := 0; try < 5; try++ {
		s, err := start(daemon, base, 0)
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		lastErr = err // most likely the port was taken between pick and bind
	}
	t.Fatalf("gittest: start git daemon: %v", lastErr)
	return nil
}

// gitDaemonPath checks that git and its daemon are installed.
func gitDaemonPath(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("gittest: git is not installed: %v", err)
	}
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("gittest: git --exec-path: %v", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "git-daemon")
	if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("gittest: git daemon is not runnable (%s missing); install git's daemon", p)
	}
	return p
}

// start runs the daemon on port, or on a free port when port is 0.
func start(daemon, base string, port int) (*Server, error) {
	if port == 0 {
		var err error
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	s := &Server{daemon: daemon, base: base, port: port, done: make(chan struct{}), logs: &logBuffer{}}
	s.cmd = exec.Command(daemon,
		"--listen=127.0.0.1", "--port="+strconv.Itoa(port),
		"--base-path="+base, "--export-all", "--enable=receive-pack",
		"--reuseaddr", "--informative-errors")
	s.cmd.Env = gitEnv()
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	// Its own process group, so Stop also ends the per-connection children.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr(), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("git daemon exited: %s", s.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("git daemon not accepting on %s after 10s: %s", s.Addr(), s.logs.String())
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Stop ends the daemon (by its process group) and waits for it. Repositories
// stay on disk until the test's temp dir is removed. Stop is idempotent.
func (s *Server) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// Restart starts the daemon again after Stop, on the same port and serving
// the same repositories: a git server that was down and is back. Not safe
// to call while Stop runs.
func (s *Server) Restart() error {
	s.Stop()
	n, err := start(s.daemon, s.base, s.port)
	if err != nil {
		return fmt.Errorf("gittest: restart git daemon on %s: %w", s.Addr(), err)
	}
	s.cmd, s.done, s.logs = n.cmd, n.done, n.logs
	return nil
}

// Addr is the daemon's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the git:// URL of repository name.
func (s *Server) URL(name string) string { return "git://" + s.Addr() + "/" + name }

// Dir is the bare repository's directory, e.g. for file:// URLs.
func (s *Server) Dir(name string) string { return filepath.Join(s.base, filepath.FromSlash(name)) }

// CreateRepo creates bare repository name with one commit on main holding
// files, and returns its URL. The repository refuses non-fast-forward
// pushes, so a client that would force a push fails loudly.
func (s *Server) CreateRepo(t testing.TB, name string, files map[string][]byte) string {
	t.Helper()
	dir := s.Dir(name)
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("gittest: repository %s already exists", name)
	}
	run(t, "", "init", "--quiet", "--bare", "--initial-branch=main", dir)
	run(t, dir, "config", "receive.denyNonFastForwards", "true")

	work := t.TempDir()
	run(t, work, "-c", "init.defaultBranch=main", "init", "--quiet")
	writeFiles(t, work, files)
	run(t, work, "add", "--all")
	run(t, work, "commit", "--quiet", "--allow-empty", "-m", "initial")
	run(t, work, "push", "--quiet", dir, "HEAD:refs/heads/main")
	return s.URL(name)
}

// CreateRepoFS is CreateRepo with the files of fsys placed under prefix
// ("" for the root), e.g. a fixture app seeded at apps/reviews.
func (s *Server) CreateRepoFS(t testing.TB, name string, fsys fs.FS, prefix string) string {
	t.Helper()
	files := map[string][]byte{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files[path.Join(prefix, p)] = b
		return nil
	})
	if err != nil {
		t.Fatalf("gittest: read fixture files: %v", err)
	}
	return s.CreateRepo(t, name, files)
}

// Push commits files on top of main from outside, as another client would,
// and pushes it. A nil value deletes that path.
func (s *Server) Push(t testing.TB, name string, files map[string][]byte, subject string) {
	t.Helper()
	work := t.TempDir()
	run(t, "", "clone", "--quiet", "--branch=main", s.Dir(name), work)
	writeFiles(t, work, files)
	run(t, work, "add", "--all")
	run(t, work, "commit", "--quiet", "--allow-empty", "-m", subject)
	run(t, work, "push", "--quiet", "origin", "HEAD:refs/heads/main")
}

// Commits returns the subjects of main's history, newest first.
func (s *Server) Commits(t testing.TB, name string) []string {
	t.Helper()
	out := s.Git(t, name, "log", "--format=%s", "main")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// ReadFile returns path's content at the head of main; it fails the test
// when the file is absent (use Git "ls-tree" to test for absence).
func (s *Server) ReadFile(t testing.TB, name, path string) []byte {
	t.Helper()
	cmd := exec.Command("git", "--git-dir="+s.Dir(name), "cat-file", "blob", "main:"+path)
	cmd.Env = gitEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gittest: read %s from %s: %v", path, name, errText(err))
	}
	return out
}

// Git runs a git command in bare repository name and returns its trimmed
// standard output, failing the test on error.
func (s *Server) Git(t testing.TB, name string, args ...string) string {
	t.Helper()
	return strings.TrimSpace(run(t, s.Dir(name), args...))
}

// run runs git in dir (a work tree or bare repository; "" for none).
func run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.Command("git", args...)
	cmd.Env = gitEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gittest: git %s: %v", strings.Join(args, " "), errText(err))
	}
	return string(out)
}

func errText(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Sprintf("%v: %s", err, bytes.TrimSpace(ee.Stderr))
	}
	return err.Error()
}

// gitEnv isolates git from the user's and system configuration and fixes
// the identity of the commits made here.
func gitEnv() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "GIT_")
	})
	return append(env,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_AUTHOR_NAME="+AuthorName, "GIT_AUTHOR_EMAIL="+AuthorEmail,
		"GIT_COMMITTER_NAME="+AuthorName, "GIT_COMMITTER_EMAIL="+AuthorEmail,
		"GIT_TERMINAL_PROMPT=0",
	)
}

// linkMarker starts the content Link gives: no file a test writes starts
// with a NUL byte.
const linkMarker = "\x00gittest-symlink:"

// Link is the content of a files entry (CreateRepo, Push) that commits a
// symbolic link to target instead of a file, as `ln -s target` would.
func Link(target string) []byte { return []byte(linkMarker + target) }

func writeFiles(t testing.TB, work string, files map[string][]byte) {
	t.Helper()
	for p, b := range files {
		if !fs.ValidPath(p) || p == "." {
			t.Fatalf("gittest: invalid file path %q", p)
		}
		full := filepath.Join(work, filepath.FromSlash(p))
		if b == nil {
			if err := os.RemoveAll(full); err != nil {
				t.Fatalf("gittest: remove %s: %v", p, err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatalf("gittest: %v", err)
		}
		if target, ok := strings.CutPrefix(string(b), linkMarker); ok {
			if err := os.RemoveAll(full); err != nil {
				t.Fatalf("gittest: %v", err)
			}
			if err := os.Symlink(target, full); err != nil {
				t.Fatalf("gittest: %v", err)
			}
			continue
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatalf("gittest: %v", err)
		}
	}
}
