package machine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"sigs.k8s.io/yaml"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// ownedDigest sums what gitcanary owns in the app path at a commit: every
// file under <path>/.gitcanary/ and whether the root kustomization
// references it. Two commits with the same digest render gitcanary's part
// of the app the same; other files of the repository (other apps, the
// user's own manifests) may differ.
func ownedDigest(snap git.Snapshot, appPath string) (string, error) {
	dir := path.Join(appPath, overlay.Dir)
	files, err := snap.ReadTree(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, p := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(files[p]))
		h.Write(files[p])
	}
	ref, err := referencesOwnDir(snap, appPath)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "referenced=%v", ref)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// referencesOwnDir reports whether the root kustomization lists gitcanary's
// directory among its components.
func referencesOwnDir(snap git.Snapshot, appPath string) (bool, error) {
	for _, n := range kustomizationNames {
		data, err := snap.ReadFile(path.Join(appPath, n))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, err
		}
		var k struct {
			Components []string `json:"components"`
		}
		if err := yaml.Unmarshal(data, &k); err != nil {
			return false, nil // not ours to judge here: rendering reports it
		}
		return slices.Contains(k.Components, overlay.Dir) || slices.Contains(k.Components, "./"+overlay.Dir), nil
	}
	return false, nil
}

// superseded reports, when a commit after last changed what gitcanary owns
// in the app path (another release, a person editing .gitcanary/), what
// happened; "" when head owns the same as last. The release does not
// fight such a change: it stops.
func (m *Machine) superseded(ctx context.Context, head git.Snapshot, last git.Commit) (string, error) {
	if head.Commit() == last.Hash {
		return "", nil
	}
	at, err := m.deps.Repo.At(ctx, last.Hash)
	if err != nil {
		return "", err
	}
	was, err := ownedDigest(at, m.path)
	if err != nil {
		return "", err
	}
	now, err := ownedDigest(head, m.path)
	if err != nil {
		return "", err
	}
	if was == now {
		return "", nil
	}
	by := m.changedOwnedBy(ctx, head.Commit(), last.Hash)
	return fmt.Sprintf("%s/%s changed after the release's last commit %s%s; the release stops rather than undo it", m.path, overlay.Dir, shortHash(last.Hash), by), nil
}

// changedOwnedBy names the newest commit after last with gitcanary
// trailers for another release of the path, for the message; "" if none.
func (m *Machine) changedOwnedBy(ctx context.Context, head, last string) string {
	cs, err := m.deps.Repo.Log(ctx, head, func(c git.Commit) bool {
		return c.Hash != last && c.Trailer(git.TrailerRelease) != "" && c.Trailer(git.TrailerRelease) != m.name && OfPath(c, m.path)
	}, 1)
	if err != nil || len(cs) == 0 {
		return ""
	}
	if ok, err := m.deps.Repo.Contains(ctx, last, cs[0].Hash); err != nil || !ok {
		return ""
	}
	return fmt.Sprintf(" (release %s, commit %s)", cs[0].Trailer(git.TrailerRelease), shortHash(cs[0].Hash))
}

// OfPath reports whether a gitcanary commit is for the app path. Commits
// from before the Gitcanary-Path trailer have none and match any path.
func OfPath(c git.Commit, appPath string) bool {
	p := c.Trailer(git.TrailerPath)
	return p == "" || path.Clean(p) == path.Clean(appPath)
}

// target builds what Argo CD must have applied for the release's last
// commit: which revisions Argo CD reports carry it (contain it, with what
// gitcanary owns unchanged), and the resources the release owns or changes.
func (m *Machine) target(ctx context.Context, rec *release.Release, st *overlay.State, last git.Commit, app *v1alpha1.Application) (argocd.Target, error) {
	t := argocd.Target{Commit: last.Hash, Carried: map[string]bool{}, Prune: prunes[rec.Status.Phase]}
	var want string
	for _, rev := range argocd.Revisions(app) {
		if rev == last.Hash {
			continue
		}
		ok, err := m.deps.Repo.Contains(ctx, last.Hash, rev)
		if errors.Is(err, git.ErrUnknownCommit) {
			continue // not on the branch: it cannot carry the commit
		}
		if err != nil {
			return t, err
		}
		if ok {
			if want == "" {
				at, err := m.deps.Repo.At(ctx, last.Hash)
				if err != nil {
					return t, err
				}
				if want, err = ownedDigest(at, m.path); err != nil {
					return t, err
				}
			}
			at, err := m.deps.Repo.At(ctx, rev)
			if err != nil {
				return t, err
			}
			got, err := ownedDigest(at, m.path)
			if err != nil {
				return t, err
			}
			ok = got == want
		}
		t.Carried[rev] = ok
	}
	t.Resources = m.resources(rec, st)
	return t, nil
}

// resources lists what the release owns or changes in the app: the new
// workload while it is live, the user's workload while the release adds a
// label to it, and the DestinationRule and VirtualService it routes with.
func (m *Machine) resources(rec *release.Release, st *overlay.State) []argocd.Resource {
	if st == nil {
		return nil
	}
	ns := rec.Spec.Workload.Namespace
	var out []argocd.Resource
	group := overlay.GroupOf(st.Workload.APIVersion)
	if k, ok := m.deps.Kinds.Lookup(group, st.Workload.Kind); ok {
		group = k.Group
	}
	p := rec.Status.Phase
	if !p.Abandoning() && p != release.Abandoned {
		out = append(out, argocd.Resource{Group: group, Kind: st.Workload.Kind, Namespace: ns, Name: rec.Spec.WorkloadName()})
	}
	if st.OriginalLabeled && !p.Abandoning() && p != release.Abandoned {
		out = append(out, argocd.Resource{Group: group, Kind: st.Workload.Kind, Namespace: ns, Name: rec.Spec.Workload.Name})
	}
	if st.Routing.DestinationRule != "" {
		out = append(out, argocd.Resource{Group: "networking.istio.io", Kind: "DestinationRule", Namespace: ns, Name: st.Routing.DestinationRule})
	}
	for _, ref := range st.Routing.AllVirtualServices() {
		vsNS := ns
		if ref.Namespace != "" {
			vsNS = ref.Namespace
		}
		out = append(out, argocd.Resource{Group: "networking.istio.io", Kind: "VirtualService", Namespace: vsNS, Name: ref.Name})
	}
	return out
}
