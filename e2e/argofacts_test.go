package e2e

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"

	"github.com/gitcanary/gitcanary/pkg/release"
)

// The harness judges "has Argo CD applied commit C" itself, from the facts
// Argo CD reports and the scenario's git server, so that the scenarios say
// what correct is independently of pkg/argocd (DESIGN §1): C is applied when
// Argo CD's last operation Succeeded on a revision R that contains C (C is R
// or an ancestor of R) and gitcanary's files in the app path
// (<path>/.gitcanary/) are the same at R as at C. Other writers commit to
// the branch all the time; their commits may be in R.

// argoFacts is what one snapshot of the scenario's Application says about
// a commit.
type argoFacts struct {
	commit   string
	Revision string // R, what the last operation applied; "" when none has
	Phase    string // the last operation's phase
	Message  string // the last operation's message
	Running  bool   // an operation is requested or has not finished
	Contains bool   // commit is R or an ancestor of R
	Owned    bool   // gitcanary's files in the app path are the same at R as at commit
	Applied  bool   // Phase Succeeded, Contains and Owned
	Fresh    bool   // Argo CD reassessed the app after the operation finished
	Sync     string // sync status (at the branch head, whatever wrote it)
	Health   string // the app's health
}

func (f argoFacts) String() string {
	if f.Revision == "" {
		return fmt.Sprintf("no operation has applied a revision (running %v), sync %s, health %s", f.Running, f.Sync, f.Health)
	}
	return fmt.Sprintf("last operation %s at %.8s (running %v, %.8s in it %v, gitcanary's files unchanged %v, fresh %v), sync %s, health %s; %s",
		f.Phase, f.Revision, f.Running, f.commit, f.Contains, f.Owned, f.Fresh, f.Sync, f.Health, f.Message)
}

// argoFacts reads app's facts about commit.
func (s *scenario) argoFacts(app *v1alpha1.Application, commit string) argoFacts {
	s.t.Helper()
	f := argoFacts{commit: commit, Sync: string(app.Status.Sync.Status), Health: string(app.Status.Health.Status)}
	st := app.Status.OperationState
	f.Running = app.Operation != nil || st != nil && !st.Phase.Completed()
	if st == nil {
		return f
	}
	f.Phase, f.Message = string(st.Phase), st.Message
	if st.SyncResult != nil {
		f.Revision = st.SyncResult.Revision
	}
	if f.Revision == "" {
		return f
	}
	f.Contains, f.Owned = s.contains(commit, f.Revision)
	f.Applied = st.Phase == "Succeeded" && !f.Running && f.Contains && f.Owned
	if finished := st.FinishedAt; finished != nil && app.Status.ReconciledAt != nil {
		f.Fresh = !app.Status.ReconciledAt.Before(finished)
	}
	return f
}

// contains reports whether commit is rev or an ancestor of it, and whether
// gitcanary's files in the app path are the same at both.
func (s *scenario) contains(commit, rev string) (contains, owned bool) {
	s.t.Helper()
	if commit == rev {
		return true, true
	}
	if contains = s.gitOK("merge-base", "--is-ancestor", commit, rev); !contains {
		return false, false
	}
	return true, s.gitOK("diff", "--quiet", commit, rev, "--", s.path+"/.gitcanary")
}

// gitOK runs a git command in the scenario's repository whose answer is its
// exit status: true on 0, false on 1; anything else fails the test.
func (s *scenario) gitOK(args ...string) bool {
	s.t.Helper()
	cmd := exec.Command("git", append([]string{"--git-dir=" + s.server.Dir("apps.git")}, args...)...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return true
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		return false
	}
	s.t.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, out)
	return false
}

// waitApplied waits until Argo CD has applied commit and returns the facts.
func (s *scenario) waitApplied(ctx context.Context, commit string) argoFacts {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var f argoFacts
	for {
		app, err := s.argo.Get(ctx, s.ns, false)
		if err == nil {
			if f = s.argoFacts(app, commit); f.Applied {
				return f
			}
		}
		select {
		case <-ctx.Done():
			s.t.Fatalf("Argo CD did not apply %.8s: %s", commit, f)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// checkApplied asserts that Argo CD has applied commit and, unless the
// release is on its way out (where the version being removed may keep the
// app unhealthy), found the app Healthy after that. It allows Argo CD a few
// seconds to reassess health. moved reports that Argo CD has meanwhile
// applied a later commit changing gitcanary's files (an automated sync of
// the release's next commit): then an earlier operation in the history
// must have applied commit, and the cluster shows the later one.
func (s *scenario) checkApplied(ctx context.Context, phase release.Phase, commit string) (moved bool) {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		app, err := s.argo.Get(ctx, s.ns, false)
		if err != nil {
			s.t.Fatal(err)
		}
		f := s.argoFacts(app, commit)
		if f.Applied && f.Fresh && (f.Health == "Healthy" || phase.Abandoning()) {
			return false
		}
		if !f.Running && f.Phase == "Succeeded" && f.Contains && !f.Owned {
			if rev := s.appliedInHistory(app, commit); rev != "" {
				s.t.Logf("%s: Argo CD applied %.8s in %.8s and has since applied %.8s, a later change of gitcanary's files", phase, commit, rev, f.Revision)
				return true
			}
		}
		if time.Now().After(deadline) {
			s.t.Errorf("%s: Argo CD has not applied %.8s: %s", phase, commit, f)
			return false
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// checkFinished asserts the end of a release whose record at commit says
// Promoted or Abandoned. A finished release never syncs again and its last
// commit (the record, the hand-back) changes no rendered object, so Argo
// CD need not have run an operation on it: comparing the app at a
// revision that contains commit, Argo CD must find it Synced (the cluster
// is what git renders) and Healthy, with no operation running.
func (s *scenario) checkFinished(ctx context.Context, phase release.Phase, commit string) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	refresh := true
	for {
		app, err := s.argo.Get(ctx, s.ns, refresh)
		if err != nil {
			s.t.Fatal(err)
		}
		refresh = false
		rev := app.Status.Sync.Revision
		contains := rev != "" && s.gitOK("merge-base", "--is-ancestor", commit, rev)
		f := s.argoFacts(app, commit)
		if contains && f.Sync == "Synced" && f.Health == "Healthy" && !f.Running {
			return
		}
		if time.Now().After(deadline) {
			s.t.Errorf("%s: Argo CD does not find the app Synced and Healthy at a revision containing the release's last commit %.8s: compared at %.8s (contains it %v); %s",
				phase, commit, rev, contains, f)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// appliedInHistory returns the revision of the newest entry of Argo CD's
// operation history that applied commit, "" when none did.
func (s *scenario) appliedInHistory(app *v1alpha1.Application, commit string) string {
	h := app.Status.History
	for i := len(h) - 1; i >= 0; i-- {
		if ok, owned := s.contains(commit, h[i].Revision); ok && owned {
			return h[i].Revision
		}
	}
	return ""
}

// opsMark fingerprints the sync operations Argo CD has run or been asked
// to run on the scenario's Application: two equal marks mean no sync was
// requested in between. The history is capped (revisionHistoryLimit), so
// its newest ID counts, not its length.
type opsMark struct {
	LastID      int64  // newest history entry
	LastRev     string // its revision
	OpStarted   string // when the last operation started
	OpRevision  string // what it applied
	Pending     bool   // an operation is requested and not started
	HistoryLen  int
	OpPhase     string
	OpInitiator string
}

func (m opsMark) same(o opsMark) bool {
	return m.LastID == o.LastID && m.LastRev == o.LastRev && m.OpStarted == o.OpStarted && m.OpRevision == o.OpRevision && !o.Pending
}

func (m opsMark) String() string {
	return fmt.Sprintf("history %d entries, newest #%d at %.8s; last operation started %s at %.8s by %q, %s; pending %v",
		m.HistoryLen, m.LastID, m.LastRev, m.OpStarted, m.OpRevision, m.OpInitiator, m.OpPhase, m.Pending)
}

// opsMark reads the Application's operation fingerprint.
func (s *scenario) opsMark(ctx context.Context) opsMark {
	s.t.Helper()
	app, err := s.argo.Get(ctx, s.ns, false)
	if err != nil {
		s.t.Fatal(err)
	}
	m := opsMark{Pending: app.Operation != nil, HistoryLen: len(app.Status.History)}
	if n := len(app.Status.History); n > 0 {
		m.LastID, m.LastRev = app.Status.History[n-1].ID, app.Status.History[n-1].Revision
	}
	if st := app.Status.OperationState; st != nil {
		m.OpStarted, m.OpPhase = st.StartedAt.UTC().Format(time.RFC3339), string(st.Phase)
		m.OpInitiator = st.Operation.InitiatedBy.Username
		if st.Operation.InitiatedBy.Automated {
			m.OpInitiator = "automated"
		}
		if st.SyncResult != nil {
			m.OpRevision = st.SyncResult.Revision
		}
	}
	return m
}
