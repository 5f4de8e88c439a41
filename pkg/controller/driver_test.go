package controller

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/machine/machinetest"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

func newDriver(t *testing.T, w *machinetest.World) *Driver {
	t.Helper()
	cache := t.TempDir()
	return &Driver{
		OpenRepo: func(ctx context.Context, r release.Repo) (git.Repo, error) {
			return git.Open(ctx, git.Options{URL: r.URL, Branch: r.BranchOrDefault(), CacheDir: cache})
		},
		Argo: w.Argo, Cluster: w.Cluster, Clock: w.Clock.Now, Poll: 10 * time.Millisecond,
		Metrics: NewMetrics(prometheus.NewRegistry()),
	}
}

func releaseDoc(t *testing.T, url, control string) []byte {
	t.Helper()
	doc, err := templates.Release(templates.ReleaseParams{RepoURL: url, Steps: "[{setWeight: 10}, {pause: {}}, {setWeight: 60}]"})
	if err != nil {
		t.Fatal(err)
	}
	if control != "" {
		doc = append(doc, []byte("  control: "+control+"\n")...)
	}
	return doc
}

func parse(t *testing.T, doc []byte) *release.Release {
	t.Helper()
	r, err := release.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := release.Validate(r, release.ValidateOptions{}); err != nil {
		t.Fatal(err)
	}
	return r
}

// reconcileUntil reconciles as the controller would, letting fake time
// pass for requeues, until cond holds for the record.
func reconcileUntil(t *testing.T, d *Driver, w *machinetest.World, r *release.Release, cond func(Result) bool) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		res, err := d.Reconcile(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if cond(res) || res.Done {
			return res
		}
		if res.Requeue > 0 {
			w.Clock.Sleep(ctx, res.Requeue)
		}
	}
}

func awaiting(res Result) bool {
	return res.Record != nil && res.Record.Status.Phase == release.Paused && res.Converged
}

// TestDriverControl: the driver starts a release, stops in its pause, and
// goes on to promote when spec.control gives an approval.
func TestDriverControl(t *testing.T) {
	w := machinetest.New(t)
	d := newDriver(t, w)
	r := parse(t, releaseDoc(t, w.URL, ""))
	res := reconcileUntil(t, d, w, r, awaiting)
	if res.Done || release.FormatWeights(res.Record.Status.Weights) != "v1=90,v2=10" {
		t.Fatalf("want a pause at 10%%, got %s %s", res.Record.Status.Phase, release.FormatWeights(res.Record.Status.Weights))
	}
	// Without an approval it stays paused, looked at every ApprovalPoll
	// (default 30s) rather than every Poll.
	for range 3 {
		if res, err := d.Reconcile(context.Background(), r); err != nil || res.Did != "" || res.Requeue != 30*time.Second {
			t.Fatalf("paused without approval: did %q, requeue %s (want 30s), err %v", res.Did, res.Requeue, err)
		}
	}
	r.Spec.Control = &release.Control{Approvals: 1}
	res = reconcileUntil(t, d, w, r, func(Result) bool { return false })
	if res.Record.Status.Phase != release.Promoted {
		t.Fatalf("phase %s, want Promoted", res.Record.Status.Phase)
	}
	if a := strings.Join(w.Actions(), " "); !strings.Contains(a, "approve/step/1 step/2/weight/60 promote retire promoted") {
		t.Errorf("commits: %s", a)
	}
	if v := testutil.ToFloat64(d.Metrics.releases.WithLabelValues("Promoted")); v != 1 {
		t.Errorf("gitcanary_releases{phase=Promoted} = %v", v)
	}
	if v := testutil.ToFloat64(d.Metrics.weight.WithLabelValues("/reviews-v2", "v2")); v != 100 {
		t.Errorf("gitcanary_release_weight{v2} = %v", v)
	}
	if n := testutil.CollectAndCount(d.Metrics.step); n == 0 {
		t.Error("no step durations observed")
	}
}

// TestDriverChangedSpec: a spec that differs from the recorded one (other
// than spec.control) is refused as invalid; nothing is committed.
func TestDriverChangedSpec(t *testing.T) {
	w := machinetest.New(t)
	d := newDriver(t, w)
	r := parse(t, releaseDoc(t, w.URL, ""))
	if _, err := d.Reconcile(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	commits := len(w.Server.Commits(t, "apps.git"))
	r.Spec.Images[0].NewTag = "2.1"
	_, err := d.Reconcile(context.Background(), r)
	if !errors.Is(err, ErrChangedSpec) || !errors.Is(err, release.ErrInvalid) {
		t.Fatalf("err = %v, want ErrChangedSpec", err)
	}
	if n := len(w.Server.Commits(t, "apps.git")); n != commits {
		t.Errorf("%d commits after a refused reconcile, want %d", n, commits)
	}
	if v := testutil.ToFloat64(d.Metrics.errors.WithLabelValues("changed-spec")); v != 1 {
		t.Errorf("gitcanary_errors_total{reason=changed-spec} = %v", v)
	}
}

// TestDriverReportsCommittedRecord: after a commit the result carries the
// record committed, not the one the decision was taken on, so status and
// Events name the commit's action and weights.
func TestDriverReportsCommittedRecord(t *testing.T) {
	w := machinetest.New(t)
	d := newDriver(t, w)
	r := parse(t, releaseDoc(t, w.URL, ""))
	res := reconcileUntil(t, d, w, r, func(res Result) bool { return res.Did == "commit" })
	if res.Record == nil || res.Record.Status.Action != "route" || res.Commit != w.Server.Git(t, "apps.git", "rev-parse", "main") {
		t.Fatalf("after the route commit %.8s: record %+v", res.Commit, res.Record)
	}
}
