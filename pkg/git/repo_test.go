package git

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/git/gittest"
)

// fixture is a small GitOps repository: two apps and unrelated files.
var fixture = map[string][]byte{
	"README.md":                                []byte("# apps\n"),
	"apps/reviews/kustomization.yaml":          []byte("resources:\n- deployment.yaml\n- service.yaml\n"),
	"apps/reviews/deployment.yaml":             []byte("kind: Deployment\nmetadata:\n  name: reviews-v1\n"),
	"apps/reviews/service.yaml":                []byte("kind: Service\nmetadata:\n  name: reviews\n"),
	"apps/reviews/.gitcanary/v2/overlay.yaml":  []byte("nameSuffix: -v2\n"),
	"apps/reviews/.gitcanary/v2/sub/deep.yaml": []byte("deep: true\n"),
	"apps/ratings/deployment.yaml":             []byte("kind: Deployment\nmetadata:\n  name: ratings\n"),
	"docs/notes/a.txt":                         []byte("a\n"),
}

// env is one server repository seeded with fixture.
type env struct {
	srv  *gittest.Server
	name string
	url  string
}

func newEnv(t testing.TB) env {
	t.Helper()
	srv := gittest.NewServer(t)
	return env{srv: srv, name: "apps.git", url: srv.CreateRepo(t, "apps.git", fixture)}
}

func (e env) open(t testing.TB, cache string) *repo {
	t.Helper()
	r, err := open(context.Background(), Options{URL: e.url, Branch: "main", CacheDir: cache})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return r
}

func (e env) head(t testing.TB) string { return e.srv.Git(t, e.name, "rev-parse", "main") }

// files lists every file at main's head, via git ls-tree.
func (e env) files(t testing.TB) []string {
	return strings.Split(e.srv.Git(t, e.name, "ls-tree", "-r", "--name-only", "main"), "\n")
}

// withTrailer counts main's commits that carry trailer key: value.
func (e env) withTrailer(t testing.TB, key, value string) int {
	out := e.srv.Git(t, e.name, "log", "--format=%(trailers:key="+key+",valueonly,separator=%x00)", "main")
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == value {
			n++
		}
	}
	return n
}

// fsck fails the test unless git accepts every object on the server.
func (e env) fsck(t testing.TB) {
	t.Helper()
	e.srv.Git(t, e.name, "fsck", "--strict", "--no-dangling")
}

func step(release, action string) []Trailer {
	return []Trailer{{TrailerRelease, release}, {TrailerAction, action}}
}

// fixed is an Edit that always returns c and m.
func fixed(c Change, m Message) Edit {
	return func(Snapshot) (Change, Message, error) { return c, m, nil }
}

func TestHead(t *testing.T) {
	e := newEnv(t)
	snap, err := e.open(t, t.TempDir()).Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Commit() != e.head(t) {
		t.Errorf("Commit() = %s, want %s", snap.Commit(), e.head(t))
	}

	reads := []struct {
		path    string
		want    []byte
		missing bool
	}{
		{path: "README.md", want: fixture["README.md"]},
		{path: "apps/reviews/.gitcanary/v2/sub/deep.yaml", want: fixture["apps/reviews/.gitcanary/v2/sub/deep.yaml"]},
		{path: "apps/reviews/nope.yaml", missing: true},
		{path: "apps/reviews", missing: true}, // a directory is not a file
		{path: "nope/deeper/x", missing: true},
	}
	for _, tt := range reads {
		got, err := snap.ReadFile(tt.path)
		if tt.missing {
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("ReadFile(%q) error = %v, want fs.ErrNotExist", tt.path, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("ReadFile(%q) = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}

	lists := []struct {
		dir  string
		want []string
	}{
		{"", slices.Sorted(maps.Keys(fixture))},
		{"apps/reviews/.gitcanary", []string{"apps/reviews/.gitcanary/v2/overlay.yaml", "apps/reviews/.gitcanary/v2/sub/deep.yaml"}},
		{"docs", []string{"docs/notes/a.txt"}},
		{"apps/missing", nil},
	}
	for _, tt := range lists {
		got, err := snap.Files(tt.dir)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Files(%q) = %v, %v; want %v", tt.dir, got, err, tt.want)
		}
	}
	if _, err := snap.Files("README.md"); err == nil {
		t.Error("Files on a file: want an error")
	}
	for _, tt := range lists {
		want := map[string][]byte{}
		for _, p := range tt.want {
			want[p] = fixture[p]
		}
		got, err := snap.ReadTree(tt.dir)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ReadTree(%q) = %q, %v; want %q", tt.dir, got, err, want)
		}
	}
	if _, err := snap.ReadTree("README.md"); err == nil {
		t.Error("ReadTree on a file: want an error")
	}
}

// TestReadTreeAfterCommit: after a commit to one app, ReadTree gives the
// new tree, and the files of directories the commit left alone are the
// ones read before, not read again.
func TestReadTreeAfterCommit(t *testing.T) {
	e := newEnv(t)
	r := e.open(t, t.TempDir())
	ctx := context.Background()
	snap, err := r.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before, err := snap.ReadTree("")
	if err != nil {
		t.Fatal(err)
	}
	change := Change{Write: map[string][]byte{"apps/reviews/service.yaml": []byte("kind: Service\n")}, Delete: []string{"docs"}}
	if _, err := r.Apply(ctx, fixed(change, Message{Subject: "edit reviews"})); err != nil {
		t.Fatal(err)
	}
	if snap, err = r.Head(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := snap.ReadTree("")
	if err != nil {
		t.Fatal(err)
	}
	want := maps.Clone(fixture)
	want["apps/reviews/service.yaml"] = change.Write["apps/reviews/service.yaml"]
	delete(want, "docs/notes/a.txt")
	if !reflect.DeepEqual(after, want) {
		t.Fatalf("ReadTree after the commit = %q, want %q", after, want)
	}
	for _, p := range []string{"apps/ratings/deployment.yaml", "apps/reviews/.gitcanary/v2/overlay.yaml", "apps/reviews/.gitcanary/v2/sub/deep.yaml"} {
		if &after[p][0] != &before[p][0] {
			t.Errorf("%s was read again, though its directory did not change", p)
		}
	}
}

func TestApplyChangesTree(t *testing.T) {
	all := slices.Sorted(maps.Keys(fixture))
	without := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(p string) bool {
			for _, d := range drop {
				if p == d || strings.HasPrefix(p, d+"/") {
					return true
				}
			}
			return false
		})
	}
	with := func(files []string, add ...string) []string {
		return slices.Sorted(slices.Values(append(files, add...)))
	}

	tests := []struct {
		name      string
		change    Change
		wantFiles []string
		goneDirs  []string // directories that must not exist afterwards
	}{
		{
			name: "write new file and modify one",
			change: Change{Write: map[string][]byte{
				"apps/reviews/kustomization.yaml":   []byte("resources:\n- deployment.yaml\n- service.yaml\n- .gitcanary\n"),
				"apps/reviews/.gitcanary/v3/a.yaml": []byte("v3\n"),
			}},
			wantFiles: with(all, "apps/reviews/.gitcanary/v3/a.yaml"),
		},
		{
			name:      "delete a directory recursively",
			change:    Change{Delete: []string{"apps/reviews/.gitcanary"}},
			wantFiles: without("apps/reviews/.gitcanary"),
			goneDirs:  []string{"apps/reviews/.gitcanary"},
		},
		{
			name:      "deleting the last file removes empty parents",
			change:    Change{Delete: []string{"docs/notes/a.txt"}},
			wantFiles: without("docs"),
			goneDirs:  []string{"docs/notes", "docs"},
		},
		{
			name: "delete then write replaces a directory's content",
			change: Change{
				Delete: []string{"apps/reviews/.gitcanary/v2"},
				Write:  map[string][]byte{"apps/reviews/.gitcanary/v2/new.yaml": []byte("new\n")},
			},
			wantFiles: with(without("apps/reviews/.gitcanary/v2"), "apps/reviews/.gitcanary/v2/new.yaml"),
			goneDirs:  []string{"apps/reviews/.gitcanary/v2/sub"},
		},
		{
			name: "deleting a missing path does nothing",
			change: Change{
				Delete: []string{"apps/nope", "README.md/below-a-file"},
				Write:  map[string][]byte{"apps/ratings/hpa.yaml": []byte("kind: HPA\n")},
			},
			wantFiles: with(all, "apps/ratings/hpa.yaml"),
		},
		{
			// git sorts a directory as if its name ended in "/"; fsck checks it.
			name: "names that sort differently as files and directories",
			change: Change{Write: map[string][]byte{
				"sort/a/f": {'1'}, "sort/a.b": {'2'}, "sort/a-b/f": {'3'}, "sort/a0": {'4'}, "sort/a_": {'5'},
			}},
			wantFiles: with(all, "sort/a/f", "sort/a.b", "sort/a-b/f", "sort/a0", "sort/a_"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			before := e.head(t)
			docsTree := e.srv.Git(t, e.name, "rev-parse", "main:apps/ratings")
			msg := Message{Subject: tt.name, Trailers: step("reviews-v2", "test")}

			res, err := e.open(t, t.TempDir()).Apply(context.Background(), fixed(tt.change, msg))
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if res.Existing || res.Attempts != 1 || res.Commit.Parent != before || res.Commit.Hash != e.head(t) {
				t.Errorf("Result = %+v; want a new commit on %s, now the head %s", res, before, e.head(t))
			}
			if got := e.files(t); !reflect.DeepEqual(got, tt.wantFiles) {
				t.Errorf("files on server:\n got %v\nwant %v", got, tt.wantFiles)
			}
			for _, p := range tt.wantFiles {
				want, ok := tt.change.Write[p]
				if !ok {
					want = fixture[p]
				}
				if got := e.srv.ReadFile(t, e.name, p); !bytes.Equal(got, want) {
					t.Errorf("%s = %q, want %q", p, got, want)
				}
			}
			for _, d := range tt.goneDirs {
				if out := e.srv.Git(t, e.name, "ls-tree", "main", d); out != "" {
					t.Errorf("directory %s still exists: %s", d, out)
				}
			}
			if !touches(tt.change, "apps/ratings") {
				if got := e.srv.Git(t, e.name, "rev-parse", "main:apps/ratings"); got != docsTree {
					t.Errorf("untouched tree apps/ratings changed hash: %s -> %s", docsTree, got)
				}
			}
			if got := e.srv.Git(t, e.name, "log", "-1", "--format=%an <%ae>|%cn <%ce>", "main"); got != "gitcanary <gitcanary@localhost>|gitcanary <gitcanary@localhost>" {
				t.Errorf("author|committer = %q", got)
			}
			e.fsck(t)
		})
	}
}

func touches(c Change, dir string) bool {
	for p := range c.Write {
		if strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return slices.ContainsFunc(c.Delete, func(p string) bool { return strings.HasPrefix(p, dir) })
}

func TestApplyRefusesBadChange(t *testing.T) {
	e := newEnv(t)
	r := e.open(t, t.TempDir())
	tests := []struct {
		name   string
		change Change
	}{
		{"parent path", Change{Write: map[string][]byte{"../x": {1}}}},
		{"absolute path", Change{Write: map[string][]byte{"/etc/x": {1}}}},
		{"git dir", Change{Write: map[string][]byte{"a/.git/config": {1}}}},
		{"file over a directory", Change{Write: map[string][]byte{"apps/reviews": {1}}}},
		{"file below a file", Change{Write: map[string][]byte{"README.md/x": {1}}}},
		{"file below a file written in the same change", Change{Write: map[string][]byte{"new": {1}, "new/x": {2}}}},
		{"delete root", Change{Delete: []string{"."}}},
	}
	for _, tt := range tests {
		_, err := r.Apply(context.Background(), fixed(tt.change, Message{Subject: tt.name}))
		if err == nil || errors.Is(err, ErrNothingToCommit) {
			t.Errorf("%s: Apply error = %v, want a refusal", tt.name, err)
		}
	}
	if got := e.srv.Commits(t, e.name); len(got) != 1 {
		t.Errorf("server has commits %q, want only the initial one", got)
	}
}

func TestTrailersRoundTrip(t *testing.T) {
	e := newEnv(t)
	r := e.open(t, t.TempDir())
	ctx := context.Background()
	msg := Message{
		Subject: "reviews-v2: set weight 30",
		Body:    "Step 3 of 6.",
		Trailers: []Trailer{
			{TrailerRelease, "reviews-v2"}, {TrailerAction, "step/3/weight/30"}, {TrailerSeq, "4"},
		},
	}
	res, err := r.Apply(ctx, fixed(Change{Write: map[string][]byte{"w": []byte("30")}}, msg))
	if err != nil {
		t.Fatal(err)
	}
	// Other commits, ours and not, so Log has something to skip.
	if _, err := r.Apply(ctx, fixed(Change{Write: map[string][]byte{"w": []byte("50")}},
		Message{Subject: "other", Trailers: step("ratings-v3", "prepare")})); err != nil {
		t.Fatal(err)
	}
	e.srv.Push(t, e.name, map[string][]byte{"x": []byte("x")}, "by hand")

	// git reads the trailers we wrote.
	if got := e.srv.Git(t, e.name, "log", "-1", "--skip=2", "--format=%(trailers:only,unfold)", "main"); got != "Gitcanary-Release: reviews-v2\nGitcanary-Action: step/3/weight/30\nGitcanary-Seq: 4" {
		t.Errorf("git sees trailers %q", got)
	}
	if got := e.srv.Git(t, e.name, "log", "-1", "--skip=2", "--format=%B", "main"); got != strings.TrimSpace(msg.String()) {
		t.Errorf("message on server = %q, want %q", got, msg.String())
	}

	// and Log reads them back.
	got, err := r.Log(ctx, "", func(c Commit) bool { return c.Trailer(TrailerRelease) == "reviews-v2" }, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("Log = %+v, want one commit", got)
	}
	c := got[0]
	if c.Hash != res.Commit.Hash || c.Subject != msg.Subject || !reflect.DeepEqual(c.Trailers, msg.Trailers) ||
		c.Parent != e.srv.Git(t, e.name, "rev-parse", "main~3") || c.Time.IsZero() {
		t.Errorf("Log()[0] = %+v, want hash %s subject %q trailers %v", c, res.Commit.Hash, msg.Subject, msg.Trailers)
	}

	all, err := r.Log(ctx, "", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, c := range all {
		subjects = append(subjects, c.Subject)
	}
	if want := e.srv.Commits(t, e.name); !reflect.DeepEqual(subjects, want) {
		t.Errorf("Log subjects = %q, want git log's %q", subjects, want)
	}
	if limited, _ := r.Log(ctx, "", nil, 2); len(limited) != 2 || limited[0].Subject != "by hand" {
		t.Errorf("Log(limit 2) = %+v", limited)
	}
	// From a commit: its history only, without a fetch.
	from, err := r.Log(ctx, res.Commit.Hash, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(from) != len(all)-2 || from[0].Hash != res.Commit.Hash {
		t.Errorf("Log from %s = %d commits starting %s, want %d starting with it", short(res.Commit.Hash), len(from), short(from[0].Hash), len(all)-2)
	}
	if _, err := r.Log(ctx, "main", nil, 0); err == nil {
		t.Error("Log from a branch name: want an error, it takes a commit hash")
	}
}

func TestNothingToCommit(t *testing.T) {
	tests := []struct {
		name   string
		change Change
	}{
		{"empty change", Change{}},
		{"same bytes written", Change{Write: map[string][]byte{"README.md": fixture["README.md"]}}},
		{"delete of a missing path", Change{Delete: []string{"apps/nope"}}},
	}
	e := newEnv(t)
	r := e.open(t, t.TempDir())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Apply(context.Background(), fixed(tt.change, Message{Subject: "noop", Trailers: step("r", tt.name)}))
			if !errors.Is(err, ErrNothingToCommit) {
				t.Fatalf("Apply error = %v, want ErrNothingToCommit", err)
			}
			var nerr *NothingToCommitError
			if !errors.As(err, &nerr) || nerr.Head != e.head(t) {
				t.Errorf("error %#v, want Head %s", err, e.head(t))
			}
		})
	}
	if got := e.srv.Commits(t, e.name); len(got) != 1 {
		t.Errorf("server has commits %q, want only the initial one", got)
	}
}

// TestReadAge: with Options.ReadAge, Head and Log from the head use this
// process's view of the branch, from its last fetch or accepted push,
// while that view is younger than ReadAge, and fetch once it is older.
// Without ReadAge every read fetches.
func TestReadAge(t *testing.T) {
	e := newEnv(t)
	r := e.open(t, t.TempDir()) // its fetch is the view
	now := time.Now()
	r.now = func() time.Time { return now }
	r.opts.ReadAge = time.Minute
	ctx := context.Background()
	headIs := func(when, want string) {
		t.Helper()
		snap, err := r.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		log, err := r.Log(ctx, "", func(Commit) bool { return true }, 1)
		if err != nil {
			t.Fatal(err)
		}
		if snap.Commit() != want || len(log) != 1 || log[0].Hash != want {
			t.Errorf("%s: Head at %.8s, Log from %.8v; want %.8s", when, snap.Commit(), log, want)
		}
	}

	opened := e.head(t)
	e.srv.Push(t, e.name, map[string][]byte{"docs/notes/b.txt": []byte("b\n")}, "someone else")
	headIs("a push by someone else, the view 0s old", opened)
	now = now.Add(2 * time.Minute)
	pushed := e.head(t)
	headIs("the view 2m old", pushed)

	res, err := r.Apply(ctx, fixed(Change{Write: map[string][]byte{"docs/notes/c.txt": []byte("c\n")}}, Message{Subject: "c"}))
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Push(t, e.name, map[string][]byte{"docs/notes/d.txt": []byte("d\n")}, "someone else again")
	headIs("after Apply's accepted push", res.Commit.Hash)
	r.opts.ReadAge = 0
	headIs("without ReadAge", e.head(t))
}
