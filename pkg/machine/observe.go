package machine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// view is the snapshot a decision is taken on. decide is a pure function of it.
type view struct {
	rec   *release.Release
	state *overlay.State
	last  git.Commit
	since time.Time // when the last commit was made, by the release's clock
	now   time.Time
	argo  argocd.Verdict
	// cluster is read only once Argo CD has converged.
	cluster *clusterFacts
	// analysis holds the looks read, while Analyzing and converged.
	analysis *analysisFacts
	// background holds the background analysis's looks, in the phases of
	// the steps once converged.
	background *analysisFacts
	// calls are the answers of during-analysis webhooks (webhooks_analysis.go).
	calls lookCalls
	// lag: Argo CD's health of a workload may lag the cluster (lag.go).
	lag lag
}

// clusterFacts are what the cluster itself shows for the last commit.
type clusterFacts struct {
	problem string // empty when the cluster matches the commit
	// unreadable: the cluster could not be read; the release waits.
	unreadable string
}

// observe reads Argo CD and, once it has applied the commit, the cluster.
// What cannot be read (Argo CD or the API server unreachable) becomes an
// Errored verdict or unreadable cluster facts, never an error: the
// release waits until it can find out. An answer that is a refusal (the
// Application does not exist or the token may not see it, the cluster
// denies the read) is an error: waiting would not change it.
func (m *Machine) observe(ctx context.Context, rec *release.Release, app *App, last git.Commit) (view, error) {
	v := view{rec: rec, state: app.State, last: last, now: m.deps.now(), since: last.Time}
	if h := rec.Status.History; len(h) > 0 && h[len(h)-1].Seq == rec.Status.Seq {
		v.since = h[len(h)-1].Time
	}
	a, err := m.deps.Argo.Get(ctx, rec.Spec.ArgoCD.Application, false)
	if err != nil {
		if ctx.Err() != nil {
			return v, ctx.Err()
		}
		if Classify(err) == Refused {
			return v, err
		}
		v.argo = argocd.Verdict{State: argocd.Errored, Reason: fmt.Sprintf("cannot read Argo CD application %s: %v", rec.Spec.ArgoCD.Application, err)}
		return v, nil
	}
	t, err := m.target(ctx, rec, app.State, last, a)
	if err != nil {
		return v, err
	}
	v.argo = argocd.Assess(a, t)
	// The progress deadline counts from the commit, or from when Argo CD
	// started applying it, or last held it for a sync window, if later
	// (syncwindows.go).
	for _, at := range []time.Time{argocd.OperationStart(a, t), m.deps.Memory.blocked.last(last.Hash)} {
		if at.After(v.since) {
			v.since = at
		}
	}
	if !v.argo.Applied {
		return v, nil
	}
	// Applied but perhaps not Healthy: the cluster says what is missing.
	problem, err := m.checkCluster(ctx, rec, app.State)
	if err != nil {
		if ctx.Err() != nil {
			return v, ctx.Err()
		}
		if Classify(err) == Refused {
			return v, fmt.Errorf("read the cluster: %w", err)
		}
		v.cluster = &clusterFacts{unreadable: err.Error()}
		return v, nil
	}
	v.cluster = &clusterFacts{problem: problem}
	if problem == "" && v.argo.State == argocd.Waiting && v.argo.Unhealthy.Kind != "" {
		v.lag, v.argo = m.healthLag(ctx, rec, t, v.argo) // lag.go
	}
	if problem != "" || v.argo.State != argocd.Converged {
		return v, nil
	}
	if rec.Status.Phase == release.Analyzing && rec.Status.Analysis != nil {
		v.analysis = m.measure(ctx, rec.Status.Analysis, v.now)
	}
	if backgroundRuns(rec) {
		v.background = m.measure(ctx, rec.Status.Background, v.now)
	}
	return v, nil
}

// effective reports whether Argo CD has applied the commit well enough to
// look at the cluster: converged, or — on the way out of a release, where
// the new version being removed may be what keeps the app unhealthy —
// applied.
func effective(v argocd.Verdict, p release.Phase) bool {
	return v.State == argocd.Converged || (p.Abandoning() && v.Applied)
}

// checkCluster confirms, reading the cluster directly, that the commit took
// effect: the new workload's readiness while it is live, the absence of
// removed workloads, and the VirtualService weights of the commit.
func (m *Machine) checkCluster(ctx context.Context, rec *release.Release, st *overlay.State) (string, error) {
	if st == nil {
		return "", fmt.Errorf("app has no gitcanary state")
	}
	ns := rec.Spec.Workload.Namespace
	canary, err := m.workloadRef(st, ns, rec.Spec.WorkloadName())
	if err != nil {
		return "", err
	}
	switch p := rec.Status.Phase; {
	case p == release.Reverting || p == release.Abandoned:
		if ok, err := m.deps.Cluster.Exists(ctx, canary); err != nil {
			return "", err
		} else if ok {
			return fmt.Sprintf("%s %s still exists", canary.Kind, canary.Name), nil
		}
	case p == release.Retiring || p == release.Promoted:
		old, err := m.workloadRef(st, ns, rec.Spec.Workload.Name)
		if err != nil {
			return "", err
		}
		if ok, err := m.deps.Cluster.Exists(ctx, old); err != nil {
			return "", err
		} else if ok {
			return fmt.Sprintf("%s %s still exists", old.Kind, old.Name), nil
		}
	case p == release.Abandoning:
		// Traffic is leaving the new version: its readiness no longer matters.
	default:
		ws, err := m.deps.Cluster.Workload(ctx, canary)
		if err != nil {
			return "", err
		}
		if msg := notReady(ws); msg != "" {
			return fmt.Sprintf("%s %s %s", canary.Kind, canary.Name, msg), nil
		}
	}
	var all [][]kube.Route
	for _, ref := range st.Routing.AllVirtualServices() {
		vsNS := ns
		if ref.Namespace != "" {
			vsNS = ref.Namespace
		}
		routes, found, err := m.deps.Cluster.VirtualServiceRoutes(ctx, vsNS, ref.Name)
		if err != nil {
			return "", err
		}
		if !found {
			return fmt.Sprintf("VirtualService %s not found in namespace %s", ref.Name, vsNS), nil
		}
		if !hasWeights(routes, st.Routing.Host, st.Weights()) {
			return fmt.Sprintf("VirtualService %s does not route %s yet", ref.Name, release.FormatWeights(st.Weights())), nil
		}
		all = append(all, routes...)
	}
	return m.checkEndpoints(ctx, rec, st, all)
}

// checkEndpoints confirms that no route sends traffic to a subset that
// selects no ready endpoint (pods, or WorkloadEntries of VMs): right
// weights to an empty subset are an outage. Before the first route names
// the stable subset of an adopted workload (Preparing, when the release
// adds the `version` label to it), the stable rollout must have finished:
// as many ready endpoints in the subset as the workload has replicas.
func (m *Machine) checkEndpoints(ctx context.Context, rec *release.Release, st *overlay.State, routes [][]kube.Route) (string, error) {
	ns := rec.Spec.Workload.Namespace
	checked := map[string]bool{}
	for _, r := range routes {
		for _, d := range r {
			if d.Weight <= 0 || d.Subset == "" || checked[d.Subset] || !overlay.SameHost(d.Host, st.Routing.Host) {
				continue
			}
			checked[d.Subset] = true
			sub, err := m.deps.Cluster.SubsetEndpoints(ctx, ns, st.Routing.Host, d.Subset)
			if err != nil {
				return "", err
			}
			if !sub.Found || sub.Ready == 0 {
				return fmt.Sprintf("a VirtualService sends %d%% to %s", d.Weight, sub.Describe), nil
			}
		}
	}
	if rec.Status.Phase != release.Preparing || !st.OriginalLabeled {
		return "", nil
	}
	stable, err := m.workloadRef(st, ns, rec.Spec.Workload.Name)
	if err != nil {
		return "", err
	}
	ws, err := m.deps.Cluster.Workload(ctx, stable)
	if err != nil {
		return "", err
	}
	if msg := notReady(ws); msg != "" {
		return fmt.Sprintf("%s %s (the stable version, being labelled %s=%s) %s", stable.Kind, stable.Name, overlay.VersionLabel, st.OriginalVersion, msg), nil
	}
	sub, err := m.deps.Cluster.SubsetEndpoints(ctx, ns, st.Routing.Host, st.OriginalVersion)
	if err != nil {
		return "", err
	}
	if !sub.Found || int64(sub.Ready) < ws.Replicas {
		return fmt.Sprintf("the stable rollout has not finished: subset %s has %d of %d endpoints ready", st.OriginalVersion, sub.Ready, ws.Replicas), nil
	}
	return "", nil
}

func notReady(ws kube.WorkloadStatus) string {
	switch {
	case !ws.Found:
		return "does not exist yet"
	case ws.ObservedGeneration < ws.Generation:
		return fmt.Sprintf("not observed yet (generation %d, observed %d)", ws.Generation, ws.ObservedGeneration)
	case ws.ReadyReplicas < ws.Replicas && ws.Entries != "":
		return fmt.Sprintf("has %d of %d WorkloadEntries healthy: %s", ws.ReadyReplicas, ws.Replicas, ws.Entries)
	case ws.ReadyReplicas < ws.Replicas:
		return fmt.Sprintf("has %d of %d replicas ready", ws.ReadyReplicas, ws.Replicas)
	}
	return ""
}

// hasWeights reports whether some HTTP route sends the host's traffic with
// exactly the given weights by subset.
func hasWeights(routes [][]kube.Route, host string, want []release.Weight) bool {
	for _, r := range routes {
		got := map[string]int32{}
		ok := len(r) == len(want)
		for _, d := range r {
			if !overlay.SameHost(d.Host, host) {
				ok = false
			}
			got[d.Subset] += d.Weight
		}
		for _, w := range want {
			if g, present := got[w.Version]; !present || g != w.Weight {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (m *Machine) workloadRef(st *overlay.State, ns, name string) (kube.Ref, error) {
	k, ok := m.deps.Kinds.Lookup(overlay.GroupOf(st.Workload.APIVersion), st.Workload.Kind)
	if !ok {
		return kube.Ref{}, fmt.Errorf("workload kind %s (%s) is not known", st.Workload.Kind, st.Workload.APIVersion)
	}
	// The version the app's manifests use, which the cluster serves.
	version := k.Version
	if _, v, ok := strings.Cut(st.Workload.APIVersion, "/"); ok {
		version = v
	}
	return kube.Ref{Group: k.Group, Version: version, Kind: k.Kind, Resource: k.Resource, Namespace: ns, Name: name}, nil
}
