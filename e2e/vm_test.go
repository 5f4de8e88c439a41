package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

var (
	workloadGroups  = kube.Ref{Group: "networking.istio.io", Version: "v1", Kind: "WorkloadGroup", Resource: "workloadgroups"}
	workloadEntries = kube.Ref{Group: "networking.istio.io", Version: "v1", Kind: "WorkloadEntry", Resource: "workloadentries"}
)

// The new version's VMs, listed in the Release (spec.workload.addresses),
// and the stable version's, listed in examples/workloads/workloadgroup.yaml.
var (
	newVMs    = []string{"10.0.1.21", "10.0.1.22"}
	stableVMs = []string{"10.0.0.11", "10.0.0.12"}
)

// Annotations istiod reads on a WorkloadEntry (pilot/pkg/model/status,
// istio.io/api annotation): an entry it registered for a VM, and an entry
// whose health the VM's agent may report.
const (
	autoRegistrationGroup = "istio.io/autoRegistrationGroup"
	healthChecksEnabled   = "proxy.istio.io/health-checks-enabled"
)

// TestWorkloadGroup: a release of examples/workloads' WorkloadGroup, whose
// probe makes gitcanary wait for the new VMs' health, with the VMs listed
// in the Release. gitcanary commits the group reviews-v2 and a
// WorkloadEntry per address (reviews-v2-1, reviews-v2-2). While those VMs
// are down the release waits in Preparing and says which entries are not
// healthy, by name and address; once they are up and istiod (played by
// the test, see playIstiod) has marked their entries Healthy, it runs to
// Promoted: the old group and its entries gone, every converged phase
// checked, routed subsets served by healthy entries.
//
// Where the new entries turn out to be entries istiod takes no health
// reports for, the test shows that the release, VMs up or not, stays in
// Preparing, and skips the rest saying why: in a real mesh it could never
// get ready.
func TestWorkloadGroup(t *testing.T) {
	t.Parallel()
	vms := &vmFleet{}
	vms.boot(stableVMs...)
	s := newScenario(t, "vm", templates.ReleaseParams{Kind: "WorkloadGroup", Addresses: newVMs},
		withFile("apps/reviews/deployment.yaml", readExample(t, exampleWorkloadGroup)), playIstiod(vms), withEndpointChecks())
	ctx := context.Background()

	want := "WorkloadGroup reviews-v2 has 0 of 2 WorkloadEntries healthy: WorkloadEntries not healthy: reviews-v2-1 (10.0.1.21), reviews-v2-2 (10.0.1.22)"
	code, out := s.cli("start", "-f", s.file, "--wait-for=Preparing", "--timeout=20s")
	// On a loaded machine Argo CD may take longer than the timeout to
	// apply the first commit: the release is then still waiting for the
	// sync, not yet for the VMs. Driving it again resumes it (start is
	// idempotent) until the wait is for the VMs.
	for try := 0; try < 5 && code == cli.ExitTimeout && !strings.Contains(out, want); try++ {
		code, out = s.cli("start", "-f", s.file, "--wait-for=Preparing", "--timeout=20s")
	}
	if code != cli.ExitTimeout || !strings.Contains(out, want) {
		t.Fatalf("start with the new VMs down: exit %d, want %d (timeout) and the output saying\n%s", code, cli.ExitTimeout, want)
	}
	if got := s.routes(ctx); got != "v1=100" {
		t.Errorf("while the new VMs are down: cluster routes %s, want v1=100", got)
	}
	for _, name := range []string{"reviews-v2-1", "reviews-v2-2"} {
		if !s.existsAs(workloadEntries, name) {
			t.Errorf("WorkloadEntry %s is not in the cluster", name)
		}
	}

	vms.boot(newVMs...)
	var ineligible []string
	for _, name := range []string{"reviews-v2-1", "reviews-v2-2"} {
		if we := s.entry(ctx, name); !eligibleForHealth(we) {
			ineligible = append(ineligible, fmt.Sprintf("%s (annotations %v)", name, slices.Sorted(maps.Keys(we.GetAnnotations()))))
		}
	}
	if ineligible != nil {
		// With the VMs up, istiod still writes no health on these entries:
		// the release cannot get ready.
		code, out := s.cli("start", "-f", s.file, "--wait-for=Preparing", "--timeout=10s")
		if code != cli.ExitTimeout || !strings.Contains(out, want) {
			t.Fatalf("start with the new VMs up and their entries ineligible for health reports: exit %d, want %d (timeout) and the output saying\n%s", code, cli.ExitTimeout, want)
		}
		t.Fatalf("the WorkloadEntries gitcanary commits for spec.workload.addresses lack the annotation %s, so istiod drops the health their VMs' agents report "+
			"(istio pilot/pkg/autoregistration: Controller.OnConnect, health.IsEligibleForHealthStatusUpdates) and a group with a probe never gets ready: %s",
			healthChecksEnabled, strings.Join(ineligible, ", "))
	}
	r := s.drive(s.machine(), done)
	if r.Status.Phase != release.Promoted {
		t.Fatalf("phase %s: %s %s", r.Status.Phase, r.Status.Reason, r.Status.Message)
	}
	s.checkVMsPromoted(ctx)
}

// TestWorkloadGroupWithoutProbe: the same release of a group without a
// probe: nothing reports the VMs' health (no agent probes, so the test
// plays no istiod), an entry without a Healthy condition counts as ready,
// and the release runs to Promoted.
// Every converged phase is checked, and routed subsets are served by
// entries (Istio sends traffic to entries without health checks).
func TestWorkloadGroupWithoutProbe(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "vmnp", templates.ReleaseParams{Kind: "WorkloadGroup", Addresses: newVMs},
		withFile("apps/reviews/deployment.yaml", withoutProbe(t, readExample(t, exampleWorkloadGroup))), withEndpointChecks())
	ctx := context.Background()
	start := time.Now()
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	r := s.drive(s.machine(), done)
	if r.Status.Phase != release.Promoted {
		t.Fatalf("phase %s: %s %s", r.Status.Phase, r.Status.Reason, r.Status.Message)
	}
	t.Logf("WorkloadGroup release promoted in %s", time.Since(start).Round(100*time.Millisecond))
	s.checkVMsPromoted(ctx)
}

// TestWorkloadGroupAbandon: a release of a group without a probe aborted
// in its pause at 50%: Abandoned with the reason given, every converged
// phase on the way out checked, the new group and its entries pruned, the
// namespace's objects exactly those before the release, the stable VMs
// still serving.
func TestWorkloadGroupAbandon(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "vmab", templates.ReleaseParams{Kind: "WorkloadGroup", Addresses: newVMs, Steps: "[{setWeight: 10}, {setWeight: 50}, {pause: {}}, {setWeight: 100}]"},
		withFile("apps/reviews/deployment.yaml", withoutProbe(t, readExample(t, exampleWorkloadGroup))), withEndpointChecks())
	ctx := context.Background()
	before := s.snapshot()
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	r := s.drive(s.machine(), awaiting)
	if got := release.FormatWeights(r.Status.Weights); r.Status.Phase != release.Paused || got != "v1=50,v2=50" {
		t.Fatalf("waiting at %s %s (%s %s), want Paused v1=50,v2=50", r.Status.Phase, got, r.Status.Reason, r.Status.Message)
	}
	if code, _ := s.cli("abort", "-f", s.file, "--reason", "VM latency", "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("abort exited %d", code)
	}
	r = s.drive(s.machine(), done)
	if r.Status.Phase != release.Abandoned || r.Status.Reason != "Aborted" || r.Status.Message != "VM latency" {
		t.Fatalf("record %s %s %q", r.Status.Phase, r.Status.Reason, r.Status.Message)
	}
	for _, p := range []release.Phase{release.Preparing, release.Routing, release.Progressing, release.Paused, release.Abandoning, release.Abandoned} {
		if !slices.Contains(s.phases, p) {
			t.Errorf("phase %s never converged; phases seen converged: %v", p, s.phases)
		}
	}
	if after := s.snapshot(); after != before {
		t.Errorf("cluster after abandon differs from before the release:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	for _, ss := range s.checkEndpoints(ctx, release.Abandoned) {
		if !slices.Equal(ss.Ready, []string{"WorkloadEntry/reviews-vm-1", "WorkloadEntry/reviews-vm-2"}) {
			t.Errorf("after the abandon, subset %s is served by %v, want the stable VMs' entries", orNone(ss.Subset), ss.Ready)
		}
	}
	s.checkArgoHealth(ctx, "WorkloadGroup", "reviews-v1", "")
}

// checkVMsPromoted asserts the end of a promoted WorkloadGroup release.
func (s *scenario) checkVMsPromoted(ctx context.Context) {
	t := s.t
	t.Helper()
	if !slices.Equal(s.phases, promotedPhases) {
		t.Errorf("phases seen converged: %v, want %v", s.phases, promotedPhases)
	}
	for _, gone := range []string{"reviews-vm-1", "reviews-vm-2"} {
		if s.existsAs(workloadEntries, gone) {
			t.Errorf("WorkloadEntry %s of the old version is still in the cluster", gone)
		}
	}
	if s.existsAs(workloadGroups, "reviews-v1") || !s.existsAs(workloadGroups, "reviews-v2") {
		t.Errorf("after promote: WorkloadGroup reviews-v1 exists=%v, reviews-v2 exists=%v", s.existsAs(workloadGroups, "reviews-v1"), s.existsAs(workloadGroups, "reviews-v2"))
	}
	for i, name := range []string{"reviews-v2-1", "reviews-v2-2"} {
		we := s.entry(ctx, name)
		addr, _, _ := unstructured.NestedString(we.Object, "spec", "address")
		labels, _, _ := unstructured.NestedStringMap(we.Object, "spec", "labels")
		if addr != newVMs[i] || labels["app"] != "reviews" || labels["version"] != "v2" {
			t.Errorf("WorkloadEntry %s: address %s, labels %v", name, addr, labels)
		}
	}
	if got := s.routes(ctx); got != "v2=100" {
		t.Errorf("cluster routes %s", got)
	}
	for _, ss := range s.checkEndpoints(ctx, release.Promoted) {
		if !slices.Equal(ss.Ready, []string{"WorkloadEntry/reviews-v2-1", "WorkloadEntry/reviews-v2-2"}) {
			t.Errorf("subset %s is served by %v, want the new VMs' entries", orNone(ss.Subset), ss.Ready)
		}
	}
	s.checkArgoHealth(ctx, "WorkloadGroup", "reviews-v2", "")
}

// entry reads the WorkloadEntry name of the scenario's namespace.
func (s *scenario) entry(ctx context.Context, name string) *unstructured.Unstructured {
	s.t.Helper()
	we, err := s.dynamic().Resource(entriesGVR).Namespace(s.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		s.t.Fatal(err)
	}
	return we
}

// withoutProbe removes the probe from examples/workloads' WorkloadGroup.
func withoutProbe(t *testing.T, group []byte) []byte {
	t.Helper()
	probe := "  probe:\n    httpGet:\n      path: /health\n      port: 9080\n"
	if !strings.Contains(string(group), probe) {
		t.Fatalf("%s has no probe\n%s", exampleWorkloadGroup, group)
	}
	return []byte(strings.Replace(string(group), probe, "", 1))
}

// vmFleet is the set of VMs that are up, by address: their istio-agent is
// connected and its probe of the application passes.
type vmFleet struct {
	mu sync.Mutex
	up map[string]bool
}

func (f *vmFleet) boot(addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.up == nil {
		f.up = map[string]bool{}
	}
	for _, a := range addrs {
		f.up[a] = true
	}
}

func (f *vmFleet) isUp(addr string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.up[addr]
}

// playIstiod stands in for istiod's WorkloadEntry health checker, since
// nothing on the bed runs VMs: while the test runs, every WorkloadEntry of
// the scenario's namespace whose VM is up in vms and that istiod accepts
// health reports for gets the condition istiod writes when the agent's
// probe passes. It is an option of newScenario so that it runs before the
// app's first sync.
//
// What istiod does (istio/istio, pilot/pkg/autoregistration): an agent
// reports health for the entry it registered (auto-registration, the
// entry annotated istio.io/autoRegistrationGroup) or for the existing
// entry its metadata names, but only when that entry carries the
// annotation proxy.istio.io/health-checks-enabled, whatever its value
// (Controller.OnConnect, health.IsEligibleForHealthStatusUpdates); reports
// for other entries are dropped. A report becomes, through the status
// subresource (state.Store.UpdateHealth), this element of
// status.conditions, replacing any earlier one of its type
// (health.transformHealthEvent):
//
//	{type: Healthy, status: "True", lastProbeTime: <now>, lastTransitionTime: <now>}
//
// ("False" with the probe's message when it fails). A VM that is down
// sends nothing, so its entry keeps whatever condition it had.
func playIstiod(vms *vmFleet) option {
	return func(s *scenario) {
		entries := s.dynamic().Resource(entriesGVR).Namespace(s.ns)
		s.standIn("istiod stand-in", func(ctx context.Context) error { return reportHealth(ctx, entries, vms) })
	}
}

func reportHealth(ctx context.Context, entries dynamic.ResourceInterface, vms *vmFleet) error {
	list, err := entries.List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	var errs []error
	for i := range list.Items {
		we := &list.Items[i]
		addr, _, _ := unstructured.NestedString(we.Object, "spec", "address")
		if !vms.isUp(addr) || !eligibleForHealth(we) || entryCondition(we, "Healthy") == "True" {
			continue
		}
		now := time.Now().UTC().Format(time.RFC3339Nano)
		conds, _, _ := unstructured.NestedSlice(we.Object, "status", "conditions")
		conds = slices.DeleteFunc(conds, func(c any) bool { m, _ := c.(map[string]any); return m["type"] == "Healthy" })
		conds = append(conds, map[string]any{"type": "Healthy", "status": "True", "lastProbeTime": now, "lastTransitionTime": now})
		if err := unstructured.SetNestedSlice(we.Object, conds, "status", "conditions"); err != nil {
			return err
		}
		if _, err := entries.UpdateStatus(ctx, we, metav1.UpdateOptions{}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// eligibleForHealth is istiod's rule for whose health an agent may
// report: an auto-registered entry, or one annotated
// proxy.istio.io/health-checks-enabled.
func eligibleForHealth(we *unstructured.Unstructured) bool {
	ann := we.GetAnnotations()
	_, checked := ann[healthChecksEnabled]
	return checked || ann[autoRegistrationGroup] != ""
}
