package overlay

import (
	"fmt"
	"path"
	"strings"

	"sigs.k8s.io/yaml"
)

// Render returns every file of Dir for a state (paths relative to Dir),
// except the release records. templates holds each managed version's
// frozen workload template by version. The output depends on its inputs
// only, so rendering the state from before a release reproduces the
// component byte for byte.
func Render(st *State, base Base, app string, templates map[string][]byte) (map[string][]byte, error) {
	stateYAML, err := yaml.Marshal(st)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{StateFile: stateYAML}
	comp := kustomization{APIVersion: "kustomize.config.k8s.io/v1alpha1", Kind: "Component", Metadata: &kmeta{Name: "gitcanary"}}
	if st.Pristine() {
		files[KustomizationFile], err = yaml.Marshal(comp)
		return files, err
	}
	if err := st.Check(); err != nil {
		return nil, fmt.Errorf("inconsistent state: %w", err)
	}
	for _, v := range st.Versions {
		if !v.Managed {
			continue
		}
		dir := path.Join(VersionsDir, v.Version)
		tmpl, ok := templates[v.Version]
		if !ok {
			return nil, fmt.Errorf("version %s has no template %s", v.Version, path.Join(Dir, dir, TemplateFile))
		}
		k, err := versionKustomization(st.Workload, app, v, tmpl)
		if err != nil {
			return nil, err
		}
		files[path.Join(dir, KustomizationFile)] = k
		files[path.Join(dir, TemplateFile)] = tmpl
		comp.Resources = append(comp.Resources, dir)
		if st.Workload.VM && len(v.Addresses) > 0 {
			// Beside the overlay, not in it: its name suffix is the group's.
			data, err := entries(st.Workload, app, v, tmpl)
			if err != nil {
				return nil, err
			}
			files[path.Join(dir, EntriesFile)] = data
			comp.Resources = append(comp.Resources, path.Join(dir, EntriesFile))
		}
	}
	if len(st.Routing.Aliases) > 0 {
		data, err := aliasEntries(st, app, base.VirtualServices[0])
		if err != nil {
			return nil, err
		}
		files[AliasesFile] = data
		comp.Resources = append(comp.Resources, AliasesFile)
	}
	add := func(name string, data []byte, t *target) {
		p := path.Join(PatchesDir, name)
		files[p] = data
		comp.Patches = append(comp.Patches, patchRef{Path: p, Target: t})
	}
	drOps, err := destinationRulePatch(st, base.DestinationRule)
	if err != nil {
		return nil, err
	}
	data, err := yaml.Marshal(drOps)
	if err != nil {
		return nil, err
	}
	dr := base.DestinationRule
	add("destinationrule.yaml", data, &target{Group: dr.Group(), Kind: dr.Kind(), Name: dr.Name()})
	refs := st.Routing.AllVirtualServices()
	if len(base.VirtualServices) != len(refs) {
		return nil, fmt.Errorf("%d VirtualServices given for %d managed", len(base.VirtualServices), len(refs))
	}
	for i, vs := range base.VirtualServices {
		ops, err := virtualServicePatch(st, vs, i == 0)
		if err != nil {
			return nil, err
		}
		data, err := yaml.Marshal(ops)
		if err != nil {
			return nil, err
		}
		file := "virtualservice.yaml"
		if i > 0 {
			file = "virtualservice-" + strings.Trim(refs[i].Namespace+"-"+refs[i].Name, "-") + ".yaml"
		}
		add(file, data, &target{Group: vs.Group(), Kind: vs.Kind(), Name: vs.Name(), Namespace: refs[i].Namespace})
	}
	w := st.Workload
	wt := &target{Group: GroupOf(w.APIVersion), Kind: w.Kind, Name: w.Name}
	switch {
	case st.OriginalRetired:
		data, err := retirePatch(w.APIVersion, w.Kind, w.Name)
		if err != nil {
			return nil, err
		}
		add("retire-"+w.Name+".yaml", data, wt)
		for _, e := range w.Entries {
			data, err := retirePatch(w.APIVersion, EntryKind, e)
			if err != nil {
				return nil, err
			}
			add("retire-"+e+".yaml", data, &target{Group: wt.Group, Kind: EntryKind, Name: e})
		}
	case st.OriginalLabeled:
		data, err := labelPatch(w, st.OriginalVersion)
		if err != nil {
			return nil, err
		}
		add("label-"+w.Name+".yaml", data, wt)
	}
	files[KustomizationFile], err = yaml.Marshal(comp)
	return files, err
}
