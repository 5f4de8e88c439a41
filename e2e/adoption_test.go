package e2e

import (
	"context"
	"slices"
	"testing"

	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

// unlabelledDeployment is the reviews app as many teams have it before
// their first canary: one Deployment with no version label, and no
// DestinationRule or VirtualService. Its name is not the app's: a stable
// workload named exactly like the app (reviews) makes the patches aimed
// at it match the new copy too, which the issue "Real apps as users write
// them" fixes.
const unlabelledDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews-v1
  labels:
    app: reviews
spec:
  replicas: 2
  selector:
    matchLabels:
      app: reviews
  template:
    metadata:
      labels:
        app: reviews
      annotations:
        sidecar.istio.io/inject: "true"
    spec:
      containers:
        - name: reviews
          image: example/reviews:1.0
          ports:
            - containerPort: 9080
              name: http
`

// withUnlabelledApp seeds apps/reviews as unlabelledDeployment describes.
func withUnlabelledApp() option {
	return withFiles(map[string][]byte{
		"apps/reviews/deployment.yaml":      []byte(unlabelledDeployment),
		"apps/reviews/destinationrule.yaml": nil,
		"apps/reviews/virtualservice.yaml":  nil,
		"apps/reviews/kustomization.yaml": []byte(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
  - service.yaml
  - gateway.yaml
`),
	})
}

// TestAdoptionAbandonKeepsEndpoints: adopting an app whose stable
// Deployment has no version label (spec.stableVersion: v1) and no routing
// (start --generate-routing), then abandoning the release. At every
// converged phase, on the way in and on the way out, every subset a route
// sends traffic to has ready endpoints: read from the Service's
// EndpointSlices and the labels of the pods behind them.
func TestAdoptionAbandonKeepsEndpoints(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "adopt", templates.ReleaseParams{Workload: "reviews-v1", StableVersion: "v1", Steps: "[{setWeight: 10}, {setWeight: 50}, {pause: {}}, {setWeight: 100}]"},
		withUnlabelledApp(), withEndpointChecks())
	ctx := context.Background()
	if code, _ := s.cli("start", "-f", s.file, "--generate-routing", "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	r := s.drive(s.machine(), awaiting)
	if got := release.FormatWeights(r.Status.Weights); r.Status.Phase != release.Paused || got != "v1=50,v2=50" {
		t.Fatalf("waiting at %s %s (%s %s), want Paused v1=50,v2=50", r.Status.Phase, got, r.Status.Reason, r.Status.Message)
	}
	for _, ss := range s.checkEndpoints(ctx, r.Status.Phase) {
		t.Logf("in the pause, subset %s is served by %v", orNone(ss.Subset), ss.Ready)
	}
	if code, _ := s.cli("abort", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("abort exited %d", code)
	}
	r = s.drive(s.machine(), done)
	if r.Status.Phase != release.Abandoned {
		t.Fatalf("phase %s: %s %s", r.Status.Phase, r.Status.Reason, r.Status.Message)
	}
	for _, p := range []release.Phase{release.Preparing, release.Routing, release.Progressing, release.Abandoning, release.Abandoned} {
		if !slices.Contains(s.phases, p) {
			t.Errorf("phase %s never converged; phases seen converged: %v", p, s.phases)
		}
	}
	// After the end too: the routing gitcanary generated stays (it is the
	// user's now) and must still lead somewhere.
	served := s.checkEndpoints(ctx, release.Abandoned)
	for _, ss := range served {
		t.Logf("after the abandon, subset %s (%s) is served by %v", orNone(ss.Subset), formatLabels(ss.Labels), ss.Ready)
	}
	if s.exists("reviews-v2") || !s.exists("reviews-v1") {
		t.Errorf("after the abandon: reviews-v2 exists=%v, reviews-v1 exists=%v", s.exists("reviews-v2"), s.exists("reviews-v1"))
	}
}
