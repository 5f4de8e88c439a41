package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

func done(o machine.Outcome) bool { return o.Done }

func awaiting(o machine.Outcome) bool { return o.Done || o.Awaiting }

// TestPromote: a full release to promote. The old Deployment, subset and
// route are gone from git and the cluster, and Argo CD is Synced and
// Healthy at the final revision.
func TestPromote(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "promote", templates.ReleaseParams{})
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	r := s.drive(s.machine(), done)
	if r.Status.Phase != release.Promoted {
		t.Fatalf("phase %s: %s", r.Status.Phase, r.Status.Message)
	}
	want := []release.Phase{release.Preparing, release.Routing, release.Progressing, release.Promoting, release.Retiring, release.Promoted}
	if !slices.Equal(s.phases, want) {
		t.Errorf("phases seen converged: %v, want %v", s.phases, want)
	}
	if s.exists("reviews-v1") || !s.exists("reviews-v2") {
		t.Errorf("after promote: reviews-v1 exists=%v, reviews-v2 exists=%v", s.exists("reviews-v1"), s.exists("reviews-v2"))
	}
	if got := s.routes(context.Background()); got != "v2=100" {
		t.Errorf("cluster routes %s", got)
	}
	dr := s.env.Kubectl(t, "get", "destinationrule", "reviews", "-n", s.ns, "-o", "jsonpath={.spec.subsets[*].name}")
	if dr != "v2" {
		t.Errorf("cluster DestinationRule subsets %q, want v2", dr)
	}
	// Handed back: the user's own files are the new version, and
	// gitcanary's directory keeps only the release record.
	dep := s.server.Git(t, "apps.git", "show", "main:apps/reviews/deployment.yaml")
	if !strings.Contains(dep, "name: reviews-v2") || !strings.Contains(dep, "example/reviews:2.0") || strings.Contains(dep, "reviews-v1") {
		t.Errorf("deployment.yaml in git after the promote:\n%s", dep)
	}
	if tree := s.server.Git(t, "apps.git", "ls-tree", "-r", "--name-only", "main", "apps/reviews/.gitcanary/"); strings.TrimSpace(tree) != "apps/reviews/.gitcanary/releases/reviews-v2.yaml" {
		t.Errorf("gitcanary's directory after the promote holds:\n%s", tree)
	}
	if root := s.server.Git(t, "apps.git", "show", "main:apps/reviews/kustomization.yaml"); strings.Contains(root, ".gitcanary") {
		t.Errorf("the root kustomization still names the component:\n%s", root)
	}
	s.checkFinished(context.Background(), r.Status.Phase, s.commitOf(r.Status.Seq))
	s.checkTreeMatchesCluster("reviews-v2")

	// The user's files are the truth again: a person scales reviews-v2 in
	// deployment.yaml, Argo CD syncs it, and the cluster follows.
	ctx := context.Background()
	edit, _, err := s.newWriter("person").commit(ctx, "apps/reviews/deployment.yaml", func(b []byte) []byte {
		return []byte(strings.Replace(string(b), "replicas: 2", "replicas: 3", 1))
	}, "reviews: three replicas")
	if err != nil {
		t.Fatal(err)
	}
	s.syncAndWait(edit)
	if got := s.env.Kubectl(t, "get", "deployment", "reviews-v2", "-n", s.ns, "-o", "jsonpath={.spec.replicas}"); got != "3" {
		t.Errorf("after editing deployment.yaml, the cluster's reviews-v2 has %s replicas, want 3", got)
	}
}

// TestAbandonAtFifty: abandon at 50% puts the cluster back to exactly the
// pre-release objects.
func TestAbandonAtFifty(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "abandon", templates.ReleaseParams{Steps: "[{setWeight: 10}, {setWeight: 50}, {pause: {}}, {setWeight: 100}]"})
	before := s.snapshot()
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	r := s.drive(s.machine(), awaiting)
	if got := release.FormatWeights(r.Status.Weights); got != "v1=50,v2=50" || r.Status.Phase != release.Paused {
		t.Fatalf("waiting at %s %s", r.Status.Phase, got)
	}
	if code, _ := s.cli("abort", "-f", s.file, "--reason", "latency regression", "--wait-for=done"); code != cli.ExitOK {
		t.Fatalf("abort exited %d", code)
	}
	if after := s.snapshot(); after != before {
		t.Errorf("cluster after abandon differs from before the release:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	rec := s.machineRecord()
	if rec.Status.Phase != release.Abandoned || rec.Status.Reason != "Aborted" || rec.Status.Message != "latency regression" {
		t.Errorf("record %s %s %q", rec.Status.Phase, rec.Status.Reason, rec.Status.Message)
	}
}

func (s *scenario) machineRecord() *release.Release {
	rec, _, err := s.machine().Load(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	return rec
}

// TestBrokenCanary: new pods never become Ready. The release does not
// advance past its first step and abandons at its progress deadline, with
// a reason and a message that say why.
func TestBrokenCanary(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "broken", templates.ReleaseParams{Steps: "[{setWeight: 10}, {setWeight: 50}]", Tag: "never-ready", ProgressDeadline: "20s"})
	before := s.snapshot()
	code, out := s.cli("start", "-f", s.file, "--wait-for=done", "--timeout=4m")
	if code != cli.ExitAbandoned {
		t.Fatalf("start exited %d, want %d (abandoned)", code, cli.ExitAbandoned)
	}
	if !strings.Contains(out, "ProgressDeadlineExceeded") {
		t.Errorf("output does not say why:\n%s", out)
	}
	rec := s.machineRecord()
	if rec.Status.Reason != "ProgressDeadlineExceeded" || !strings.Contains(rec.Status.Message, "reviews-v2 has 0 of 2 replicas ready") {
		t.Errorf("record reason %s message %q", rec.Status.Reason, rec.Status.Message)
	}
	for _, a := range s.actions() {
		if strings.HasPrefix(a, "step/") || a == "route" {
			t.Errorf("the broken canary advanced: %v", s.actions())
		}
	}
	if after := s.snapshot(); after != before {
		t.Errorf("cluster after abandon differs:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestSetWeightAndApprove: a manual set-weight while paused, then an
// approval of the indefinite pause.
func TestSetWeightAndApprove(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "approve", templates.ReleaseParams{Steps: "[{setWeight: 10}, {pause: {}}, {setWeight: 60}]"})
	if code, _ := s.cli("start", "-f", s.file); code != cli.ExitOK { // default: wait until paused
		t.Fatalf("start exited %d", code)
	}
	if code, _ := s.cli("set-weight", "-f", s.file, "30"); code != cli.ExitOK {
		t.Fatalf("set-weight exited %d", code)
	}
	if got := s.routes(context.Background()); got != "v1=70,v2=30" {
		t.Errorf("after set-weight 30 the cluster routes %s", got)
	}
	if rec := s.machineRecord(); rec.Status.Phase != release.Paused {
		t.Errorf("set-weight ended the pause: %s", rec.Status.Phase)
	}
	if code, _ := s.cli("approve", "-f", s.file, "--wait-for=done"); code != cli.ExitOK {
		t.Fatalf("approve exited %d", code)
	}
	if rec := s.machineRecord(); rec.Status.Phase != release.Promoted {
		t.Errorf("phase %s", rec.Status.Phase)
	}
	if !slices.Contains(s.actions(), "set-weight/30") || !slices.Contains(s.actions(), "approve/step/1") {
		t.Errorf("commits %v", s.actions())
	}
}

// TestAbortDuringLongPause: an abort while a driver waits in a one-hour
// pause returns traffic to stable without waiting for the pause.
func TestAbortDuringLongPause(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "pause", templates.ReleaseParams{Steps: "[{setWeight: 20}, {pause: {duration: 1h}}, {setWeight: 100}]"})
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=Paused"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	// A driver sits in the pause, as a CI job or a terminal would.
	driver := s.machine()
	result := make(chan *release.Release, 1)
	go func() {
		r, _ := driver.Run(context.Background(), done, nil)
		result <- r
	}()
	time.Sleep(2 * time.Second)
	began := time.Now()
	if code, _ := s.cli("abort", "-f", s.file, "--wait-for=Abandoning"); code != cli.ExitOK {
		t.Fatalf("abort exited %d", code)
	}
	if got := s.routes(context.Background()); got != "v1=100" {
		t.Errorf("after abort the cluster routes %s", got)
	}
	select {
	case r := <-result:
		if r == nil || r.Status.Phase.Terminal() == false {
			t.Logf("driver ended at %v", r)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("the driver waiting in the pause did not end after the abort")
	}
	if rec := s.machineRecord(); rec.Status.Phase != release.Abandoned {
		t.Errorf("phase %s", rec.Status.Phase)
	}
	t.Logf("abort → stable at 100%% in the cluster and the driver finished in %s (pause was 1h)", time.Since(began).Round(time.Millisecond))
}

// checkTreeMatchesCluster checks what gitcanary's answer to a lagging
// Argo CD health (pkg/machine/lag.go) rests on, with the real parts: once
// Argo CD has caught up, its resource tree holds a Deployment at the
// resourceVersion the API server serves, and its health there is what
// gitcanary computes from the live object with Argo CD's built-in check.
func (s *scenario) checkTreeMatchesCluster(name string) {
	t := s.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res := argocd.Resource{Group: "apps", Kind: "Deployment", Namespace: s.ns, Name: name}
	ref := kube.Ref{Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments", Namespace: s.ns, Name: name}
	var cached argocd.CachedResource
	var live kube.WorkloadStatus
	for ctx.Err() == nil {
		var err error
		if cached, err = s.argo.Cached(ctx, s.ns, res); err != nil {
			t.Fatal(err)
		}
		if live, err = s.cluster.Workload(ctx, ref); err != nil {
			t.Fatal(err)
		}
		if cached.Found && cached.ResourceVersion == live.ResourceVersion && cached.Health == live.Health && live.Health == "Healthy" {
			return
		}
		if _, err := s.argo.Get(ctx, s.ns, true); err != nil && ctx.Err() == nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
	}
	t.Errorf("Argo CD's tree has Deployment %s at resourceVersion %q (%s), the cluster at %q (%s by Argo CD's built-in check)",
		name, cached.ResourceVersion, cached.Health, live.ResourceVersion, live.Health)
}
