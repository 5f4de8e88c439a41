package machine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/release"
)

// drive acts on control, else steps, as `gitcanary run` does, until the
// release is done or until holds. Every time, ControlPending on the record
// must tell whether Control acts.
func drive(t *testing.T, m *Machine, c *release.Control, until Until) *release.Release {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		rec, _, err := m.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pending := ControlPending(rec, c, time.Now())
		if _, acted, err := m.Control(ctx, c); err != nil {
			t.Fatal(err)
		} else if acted != pending {
			t.Fatalf("phase %s, status.control %+v, control %+v: Control acted=%v, ControlPending=%v", rec.Status.Phase, rec.Status.Control, c, acted, pending)
		} else if acted {
			continue
		}
		out, err := m.Step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if out.Done || (until != nil && until(out)) {
			return out.Release
		}
		if out.Did == "" && out.Wait > 0 {
			if err := m.deps.Sleep(ctx, out.Wait); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestControlEarlyApproval: an approval given before the pause ends it.
func TestControlEarlyApproval(t *testing.T) {
	w := newWorld(t)
	m := w.machine(t)
	ctx := context.Background()
	if _, err := m.Start(ctx, testRelease(t)); err != nil {
		t.Fatal(err)
	}
	c := &release.Control{Approvals: 1}
	if _, acted, err := m.Control(ctx, c); err != nil || acted {
		t.Fatalf("Control while Preparing: acted=%v err=%v; want it to wait for the pause", acted, err)
	}
	got := drive(t, m, c, nil)
	if got.Status.Phase != release.Promoted || got.Status.Control == nil || got.Status.Control.Approvals != 1 {
		t.Fatalf("phase %s, status.control %+v; want Promoted with 1 approval acted on", got.Status.Phase, got.Status.Control)
	}
	if a := strings.Join(w.Actions(), " "); !strings.Contains(a, "step/3/pause approve/step/3 step/4/weight/100") {
		t.Errorf("commits: %s", a)
	}
}

// TestControlWeightThenAbort: a desired weight is routed once; abort ends
// the release; nothing is acted on after it ended.
func TestControlWeightThenAbort(t *testing.T) {
	w := newWorld(t)
	m := w.machine(t)
	ctx := context.Background()
	if _, err := m.Start(ctx, testRelease(t)); err != nil {
		t.Fatal(err)
	}
	drive(t, m, nil, untilPhase(release.Paused, 3))
	thirty := int32(30)
	c := &release.Control{Weight: &thirty}
	got := drive(t, m, c, func(o Outcome) bool { return o.Converged && release.WeightOf(o.Release.Status.Weights, "v2") == 30 })
	if got.Status.Phase != release.Paused {
		t.Errorf("phase %s after the weight; want still Paused", got.Status.Phase)
	}
	mustRoute(t, w.Cluster, "v1=70,v2=30")
	if _, acted, err := m.Control(ctx, c); err != nil || acted {
		t.Fatalf("the same weight again: acted=%v err=%v; want nothing", acted, err)
	}
	c.Abort = true
	got = drive(t, m, c, nil)
	if got.Status.Phase != release.Abandoned || got.Status.Reason != "Aborted" {
		t.Fatalf("phase %s (%s); want Abandoned (Aborted)", got.Status.Phase, got.Status.Reason)
	}
	c.Promote, c.Approvals = true, 5
	if _, acted, err := m.Control(ctx, c); err != nil || acted {
		t.Errorf("Control after the end: acted=%v err=%v; want nothing", acted, err)
	}
	want := "step/3/pause set-weight/30 abort revert abandoned"
	if a := strings.Join(w.Actions(), " "); !strings.HasSuffix(a, want) {
		t.Errorf("commits:\n got %s\nwant ...%s", a, want)
	}
}
