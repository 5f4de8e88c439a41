package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/fixtures"
	"github.com/gitcanary/gitcanary/templates"
)

// What a repository shared by several teams looks like to a release:
// other apps beside the released one, writers other than gitcanary (a bot,
// a person) pushing to the same branch, the same app in several app paths.

// otherConfigMap is the file of another app the bot edits.
const otherConfigMap = "apps/other/cm.yaml"

// withMonorepo seeds the repository with fixtures.Monorepo beside the
// reviews app: apps/other (another app's ConfigMap, deployed by no
// Application of the scenario) and the ConfigMap reviews-settings in the
// released app path, listed in its kustomization.
func withMonorepo() option {
	return func(s *scenario) {
		files := map[string][]byte{}
		for p, b := range filesUnder(s.t, fixtures.Monorepo, "monorepo") {
			files[strings.TrimPrefix(p, "monorepo/")] = b
		}
		kust, err := fs.ReadFile(s.apps, "apps/reviews/kustomization.yaml")
		if err != nil {
			s.t.Fatal(err)
		}
		files["apps/reviews/kustomization.yaml"] = append(bytes.TrimRight(kust, "\n"), "\n  - settings.yaml\n"...)
		withFiles(files)(s)
	}
}

// withReviewsAt seeds a copy of apps/reviews (as seeded so far) at each of
// paths, e.g. envs/staging/reviews; the scenario releases the first.
// Deploy the others with s.another.
func withReviewsAt(paths ...string) option {
	return func(s *scenario) {
		files := map[string][]byte{}
		for p, b := range filesUnder(s.t, s.apps, "apps/reviews") {
			for _, to := range paths {
				files[path.Join(to, strings.TrimPrefix(p, "apps/reviews/"))] = b
			}
		}
		withFiles(files)(s)
		s.path = paths[0]
	}
}

// withAutomated makes the scenario's Applications automated-sync.
func withAutomated(a templates.AutomatedSync) option {
	return func(s *scenario) { s.automated = &a }
}

// withEndpointChecks makes checkConverged also check, at every converged
// phase, that every subset a route sends traffic to has ready endpoints.
func withEndpointChecks() option {
	return func(s *scenario) { s.endpoints = true }
}

// another deploys the app at path of the scenario's repository (seeded by
// withReviewsAt) with its own namespace and Application (synced as the
// scenario's), and returns a scenario for its release p.
func (s *scenario) another(name, path string, p templates.ReleaseParams) *scenario {
	s.t.Helper()
	o := &scenario{t: s.t, env: s.env, ns: name + "-" + randSuffix(), path: path, apps: s.apps, automated: s.automated, endpoints: s.endpoints,
		server: s.server, url: s.url, cache: s.t.TempDir(), argo: s.argo, cluster: s.cluster}
	o.deploy()
	o.writeRelease(p)
	return o
}

// next returns a scenario for another release p of the same app (same
// path, Application and namespace), e.g. the one after a promoted release.
func (s *scenario) next(p templates.ReleaseParams) *scenario {
	s.t.Helper()
	o := *s
	o.cache, o.phases = s.t.TempDir(), nil
	o.writeRelease(p)
	return &o
}

// in returns the scenario bound to t, e.g. a parallel subtest's.
func (s *scenario) in(t testing.TB) *scenario {
	o := *s
	o.t, o.phases = t, nil
	return &o
}

// writer pushes commits to the scenario's repository as a person or a bot
// does: a clone of its own, plain git, a rejected push pulled with
// --rebase and pushed again. It never fails the test itself, so it can
// run on any goroutine.
type writer struct {
	dir  string
	name string
}

// newWriter clones the scenario's repository (through its git server, as
// any client) into a scratch directory.
func (s *scenario) newWriter(name string) *writer {
	s.t.Helper()
	w := &writer{dir: filepath.Join(s.t.TempDir(), "clone"), name: name}
	if _, err := w.git(context.Background(), "", "clone", "--quiet", "--branch=main", s.url, w.dir); err != nil {
		s.t.Fatal(err)
	}
	return w
}

// git runs git in the writer's clone (dir "" for none) as the writer.
func (w *writer) git(ctx context.Context, dir string, args ...string) (string, error) {
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME="+w.name, "GIT_AUTHOR_EMAIL="+w.name+"@localhost",
		"GIT_COMMITTER_NAME="+w.name, "GIT_COMMITTER_EMAIL="+w.name+"@localhost")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s: git %s: %w: %s", w.name, strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// commit rewrites file (a path in the repository) with edit applied to its
// content at the branch head, commits it with subject and pushes, pulling
// with --rebase and pushing again while the push is rejected. It returns
// the commit pushed and how many pushes it took.
func (w *writer) commit(ctx context.Context, file string, edit func([]byte) []byte, subject string) (string, int, error) {
	if _, err := w.git(ctx, w.dir, "pull", "--quiet", "--rebase", "origin", "main"); err != nil {
		return "", 0, err
	}
	full := filepath.Join(w.dir, filepath.FromSlash(file))
	old, err := os.ReadFile(full)
	if err != nil {
		return "", 0, err
	}
	if err := os.WriteFile(full, edit(old), 0o644); err != nil {
		return "", 0, err
	}
	if _, err := w.git(ctx, w.dir, "commit", "--quiet", "--all", "-m", subject); err != nil {
		return "", 0, err
	}
	for attempt := 1; ; attempt++ {
		_, err := w.git(ctx, w.dir, "push", "--quiet", "origin", "HEAD:refs/heads/main")
		if err == nil {
			head, err := w.git(ctx, w.dir, "rev-parse", "HEAD")
			return head, attempt, err
		}
		if attempt == 20 || !strings.Contains(err.Error(), "rejected") {
			return "", attempt, err
		}
		// Someone pushed first: replay the commit on their head, as people do.
		if _, err := w.git(ctx, w.dir, "pull", "--quiet", "--rebase", "origin", "main"); err != nil {
			return "", attempt, err
		}
	}
}

// setValue returns an edit that sets key's value in a flat YAML mapping
// line `  key: value` (a ConfigMap's data).
func setValue(key, value string) func([]byte) []byte {
	re := regexp.MustCompile(`(?m)^(\s+` + regexp.QuoteMeta(key) + `:).*$`)
	return func(b []byte) []byte { return re.ReplaceAll(b, []byte(fmt.Sprintf("${1} %q", value))) }
}

// bot pushes a commit to another app's file every 2 to 3 seconds until
// stopped, as image-update bots do in GitOps repositories.
type bot struct {
	t        testing.TB
	stopOnce sync.Once
	stopped  chan struct{} // closed by stop
	done     chan struct{} // closed when the bot has returned
	mu       sync.Mutex
	pushes   int   // commits pushed
	tries    int   // pushes attempted, rejected ones included
	err      error // the first failure; the bot stops at it
}

// startBot starts a bot bumping the counter of apps/other/cm.yaml (seeded by
// withMonorepo). It is stopped when the test ends, if not before.
func (s *scenario) startBot() *bot {
	s.t.Helper()
	w := s.newWriter("bot")
	b := &bot{t: s.t, stopped: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		for n := 1; ; n++ {
			select {
			case <-b.stopped:
				return
			case <-time.After(2*time.Second + rand.N(time.Second)):
			}
			// A commit is finished even when the bot is stopped meanwhile, so
			// that what it counts is what the branch has.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_, tries, err := w.commit(ctx, otherConfigMap, setValue("counter", fmt.Sprint(n)), fmt.Sprintf("other: counter %d", n))
			cancel()
			b.mu.Lock()
			b.tries += tries
			if err == nil {
				b.pushes++
			} else if b.err == nil {
				b.err = err
			}
			b.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	s.t.Cleanup(func() { b.stop() })
	return b
}

// stop stops the bot, waits for it, fails the test if it failed, and
// returns how many commits it pushed.
func (b *bot) stop() int {
	b.stopOnce.Do(func() { close(b.stopped) })
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		b.t.Errorf("bot: %v", b.err)
		b.err = nil
	}
	return b.pushes
}

// stopAtLeast stops the bot and asserts it pushed at least n commits.
func (b *bot) stopAtLeast(n int) {
	b.t.Helper()
	pushes := b.stop()
	b.mu.Lock()
	tries := b.tries
	b.mu.Unlock()
	b.t.Logf("the bot pushed %d commits (%d pushes tried)", pushes, tries)
	if pushes < n {
		b.t.Errorf("the bot pushed %d commits, want at least %d", pushes, n)
	}
}
