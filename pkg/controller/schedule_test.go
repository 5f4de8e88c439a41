package controller

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/gitcanary/gitcanary/pkg/machine/machinetest"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// TestDriverSleepsUntilTheWindow: a release held by a deny window (the
// world's clock is at 12:00, the window 11:00 to 13:00) is requeued for
// the window's end, not polled: counting the reconciles while it is
// held, there is one, asking to be woken in an hour; then it goes on.
func TestDriverSleepsUntilTheWindow(t *testing.T) {
	w := machinetest.New(t)
	d := newDriver(t, w)
	doc := string(releaseDoc(t, w.URL, ""))
	doc += "  schedule: {deny: [{cron: \"0 11 * * *\", duration: 2h}]}\n"
	r := parse(t, []byte(doc))
	ctx := context.Background()
	opens := time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC)
	held := 0
	var res Result
	for w.Clock.Now().Before(opens) {
		var err error
		if res, err = d.Reconcile(ctx, r); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(res.Reason, "waiting for the schedule") {
			held++
			checkWindowCondition(t, res, w.Clock.Now())
			if want := opens.Sub(w.Clock.Now()); res.Requeue != want {
				t.Fatalf("requeue %s while held; want the window's end, %s away", res.Requeue, want)
			}
		}
		if res.Requeue > 0 { // 0: look again at once (after a commit)
			w.Clock.Sleep(ctx, res.Requeue)
		}
	}
	if held != 1 {
		t.Errorf("%d reconciles while held by the window; want 1 (requeued for its end)", held)
	}
	if res.Record.Status.Phase != release.Routing {
		t.Errorf("held in %s; want Routing (prepared, no traffic moved)", res.Record.Status.Phase)
	}
	res = reconcileUntil(t, d, w, r, awaiting)
	if got := release.FormatWeights(res.Record.Status.Weights); got != "v1=90,v2=10" {
		t.Errorf("after the window: %s", got)
	}
}

// checkWindowCondition: the Release resource of a release held by a
// window says so in its Progressing condition.
func checkWindowCondition(t *testing.T, res Result, now time.Time) {
	t.Helper()
	st := nextStatus(Status{}, 1, res, nil, now)
	if c := meta.FindStatusCondition(st.Conditions, ConditionProgressing); c == nil || c.Reason != ReasonWaitingForWindow || c.Message != res.Reason {
		t.Errorf("Progressing while held: %+v", c)
	}
}

// TestDriverWaitsForArgoCDSyncWindow: while Argo CD's deny window (11:00
// to 12:10; the clock is at 12:00) refuses syncs, the release is requeued
// for the window's end, at the latest a minute later each time (a project
// changes outside git), says which window holds it, and goes on after.
func TestDriverWaitsForArgoCDSyncWindow(t *testing.T) {
	w := machinetest.New(t)
	d := newDriver(t, w)
	r := parse(t, releaseDoc(t, w.URL, ""))
	ctx := context.Background()
	w.Argo.SetSyncWindows(v1alpha1.SyncWindow{Kind: "deny", Schedule: "0 11 * * *", Duration: "70m", Applications: []string{"*"}})
	opens := time.Date(2026, 11, 23, 12, 10, 0, 0, time.UTC)
	held := 0
	var res Result
	for w.Clock.Now().Before(opens) {
		var err error
		if res, err = d.Reconcile(ctx, r); err != nil {
			t.Fatal(err)
		}
		if res.Window {
			held++
			checkWindowCondition(t, res, w.Clock.Now())
			if !strings.Contains(res.Reason, `deny sync window "0 11 * * *" for 70m of project default refuses syncs until 2026-11-23T12:10:00Z`) {
				t.Fatalf("held: %s", res.Reason)
			}
			if want := min(opens.Sub(w.Clock.Now()), time.Minute); res.Requeue != want {
				t.Fatalf("requeue %s while held; want %s", res.Requeue, want)
			}
		}
		if res.Requeue > 0 {
			w.Clock.Sleep(ctx, res.Requeue)
		}
	}
	if held < 10 || held > 12 {
		t.Errorf("%d reconciles while held for ten minutes; want one a minute", held)
	}
	res = reconcileUntil(t, d, w, r, awaiting)
	if got := release.FormatWeights(res.Record.Status.Weights); got != "v1=90,v2=10" {
		t.Errorf("after the window: %s", got)
	}
}
