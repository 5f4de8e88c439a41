package overlay

import (
	"encoding/json"
	"fmt"

	"github.com/gitcanary/gitcanary/pkg/release"
	"sigs.k8s.io/yaml"
)

// InjectAnnotation makes Istio inject its sidecar into the new version's
// pods: as a pod label (what the default webhook selects on when the
// namespace has no injection label) and as an annotation.
const InjectAnnotation = "sidecar.istio.io/inject"

// VersionLabel is the pod label subsets select on.
const VersionLabel = "version"

// Template freezes a workload as rendered into the template of a new
// version: already named as the new version's workload (never after the
// stable one or the app, so that no patch aimed at another object can
// match it, even through kustomize's memory of earlier names), without
// server-side fields, with the label and annotation maps the version
// overlay patches present.
func Template(obj Object, name string, ref WorkloadRef) ([]byte, error) {
	var o Object
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, err
	}
	delete(o, "status")
	meta, err := ensureMap(o, ".metadata")
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "ownerReferences"} {
		delete(meta, k)
	}
	meta["name"] = name
	if _, ok := Lookup(o, ref.PodTemplate).(map[string]any); !ok {
		return nil, fmt.Errorf("%s %s has no pod template at %s", ref.Kind, obj.Name(), ref.PodTemplate)
	}
	if _, ok := Lookup(o, ref.PodTemplate+".metadata.labels").(map[string]any); !ok {
		return nil, fmt.Errorf("%s %s: the pod template at %s has no labels; a version label cannot be added", ref.Kind, obj.Name(), ref.PodTemplate)
	}
	maps := []string{".metadata.labels"}
	if !ref.VM {
		maps = append(maps, ref.PodTemplate+".metadata.annotations")
	}
	if ref.Selector != "" {
		maps = append(maps, ref.Selector)
	}
	for _, p := range maps {
		if _, err := ensureMap(o, p); err != nil {
			return nil, fmt.Errorf("%s %s: %w", ref.Kind, obj.Name(), err)
		}
	}
	return yaml.Marshal(o)
}

type kustomization struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   *kmeta          `json:"metadata,omitempty"`
	Resources  []string        `json:"resources,omitempty"`
	NameSuffix string          `json:"nameSuffix,omitempty"`
	Images     []release.Image `json:"images,omitempty"`
	Patches    []patchRef      `json:"patches,omitempty"`
}

// kmeta names a component; kustomize refuses a kustomization with no fields.
type kmeta struct {
	Name string `json:"name"`
}

type patchRef struct {
	Path   string  `json:"path,omitempty"`
	Patch  string  `json:"patch,omitempty"`
	Target *target `json:"target,omitempty"`
}

type target struct {
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// versionKustomization is the overlay that turns the template into the
// version's workload: version labels on the object, selector and pod
// template, the sidecar-injection annotation, and the new images. A
// template named after the app (written before templates carried their
// final name) also gets the name suffix.
func versionKustomization(ref WorkloadRef, app string, v Version, tmpl []byte) ([]byte, error) {
	ops := []jsonPatch{{Op: "add", Path: pointer(".metadata.labels", VersionLabel), Value: v.Version}}
	if ref.Selector != "" {
		ops = append(ops, jsonPatch{Op: "add", Path: pointer(ref.Selector, VersionLabel), Value: v.Version})
	}
	ops = append(ops, jsonPatch{Op: "add", Path: pointer(ref.PodTemplate+".metadata.labels", VersionLabel), Value: v.Version})
	if !ref.VM && !v.NamespaceInjects {
		// The label is what Istio's webhook selects pods by in a namespace
		// without an injection label; the annotation is what older Istio
		// and the injector itself read.
		ops = append(ops,
			jsonPatch{Op: "add", Path: pointer(ref.PodTemplate+".metadata.labels", InjectAnnotation), Value: "true"},
			jsonPatch{Op: "add", Path: pointer(ref.PodTemplate+".metadata.annotations", InjectAnnotation), Value: "true"})
	}
	patch, err := yaml.Marshal(ops)
	if err != nil {
		return nil, err
	}
	var named struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(tmpl, &named); err != nil {
		return nil, fmt.Errorf("template of %s: %w", v.Version, err)
	}
	k := kustomization{
		APIVersion: "kustomize.config.k8s.io/v1beta1",
		Kind:       "Kustomization",
		Resources:  []string{TemplateFile},
		Images:     v.Images,
		Patches: []patchRef{{
			Patch:  string(patch),
			Target: &target{Group: GroupOf(ref.APIVersion), Kind: ref.Kind, Name: named.Metadata.Name},
		}},
	}
	if named.Metadata.Name != v.Workload {
		k.NameSuffix = "-" + v.Version
		k.Patches[0].Target.Name = app
	}
	return yaml.Marshal(k)
}

// retirePatch deletes an object of the user's from the render after a promote.
func retirePatch(apiVersion, kind, name string) ([]byte, error) {
	return yaml.Marshal(map[string]any{
		"$patch":     "delete",
		"apiVersion": apiVersion,
		"kind":       kind,
		"metadata":   map[string]any{"name": name},
	})
}

// HealthChecksAnnotation on a WorkloadEntry lets istiod record the health
// its VM's agent reports.
const HealthChecksAnnotation = "proxy.istio.io/health-checks-enabled"

// EntryKind is the kind of a VM version's members.
const EntryKind = "WorkloadEntry"

// entries renders one WorkloadEntry per address of a VM version: the
// group's entry template (.spec.template: ports, serviceAccount, network…)
// with the address and the group's labels plus the version label. They are
// named <app>-<version>-<n>, n counting from 1 in the order given.
func entries(ref WorkloadRef, app string, v Version, tmpl []byte) ([]byte, error) {
	var group Object
	if err := yaml.Unmarshal(tmpl, &group); err != nil {
		return nil, fmt.Errorf("template of %s: %w", v.Version, err)
	}
	labels := map[string]any{}
	if m, ok := Lookup(group, ".spec.metadata.labels").(map[string]any); ok {
		for k, val := range m {
			labels[k] = val
		}
	}
	labels[VersionLabel] = v.Version
	// As Istio's auto-registration does: the group's annotations, and,
	// when the group has a probe, the one that lets istiod take the
	// health its VMs' agents report for an entry it did not create
	// (pilot/pkg/autoregistration: health.IsEligibleForHealthStatusUpdates).
	annotations := map[string]any{}
	if m, ok := Lookup(group, ".spec.metadata.annotations").(map[string]any); ok {
		for k, val := range m {
			annotations[k] = val
		}
	}
	if Lookup(group, ".spec.probe") != nil {
		annotations[HealthChecksAnnotation] = "true"
	}
	var docs []byte
	for i, addr := range v.Addresses {
		spec := map[string]any{}
		if m, ok := Lookup(group, ".spec.template").(map[string]any); ok {
			for k, val := range m {
				spec[k] = val
			}
		}
		spec["address"] = addr
		spec["labels"] = labels
		meta := map[string]any{"name": fmt.Sprintf("%s-%s-%d", app, v.Version, i+1), "labels": labels}
		if ns := Object(group).Namespace(); ns != "" {
			meta["namespace"] = ns
		}
		if len(annotations) > 0 {
			meta["annotations"] = annotations
		}
		doc, err := yaml.Marshal(map[string]any{"apiVersion": ref.APIVersion, "kind": EntryKind, "metadata": meta, "spec": spec})
		if err != nil {
			return nil, err
		}
		if i > 0 {
			docs = append(docs, "---\n"...)
		}
		docs = append(docs, doc...)
	}
	return docs, nil
}

// labelPatch adds the version label to the user's pod template (not to its
// selector, which may be immutable): a normal rolling update.
func labelPatch(ref WorkloadRef, version string) ([]byte, error) {
	return yaml.Marshal([]jsonPatch{{Op: "add", Path: pointer(ref.PodTemplate+".metadata.labels", VersionLabel), Value: version}})
}
