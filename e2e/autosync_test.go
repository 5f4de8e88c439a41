package e2e

import (
	"context"
	"testing"

	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

// Automated-sync Applications are first-class (issue 10): gitcanary never
// needs auto-sync turned off, and the phases that delete objects still
// prune when the Application's automated sync does not.

// TestAutoSyncPromote: an Application with automated prune and selfHeal,
// released to Promoted.
func TestAutoSyncPromote(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "auto-promote", templates.ReleaseParams{Steps: "[{setWeight: 10}, {setWeight: 50}]"},
		withAutomated(templates.AutomatedSync{Prune: true, SelfHeal: true}), withEndpointChecks())
	s.promoteAutoSynced()
}

// TestAutoSyncAbandon: an Application with automated prune and selfHeal,
// a release aborted in its pause: Abandoned, the cluster as before.
func TestAutoSyncAbandon(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "auto-abandon", templates.ReleaseParams{Steps: "[{setWeight: 10}, {pause: {}}, {setWeight: 100}]"},
		withAutomated(templates.AutomatedSync{Prune: true, SelfHeal: true}), withEndpointChecks())
	before := s.snapshot()
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	if r := s.drive(s.machine(), awaiting); r.Status.Phase != release.Paused {
		t.Fatalf("waiting at %s (%s %s), want Paused", r.Status.Phase, r.Status.Reason, r.Status.Message)
	}
	if code, _ := s.cli("abort", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("abort exited %d", code)
	}
	if r := s.drive(s.machine(), done); r.Status.Phase != release.Abandoned || r.Status.Reason != "Aborted" {
		t.Errorf("record %s %s %s, want Abandoned Aborted", r.Status.Phase, r.Status.Reason, r.Status.Message)
	}
	if after := s.snapshot(); after != before {
		t.Errorf("cluster after abandon differs from before the release:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	s.checkStillAutomated(templates.AutomatedSync{Prune: true, SelfHeal: true})
}

// TestAutoSyncNoPrune: an Application with automated sync but prune off,
// released to Promoted. Argo CD's automated sync would leave reviews-v1
// running; gitcanary's sync of the retiring phase prunes it.
func TestAutoSyncNoPrune(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "auto-noprune", templates.ReleaseParams{Steps: "[{setWeight: 10}, {setWeight: 50}]"},
		withAutomated(templates.AutomatedSync{}), withEndpointChecks())
	s.promoteAutoSynced()
}

// promoteAutoSynced releases the scenario to Promoted and checks its end.
func (s *scenario) promoteAutoSynced() {
	t := s.t
	t.Helper()
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	r := s.drive(s.machine(), done)
	if r.Status.Phase != release.Promoted {
		t.Fatalf("phase %s: %s %s", r.Status.Phase, r.Status.Reason, r.Status.Message)
	}
	s.checkNotAbandoned()
	if s.exists("reviews-v1") || !s.exists("reviews-v2") {
		t.Errorf("after promote: reviews-v1 exists=%v (it must be pruned), reviews-v2 exists=%v", s.exists("reviews-v1"), s.exists("reviews-v2"))
	}
	if got := s.routes(context.Background()); got != "v2=100" {
		t.Errorf("cluster routes %s", got)
	}
	s.checkFinished(context.Background(), r.Status.Phase, s.commitOf(r.Status.Seq))
	s.checkStillAutomated(*s.automated)
}

// checkStillAutomated asserts the Application's automated sync is as the
// scenario made it: gitcanary does not turn it off.
func (s *scenario) checkStillAutomated(want templates.AutomatedSync) {
	s.t.Helper()
	app, err := s.argo.Get(context.Background(), s.ns, false)
	if err != nil {
		s.t.Fatal(err)
	}
	p := app.Spec.SyncPolicy
	if p == nil || p.Automated == nil || p.Automated.Prune != want.Prune || p.Automated.SelfHeal != want.SelfHeal {
		s.t.Errorf("the Application's sync policy is %+v, want automated %+v", p, want)
	}
}
