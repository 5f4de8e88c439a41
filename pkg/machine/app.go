package machine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/release"
	"sigs.k8s.io/yaml"
)

// App is one app path at one commit: the repository's files and
// gitcanary's state in them. It is a value to compute on; nothing here
// writes to git.
//
// An App read from git (LoadApp) holds in Files only the root
// kustomization and gitcanary's directory; a render reads the other files
// it needs from the commit when it needs them (app_source.go), so a step
// costs the same in a repository of ten files or of ten thousand.
type App struct {
	Commit string
	Path   string
	// Files holds, by path, the files in memory: the root kustomization,
	// every file of gitcanary's directory and the edits of Apply, over the
	// commit's other files (all of the repository for an App from NewApp).
	// Shared with git's cache, never modified.
	Files map[string][]byte
	State *overlay.State // nil when gitcanary has not adopted the app

	snap git.Snapshot // the commit; nil when Files is the whole repository
	gone []string     // paths Apply deleted: not read from snap
}

// LoadApp reads a snapshot into an App: the root kustomization and
// gitcanary's directory, nothing else.
func LoadApp(snap git.Snapshot, appPath string) (*App, error) {
	a := &App{Commit: snap.Commit(), Path: path.Clean(appPath), snap: snap, Files: map[string][]byte{}}
	if !fs.ValidPath(a.Path) {
		return a.init() // not in the repository: init says so
	}
	files, err := snap.ReadTree(a.dir())
	if err != nil {
		return nil, inputErr(err)
	}
	for _, n := range kustomizationNames {
		data, err := snap.ReadFile(path.Join(a.Path, n))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, inputErr(err)
		}
		files[path.Join(a.Path, n)] = data
	}
	a.Files = files
	return a.init()
}

// NewApp wraps repository files: every file of the repository, by path.
func NewApp(commit, appPath string, files map[string][]byte) (*App, error) {
	return (&App{Commit: commit, Path: path.Clean(appPath), Files: files}).init()
}

func (a *App) init() (*App, error) {
	if _, err := a.rootKustomization(); err != nil {
		return nil, err
	}
	if data, ok := a.Files[a.dir(overlay.StateFile)]; ok {
		var st overlay.State
		if err := yaml.UnmarshalStrict(data, &st); err != nil {
			return nil, fmt.Errorf("%s: %s; gitcanary writes this file: restore it from the commit that last changed it (git log -p -- %s): %w",
				a.dir(overlay.StateFile), cleanDecodeError(err), a.dir(overlay.StateFile), ErrBadFile)
		}
		a.State = &st
	}
	return a, nil
}

// cleanDecodeError drops the decoder's layers from a YAML error:
// "error unmarshaling JSON: while decoding JSON: json: unknown field "x"".
func cleanDecodeError(err error) string {
	msg := err.Error()
	for _, p := range []string{"error converting YAML to JSON: ", "error unmarshaling JSON: ", "while decoding JSON: ", "json: ", "yaml: "} {
		msg = strings.ReplaceAll(msg, p, "")
	}
	return msg
}

func (a *App) dir(elem ...string) string {
	return path.Join(append([]string{a.Path, overlay.Dir}, elem...)...)
}

// RecordPath is where a release's record lives.
func (a *App) RecordPath(name string) string { return a.dir(overlay.ReleasesDir, name+".yaml") }

// Record reads a release's record; nil, nil when there is none.
func (a *App) Record(name string) (*release.Release, error) {
	data, ok := a.Files[a.RecordPath(name)]
	if !ok {
		return nil, nil
	}
	r, err := release.Parse(data)
	if err == nil {
		err = release.CheckRecord(r)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a.RecordPath(name), err)
	}
	return r, nil
}

// kept reports whether a file of gitcanary's directory outlives the state
// it renders: release records and analysis evidence are history.
func (a *App) kept(p string) bool {
	return strings.HasPrefix(p, a.dir(overlay.ReleasesDir)+"/") || strings.HasPrefix(p, a.dir("analysis")+"/")
}

// Records lists the names of every release recorded in the app.
func (a *App) Records() []string {
	var names []string
	prefix := a.dir(overlay.ReleasesDir) + "/"
	for p := range a.Files {
		if rest, ok := strings.CutPrefix(p, prefix); ok && strings.HasSuffix(rest, ".yaml") && !strings.Contains(rest, "/") {
			names = append(names, strings.TrimSuffix(rest, ".yaml"))
		}
	}
	slices.Sort(names)
	return names
}

var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

func (a *App) rootKustomization() (string, error) {
	for _, n := range kustomizationNames {
		p := path.Join(a.Path, n)
		if data, ok := a.Files[p]; ok {
			var doc any
			if err := yaml.Unmarshal(data, &doc); err == nil {
				if _, isMap := doc.(map[string]any); !isMap && doc != nil {
					return "", fmt.Errorf("%s: a kustomization is a YAML map (resources:, components: …), this file is %s: %w", p, yamlKind(doc), ErrBadFile)
				}
			}
			return p, nil
		}
	}
	if e, err := a.source(nil).Stat(a.Path); err == nil && e.Dir {
		return "", fmt.Errorf("%s has no kustomization.yaml: gitcanary needs the Argo CD Application's source path to be a kustomization: %w", a.Path, ErrBadFile)
	}
	return "", fmt.Errorf("%s: no such directory in the repository at %s (check spec.repo.path): %w", a.Path, shortHash(a.Commit), ErrBadFile)
}

func yamlKind(v any) string {
	switch v.(type) {
	case []any:
		return "a list"
	case string:
		return "a string"
	}
	return "a scalar"
}

// Build renders the app path as Argo CD would, with files overriding or
// adding to the repository's (a nil value deletes).
func (a *App) Build(ctx context.Context, b kustomize.Builder, override map[string][]byte) ([]byte, error) {
	r, err := b.Render(ctx, a.source(override), a.Path)
	return r.YAML, err
}

// Closure returns the files the app path's render reads (its
// kustomization closure, in the app path and outside it), by path.
func (a *App) Closure(ctx context.Context, b kustomize.Builder) (map[string][]byte, error) {
	r, err := b.Render(ctx, a.source(nil), a.Path)
	if err != nil {
		return nil, err
	}
	src := a.source(nil)
	files := make(map[string][]byte, len(r.Files))
	for _, p := range r.Files {
		if files[p], err = src.ReadFile(p); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// emptyComponent renders to nothing; swapping it in shows the user's own manifests.
var emptyComponent = []byte("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nmetadata:\n  name: gitcanary\n")

// BaseObjects renders the user's own manifests, without gitcanary's component.
func (a *App) BaseObjects(ctx context.Context, b kustomize.Builder) ([]overlay.Object, error) {
	override := map[string][]byte{}
	if _, ok := a.Files[a.dir(overlay.KustomizationFile)]; ok {
		override[a.dir(overlay.KustomizationFile)] = emptyComponent
	}
	out, err := a.Build(ctx, b, override)
	if err != nil {
		return nil, err
	}
	return overlay.ParseObjects(out)
}

// Base finds the user's DestinationRule and VirtualServices named in the state.
func (a *App) Base(objs []overlay.Object, r overlay.Routing) (overlay.Base, error) {
	dr := overlay.Find(objs, "DestinationRule", r.DestinationRule)
	if len(dr) != 1 {
		return overlay.Base{}, fmt.Errorf("DestinationRule %s not found in %s; run `gitcanary lint`", r.DestinationRule, a.Path)
	}
	base := overlay.Base{DestinationRule: dr[0]}
	for _, ref := range r.AllVirtualServices() {
		var found []overlay.Object
		for _, o := range overlay.Find(objs, "VirtualService", ref.Name) {
			if ref.Namespace == "" || o.Namespace() == ref.Namespace {
				found = append(found, o)
			}
		}
		if len(found) != 1 {
			return overlay.Base{}, fmt.Errorf("VirtualService %s not found in %s; run `gitcanary lint`", strings.TrimPrefix(ref.Namespace+"/"+ref.Name, "/"), a.Path)
		}
		base.VirtualServices = append(base.VirtualServices, found[0])
	}
	return base, nil
}

// Templates reads the frozen templates of the managed versions.
func (a *App) Templates(st *overlay.State) map[string][]byte {
	t := map[string][]byte{}
	for _, v := range st.Versions {
		if data, ok := a.Files[a.dir(overlay.VersionsDir, v.Version, overlay.TemplateFile)]; ok {
			t[v.Version] = data
		}
	}
	return t
}

// Change computes the git change that puts state st (and the given extra
// templates and records) into the app: the component files, the reference
// from the root kustomization, and deletion of component files the state
// no longer needs. Release records are only ever added or updated.
func (a *App) Change(ctx context.Context, b kustomize.Builder, st *overlay.State, templates map[string][]byte, records map[string][]byte) (git.Change, error) {
	objs, err := a.BaseObjects(ctx, b)
	if err != nil {
		return git.Change{}, err
	}
	base, err := a.Base(objs, st.Routing)
	if err != nil {
		return git.Change{}, err
	}
	all := a.Templates(st)
	maps.Copy(all, templates)
	rendered, err := overlay.Render(st, base, appName(st), all)
	if err != nil {
		return git.Change{}, err
	}
	want := map[string][]byte{}
	for p, data := range rendered {
		want[a.dir(p)] = data
	}
	maps.Copy(want, records)
	root, err := a.rootKustomization()
	if err != nil {
		return git.Change{}, err
	}
	rootData, err := withComponent(a.Files[root])
	if err != nil {
		return git.Change{}, fmt.Errorf("%s: %w", root, err)
	}
	want[root] = rootData
	ch := git.Change{Write: map[string][]byte{}}
	for p, data := range want {
		if old, ok := a.Files[p]; !ok || string(old) != string(data) {
			ch.Write[p] = data
		}
	}
	for p := range a.Files {
		if strings.HasPrefix(p, a.dir()+"/") && !a.kept(p) && want[p] == nil {
			ch.Delete = append(ch.Delete, p)
		}
	}
	slices.Sort(ch.Delete)
	return ch, nil
}

// appName is the base name versions are suffixed to: the managed
// workloads' names minus their version.
func appName(st *overlay.State) string {
	for _, v := range st.Versions {
		if v.Managed {
			return strings.TrimSuffix(v.Workload, "-"+v.Version)
		}
	}
	return ""
}

// Apply returns the app with a change applied, to render what it would become.
func (a *App) Apply(ch git.Change) (*App, error) {
	files := maps.Clone(a.Files)
	for _, p := range ch.Delete {
		delete(files, p)
		for q := range files {
			if strings.HasPrefix(q, p+"/") {
				delete(files, q)
			}
		}
	}
	maps.Copy(files, ch.Write)
	b := &App{Commit: a.Commit, Path: a.Path, Files: files, snap: a.snap}
	if a.snap != nil {
		b.gone = append(slices.Clip(a.gone), ch.Delete...)
	}
	return b.init()
}
