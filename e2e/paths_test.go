package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

// TestSameNameTwoPaths: one repository holds the reviews app twice,
// envs/staging/reviews and envs/prod/reviews, each deployed by its own
// Application into its own namespace. A release is identified by
// repository, app path and name: reviews-v2 is released in staging, then
// in prod. Each ends Promoted with its own commits (Gitcanary-Seq 1..N in
// its path), and neither touches the other's app or record.
// TestSameNameTwoPathsTogether releases the same name in both paths at
// the same time (two tests, so that neither is the suite's longest).
func TestSameNameTwoPaths(t *testing.T) {
	t.Parallel()
	p := templates.ReleaseParams{Steps: "[{setWeight: 50}]"}
	staging := newScenario(t, "staging", p, withReviewsAt("envs/staging/reviews", "envs/prod/reviews"), withEndpointChecks())
	prod := staging.another("prod", "envs/prod/reviews", p)
	for _, s := range []*scenario{staging, prod} {
		if code, _ := s.cli("start", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
			t.Fatalf("%s: start exited %d", s.path, code)
		}
		if r := s.drive(s.machine(), done); r.Status.Phase != release.Promoted {
			t.Fatalf("%s: %s %s %s", s.path, r.Status.Phase, r.Status.Reason, r.Status.Message)
		}
	}
	for _, s := range []*scenario{staging, prod} {
		s.checkPathRelease("v2", "start route step/0/weight/50 promote retire promoted")
	}
	staging.checkRecords(2)
}

// TestSameNameTwoPathsTogether: reviews-v2 released in staging and prod
// at the same time, each driven by its own process; both end Promoted
// with their own commits in their own path.
func TestSameNameTwoPathsTogether(t *testing.T) {
	t.Parallel()
	p := templates.ReleaseParams{Steps: "[{setWeight: 20}, {setWeight: 60}]"}
	staging := newScenario(t, "together", p, withReviewsAt("envs/staging/reviews", "envs/prod/reviews"), withEndpointChecks())
	both := []*scenario{staging, staging.another("prod", "envs/prod/reviews", p)}
	t.Run("together", func(t *testing.T) {
		for _, s := range both {
			t.Run(strings.ReplaceAll(s.path, "/", "-"), func(t *testing.T) {
				t.Parallel()
				s := s.in(t)
				if code, _ := s.cli("start", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
					t.Fatalf("start exited %d", code)
				}
				if r := s.drive(s.machine(), done); r.Status.Phase != release.Promoted {
					t.Fatalf("%s %s %s", r.Status.Phase, r.Status.Reason, r.Status.Message)
				}
			})
		}
	})
	for _, s := range both {
		s.checkPathRelease("v2", "start route step/0/weight/20 step/1/weight/60 promote retire promoted")
	}
	staging.checkRecords(2)
}

// checkRecords asserts how many release records the repository holds.
func (s *scenario) checkRecords(want int) {
	s.t.Helper()
	if got := strings.Count(s.server.Git(s.t, "apps.git", "ls-tree", "-r", "--name-only", "main"), "/.gitcanary/releases/"); got != want {
		s.t.Errorf("%d release records in the repository, want %d (one name in two paths)", got, want)
	}
}

// checkPathRelease asserts the end of the scenario's promoted release in
// its own path and namespace: the record, its own commits, the routes and
// the workloads.
func (s *scenario) checkPathRelease(version, actions string) {
	s.t.Helper()
	rec := s.recordAtHead()
	if rec == nil || rec.Status.Phase != release.Promoted {
		s.t.Errorf("%s: %s's record at the head: %+v", s.path, s.name(), rec)
	}
	if got := strings.Join(s.actions(), " "); got != actions {
		s.t.Errorf("%s: %s's commits %s, want %s", s.path, s.name(), got, actions)
	}
	s.checkSeqs()
	if got, want := s.routes(context.Background()), version+"=100"; got != want {
		s.t.Errorf("%s: cluster routes %s, want %s", s.path, got, want)
	}
	if !s.exists("reviews-" + version) {
		s.t.Errorf("%s: Deployment reviews-%s is not in namespace %s", s.path, version, s.ns)
	}
	for _, other := range []string{"v1", "v2", "v3"} {
		if other != version && s.exists("reviews-"+other) {
			s.t.Errorf("%s: Deployment reviews-%s is still in namespace %s", s.path, other, s.ns)
		}
	}
	// Every commit of the release names its path and changed that path only.
	for _, c := range s.releaseCommits() {
		if c.path != s.path {
			s.t.Errorf("%s: commit %.8s of %s has Gitcanary-Path %q", s.path, c.hash, s.name(), c.path)
		}
		for _, f := range strings.Fields(s.server.Git(s.t, "apps.git", "show", "--name-only", "--format=", c.hash)) {
			if !strings.HasPrefix(f, s.path+"/") {
				s.t.Errorf("%s: commit %.8s of %s changed %s, outside its app path", s.path, c.hash, s.name(), f)
			}
		}
	}
}
