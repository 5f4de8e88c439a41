package argocd

import (
	"testing"

	argolua "github.com/argoproj/argo-cd/v2/util/lua"
	"github.com/argoproj/gitops-engine/pkg/health"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitcanary/gitcanary/pkg/release"
)

// healthCases are the health Argo CD must show for each sample.
var healthCases = []struct {
	sample  string
	status  health.HealthStatusCode
	message string
}{
	{"new", health.HealthStatusProgressing, "waiting for gitcanary to pick the release up"},
	{"stalled-new", health.HealthStatusDegraded, "Stalled (InvalidSpec): spec.workload.kind: Deploymnet is not a known workload kind"},
	{"preparing", health.HealthStatusProgressing, "Preparing step 0/5: v1=100"},
	{"routing", health.HealthStatusProgressing, "Routing step 0/5: v1=100 v2=0"},
	{"progressing", health.HealthStatusProgressing, "Progressing step 1/5: v1=90 v2=10"},
	{"analyzing", health.HealthStatusProgressing, "Analyzing step 2/5: v1=90 v2=10"},
	{"paused-inconclusive", health.HealthStatusSuspended, "Paused at step 2/5, analysis Inconclusive (NotEnoughTraffic), until approved (run the approve action) or aborted: v1=90 v2=10"},
	{"progressing-requested", health.HealthStatusProgressing, "Progressing step 3/5: v1=50 v2=50"},
	{"progressing-100", health.HealthStatusProgressing, "Progressing step 3/5: v1=0 v2=100"},
	{"stalled", health.HealthStatusDegraded, `Stalled (NotGranted): Application reviews: add the annotation gitcanary.io/release-namespaces: bookinfo to let Release resources in namespace "bookinfo" drive it (it has none)`},
	{"paused-timed", health.HealthStatusSuspended, "Paused at step 2/5 for 2m (since 2025-06-01T10:02:00Z): v1=90 v2=10"},
	{"paused-approval", health.HealthStatusSuspended, "Paused at step 4/5 until approved (run the approve action): v1=50 v2=50"},
	{"paused-pending", health.HealthStatusProgressing, "Paused at step 4/5, approval given; waiting for gitcanary: v1=50 v2=50"},
	{"paused-approved", health.HealthStatusProgressing, "Paused at step 4/5, approved; resuming: v1=50 v2=50"},
	{"promoting", health.HealthStatusProgressing, "Promoting step 4/5: v2=100"},
	{"retiring", health.HealthStatusProgressing, "Retiring step 5/5: v2=100"},
	{"promoted", health.HealthStatusHealthy, "Promoted: v2 at 100%"},
	{"abandoning", health.HealthStatusProgressing, "Abandoning step 3/5 (ProgressDeadlineExceeded): v1=100"},
	{"reverting", health.HealthStatusProgressing, "Reverting step 3/5 (ProgressDeadlineExceeded): v1=100"},
	{"abandoned", health.HealthStatusDegraded, "Abandoned (ProgressDeadlineExceeded): Deployment reviews-v2 has 0 of 2 replicas ready"},
}

// TestHealth runs release-health.lua through gitops-engine's
// GetResourceHealth, the function the application controller calls.
func TestHealth(t *testing.T) {
	hov := argolua.ResourceHealthOverrides(overrides(t))
	phases := map[string]bool{}
	for _, c := range healthCases {
		t.Run(c.sample, func(t *testing.T) {
			obj := sample(t, c.sample)
			got, err := health.GetResourceHealth(obj, hov)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || got.Status != c.status || got.Message != c.message {
				t.Errorf("health = %+v\nwant     {Status:%s Message:%s}", got, c.status, c.message)
			}
			phase, _, _ := unstructured.NestedString(obj.Object, "status", "phase")
			phases[phase] = true
		})
	}
	for p := range release.Transitions {
		if !phases[string(p)] {
			t.Errorf("no sample in phase %q", p)
		}
	}
}
