package machine

import (
	"context"
	"fmt"
	"strings"

	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// prepare is the release's first commit: adopt the app if gitcanary has
// never managed it, then add the new version's workload and subset, with
// no route yet (make-before-break).
func (m *Machine) prepare(ctx context.Context, spec release.Spec) mutation {
	return func(d *draft) error {
		full, err := d.app.Build(ctx, m.deps.Builder, nil)
		if err != nil {
			return err
		}
		objs, err := overlay.ParseObjects(full)
		if err != nil {
			return err
		}
		stableObj, kind, err := m.findWorkload(objs, spec.Workload, d.app.Path)
		if err != nil {
			return err
		}
		ref := overlay.WorkloadRef{APIVersion: stableObj.APIVersion(), Kind: kind.Kind, Name: stableObj.Name(), PodTemplate: kind.PodTemplate, Selector: kind.Selector}
		label, _ := overlay.Lookup(stableObj, kind.PodTemplate+".metadata.labels."+overlay.VersionLabel).(string)
		labelOriginal := false
		if d.state == nil {
			if err := checkRootTransformers(d.app); err != nil {
				return err
			}
			base, err := d.app.BaseObjects(ctx, m.deps.Builder)
			if err != nil {
				return err
			}
			routing, err := findRouting(base, spec.Traffic, d.app.Path)
			if err != nil {
				return err
			}
			original := label
			switch {
			case label == "" && spec.StableVersion == "":
				return fmt.Errorf("%s %s has no %q label on its pod template: set spec.stableVersion to name its subset (gitcanary then adds the label, a normal rolling update): %w",
					kind.Kind, ref.Name, overlay.VersionLabel, release.ErrInvalid)
			case label == "":
				original, labelOriginal = spec.StableVersion, true
			case spec.StableVersion != "" && spec.StableVersion != label:
				return fmt.Errorf("spec.stableVersion is %q but %s %s is labelled version %q: %w", spec.StableVersion, kind.Kind, ref.Name, label, release.ErrInvalid)
			}
			d.state = overlay.Adopt(ref, original, routing)
		}
		if err := d.state.Begin(m.name, spec, labelOriginal); err != nil {
			return fmt.Errorf("%w: %w", err, ErrRefused)
		}
		stable, _ := d.state.Stable()
		tmpl, err := overlay.Template(stableObj, spec.AppName(), ref)
		if err != nil {
			return err
		}
		d.templates = map[string][]byte{spec.Version: tmpl}
		d.rec.Status = &release.Status{Step: -1, StableVersion: stable.Version}
		d.phase, d.action = release.Preparing, "start"
		d.message = fmt.Sprintf("prepare %s beside %s: workload %s and subset %s, no traffic yet", spec.Version, stable.Version, spec.WorkloadName(), spec.Version)
		return nil
	}
}

func (m *Machine) findWorkload(objs []overlay.Object, w release.Workload, appPath string) (overlay.Object, kube.Kind, error) {
	found := overlay.Find(objs, w.Kind, w.Name)
	if len(found) == 0 {
		return nil, kube.Kind{}, fmt.Errorf("%s %s not found in the rendered manifests of %s; check spec.workload: %w", w.Kind, w.Name, appPath, release.ErrInvalid)
	}
	o := found[0]
	k, ok := m.deps.Kinds.Lookup(o.Group(), o.Kind())
	if !ok {
		return nil, kube.Kind{}, fmt.Errorf("workload kind %s (%s) is not known to gitcanary: %w", o.Kind(), o.APIVersion(), release.ErrInvalid)
	}
	return o, k, nil
}

// findRouting picks the DestinationRule and VirtualService for the host:
// by name when the spec names them, else the only one that matches.
func findRouting(objs []overlay.Object, t release.Traffic, appPath string) (overlay.Routing, error) {
	pick := func(kind, name string, match func(overlay.Object) bool) (string, error) {
		var names []string
		for _, o := range overlay.Find(objs, kind, name) {
			if name != "" || match(o) {
				names = append(names, o.Name())
			}
		}
		switch {
		case len(names) == 1:
			return names[0], nil
		case len(names) == 0 && name != "":
			return "", fmt.Errorf("%s %s not found in %s; run `gitcanary lint`: %w", kind, name, appPath, release.ErrInvalid)
		case len(names) == 0:
			return "", fmt.Errorf("no %s for host %s in %s; add one (run `gitcanary lint`): %w", kind, t.Host, appPath, release.ErrInvalid)
		}
		return "", fmt.Errorf("several %ss for host %s in %s (%s); name one in spec.traffic: %w", kind, t.Host, appPath, strings.Join(names, ", "), release.ErrInvalid)
	}
	dr, err := pick("DestinationRule", t.DestinationRule, func(o overlay.Object) bool {
		h, _ := overlay.Lookup(o, ".spec.host").(string)
		return overlay.SameHost(h, t.Host)
	})
	if err != nil {
		return overlay.Routing{}, err
	}
	vs, err := pick("VirtualService", t.VirtualService, func(o overlay.Object) bool {
		http, _ := overlay.Lookup(o, ".spec.http").([]any)
		for _, r := range http {
			dests, _ := r.(map[string]any)["route"].([]any)
			for _, dst := range dests {
				dm, _ := dst.(map[string]any)
				if h, _ := overlay.Lookup(dm, ".destination.host").(string); overlay.SameHost(h, t.Host) {
					return true
				}
			}
		}
		return false
	})
	if err != nil {
		return overlay.Routing{}, err
	}
	return overlay.Routing{Host: t.Host, VirtualService: vs, DestinationRule: dr}, nil
}

// checkRootTransformers refuses kustomizations that rename what they
// include: gitcanary's patches target objects by their declared names.
func checkRootTransformers(a *App) error {
	root, err := a.rootKustomization()
	if err != nil {
		return err
	}
	data := string(a.Files[root])
	for _, field := range []string{"namePrefix:", "nameSuffix:"} {
		for _, line := range strings.Split(data, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), field) {
				return fmt.Errorf("%s sets %s; gitcanary v1alpha1 does not support renaming kustomizations: %w", root, strings.TrimSuffix(field, ":"), release.ErrInvalid)
			}
		}
	}
	return nil
}

// onPrepared: the new version is ready and has its subset; add its route at weight 0.
func onPrepared(v view) decision {
	return commitTo("route at weight 0", func(d *draft) error {
		if err := d.state.Route(d.rec.Spec.Version); err != nil {
			return err
		}
		d.phase, d.action = release.Routing, "route"
		d.message = fmt.Sprintf("route to %s at weight 0", d.rec.Spec.Version)
		return nil
	})
}
