package machine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/argoproj/gitops-engine/pkg/health"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Argo CD's health of an object is computed from its watch-fed cache of
// the cluster, and that cache can lag the cluster: argo-cd#14266 and
// #17208 (open) report Deployments left Progressing for minutes, or for
// good, after their rollout finished, and a reconciliation that cannot
// reach the repo-server leaves the whole status as it was. Waiting on
// such a health runs a healthy release into its progress deadline.
//
// So when Argo CD has applied the commit, the cluster check passed, and
// Argo CD still calls one of the release's workloads unhealthy while the
// live object is Healthy by Argo CD's own built-in health check,
// gitcanary waits lagGrace (the wait does not count towards the
// deadline), then asks Argo CD to reconcile the app (a refresh, which the
// API answers once the controller has done it) and reads the object as
// Argo CD's tree holds it:
//   - Argo CD agrees now: the release goes on (the usual case);
//   - the tree holds the very version gitcanary reads: Argo CD judged
//     that object and said no (a resource customization's health check
//     in argocd-cm, which gitcanary does not run): its verdict stands
//     and the deadline counts;
//   - the tree holds another version, and the live object did not change
//     meanwhile: Argo CD's verdict is about an older object; the release
//     goes on by the cluster, and the reason says so.
const (
	lagGrace   = 20 * time.Second
	lagRefresh = 30 * time.Second // how long a refresh may take
)

// healthySince remembers since when this process has seen a live object,
// at one resourceVersion, Healthy while Argo CD called it unhealthy, and
// whether Argo CD was found to have judged that very version (then its
// verdict stands, and the app is not refreshed again for it).
type healthySince struct {
	mu   sync.Mutex
	seen map[string]healthy
}

type healthy struct {
	at     time.Time
	judged bool
}

// since returns what is known of key, recording now as its first sight
// if it is new.
func (h *healthySince) since(key string, now time.Time) healthy {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen == nil {
		h.seen = map[string]healthy{}
	}
	if len(h.seen) > 64 {
		clear(h.seen) // a release waits on one object at a time
	}
	if e, ok := h.seen[key]; ok {
		return e
	}
	h.seen[key] = healthy{at: now}
	return h.seen[key]
}

// judge records that Argo CD judged key's version itself.
func (h *healthySince) judge(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e, ok := h.seen[key]; ok {
		e.judged = true
		h.seen[key] = e
	}
}

// lag is what healthLag found.
type lag int

const (
	noLag     lag = iota // Argo CD's verdict stands
	lagging              // wait for Argo CD, without a deadline
	lagProven            // go on by the cluster
)

// healthLag looks, for a commit Argo CD applied and the cluster shows in
// effect, whether Argo CD's unhealthy verdict on v.argo.Unhealthy lags
// the live object. It may refresh the app; the verdict it returns is the
// one to act on.
func (m *Machine) healthLag(ctx context.Context, rec *release.Release, t argocd.Target, v argocd.Verdict) (lag, argocd.Verdict) {
	r := v.Unhealthy
	live, ref, ok := m.liveHealthy(ctx, rec, r)
	if !ok {
		return noLag, v
	}
	key := t.Commit + " " + r.Group + "/" + r.Kind + " " + ref.Namespace + "/" + r.Name + " " + live.ResourceVersion
	now := m.deps.now()
	seen := m.deps.Memory.healthy.since(key, now)
	first := seen.at
	judged := fmt.Sprintf("; Argo CD judged the live object (resourceVersion %s) and its built-in health check says Healthy: a health check of argocd-cm's resource customizations?", live.ResourceVersion)
	if seen.judged {
		v.Reason += judged
		return noLag, v
	}
	waiting := v
	waiting.Reason = fmt.Sprintf("%s; the cluster shows it Healthy (resourceVersion %s) since %s: waiting for Argo CD to see it",
		v.Reason, live.ResourceVersion, first.Format(time.TimeOnly))
	if now.Sub(first) < lagGrace {
		return lagging, waiting
	}

	rctx, cancel := context.WithTimeout(ctx, lagRefresh)
	a, err := m.deps.Argo.Get(rctx, rec.Spec.ArgoCD.Application, true)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return noLag, v
		}
		waiting.Reason += fmt.Sprintf(" (a refresh did not finish: %v)", err)
		return lagging, waiting
	}
	fresh := argocd.Assess(a, t)
	if fresh.State != argocd.Waiting || fresh.Unhealthy != r {
		return noLag, fresh // Argo CD moved: act on what it says now
	}
	cached, err := m.deps.Argo.Cached(ctx, rec.Spec.ArgoCD.Application, r)
	if err != nil || !cached.Found {
		if err == nil {
			err = fmt.Errorf("not in its resource tree")
		}
		waiting.Reason += fmt.Sprintf(" (cannot read Argo CD's copy of it: %v)", err)
		return lagging, waiting
	}
	if cached.ResourceVersion == live.ResourceVersion {
		m.deps.Memory.healthy.judge(key)
		fresh.Reason += judged
		return noLag, fresh
	}
	again, _, ok := m.liveHealthy(ctx, rec, r)
	if !ok || again.ResourceVersion != live.ResourceVersion {
		return lagging, waiting // it changed meanwhile: look again
	}
	reason := fmt.Sprintf("Argo CD's cache still holds %s %s at resourceVersion %s (%s) after a refresh, the cluster has it at %s, Healthy since %s: going on by the cluster",
		r.Kind, r.Name, cached.ResourceVersion, orWord(cached.Health, "no health"), live.ResourceVersion, first.Format(time.TimeOnly))
	m.deps.log().Warn("Argo CD's health lags the cluster", "release", m.name, "app", rec.Spec.ArgoCD.Application, "reason", reason)
	return lagProven, argocd.Verdict{State: argocd.Converged, Applied: true, Reason: reason}
}

// liveHealthy reads r from the cluster and reports whether Argo CD's
// built-in health check calls it Healthy. Only the registered workload
// kinds are read: they are what a release waits on.
func (m *Machine) liveHealthy(ctx context.Context, rec *release.Release, r argocd.Resource) (kube.WorkloadStatus, kube.Ref, bool) {
	kind, ok := m.deps.Kinds.Lookup(r.Group, r.Kind)
	if !ok || m.deps.Cluster == nil {
		return kube.WorkloadStatus{}, kube.Ref{}, false
	}
	ref := kube.Ref{Group: r.Group, Version: kind.Version, Kind: r.Kind, Resource: kind.Resource, Namespace: r.Namespace, Name: r.Name}
	if ref.Namespace == "" {
		ref.Namespace = rec.Spec.Workload.Namespace
	}
	live, err := m.deps.Cluster.Workload(ctx, ref)
	if err != nil || !live.Found || live.ResourceVersion == "" || live.Health != string(health.HealthStatusHealthy) {
		return live, ref, false
	}
	return live, ref, true
}

func orWord(s, word string) string {
	if s == "" {
		return word
	}
	return s
}
