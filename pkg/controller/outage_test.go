package controller

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/machine/machinetest"
	"github.com/gitcanary/gitcanary/pkg/netfault"
)

// An outage of the git server, then of Argo CD's API, while the
// controller drives a paused release: each shows on the Release as a
// condition naming it, Stalled stays False (the reconcile is retried), and
// the release goes on when the outage is over.
func TestOutageConditions(t *testing.T) {
	w := machinetest.New(t)
	proxy := netfault.New(t, w.Server.Addr())
	// The Application deploys the repository through the proxy too: the
	// release's URL must be the Application's.
	w.Argo.SetSource("reviews", "git://"+proxy.Addr()+"/apps.git", "apps/reviews", "main")
	d := newDriver(t, w)
	r := parse(t, releaseDoc(t, "git://"+proxy.Addr()+"/apps.git", ""))
	res := reconcileUntil(t, d, w, r, awaiting)
	ctx := context.Background()
	now := time.Now()
	st := nextStatus(Status{}, 1, res, nil, now)

	condition := func(st Status, typ string) metav1.Condition {
		t.Helper()
		c := meta.FindStatusCondition(st.Conditions, typ)
		if c == nil {
			t.Fatalf("no %s condition in %+v", typ, st.Conditions)
		}
		return *c
	}

	proxy.Down()
	res, err := d.Reconcile(ctx, r)
	if err == nil || machine.Classify(err) != machine.Transient {
		t.Fatalf("reconcile with the git server down: %v, want a transient error", err)
	}
	down := nextStatus(st, 1, res, err, now)
	if c := condition(down, ConditionStalled); c.Status != metav1.ConditionFalse || c.Reason != "Retrying" || !strings.Contains(c.Message, "connection refused") {
		t.Errorf("git down: Stalled %s %s %q, want False Retrying naming the refused connection", c.Status, c.Reason, c.Message)
	}
	if c := condition(down, ConditionProgressing); !strings.Contains(c.Message, "retrying after an error: fetch main from git://"+proxy.Addr()) {
		t.Errorf("git down: Progressing says %q, want the fetch that failed", c.Message)
	}
	if down.Phase != st.Phase {
		t.Errorf("git down: phase %s, want %s kept", down.Phase, st.Phase)
	}
	if err := proxy.Up(); err != nil {
		t.Fatal(err)
	}

	w.Argo.FailNext(status.Error(codes.Unavailable, "connection error: connect: connection refused"))
	res, err = d.Reconcile(ctx, r)
	if err != nil {
		t.Fatalf("reconcile with Argo CD failing: %v, want a wait", err)
	}
	waiting := nextStatus(st, 1, res, err, now)
	if c := condition(waiting, ConditionProgressing); !strings.Contains(c.Message, "cannot read Argo CD application reviews") || !strings.Contains(c.Message, "Unavailable") {
		t.Errorf("Argo CD down: Progressing says %q, want it to name Argo CD", c.Message)
	}
	if c := condition(waiting, ConditionStalled); c.Status != metav1.ConditionFalse {
		t.Errorf("Argo CD down: Stalled %s %s", c.Status, c.Reason)
	}

	res = reconcileUntil(t, d, w, r, awaiting)
	if back := nextStatus(waiting, 1, res, nil, now); condition(back, ConditionStalled).Reason != "Driving" || !awaiting(res) {
		t.Errorf("after the outages: %+v, want the release paused again and driven", back.Conditions)
	}
}
