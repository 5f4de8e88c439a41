// Package git keeps a cached clone of an application repository and turns
// edits of its tree into commits that are pushed without ever forcing.
//
// gitcanary never checks out a work tree: it reads files straight from the
// head commit's tree and writes new trees, so a step costs a fetch, a few
// object writes and a push, whatever the size of the repository.
//
// The cache is one bare repository per URL under Options.CacheDir, named
// after the URL without its credentials. Open clones into it once; later
// Opens, in this process or another, only fetch the one branch. An flock on
// gitcanary.lock in that directory covers every fetch-to-push sequence, so
// processes sharing a cache take turns. The local branch ref is scratch:
// every attempt starts from the fetched remote head, so a commit left
// unpushed by a crash is simply abandoned.
//
// Pushes never force: the remote branch is moved only from the commit the
// edit saw. When it has moved, Apply fetches and runs the edit again on the
// new head. Trailers make this safe to repeat: the edit runs first (it
// supplies the message), then the branch's recent history is searched for a
// commit with the same trailer set, and only when there is none is the
// change committed. That search comes before the empty-change check, so a
// resumed action gets its earlier commit back (Result.Existing), not
// ErrNothingToCommit.
package git

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Trailer keys gitcanary writes on every commit it makes.
const (
	TrailerRelease = "Gitcanary-Release"
	TrailerAction  = "Gitcanary-Action"
	TrailerSeq     = "Gitcanary-Seq"
	// TrailerPath names the app path: a release is repository + path + name.
	TrailerPath = "Gitcanary-Path"
)

// Options say which repository and branch to work on and where the cache lives.
type Options struct {
	URL      string // git://, http(s)://, file:// or a local path
	Branch   string // e.g. main
	CacheDir string // directory holding cached clones, one per URL
	// Username and Password are used for http(s) basic auth when set.
	Username string
	Password string
	// Author of the commits gitcanary makes.
	AuthorName  string
	AuthorEmail string
	// MaxAttempts bounds push retries after a rejected push (default 5).
	MaxAttempts int
	// ReadAge lets Head, and Log from the head, use this process's view of
	// the branch instead of fetching when that view is younger: from a
	// fetch that began, or a push that was accepted, at most ReadAge ago.
	// A controller reading many releases of one repository sets it, so
	// they share a fetch; 0 (the CLI) fetches for every read. Apply always
	// fetches.
	ReadAge time.Duration
	// CompactLoose and CompactPacks bound the cache on disk: past
	// CompactLoose loose objects they are packed, past CompactPacks packs
	// all but the largest are merged (compact.go). 0 means the default
	// (DefaultCompactLoose, DefaultCompactPacks), a negative value never.
	CompactLoose int
	CompactPacks int
}

// Snapshot is the tree of one commit, read without a work tree.
type Snapshot interface {
	// Commit is the hash of the commit the snapshot shows.
	Commit() string
	// ReadFile returns a file's content; the error wraps fs.ErrNotExist
	// when absent, ErrFileTooLarge when over MaxFileSize.
	ReadFile(path string) ([]byte, error)
	// Stat describes a path without reading its content (see FileInfo).
	Stat(path string) (FileInfo, error)
	// Files lists every file path under dir ("" for the whole tree), sorted.
	Files(dir string) ([]string, error)
	// ReadTree returns the content of every file under dir ("" for the
	// whole tree) by path: what Files and ReadFile give, in one call that
	// reads again only the directories changed since the repository's
	// last ReadTree. The contents are shared between calls: never modify
	// them. A file over MaxFileSize fails the whole read.
	ReadTree(dir string) (map[string][]byte, error)
}

// Change is what an edit does to a tree: files written and paths removed.
// A path in Delete removes that file or, when it names a directory, all below it.
// Deletes apply before writes, so deleting a directory and writing below it
// replaces its content; writing over a directory or below a file is refused
// unless that path is deleted too. Directories left empty disappear.
type Change struct {
	Write  map[string][]byte
	Delete []string
}

// Empty reports whether the change does nothing.
func (c Change) Empty() bool { return len(c.Write) == 0 && len(c.Delete) == 0 }

// Message is a commit message: a subject, an optional body and trailers.
type Message struct {
	Subject  string
	Body     string
	Trailers []Trailer
}

// Trailer is one "Key: value" line at the end of a commit message.
type Trailer struct{ Key, Value string }

// Commit is a commit as gitcanary reads it back.
type Commit struct {
	Hash     string
	Parent   string
	Subject  string
	Trailers []Trailer
	Time     time.Time
}

// Trailer returns the value of the first trailer named key, or "".
func (c Commit) Trailer(key string) string {
	for _, t := range c.Trailers {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

// Edit computes the change to make on top of a snapshot of the branch head.
// Apply calls it again on the new head after a rejected push, and drops its
// change when the branch already has a commit with the message's trailers,
// so an Edit must be free of side effects.
type Edit func(head Snapshot) (Change, Message, error)

// Result says what Apply did.
type Result struct {
	Commit   Commit
	Existing bool // a commit with the same trailers was already on the branch; nothing was pushed
	Attempts int  // pushes tried, 1 when the first push landed
}

// ErrNothingToCommit is returned (wrapped in *NothingToCommitError) when an edit changes nothing.
var ErrNothingToCommit = errors.New("nothing to commit")

// NothingToCommitError carries the head the empty edit was computed on.
type NothingToCommitError struct{ Head string }

func (e *NothingToCommitError) Error() string {
	return fmt.Sprintf("nothing to commit on %s", short(e.Head))
}

// Is lets errors.Is(err, ErrNothingToCommit) match.
func (e *NothingToCommitError) Is(target error) bool { return target == ErrNothingToCommit }

// ErrPushRejected is wrapped when every push attempt was rejected.
var ErrPushRejected = errors.New("push rejected")

// Repo is an application repository on one branch.
type Repo interface {
	// Head fetches the branch and returns a snapshot of its head; with
	// Options.ReadAge it may use a recent fetch or push instead.
	Head(ctx context.Context) (Snapshot, error)
	// Apply fetches, runs edit on the head, commits the change and pushes it.
	// Before committing it looks for a commit on the branch whose trailers
	// equal the message's (same keys and values, order ignored) and returns
	// it with Existing set instead of committing twice. On a rejected push it
	// fetches and calls edit again on the new head.
	Apply(ctx context.Context, edit Edit) (Result, error)
	// Log walks history newest first from commit from or, when from is "",
	// from the branch head as Head finds it, returning commits for which match
	// is true, at most limit (0 means no limit). Walking from a snapshot's
	// commit needs no fetch.
	Log(ctx context.Context, from string, match func(Commit) bool, limit int) ([]Commit, error)
	// At returns a snapshot of a commit of the branch, fetching when the
	// cache does not have it yet.
	At(ctx context.Context, commit string) (Snapshot, error)
	// Contains reports whether ancestor is descendant or in its history
	// (within ClockSkew of committer time), fetching when needed.
	Contains(ctx context.Context, ancestor, descendant string) (bool, error)
	// Peek asks the remote which commit the branch is at, from its ref
	// advertisement (what `git ls-remote` shows): no objects are fetched
	// and the cache is not touched. A cheap way to learn whether anything
	// was pushed since a Head.
	Peek(ctx context.Context) (string, error)
}

// ShortHash abbreviates a commit hash to 8 characters for people to read.
func ShortHash(h string) string { return short(h) }

func short(h string) string {
	if len(h) > 8 {
		return h[:8]
	}
	return h
}
