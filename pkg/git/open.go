package git

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/gitcanary/gitcanary/pkg/redact"
)

// Defaults used when Options leave a field empty.
const (
	DefaultAuthorName  = "gitcanary"
	DefaultAuthorEmail = "gitcanary@localhost"
	DefaultMaxAttempts = 5
)

const (
	remoteName = "origin"
	lockName   = "gitcanary.lock"
)

// repo is the go-git implementation of Repo over a bare cached clone.
type repo struct {
	opts    Options
	url     string // URL handed to go-git: credentials moved into auth
	display string // URL safe to print: no credentials
	dir     string // bare clone
	auth    transport.AuthMethod
	now     func() time.Time

	// mu serialises use of the go-git storer inside this process (go-git
	// repositories are not safe for concurrent use). It is never held while
	// edit runs, so an edit may read its snapshot freely. The file lock
	// (lockDir) serialises processes sharing the cache.
	mu    sync.Mutex
	gg    *gogit.Repository
	files treeCache // guarded by mu
	// seen is the remote branch's commit as of seenAt, from this
	// process's last fetch or accepted push (guarded by mu). Its objects
	// are in the storer's index, whatever other processes did since.
	seen   plumbing.Hash
	seenAt time.Time
	// contains remembers answers of Contains (guarded by mu): history
	// does not change, and a release asks the same question every poll.
	contains map[[2]plumbing.Hash]bool

	// compactErr is the last compaction's error (guarded by mu). A failed
	// compaction leaves the cache as it was, so it fails no step.
	compactErr error

	// cloned reports whether Open created the cache (true) or reused it.
	cloned bool
	// hook, when set by tests, runs at named points of Apply ("before-push",
	// "after-push"); an error from it aborts Apply there, as a crash would.
	hook func(stage string) error
}

var _ Repo = (*repo)(nil)

// Open returns the repository at opts.URL, branch opts.Branch, backed by a
// bare clone under opts.CacheDir that later calls (and later processes)
// reuse: the first Open clones, every Open after that only fetches the
// branch. Open fails when the remote cannot be reached or has no such branch,
// and refuses a URL that carries credentials (the error wraps
// redact.ErrCredentials): they go in Options.Username and Options.Password.
func Open(ctx context.Context, opts Options) (Repo, error) {
	r, err := open(ctx, opts)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func open(ctx context.Context, opts Options) (*repo, error) {
	if opts.URL == "" || opts.Branch == "" || opts.CacheDir == "" {
		return nil, errors.New("open git repository: URL, Branch and CacheDir are required")
	}
	if err := redact.CheckURL("the repository URL", opts.URL); err != nil {
		return nil, fmt.Errorf("open git repository %s: %w", redact.URL(opts.URL), err)
	}
	if err := plumbing.NewBranchReferenceName(opts.Branch).Validate(); err != nil {
		return nil, fmt.Errorf("open git repository: invalid branch name %q", opts.Branch)
	}
	if opts.AuthorName == "" {
		opts.AuthorName = DefaultAuthorName
	}
	if opts.AuthorEmail == "" {
		opts.AuthorEmail = DefaultAuthorEmail
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	r := &repo{opts: opts, now: time.Now}
	r.url, r.display, r.auth = endpoint(opts)
	r.dir = filepath.Join(opts.CacheDir, cacheName(r.display))
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return nil, fmt.Errorf("open git cache for %s: %w", r.display, err)
	}

	unlock, err := lockDir(ctx, r.dir)
	if err != nil {
		return nil, fmt.Errorf("open git cache for %s: %w", r.display, err)
	}
	defer unlock()

	objs := cacheFor(r.dir)
	st := &cachedStorage{Storage: filesystem.NewStorage(osfs.New(r.dir), objs), cache: objs}
	st.packs, _ = st.ObjectPacks()
	gg, err := gogit.Open(st, nil)
	if errors.Is(err, gogit.ErrRepositoryNotExists) {
		// An init whose first fetch failed leaves an empty repository behind;
		// the next Open finds it and simply fetches into it.
		gg, err = gogit.Init(st, nil)
		r.cloned = true
	}
	if err != nil {
		return nil, fmt.Errorf("open git cache for %s: %w", r.display, err)
	}
	r.gg = gg
	if _, err := r.fetch(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// CacheDir returns the directory under opts.CacheDir that holds the bare
// clone of opts.URL. It contains no credentials.
func CacheDir(opts Options) string {
	_, display, _ := endpoint(opts)
	return filepath.Join(opts.CacheDir, cacheName(display))
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// cacheName is a readable, collision-free directory name for a URL: the last
// path element (for humans) and a hash of the credential-free URL.
func cacheName(display string) string {
	sum := sha256.Sum256([]byte(display))
	base := strings.TrimSuffix(display, "/")
	if i := strings.LastIndexAny(base, "/:"); i >= 0 {
		base = base[i+1:]
	}
	base = strings.Trim(unsafeName.ReplaceAllString(base, "_"), "._")
	if len(base) > 40 {
		base = base[:40]
	}
	if base == "" {
		base = "repo"
	}
	return base + "-" + hex.EncodeToString(sum[:8])
}

// endpoint splits opts.URL into the URL handed to go-git, a printable URL
// (redact.URL) and the auth method: none for git://, file:// and local
// paths; for ssh, go-git's default (the ssh agent); for http(s), basic auth
// from Username (else the URL's user name, which Open allows only when it is
// no token) and Password, when either is set. Open refuses URLs that carry
// credentials before this runs, so nothing secret is moved out of the URL.
func endpoint(opts Options) (goURL, display string, auth transport.AuthMethod) {
	display = redact.URL(opts.URL)
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return opts.URL, display, nil
	}
	user := opts.Username
	if user == "" && u.User != nil {
		user = u.User.Username()
	}
	if user != "" || opts.Password != "" {
		auth = &http.BasicAuth{Username: user, Password: opts.Password}
	}
	u.User = nil
	return u.String(), display, auth
}

// lock takes the cache lock for a fetch-to-push sequence. Whoever held it
// before may have fetched new packs into the cache, which go-git's storage
// does not notice by itself (it indexes packs once), so it re-reads them.
func (r *repo) lock(ctx context.Context) (unlock func(), err error) {
	unlock, err = lockDir(ctx, r.dir)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if s, ok := r.gg.Storer.(interface{ Reindex() }); ok {
		s.Reindex()
	}
	r.mu.Unlock()
	return unlock, nil
}

func (r *repo) branchRef() plumbing.ReferenceName {
	return plumbing.NewBranchReferenceName(r.opts.Branch)
}

func (r *repo) trackingRef() plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName(remoteName, r.opts.Branch)
}

func (r *repo) remote() *gogit.Remote {
	// An in-memory remote: the cache's config never holds the URL, so it
	// never holds credentials either.
	return gogit.NewRemote(r.gg.Storer, &config.RemoteConfig{Name: remoteName, URLs: []string{r.url}})
}

// fetch updates the remote-tracking ref of the branch and returns its commit.
// Callers hold the cache lock.
func (r *repo) fetch(ctx context.Context) (plumbing.Hash, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	began := r.now()
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", r.branchRef(), r.trackingRef()))
	err := r.remote().FetchContext(ctx, &gogit.FetchOptions{
		RemoteName: remoteName,
		RefSpecs:   []config.RefSpec{spec},
		Auth:       r.auth,
		Tags:       gogit.NoTags,
	})
	switch {
	case err == nil, errors.Is(err, gogit.NoErrAlreadyUpToDate):
	case errors.Is(err, gogit.NoMatchingRefSpecError{}):
		return plumbing.ZeroHash, fmt.Errorf("fetch %s from %s: branch %q does not exist", r.opts.Branch, r.display, r.opts.Branch)
	default:
		// go-git's transports may name the URL they requested.
		return plumbing.ZeroHash, fmt.Errorf("fetch %s from %s: %w", r.opts.Branch, r.display, redact.Error(err))
	}
	ref, err := r.gg.Storer.Reference(r.trackingRef())
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetch %s from %s: read %s: %w", r.opts.Branch, r.display, r.trackingRef(), err)
	}
	r.seen, r.seenAt = ref.Hash(), began
	r.compactErr = r.compactPacks()
	return ref.Hash(), nil
}

// head returns the remote branch's commit: this process's view of it when
// Options.ReadAge allows, else a fresh fetch's. The view is looked at again
// once the lock is taken, so readers that queued behind one fetch share it.
func (r *repo) head(ctx context.Context) (plumbing.Hash, error) {
	if h, ok := r.recent(); ok {
		return h, nil
	}
	unlock, err := r.lock(ctx)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read %s of %s: %w", r.opts.Branch, r.display, err)
	}
	defer unlock()
	if h, ok := r.recent(); ok {
		return h, nil
	}
	return r.fetch(ctx)
}

// recent returns this process's view of the branch when Options.ReadAge
// allows reading from it.
func (r *repo) recent() (plumbing.Hash, bool) {
	if r.opts.ReadAge <= 0 {
		return plumbing.ZeroHash, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen, !r.seen.IsZero() && r.now().Sub(r.seenAt) <= r.opts.ReadAge
}
