package controller

import (
	"context"
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/machine/machinetest"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// TestPanicStaysWithItsRelease: a panic while driving one release (here
// planted in the repository opener for that release's URL, standing in
// for any bug an odd file could trigger) becomes an ErrPanic on that
// release, a Stalled condition with reason InternalError, and the worker
// goes on driving the others.
func TestPanicStaysWithItsRelease(t *testing.T) {
	w := machinetest.New(t)
	d := newDriver(t, w)
	open := d.OpenRepo
	const bad = "git://127.0.0.1:1/bad.git"
	d.OpenRepo = func(ctx context.Context, r release.Repo) (git.Repo, error) {
		if r.URL == bad {
			var m map[string]int
			m["boom"]++ // a nil-map write: a runtime panic, not a panic(value) of our own
		}
		return open(ctx, r)
	}
	broken := parse(t, releaseDoc(t, bad, ""))
	res, err := d.Reconcile(context.Background(), broken)
	if !errors.Is(err, ErrPanic) {
		t.Fatalf("Reconcile of the release that panics: %v, %+v; want ErrPanic", err, res)
	}
	st := nextStatus(Status{}, 1, res, err, time.Now())
	if c := meta.FindStatusCondition(st.Conditions, ConditionStalled); c == nil || c.Status != "True" || c.Reason != "InternalError" {
		t.Errorf("Stalled condition after a panic: %+v", c)
	}
	good := parse(t, releaseDoc(t, w.URL, ""))
	got := reconcileUntil(t, d, w, good, func(r Result) bool { return r.Record != nil && r.Record.Status.Phase == release.Paused })
	if got.Record.Status.Phase != release.Paused {
		t.Errorf("the other release did not go on: %+v", got.Record.Status)
	}
}
