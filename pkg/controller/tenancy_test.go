package controller

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/machine/machinetest"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// inNamespace is the release r as a Release resource of namespace ns.
func inNamespace(r *release.Release, ns string) *release.Release {
	c := *r
	c.Metadata.Namespace = ns
	return &c
}

// TestDriverNamespaceGrant: a Release resource drives its Application
// only when the Application grants the resource's namespace; a refusal
// commits nothing and names the annotation to add. A resource of another
// namespace never drives a release it did not start, and revoking the
// grant stops spec.control requests before they commit.
func TestDriverNamespaceGrant(t *testing.T) {
	w := machinetest.New(t)
	d := newDriver(t, w)
	ctx := context.Background()
	r := inNamespace(parse(t, releaseDoc(t, w.URL, "")), "team-a")
	commits := len(w.Server.Commits(t, "apps.git"))
	check := func(what string, err, sentinel error, msg string) {
		t.Helper()
		if !errors.Is(err, sentinel) || !strings.Contains(err.Error(), msg) {
			t.Fatalf("%s: err = %v\nwant %v containing %s", what, err, sentinel, msg)
		}
		if !permanent(err) || !refused(err) {
			t.Errorf("%s: %v is not a refusal", what, err)
		}
		if n := len(w.Server.Commits(t, "apps.git")); n != commits {
			t.Fatalf("%s: refused, yet %d commits (was %d)", what, n, commits)
		}
	}

	_, err := d.ReconcileIn(ctx, "team-a", r)
	check("no namespace grant", err, argocd.ErrNotAuthorized,
		`Application reviews: add the annotation gitcanary.io/release-namespaces: team-a to let Release resources in namespace "team-a" drive it (it has none)`)
	if got := stalledReason(err); got != "NotGranted" {
		t.Errorf("Stalled reason %s, want NotGranted", got)
	}
	if v := testutil.ToFloat64(d.Metrics.errors.WithLabelValues("not-granted")); v != 1 {
		t.Errorf("gitcanary_errors_total{reason=not-granted} = %v, want 1", v)
	}

	grant := func(value string) {
		t.Helper()
		if err := w.Argo.Annotate(ctx, "reviews", map[string]string{argocd.NamespacesAnnotation: value}); err != nil {
			t.Fatal(err)
		}
	}
	grant("team-b,team-a")
	res, err := d.ReconcileIn(ctx, "team-a", r)
	if err != nil || res.Did != "start" {
		t.Fatalf("granted: did %q, err %v", res.Did, err)
	}
	commits++

	// The same release named by a resource of team-b, granted too.
	_, err = d.ReconcileIn(ctx, "team-b", inNamespace(r, "team-b"))
	check("another namespace's release", err, ErrOtherNamespace,
		`release reviews-v2 in apps/reviews was started by a Release resource in namespace "team-a"; a Release resource in namespace "team-b" may not drive it`)

	for {
		res, err := d.ReconcileIn(ctx, "team-a", r)
		if err != nil {
			t.Fatal(err)
		}
		if awaiting(res) {
			break
		}
		if res.Requeue > 0 {
			w.Clock.Sleep(ctx, res.Requeue)
		}
	}
	commits = len(w.Server.Commits(t, "apps.git"))
	grant("team-b")
	approved := inNamespace(r, "team-a")
	approved.Spec.Control = &release.Control{Approvals: 1}
	_, err = d.ReconcileIn(ctx, "team-a", approved)
	check("an approval after the grant was revoked", err, argocd.ErrNotAuthorized,
		`add the annotation gitcanary.io/release-namespaces: team-b,team-a`)
}

// TestDriverCLIReleaseNotAdopted: a Release resource does not drive a
// release that a Release file (or the CLI) started.
func TestDriverCLIReleaseNotAdopted(t *testing.T) {
	w := machinetest.New(t)
	d := newDriver(t, w)
	ctx := context.Background()
	r := parse(t, releaseDoc(t, w.URL, ""))
	if res, err := d.Reconcile(ctx, r); err != nil || res.Did != "start" {
		t.Fatalf("file: did %q, err %v", res.Did, err)
	}
	if err := w.Argo.Annotate(ctx, "reviews", map[string]string{argocd.NamespacesAnnotation: "*"}); err != nil {
		t.Fatal(err)
	}
	_, err := d.ReconcileIn(ctx, "team-a", inNamespace(r, "team-a"))
	if !errors.Is(err, ErrOtherNamespace) || !strings.Contains(err.Error(), "was started by the CLI or a Release file (its record names no namespace)") {
		t.Errorf("err = %v", err)
	}
}

// TestDriverApplicationMismatch: a Release whose Application deploys
// another path is refused before the first commit (Stalled
// ApplicationMismatch), nothing committed.
func TestDriverApplicationMismatch(t *testing.T) {
	w := machinetest.New(t)
	d := newDriver(t, w)
	w.Argo.SetSource("reviews", w.URL, "apps/ratings", "main")
	commits := len(w.Server.Commits(t, "apps.git"))
	_, err := d.Reconcile(context.Background(), parse(t, releaseDoc(t, w.URL, "")))
	if !errors.Is(err, argocd.ErrMismatch) || !strings.Contains(err.Error(), `spec.source.path is "apps/ratings" but the release's spec.repo.path is "apps/reviews"`) {
		t.Fatalf("err = %v", err)
	}
	if got := stalledReason(err); got != "ApplicationMismatch" {
		t.Errorf("Stalled reason %s", got)
	}
	st := nextStatus(Status{}, 1, Result{}, err, time.Now())
	if c := findCondition(st, ConditionStalled); c == nil || c.Status != metav1.ConditionTrue || c.Reason != "ApplicationMismatch" || c.Message != err.Error() {
		t.Errorf("Stalled condition %+v", c)
	}
	if n := len(w.Server.Commits(t, "apps.git")); n != commits {
		t.Errorf("%d commits, want %d", n, commits)
	}
	// Refused before any commit, the status has no phase: it must leave
	// the field out, which the CRD's enum would refuse as "".
	m, err := statusObject(st)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m["phase"]; ok || m["conditions"] == nil {
		t.Errorf("status %v: want conditions and no phase", m)
	}
}

func findCondition(st Status, typ string) *metav1.Condition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == typ {
			return &st.Conditions[i]
		}
	}
	return nil
}

// TestRefusedRetry: a refused release is looked at again after 30s, then
// after as long as it has been stalled, at most every 10 minutes: never a
// hot loop, and a grant added later is found.
func TestRefusedRetry(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	stalled := func(since time.Duration) Status {
		return Status{Conditions: []metav1.Condition{{Type: ConditionStalled, Status: metav1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-since))}}}
	}
	tests := []struct {
		st   Status
		want time.Duration
	}{
		{Status{}, 30 * time.Second},
		{stalled(0), 30 * time.Second},
		{stalled(30 * time.Second), 30 * time.Second},
		{stalled(90 * time.Second), 90 * time.Second},
		{stalled(time.Hour), 10 * time.Minute},
		{Status{Conditions: []metav1.Condition{{Type: ConditionStalled, Status: metav1.ConditionFalse, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))}}}, 30 * time.Second},
	}
	for i, tt := range tests {
		if got := refusedRetry(tt.st, now); got != tt.want {
			t.Errorf("%d: refusedRetry = %s, want %s", i, got, tt.want)
		}
	}
	// nextStatus keeps the Stalled condition's transition time while the
	// release stays refused, which is what spaces the retries.
	err := argocd.ErrNotAuthorized
	first := nextStatus(Status{}, 1, Result{}, err, now)
	later := nextStatus(first, 1, Result{}, err, now.Add(5*time.Minute))
	if got := refusedRetry(later, now.Add(5*time.Minute)); got != 5*time.Minute {
		t.Errorf("five minutes stalled: retry after %s, want 5m", got)
	}
}

// TestGitSourceRefused: a Release file whose Application refuses it is
// logged once, looked at again every minute (not every poll), and
// started once the Application is fixed.
func TestGitSourceRefused(t *testing.T) {
	w := machinetest.New(t)
	d := newDriver(t, w)
	w.Argo.SetSource("reviews", w.URL, "apps/reviews", "release-1")
	errs := &errorLog{}
	src := &GitSource{Driver: d, Log: slog.New(errs)}
	src.init()
	fr := fileRelease{key: "config#main:releases/reviews-v2.yaml", r: parse(t, releaseDoc(t, w.URL, ""))}
	ctx := context.Background()
	for range 3 {
		if after, again := src.reconcile(ctx, fr); !again || after != time.Minute {
			t.Fatalf("refused file: look again %v after %s, want after 1m", again, after)
		}
	}
	if errs.count() != 1 || !strings.Contains(errs.String(), `spec.source.targetRevision is "release-1" but the release's spec.repo.branch is "main"`) {
		t.Errorf("%d errors logged, want the refusal once: %s", errs.count(), errs)
	}
	w.Argo.SetSource("reviews", w.URL, "apps/reviews", "main")
	if _, again := src.reconcile(ctx, fr); !again || w.Actions()[0] != "start" {
		t.Errorf("fixed: actions %v", w.Actions())
	}
}
