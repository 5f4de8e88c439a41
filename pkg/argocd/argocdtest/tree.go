package argocdtest

import (
	"context"
	"fmt"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/argoproj/gitops-engine/pkg/health"

	"github.com/gitcanary/gitcanary/pkg/argocd"
)

type cacheKey struct {
	app string
	res argocd.Resource
}

// SetCached sets Argo CD's cached copy of r in the app: the node the
// resource tree has for it (Cached) and, when c has a health, the health
// status.resources gives r from now on, whatever the cluster shows, as
// Argo CD does while its cache holds an old copy (argo-cd#14266).
//
// In Argo CD 2.14 the ResourceTree API answers from the tree the
// application controller stored at its last reconciliation of the app
// (controller/appcontroller.go setAppManagedResources), built from its
// watch-fed cache of the cluster: each node's resourceVersion and health
// are those of the object as that cache held it then, and the same cache
// gives status.resources its health. The fake keeps no cache of a
// cluster, so a node exists only once a test sets one; without it, code
// reading the tree sees no node for r.
func (f *Fake) SetCached(name string, r argocd.Resource, c argocd.CachedResource) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cached == nil {
		f.cached = map[cacheKey]argocd.CachedResource{}
	}
	c.Found = true
	f.cached[cacheKey{name, r}] = c
	if a, ok := f.apps[name]; ok {
		f.cachedHealth(a, a.app.Status.Resources)
	}
}

// cachedHealth gives the resources of app a the health of their cached
// copy, where a test set one. Called with f.mu held.
func (f *Fake) cachedHealth(a *fakeApp, rs []v1alpha1.ResourceStatus) {
	for i := range rs {
		r := argocd.Resource{Group: rs[i].Group, Kind: rs[i].Kind, Namespace: rs[i].Namespace, Name: rs[i].Name}
		if c, ok := f.cached[cacheKey{a.app.Name, r}]; ok && c.Health != "" {
			rs[i].Health = &v1alpha1.HealthStatus{Status: health.HealthStatusCode(c.Health), Message: c.HealthMessage}
		}
	}
}

// Cached implements argocd.Client from what SetCached scripted.
func (f *Fake) Cached(ctx context.Context, name string, r argocd.Resource) (argocd.CachedResource, error) {
	if err := ctx.Err(); err != nil {
		return argocd.CachedResource{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.popErr(); err != nil {
		return argocd.CachedResource{}, fmt.Errorf("read the resource tree of application %q: %w", name, err)
	}
	if _, ok := f.apps[name]; !ok {
		return argocd.CachedResource{}, fmt.Errorf("read the resource tree of application %q: %w", name, argocd.ErrNotFound)
	}
	return f.cached[cacheKey{name, r}], nil
}
