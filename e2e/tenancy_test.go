package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/controller"
	"github.com/gitcanary/gitcanary/templates"
)

// withoutNamespaceGrant deploys the Application without
// gitcanary.io/release-namespaces: no Release resource may drive it.
func withoutNamespaceGrant() option { return func(s *scenario) { s.ungranted = true } }

// stalled reports whether the Release resource is Stalled for reason.
func stalled(reason string) func(controller.Status) bool {
	return func(st controller.Status) bool {
		for _, c := range st.Conditions {
			if c.Type == controller.ConditionStalled {
				return c.Status == "True" && c.Reason == reason
			}
		}
		return false
	}
}

// TestControllerNamespaceGrant: a Release resource in a namespace its
// Application does not grant is refused: Stalled NotGranted with a message
// naming the annotation to add, key and value, a Warning Event, nothing
// committed, and looked at again only after a backoff (its refusals are
// counted, not a hot loop at --poll 1s). Once the annotation is added, the
// release proceeds into its pause, where git, Argo CD and the cluster agree.
func TestControllerNamespaceGrant(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "ctrl-tenant", templates.ReleaseParams{Steps: pauseSteps}, withoutNamespaceGrant())
	installReleaseCRD(t, s.env)
	dyn := s.dynamic()
	head := s.head()
	c := s.startController("a", s.cache)
	s.env.Kubectl(t, "apply", "-n", s.ns, "-f", s.file)

	st := s.waitCR(dyn, "Stalled NotGranted", crWait, stalled("NotGranted"))
	want := "add the annotation " + argocd.NamespacesAnnotation + ": " + s.ns + " to let Release resources in namespace \"" + s.ns + "\" drive it (it has none)"
	for _, cond := range st.Conditions {
		if cond.Type == controller.ConditionStalled && !strings.Contains(cond.Message, want) {
			t.Errorf("Stalled message %q lacks %q", cond.Message, want)
		}
	}
	refusals := func() int {
		n, _ := strconv.Atoi(c.scrape()[`gitcanary_errors_total{reason="not-granted"}`])
		return n
	}
	first := refusals()
	time.Sleep(10 * time.Second)
	n := refusals()
	t.Logf("refusals counted: %d when first seen Stalled, %d ten seconds later", first, n)
	if first < 1 || n > 2 {
		// --poll is 1s: a refusal retried at the poll would count about ten.
		t.Errorf("refusals counted %d when first seen Stalled, %d ten seconds later: want 1 or 2 (a backoff of 30s, not the poll)", first, n)
	}
	if got := s.head(); got != head {
		t.Fatalf("refused, yet the branch moved from %.8s to %.8s", head, got)
	}
	events := s.env.Kubectl(t, "get", "events", "-n", s.ns, "--field-selector", "involvedObject.kind=Release,involvedObject.name=reviews-v2,type=Warning",
		"-o", "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}")
	if !strings.Contains(events, "NotGranted: ") || !strings.Contains(events, want) {
		t.Errorf("no NotGranted Warning Event naming the annotation; Events:\n%s", events)
	}

	s.env.Kubectl(t, "annotate", "application", "-n", "argocd", s.ns, argocd.NamespacesAnnotation+"="+s.ns)
	st = s.waitCR(dyn, "the pause at 10% once granted", crWait, pausedAt10)
	if conditionTrue(st, controller.ConditionStalled) {
		t.Errorf("still Stalled in the pause: %s", conditions(st))
	}
	s.checkHead()
	if got := strings.Join(s.actions(), " "); got != "start route step/0/weight/10 step/1/pause" {
		t.Errorf("commits %s", got)
	}
}

// TestStartChecksApplication: `start` on the bed reads the release's
// Application first; an Application pinned to a commit, or not granted to
// the instance, is refused with exit code 2 naming the field or the
// annotation and both values, and the branch does not move. Unpinned, the
// same start commits.
func TestStartChecksApplication(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "start-admit", templates.ReleaseParams{})
	head := s.head()
	s.env.Kubectl(t, "patch", "application", "-n", "argocd", s.ns, "--type=merge", "-p", `{"spec":{"source":{"targetRevision":"`+head+`"}}}`)
	code, out := s.cli("start", "-f", s.file, "--wait-for=none")
	if want := "spec.source.targetRevision is \"" + head + "\", a commit, but the release's spec.repo.branch is \"main\""; code != cli.ExitInvalid || !strings.Contains(out, want) {
		t.Errorf("pinned to a commit: exit %d, want 2 and %q", code, want)
	}
	s.env.Kubectl(t, "patch", "application", "-n", "argocd", s.ns, "--type=merge", "-p", `{"spec":{"source":{"targetRevision":"main"}}}`)
	code, out = s.cli("--instance", "gitcanary-prod", "start", "-f", s.file, "--wait-for=none")
	if want := "add the annotation gitcanary.io/grant: gitcanary,gitcanary-prod"; code != cli.ExitInvalid || !strings.Contains(out, want) {
		t.Errorf("another instance: exit %d, want 2 and %q", code, want)
	}
	if got := s.head(); got != head {
		t.Fatalf("refused, yet the branch moved from %.8s to %.8s", head, got)
	}
	if code, out := s.cli("start", "-f", s.file, "--wait-for=none"); code != cli.ExitOK || !strings.Contains(out, "started") {
		t.Errorf("admitted: exit %d", code)
	}
}
