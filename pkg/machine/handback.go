package machine

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"slices"
	"strings"

	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/yamledit"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// handBack computes the change that ends a release with the app path a
// plain kustomization again, its user's files describing exactly what
// runs (docs/git-layout.md):
//
//   - after a promote, the stable workload's document becomes the new
//     version (name, version labels, sidecar injection, images), the
//     DestinationRule keeps the live subsets and every managed route of the
//     VirtualService sends all to the new subset, each edited in place;
//   - after an abandon, the user's files are left as they are (the release
//     never edited them);
//   - the root kustomization loses its reference to the component, and
//     every file of the component but the release records is deleted.
//
// The change must render exactly the objects the app renders now (the
// state being handed back), or it is refused with the reason: Argo CD has
// nothing to apply for it, and a hand-back that would change what runs
// (a user's edit to the stable workload during the release, a root
// kustomization that transforms the workload, a file outside the app
// path) is no hand-back. The caller then keeps the component.
func (a *App) handBack(ctx context.Context, b kustomize.Builder, st *overlay.State) (git.Change, error) {
	if len(st.Routing.Aliases) > 0 {
		return git.Change{}, fmt.Errorf("the aliases' ServiceEntries live only in the component")
	}
	if st.Workload.VM && !st.Pristine() {
		return git.Change{}, fmt.Errorf("a VM version's WorkloadEntries live only in the component")
	}
	before, err := a.Build(ctx, b, nil)
	if err != nil {
		return git.Change{}, err
	}
	full, err := overlay.ParseObjects(before)
	if err != nil {
		return git.Change{}, err
	}
	base, err := a.BaseObjects(ctx, b)
	if err != nil {
		return git.Change{}, err
	}
	user, err := a.Closure(ctx, b)
	if err != nil {
		return git.Change{}, err
	}
	e := &editor{app: a, user: user, files: map[string]*yamledit.File{}}
	switch {
	case st.Pristine():
		// Abandoned on an app gitcanary had not changed: nothing to edit.
	case len(st.Versions) == 1 && st.Versions[0].Managed && st.OriginalRetired:
		if err := e.workload(st, base, full); err != nil {
			return git.Change{}, err
		}
		if err := e.routing("DestinationRule", st.Routing.DestinationRule, base, full); err != nil {
			return git.Change{}, err
		}
		for _, ref := range st.Routing.AllVirtualServices() {
			if err := e.routing("VirtualService", ref.Name, base, full); err != nil {
				return git.Change{}, err
			}
		}
	default:
		return git.Change{}, fmt.Errorf("the app was managed by gitcanary before this release")
	}
	ch := git.Change{Write: map[string][]byte{}}
	for p, f := range e.files {
		data, err := f.Bytes()
		if err != nil {
			return git.Change{}, fmt.Errorf("%s: %w", p, err)
		}
		ch.Write[p] = data
	}
	root, err := a.rootKustomization()
	if err != nil {
		return git.Change{}, err
	}
	if ch.Write[root], err = withoutComponent(a.Files[root]); err != nil {
		return git.Change{}, fmt.Errorf("%s: %w", root, err)
	}
	for p := range a.Files {
		if strings.HasPrefix(p, a.dir()+"/") && !a.kept(p) {
			ch.Delete = append(ch.Delete, p)
		}
	}
	slices.Sort(ch.Delete)
	after, err := a.Apply(ch)
	if err != nil {
		return git.Change{}, err
	}
	rendered, err := after.Build(ctx, b, nil)
	if err != nil {
		return git.Change{}, fmt.Errorf("the handed-back app does not render: %w", err)
	}
	if err := sameObjects(full, rendered); err != nil {
		return git.Change{}, err
	}
	return ch, nil
}

// editor collects in-place edits of the user's files.
type editor struct {
	app   *App
	user  map[string][]byte // the files the app's render reads, by path
	files map[string]*yamledit.File
}

// find returns the one document of the app path's files that the render
// reads (gitcanary's directory left out) that declares kind/name, parsed
// for editing.
func (e *editor) find(kind, name string) (*yamledit.File, *kyaml.Node, error) {
	var hits []string
	var file *yamledit.File
	var doc *kyaml.Node
	for p, data := range e.user {
		if !strings.HasPrefix(p, e.app.Path+"/") || strings.HasPrefix(p, e.app.dir()+"/") || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			continue
		}
		if !strings.Contains(string(data), name) {
			continue
		}
		f, ok := e.files[p]
		if !ok {
			var err error
			if f, err = yamledit.Parse(data); err != nil {
				continue // not ours to judge: kustomize read what it renders
			}
		}
		for _, d := range f.Find(kind, name) {
			hits = append(hits, p)
			file, doc = f, d
			e.files[p] = f
		}
	}
	switch len(hits) {
	case 0:
		return nil, nil, fmt.Errorf("%s %s is not declared in a file of %s", kind, name, e.app.Path)
	case 1:
		return file, doc, nil
	}
	slices.Sort(hits)
	return nil, nil, fmt.Errorf("%s %s is declared more than once (%s)", kind, name, strings.Join(hits, ", "))
}

// workload turns the stable workload's document into the new version's:
// the name, and every label, annotation and image that the version's
// render has and the stable's render has not.
func (e *editor) workload(st *overlay.State, base, full []overlay.Object) error {
	ref, v := st.Workload, st.Versions[0]
	f, doc, err := e.find(ref.Kind, ref.Name)
	if err != nil {
		return err
	}
	old := overlay.Find(base, ref.Kind, ref.Name)
	now := overlay.Find(full, ref.Kind, v.Workload)
	if len(old) != 1 || len(now) != 1 {
		return fmt.Errorf("%s %s and %s are not each rendered once", ref.Kind, ref.Name, v.Workload)
	}
	if err := f.SetScalar(yamledit.Get(doc, "metadata", "name"), v.Workload); err != nil {
		return err
	}
	maps := []string{".metadata.labels", ref.PodTemplate + ".metadata.labels", ref.PodTemplate + ".metadata.annotations"}
	if ref.Selector != "" {
		maps = append(maps, ref.Selector)
	}
	for _, p := range maps {
		if err := setMap(f, doc, p, old[0], now[0]); err != nil {
			return fmt.Errorf("%s %s %s: %w", ref.Kind, ref.Name, p, err)
		}
	}
	for _, list := range []string{"containers", "initContainers"} {
		oc, _ := overlay.Lookup(old[0], ref.PodTemplate+".spec."+list).([]any)
		nc, _ := overlay.Lookup(now[0], ref.PodTemplate+".spec."+list).([]any)
		src := yamledit.Get(doc, append(overlay.PathFields(ref.PodTemplate), "spec", list)...)
		for i := range nc {
			if i >= len(oc) || src == nil || i >= len(src.Content) {
				return fmt.Errorf("%s %s: %s differ in number", ref.Kind, ref.Name, list)
			}
			oi, _ := oc[i].(map[string]any)["image"].(string)
			ni, _ := nc[i].(map[string]any)["image"].(string)
			if oi == ni {
				continue
			}
			img := yamledit.Get(src.Content[i], "image")
			if img == nil {
				return fmt.Errorf("%s %s: %s[%d] has no image of its own", ref.Kind, ref.Name, list, i)
			}
			if err := f.SetScalar(img, ni); err != nil {
				return err
			}
		}
	}
	return nil
}

// setMap writes into the document's map at p the entries the new render
// has that the old one lacks or has otherwise.
func setMap(f *yamledit.File, doc *kyaml.Node, p string, old, now overlay.Object) error {
	om, _ := overlay.Lookup(old, p).(map[string]any)
	nm, _ := overlay.Lookup(now, p).(map[string]any)
	for k := range om {
		if _, ok := nm[k]; !ok {
			return fmt.Errorf("the new version lacks %s", k)
		}
	}
	var keys []string
	for k, v := range nm {
		if om[k] != v {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	at := overlay.PathFields(p)
	node := yamledit.Get(doc, at...)
	if node == nil || len(node.Content) == 0 {
		parent := yamledit.Get(doc, at[:len(at)-1]...)
		if parent == nil {
			return fmt.Errorf("no %s to add it under", strings.Join(at[:len(at)-1], "."))
		}
		add := map[string]any{}
		for _, k := range keys {
			add[k] = nm[k]
		}
		if node != nil {
			return f.Replace(node, add)
		}
		return f.SetEntry(parent, at[len(at)-1], add)
	}
	for _, k := range keys {
		s, ok := nm[k].(string)
		if !ok {
			return fmt.Errorf("%s is not a string", k)
		}
		if err := f.SetEntry(node, k, s); err != nil {
			return err
		}
	}
	return nil
}

// routing edits a DestinationRule or VirtualService of the user's so that
// it renders as the component made it render: the lists the component
// rewrites (subsets; the routes, hosts and gateways) are written where
// they differ.
func (e *editor) routing(kind, name string, base, full []overlay.Object) error {
	old := overlay.Find(base, kind, name)
	now := overlay.Find(full, kind, name)
	if len(old) != 1 || len(now) != 1 {
		return fmt.Errorf("%s %s is not rendered once", kind, name)
	}
	if reflect.DeepEqual(old[0], now[0]) {
		return nil
	}
	f, doc, err := e.find(kind, name)
	if err != nil {
		return err
	}
	spec := yamledit.Get(doc, "spec")
	if kind == "DestinationRule" {
		return setSubsets(f, spec, old[0], now[0])
	}
	for _, list := range []string{"http", "tcp", "tls"} {
		ol, _ := overlay.Lookup(old[0], ".spec."+list).([]any)
		nl, _ := overlay.Lookup(now[0], ".spec."+list).([]any)
		src := yamledit.Get(spec, list)
		for i := range nl {
			if i >= len(ol) || src == nil || i >= len(src.Content) {
				return fmt.Errorf("VirtualService %s: spec.%s differs in length", name, list)
			}
			or, nr := ol[i].(map[string]any)["route"], nl[i].(map[string]any)["route"]
			if reflect.DeepEqual(or, nr) {
				continue
			}
			if err := f.Replace(yamledit.Get(src.Content[i], "route"), nr); err != nil {
				return err
			}
		}
	}
	for _, field := range []string{"hosts", "gateways"} {
		ov, nv := overlay.Lookup(old[0], ".spec."+field), overlay.Lookup(now[0], ".spec."+field)
		if reflect.DeepEqual(ov, nv) {
			continue
		}
		if node := yamledit.Get(spec, field); node != nil {
			if err := f.Replace(node, nv); err != nil {
				return err
			}
		} else if err := f.SetEntry(spec, field, nv); err != nil {
			return err
		}
	}
	return nil
}

// setSubsets removes the subsets the component removed and appends the
// ones it added, leaving the others' text alone.
func setSubsets(f *yamledit.File, spec *kyaml.Node, old, now overlay.Object) error {
	named := func(o overlay.Object) map[string]any {
		out := map[string]any{}
		l, _ := overlay.Lookup(o, ".spec.subsets").([]any)
		for _, s := range l {
			out[s.(map[string]any)["name"].(string)] = s
		}
		return out
	}
	om, nm := named(old), named(now)
	src := yamledit.Get(spec, "subsets")
	var added []any
	l, _ := overlay.Lookup(now, ".spec.subsets").([]any)
	for _, s := range l {
		if _, ok := om[s.(map[string]any)["name"].(string)]; !ok {
			added = append(added, s)
		}
	}
	if src == nil || len(src.Content) == 0 {
		if src != nil {
			return f.Replace(src, added)
		}
		return f.SetEntry(spec, "subsets", added)
	}
	var gone []int
	for i, item := range src.Content {
		name := yamledit.Get(item, "name")
		if name == nil {
			return fmt.Errorf("subset %d has no name", i)
		}
		if _, ok := nm[name.Value]; !ok {
			gone = append(gone, i)
		}
	}
	if len(gone) == len(src.Content) && len(added) > 0 {
		// Every item goes: one block replaces them all.
		return f.Replace(src, added)
	}
	for _, i := range gone {
		if err := f.DeleteItem(src, i); err != nil {
			return err
		}
	}
	for _, s := range added {
		if err := f.Append(src, s); err != nil {
			return err
		}
	}
	return nil
}

// sameObjects reports the first object that two renders do not agree on.
func sameObjects(want []overlay.Object, rendered []byte) error {
	got, err := overlay.ParseObjects(rendered)
	if err != nil {
		return err
	}
	key := func(o overlay.Object) string {
		return o.APIVersion() + " " + o.Kind() + " " + o.Namespace() + "/" + o.Name()
	}
	index := map[string]string{}
	for _, o := range got {
		data, _ := json.Marshal(o)
		index[key(o)] = string(data)
	}
	for _, o := range want {
		data, _ := json.Marshal(o)
		g, ok := index[key(o)]
		if !ok {
			return fmt.Errorf("the handed-back app would not render %s %s", o.Kind(), o.Name())
		}
		if g != string(data) {
			return fmt.Errorf("the handed-back app would render %s %s differently (was it edited during the release, or does the root kustomization transform it?)", o.Kind(), o.Name())
		}
		delete(index, key(o))
	}
	for k := range index {
		return fmt.Errorf("the handed-back app would render %s in addition", k)
	}
	return nil
}

// withComponent adds gitcanary's component to a kustomization.
func withComponent(data []byte) ([]byte, error) {
	return withListEntry(data, "components", overlay.Dir)
}

// withoutComponent removes gitcanary's component from a kustomization.
func withoutComponent(data []byte) ([]byte, error) {
	return withoutListEntry(data, "components", overlay.Dir)
}

// withListEntry adds entry to a list of a kustomization (components,
// resources), editing the text in place: withoutListEntry gives back the
// same bytes.
func withListEntry(data []byte, field, entry string) ([]byte, error) {
	f, doc, err := rootDoc(data)
	if err != nil {
		return nil, err
	}
	list := yamledit.Get(doc, field)
	switch {
	case list == nil:
		err = f.SetEntry(doc, field, []string{entry})
	case entryIndex(list, entry) >= 0:
		return data, nil
	case list.Kind == kyaml.SequenceNode && list.Style&kyaml.FlowStyle == 0 && len(list.Content) > 0:
		err = f.Append(list, entry)
	default:
		var items []string
		for _, n := range list.Content {
			items = append(items, n.Value)
		}
		err = f.Replace(list, append(items, entry))
	}
	if err != nil {
		return nil, err
	}
	return f.Bytes()
}

// withoutListEntry removes entry from a list of a kustomization, and the
// list when it was the only entry.
func withoutListEntry(data []byte, field, entry string) ([]byte, error) {
	f, doc, err := rootDoc(data)
	if err != nil {
		return nil, err
	}
	list := yamledit.Get(doc, field)
	i := -1
	if list != nil {
		i = entryIndex(list, entry)
	}
	switch {
	case i < 0:
		return data, nil
	case len(list.Content) == 1:
		err = f.DeleteEntry(doc, field)
	case list.Style&kyaml.FlowStyle == 0:
		err = f.DeleteItem(list, i)
	default:
		var items []string
		for j, n := range list.Content {
			if j != i {
				items = append(items, n.Value)
			}
		}
		err = f.Replace(list, items)
	}
	if err != nil {
		return nil, err
	}
	return f.Bytes()
}

func rootDoc(data []byte) (*yamledit.File, *kyaml.Node, error) {
	f, err := yamledit.Parse(data)
	if err != nil {
		return nil, nil, err
	}
	docs := f.Docs()
	if len(docs) != 1 {
		return nil, nil, fmt.Errorf("a kustomization is one YAML map")
	}
	return f, docs[0], nil
}

func entryIndex(list *kyaml.Node, entry string) int {
	for i, n := range list.Content {
		if path.Clean(n.Value) == path.Clean(entry) {
			return i
		}
	}
	return -1
}
