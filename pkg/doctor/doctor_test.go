package doctor

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	discoveryfake "k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/gitcanary/gitcanary/fixtures"
	"github.com/gitcanary/gitcanary/pkg/git/gittest"
)

func TestRunSkipsDependents(t *testing.T) {
	var ran []string
	check := func(name string, st Status, needs ...string) Check {
		return Check{Name: name, Needs: needs, Run: func(context.Context) Result {
			ran = append(ran, name)
			r := Result{Status: st, Detail: name + " detail"}
			if st == Fail || st == Warn {
				r.Remedy = "fix " + name
			}
			return r
		}}
	}
	var out bytes.Buffer
	failed := Run(context.Background(), &out, []Check{
		check("a", OK),
		check("bb", Fail),
		check("c", OK, "a", "bb"),
		check("d", Skip),
		check("e", OK, "d"),
		check("f", Warn, "a"),
		check("g", OK, "later"),
		check("later", OK),
	})
	want := `[ok]   a      a detail
[FAIL] bb     bb detail
       remedy: fix bb
[skip] c      needs bb, which failed
[skip] d      d detail
[skip] e      needs d, which was skipped
[warn] f      f detail
       remedy: fix f
[FAIL] g      needs "later", which is not an earlier check
       remedy: report this as a bug in gitcanary
[ok]   later  later detail
`
	if got := out.String(); got != want {
		t.Errorf("checklist:\n%s\nwant:\n%s", got, want)
	}
	if !failed {
		t.Error("Run reported no failure")
	}
	if got := strings.Join(ran, ","); got != "a,bb,d,f,later" {
		t.Errorf("ran %s; the skipped checks must not run", got)
	}
}

func TestRunWarningsAreNotFailures(t *testing.T) {
	var out bytes.Buffer
	failed := Run(context.Background(), &out, []Check{
		{Name: "x", Run: func(context.Context) Result { return warn("do y", "x is odd") }},
	})
	if failed {
		t.Errorf("a warning failed the run:\n%s", out.String())
	}
}

// TestClusterServedVersions runs the client-go adapter's discovery over
// client-go's fake: versions in the server's order, subresources ignored,
// other groups ignored.
func TestClusterServedVersions(t *testing.T) {
	disc := &discoveryfake.FakeDiscovery{Fake: &clienttesting.Fake{Resources: []*metav1.APIResourceList{
		{GroupVersion: "networking.istio.io/v1", APIResources: []metav1.APIResource{
			{Name: "virtualservices", Kind: "VirtualService"}, {Name: "virtualservices/status", Kind: "VirtualService"},
			{Name: "destinationrules", Kind: "DestinationRule"},
		}},
		{GroupVersion: "networking.istio.io/v1alpha3", APIResources: []metav1.APIResource{
			{Name: "virtualservices", Kind: "VirtualService"},
		}},
		{GroupVersion: "security.istio.io/v1", APIResources: []metav1.APIResource{
			{Name: "peerauthentications", Kind: "PeerAuthentication"},
		}},
	}}, FakedServerVersion: &version.Info{GitVersion: "v1.33.13"}}
	c := &cluster{disc: disc}
	ctx := context.Background()
	served, err := c.ServedVersions(ctx, IstioGroup)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for k, v := range served {
		got[k] = strings.Join(v, ",")
	}
	if len(got) != 2 || got["VirtualService"] != "v1,v1alpha3" || got["DestinationRule"] != "v1" {
		t.Errorf("served %v", got)
	}
	if none, err := c.ServedVersions(ctx, "example.com"); err != nil || len(none) != 0 {
		t.Errorf("unserved group: %v, %v", none, err)
	}
	if v, err := c.ServerVersion(ctx); err != nil || v != "v1.33.13" {
		t.Errorf("server version %q, %v", v, err)
	}
}

// TestGitRenderer renders the fixture app from a real git server, and
// tells an unreadable repository (ErrFetch) from an app that does not build.
func TestGitRenderer(t *testing.T) {
	srv := gittest.NewServer(t)
	url := srv.CreateRepoFS(t, "apps.git", fixtures.Apps, "")
	r := &GitRenderer{CacheDir: t.TempDir()}
	ctx := context.Background()
	out, err := r.Render(ctx, Source{RepoURL: url, Branch: "main", Path: "apps/reviews"})
	if err != nil {
		t.Fatal(err)
	}
	if head := srv.Git(t, "apps.git", "rev-parse", "main"); out.Commit != head || out.Objects != 5 {
		t.Errorf("rendered %+v; want commit %s and the fixture's 5 objects", out, head)
	}
	if _, err := r.Render(ctx, Source{RepoURL: url, Branch: "nope", Path: "apps/reviews"}); !errors.Is(err, ErrFetch) {
		t.Errorf("missing branch: %v, want ErrFetch", err)
	}
	srv.Push(t, "apps.git", map[string][]byte{"apps/reviews/kustomization.yaml": []byte("resources: [missing.yaml]\n")}, "break it")
	_, err = r.Render(ctx, Source{RepoURL: url, Branch: "main", Path: "apps/reviews"})
	if err == nil || errors.Is(err, ErrFetch) || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("broken kustomization: %v, want a kustomize error naming missing.yaml", err)
	}
}
