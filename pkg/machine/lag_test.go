package machine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// cacheStaysAt makes Argo CD's cache hold reviews-v2 Progressing from its
// first sync on, at the resourceVersion version returns for the live one
// (argo-cd#14266: the rollout finished, Argo CD's copy did not move).
func cacheStaysAt(w *world, version func(live string) string) {
	apply := w.Argo.OnSync
	canary := argocd.Resource{Group: "apps", Kind: "Deployment", Namespace: namespace, Name: "reviews-v2"}
	w.Argo.OnSync = func(name, revision string, prune bool) error {
		err := apply(name, revision, prune)
		live, _ := w.Cluster.Workload(context.Background(), ref("reviews-v2"))
		if live.Found {
			w.Argo.SetCached(name, canary, argocd.CachedResource{ResourceVersion: version(live.ResourceVersion),
				Health: "Progressing", HealthMessage: "Waiting for rollout to finish: 1 of 2 updated replicas are available..."})
		}
		return err
	}
}

// TestArgoCDHealthLags: Argo CD's cache keeps the new Deployment
// Progressing at an old resourceVersion while the cluster has it Healthy.
// The release waits for Argo CD a while (not against its deadline), asks
// for a refresh, then goes on by the cluster, saying why; it never
// abandons.
func TestArgoCDHealthLags(t *testing.T) {
	w := newWorld(t)
	cacheStaysAt(w, func(string) string { return "1" })
	m := w.machine(t)
	r := testRelease(t)
	r.Spec.ProgressDeadline = &release.Duration{Duration: lagGrace * 2}
	if _, err := m.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	var reasons []string
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := m.Run(ctx, untilPhase(release.Paused, 3), func(o Outcome) { reasons = append(reasons, o.Reason) })
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != release.Paused {
		t.Fatalf("%s: %s", got.Status.Phase, got.Status.Message)
	}
	all := strings.Join(reasons, "\n")
	for _, want := range []string{
		"Deployment reviews-v2 is Progressing: Waiting for rollout to finish: 1 of 2 updated replicas are available...; the cluster shows it Healthy",
		"Argo CD's cache still holds Deployment reviews-v2 at resourceVersion 1 (Progressing) after a refresh",
		"going on by the cluster",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no reason says %q:\n%s", want, all)
		}
	}
	mustRoute(t, w.Cluster, "v1=50,v2=50")
}

// TestArgoCDHealthJudgedSameObject: Argo CD's tree holds the very version
// the cluster serves and still says Progressing (a resource
// customization's health check, which gitcanary does not run): its
// verdict stands, and the progress deadline abandons the release.
func TestArgoCDHealthJudgedSameObject(t *testing.T) {
	w := newWorld(t)
	cacheStaysAt(w, func(live string) string { return live })
	m := w.machine(t)
	r := testRelease(t)
	r.Spec.ProgressDeadline = &release.Duration{Duration: lagGrace * 3}
	if _, err := m.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	got := run(t, m, untilDone)
	if got.Status.Phase != release.Abandoned {
		t.Fatalf("%s, want Abandoned by the deadline", got.Status.Phase)
	}
	var reason string
	for _, h := range got.Status.History {
		if h.Phase == release.Abandoning {
			reason = h.Message
		}
	}
	if !strings.Contains(reason, "Argo CD judged the live object") {
		t.Errorf("the abandon says %q; want it to name Argo CD's own verdict on the live object", reason)
	}
}
