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

	"k8s.io/client-go/util/workqueue"

	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/redact"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// DefaultReleasesDir is where a watched repository keeps Release files.
const DefaultReleasesDir = "releases"

// GitSource drives the Release files under a directory of watched git
// repositories: a new file starts a release, an edit of its spec.control
// drives it, and deleting it stops driving it (git keeps the release as it
// stands; `gitcanary abort` or the file's return resumes it). It runs only
// on the leader.
//
// One loop fetches the repositories every Interval and puts a file that is
// new or changed on a work queue at once; Workers take files from the
// queue, drive each until its release waits, and put it back on the queue
// after the wait (a requeue, as for Release resources). A file is never
// worked on by two workers at once.
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

	repos  repoCache
	queue  workqueue.TypedDelayingInterface[string] // file keys
	mu     sync.Mutex
	files  map[string]fileRelease // file key → the file as last read
	broken map[string]string      // file key → the problem last reported
}

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (s *GitSource) NeedLeaderElection() bool { return true }

// Start implements manager.Runnable: it reads the repositories and works
// on their files until ctx ends.
func (s *GitSource) Start(ctx context.Context) error {
	interval := s.Interval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	workers := s.Workers
	if workers <= 0 {
		workers = 4
	}
	s.init()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s.work(ctx) {
			}
		}()
	}
	defer func() {
		s.queue.ShutDown()
		wg.Wait()
	}()
	for {
		s.Read(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

func (s *GitSource) init() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files == nil {
		s.files, s.broken = map[string]fileRelease{}, map[string]string{}
		s.queue = workqueue.NewTypedDelayingQueue[string]()
	}
}

type fileRelease struct {
	key     string
	r       *release.Release
	content string
}

// Read fetches every watched repository once, queues the files that are
// new or changed, and forgets the files that are gone.
func (s *GitSource) Read(ctx context.Context) {
	s.init()
	var changed []string
	seen := map[string]bool{}
	var unread []string // key prefixes of the repositories that could not be read
	for _, repo := range s.Repos {
		rels, keys, err := s.read(ctx, repo)
		if err != nil {
			s.log().Error("read releases", "repo", redact.URL(repo.URL), "err", err)
			unread = append(unread, fileKey(repo, ""))
			continue
		}
		for _, k := range keys {
			seen[k] = true
		}
		s.mu.Lock()
		for _, fr := range rels {
			// A new or edited file (an approval, a weight) is looked at at once.
			if old, ok := s.files[fr.key]; !ok || old.content != fr.content {
				s.files[fr.key] = fr
				changed = append(changed, fr.key)
			}
		}
		s.mu.Unlock()
	}
	s.forgetDeleted(seen, unread)
	for _, k := range changed {
		s.queue.Add(k)
	}
}

// work drives the release of one queued file until it waits and queues it
// again for when the wait is over. It returns false once the queue is shut
// down.
func (s *GitSource) work(ctx context.Context) bool {
	key, shutdown := s.queue.Get()
	if shutdown {
		return false
	}
	defer s.queue.Done(key)
	s.mu.Lock()
	fr, ok := s.files[key]
	s.mu.Unlock()
	if !ok || ctx.Err() != nil {
		return true // deleted meanwhile
	}
	if after, again := s.reconcile(ctx, fr); again {
		s.queue.AddAfter(key, after)
	}
	return true
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
	s.logOnce(key, problem, "release file is not valid; fix it to drive the release")
}

// refusedFileRetry is how often a refused Release file is looked at again.
const refusedFileRetry = time.Minute

// refuse logs a refused release once, until its problem changes.
func (s *GitSource) refuse(key, problem string) {
	s.logOnce(key, problem, "release refused; it is looked at again every minute")
}

// logOnce logs msg with a file's problem unless that problem was the
// last one logged for the file.
func (s *GitSource) logOnce(key, problem, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken[key] == problem {
		return
	}
	s.broken[key] = problem
	s.log().Error(msg, "problem", problem)
}

// fileKey names a Release file of a watched repository.
func fileKey(repo release.Repo, file string) string {
	return repo.URL + "#" + repo.BranchOrDefault() + ":" + file
}

// forgetDeleted drops what it knows of the files that are gone, in the
// repositories it could read: the file and its release's metrics. A timer
// still queued for such a file finds nothing to do.
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
	for k, fr := range s.files {
		if gone(k) {
			s.Driver.Metrics.Forget("", fr.r.Metadata.Name)
			delete(s.files, k)
			s.log().Info("release file deleted: no longer driven", "file", redact.Text(k))
		}
	}
	for k := range s.broken {
		if gone(k) {
			delete(s.broken, k)
		}
	}
}

// driven reports whether the file with this key is being driven.
func (s *GitSource) driven(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.files[key]
	return ok
}

// reconcile drives one file's release until it waits, and says when to
// look at it again. A finished release, or one whose file is not valid, is
// looked at again only when its file changes.
func (s *GitSource) reconcile(ctx context.Context, fr fileRelease) (after time.Duration, again bool) {
	for range maxStepsPerReconcile {
		res, err := s.Driver.Reconcile(ctx, fr.r)
		switch {
		case ctx.Err() != nil:
			return 0, false
		case errors.Is(err, release.ErrInvalid):
			s.report(fr.key, err.Error())
			return 0, false
		case errors.Is(err, ErrPanic):
			return panicRetry, true
		case refused(err):
			// Fixed on the Application, which changes no file: look
			// again now and then, saying so once.
			s.refuse(fr.key, err.Error())
			return refusedFileRetry, true
		case err != nil:
			s.log().Error("reconcile", "release", fr.r.Metadata.Name, "err", err)
			return s.Driver.poll(), true
		case res.Done:
			return 0, false
		case res.Requeue > 0:
			return res.Requeue, true
		}
	}
	return 0, true // let other releases have the worker
}

func (s *GitSource) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}
