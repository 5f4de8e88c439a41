package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// DefaultReleasesDir is where a watched repository keeps Release files.
const DefaultReleasesDir = "releases"

// GitSource drives the Release files under a directory of watched git
// repositories: a new file starts a release, an edit of its spec.control
// drives it, and deleting it stops driving it (git keeps the release as it
// stands; `gitcanary abort` or the file's return resumes it). It runs only
// on the leader.
type GitSource struct {
	// Repos are the watched repositories; Path is the directory of
	// Release files (default releases).
	Repos    []release.Repo
	OpenRepo func(ctx context.Context, r release.Repo) (git.Repo, error)
	Driver   *Driver
	Kinds    *kube.Kinds
	// Interval is how often the repositories are fetched (default 5s).
	Interval time.Duration
	// Workers is how many releases are reconciled at once (default 4).
	Workers int
	Log     *slog.Logger

	repos   repoCache
	mu      sync.Mutex
	due     map[string]time.Time // file key → when to reconcile it next
	content map[string]string    // file key → the content last reconciled
	names   map[string]string    // file key → its release's name, for the metrics
	broken  map[string]string    // file key → the problem last reported
}

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (s *GitSource) NeedLeaderElection() bool { return true }

// Start implements manager.Runnable: it polls until ctx ends.
func (s *GitSource) Start(ctx context.Context) error {
	interval := s.Interval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	for {
		next := s.Tick(ctx)
		wait := time.Until(next)
		if wait > interval || wait <= 0 {
			wait = interval
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

type fileRelease struct {
	key     string
	r       *release.Release
	content string
}

// Tick fetches every watched repository once and reconciles the releases
// that are due. It returns when the next one is due.
func (s *GitSource) Tick(ctx context.Context) time.Time {
	s.mu.Lock()
	if s.due == nil {
		s.due, s.content, s.names, s.broken = map[string]time.Time{}, map[string]string{}, map[string]string{}, map[string]string{}
	}
	s.mu.Unlock()
	var ready []fileRelease
	seen := map[string]bool{}
	var unread []string // key prefixes of the repositories that could not be read
	for _, repo := range s.Repos {
		rels, keys, err := s.read(ctx, repo)
		if err != nil {
			s.log().Error("read releases", "repo", repo.URL, "err", err)
			unread = append(unread, fileKey(repo, ""))
			continue
		}
		now := time.Now()
		for _, k := range keys {
			seen[k] = true
		}
		s.mu.Lock()
		for _, fr := range rels {
			// An edited file (an approval, a weight) is looked at at once.
			if t, ok := s.due[fr.key]; !ok || !t.After(now) || s.content[fr.key] != fr.content {
				ready = append(ready, fr)
			}
		}
		s.mu.Unlock()
	}
	s.forgetDeleted(seen, unread)
	s.reconcileAll(ctx, ready)
	return s.nextDue()
}

// read lists and parses the Release files of one repository, and returns
// the keys of every file it found. A file that does not parse or validate
// is reported once (until it changes) and skipped.
func (s *GitSource) read(ctx context.Context, repo release.Repo) (_ []fileRelease, keys []string, _ error) {
	g, err := s.repos.get(ctx, s.OpenRepo, repo)
	if err != nil {
		return nil, nil, err
	}
	head, err := g.Head(ctx)
	if err != nil {
		return nil, nil, err
	}
	dir := repo.Path
	if dir == "" {
		dir = DefaultReleasesDir
	}
	files, err := head.ReadTree(dir)
	if err != nil {
		return nil, nil, err
	}
	var out []fileRelease
	for _, f := range slices.Sorted(maps.Keys(files)) {
		if ext := path.Ext(f); ext != ".yaml" && ext != ".yml" {
			continue
		}
		key := fileKey(repo, f)
		keys = append(keys, key)
		data := files[f]
		r, err := release.Parse(data)
		if err == nil {
			opts := release.ValidateOptions{}
			if s.Kinds != nil {
				opts.KnownKind = s.Kinds.Known
			}
			err = release.Validate(r, opts)
		}
		if err != nil {
			s.report(key, fmt.Sprintf("%s at %s: %v", f, git.ShortHash(head.Commit()), err))
			continue
		}
		out = append(out, fileRelease{key: key, r: r, content: string(data)})
	}
	return out, keys, nil
}

func (s *GitSource) report(key, problem string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken[key] == problem {
		return
	}
	s.broken[key] = problem
	s.log().Error("release file is not valid; fix it to drive the release", "problem", problem)
}

// fileKey names a Release file of a watched repository.
func fileKey(repo release.Repo, file string) string {
	return repo.URL + "#" + repo.BranchOrDefault() + ":" + file
}

// forgetDeleted drops what it knows of the files that are gone, in the
// repositories it could read: their schedule and their release's metrics.
func (s *GitSource) forgetDeleted(seen map[string]bool, unread []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gone := func(k string) bool {
		for _, prefix := range unread {
			if strings.HasPrefix(k, prefix) {
				return false
			}
		}
		return !seen[k]
	}
	for k := range s.due {
		if gone(k) {
			s.Driver.Metrics.Forget("", s.names[k])
			delete(s.due, k)
			delete(s.content, k)
			delete(s.names, k)
			s.log().Info("release file deleted: no longer driven", "file", k)
		}
	}
	for k := range s.broken {
		if gone(k) {
			delete(s.broken, k)
		}
	}
}

func (s *GitSource) reconcileAll(ctx context.Context, ready []fileRelease) {
	workers := s.Workers
	if workers <= 0 {
		workers = 4
	}
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for _, fr := range ready {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			next := s.reconcile(ctx, fr)
			s.mu.Lock()
			s.due[fr.key], s.content[fr.key], s.names[fr.key] = next, fr.content, fr.r.Metadata.Name
			s.mu.Unlock()
		}()
	}
	wg.Wait()
}

// reconcile drives one file's release until it waits, and returns when to
// look at it again; a finished release is looked at again only when its
// file changes.
func (s *GitSource) reconcile(ctx context.Context, fr fileRelease) time.Time {
	for i := 0; i < 20 && ctx.Err() == nil; i++ {
		res, err := s.Driver.Reconcile(ctx, fr.r)
		switch {
		case errors.Is(err, release.ErrInvalid):
			s.report(fr.key, err.Error())
			return time.Now().Add(time.Hour)
		case err != nil:
			s.log().Error("reconcile", "release", fr.r.Metadata.Name, "err", err)
			return time.Now().Add(s.Driver.poll())
		case res.Done:
			return time.Now().Add(time.Hour)
		case res.Requeue > 0:
			return time.Now().Add(res.Requeue)
		}
	}
	return time.Now()
}

func (s *GitSource) nextDue() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := time.Now().Add(time.Hour)
	for _, t := range s.due {
		if t.Before(next) {
			next = t
		}
	}
	return next
}

func (s *GitSource) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}
