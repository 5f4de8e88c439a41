package machine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/lint"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// prepare is the release's first commit: adopt the app if gitcanary has
// never managed it, then add the new version's workload and subset, with
// no route yet (make-before-break). Every precondition is checked here,
// before anything is committed.
func (m *Machine) prepare(ctx context.Context, spec release.Spec, opts StartOptions) mutation {
	return func(d *draft) error {
		if d.state == nil && opts.GenerateRouting {
			if err := m.generateRouting(ctx, d, spec); err != nil {
				return err
			}
		}
		chk, err := m.Check(ctx, d.app, spec)
		if err != nil {
			return err
		}
		if errs := lint.Errors(chk.Findings); len(errs) > 0 {
			return preconditionError(errs)
		}
		if err := m.checkLive(ctx, spec.Workload, chk.Kind); err != nil {
			return err
		}
		stableObj, kind, nsLabels, in := chk.Workload, chk.Kind, chk.NamespaceLabels, chk.Input
		if err := checkNewNames(in.Objects, stableObj, kind, spec, d.app.Path); err != nil {
			return err
		}
		if _, ok := overlay.Lookup(stableObj, kind.PodTemplate+".metadata.labels").(map[string]any); !ok {
			return fmt.Errorf("%s %s: the pod template at %s has no labels; subsets select a version's pods by label, so it cannot be released (add labels such as app: %s, or fix the kind's podTemplate path): %w",
				kind.Kind, stableObj.Name(), kind.PodTemplate, spec.AppName(), release.ErrInvalid)
		}
		selector, err := kind.SelectorOf(stableObj)
		if err != nil {
			return fmt.Errorf("%s %s: %w (check the kind's selector path): %w", kind.Kind, stableObj.Name(), err, release.ErrInvalid)
		}
		ref := overlay.WorkloadRef{APIVersion: stableObj.APIVersion(), Kind: kind.Kind, Name: stableObj.Name(),
			PodTemplate: kind.PodTemplate, Selector: selector, VM: kind.VM}
		label, _ := overlay.Lookup(stableObj, kind.PodTemplate+".metadata.labels."+overlay.VersionLabel).(string)
		begin := overlay.BeginOptions{NamespaceInjects: nsLabels["istio-injection"] == "enabled" || nsLabels["istio.io/rev"] != ""}
		if len(spec.Traffic.Aliases) > 0 {
			if begin.Service, err = aliasTarget(in); err != nil {
				return err
			}
		}
		if d.state == nil {
			if err := checkRootTransformers(d.app); err != nil {
				return err
			}
			base, err := d.app.BaseObjects(ctx, m.deps.Builder)
			if err != nil {
				return err
			}
			original := label
			switch {
			case label == "" && spec.StableVersion == "":
				return fmt.Errorf("%s %s has no %q label on its pod template: set spec.stableVersion to name its subset (gitcanary then adds the label, a normal rolling update): %w",
					kind.Kind, ref.Name, overlay.VersionLabel, release.ErrInvalid)
			case label == "" && kind.VM:
				return fmt.Errorf("%s %s has no %q label in spec.metadata.labels, and spec.stableVersion cannot add it: Istio copies a group's labels into a WorkloadEntry only when the VM registers, "+
					"so the running VMs would stay out of subset %s and it would have no endpoints; add %s: %s to the group's spec.metadata.labels (and to its WorkloadEntries in git), "+
					"let the VMs re-register, then release (docs/vm-workloads.md): %w",
					kind.Kind, ref.Name, overlay.VersionLabel, spec.StableVersion, overlay.VersionLabel, spec.StableVersion, release.ErrInvalid)
			case label == "":
				original, begin.LabelOriginal = spec.StableVersion, true
			case spec.StableVersion != "" && spec.StableVersion != label:
				return fmt.Errorf("spec.stableVersion is %q but %s %s is labelled version %q: %w", spec.StableVersion, kind.Kind, ref.Name, label, release.ErrInvalid)
			}
			routing, err := findRouting(base, spec.Traffic, d.app.Path, original, spec.Workload.Namespace)
			if err != nil {
				return err
			}
			if err := m.checkForeignRoutes(ctx, routing, spec, original, d.app.Path); err != nil {
				return err
			}
			if kind.VM {
				ref.Entries = groupEntries(base, stableObj)
			}
			d.state = overlay.Adopt(ref, original, routing)
		}
		if err := d.state.Begin(m.name, spec, begin); err != nil {
			return fmt.Errorf("%w: %w", err, ErrRefused)
		}
		stable, _ := d.state.Stable()
		tmpl, err := overlay.Template(stableObj, spec.WorkloadName(), ref)
		if err != nil {
			return fmt.Errorf("%w: %w", err, release.ErrInvalid)
		}
		d.templates = map[string][]byte{spec.Version: tmpl}
		d.rec.Status = &release.Status{Step: -1, StableVersion: stable.Version}
		d.phase, d.action = release.Preparing, "start"
		d.message = fmt.Sprintf("prepare %s beside %s: workload %s and subset %s, no traffic yet", spec.Version, stable.Version, spec.WorkloadName(), spec.Version)
		return nil
	}
}

// checkNewNames refuses a release whose new objects would take the name
// of an object the app already renders: the workload <app>-<version> of
// the stable workload's kind and, for VMs, its WorkloadEntries.
func checkNewNames(objs []overlay.Object, stable overlay.Object, kind kube.Kind, spec release.Spec, appPath string) error {
	taken := func(k, name string) error {
		for _, o := range overlay.Find(objs, k, name) {
			if o.Group() == stable.Group() || k == overlay.EntryKind {
				return fmt.Errorf("%s %s already exists in %s, and the new version's workload would have its name: choose another spec.version, or remove or rename the existing %s: %w",
					k, name, appPath, k, release.ErrInvalid)
			}
		}
		return nil
	}
	if err := taken(kind.Kind, spec.WorkloadName()); err != nil {
		return err
	}
	for i := range spec.Workload.Addresses {
		if err := taken(overlay.EntryKind, fmt.Sprintf("%s-%d", spec.WorkloadName(), i+1)); err != nil {
			return err
		}
	}
	return nil
}

// Checked is what Check found.
type Checked struct {
	Workload        overlay.Object // the stable workload as rendered
	Kind            kube.Kind
	NamespaceLabels map[string]string // nil when unknown
	Input           lint.Input
	Findings        []lint.Finding // errors first
}

// Check renders the app as the user wrote it (plus gitcanary's component,
// if any) and runs the mesh checks a release's first commit runs. With a
// cluster, the namespace's labels come from it when the app renders no
// Namespace. A missing or unknown workload is an error.
func (m *Machine) Check(ctx context.Context, app *App, spec release.Spec) (*Checked, error) {
	full, err := app.Build(ctx, m.deps.Builder, nil)
	if err != nil {
		return nil, err
	}
	objs, err := overlay.ParseObjects(full)
	if err != nil {
		return nil, err
	}
	// Fields of the wrong type first: everything below reads them.
	if bad := lint.Shapes(lint.Input{Objects: objs, More: app.declarations(ctx, m.deps.Builder), AppPath: app.Path, Namespace: spec.Workload.Namespace}); len(bad) > 0 {
		return nil, preconditionError(bad)
	}
	stableObj, kind, err := m.findWorkload(objs, spec.Workload, app.Path)
	if err != nil {
		return nil, err
	}
	nsLabels, err := m.namespaceLabels(ctx, objs, spec.Workload.Namespace)
	if err != nil {
		return nil, err
	}
	in := lint.Input{Objects: objs, More: app.declarations(ctx, m.deps.Builder), AppPath: app.Path, Host: spec.Traffic.Host,
		Namespace: spec.Workload.Namespace, Kind: kind, NamespaceLabels: nsLabels}
	return &Checked{Workload: stableObj, Kind: kind, NamespaceLabels: nsLabels, Input: in, Findings: lint.All(in)}, nil
}

// PreconditionError lists the mesh problems that stop a release from
// starting; it wraps release.ErrInvalid.
type PreconditionError struct{ Findings []lint.Finding }

func (e *PreconditionError) Error() string {
	lines := []string{"the app is not ready for a canary release (run `gitcanary lint`):"}
	for _, f := range e.Findings {
		lines = append(lines, "  "+f.String())
	}
	return strings.Join(lines, "\n")
}

// Unwrap makes the error an invalid-input error (exit code 2).
func (e *PreconditionError) Unwrap() error { return release.ErrInvalid }

func preconditionError(fs []lint.Finding) error { return &PreconditionError{Findings: fs} }

// checkLive reads the stable workload in the cluster, when gitcanary has
// one, before the first commit: it must exist, and a configured kind's
// paths must resolve in it (a running workload reports its counts).
func (m *Machine) checkLive(ctx context.Context, w release.Workload, kind kube.Kind) error {
	if m.deps.Cluster == nil {
		return nil
	}
	version := kind.Version
	if _, v, ok := strings.Cut(w.APIVersion, "/"); ok {
		version = v
	}
	ref := kube.Ref{Group: kind.Group, Version: version, Kind: kind.Kind, Resource: kind.Resource, Namespace: w.Namespace, Name: w.Name}
	ws, err := m.deps.Cluster.Workload(ctx, ref)
	if err != nil {
		return fmt.Errorf("%w: %w", err, release.ErrInvalid)
	}
	if !ws.Found {
		return fmt.Errorf("%s %s/%s is in git but not in the cluster: sync the Argo CD Application before a release: %w", kind.Kind, w.Namespace, w.Name, release.ErrInvalid)
	}
	if !kind.Builtin() && ws.Unresolved != "" {
		return fmt.Errorf("%s %s/%s: path %s of custom workload %s does not resolve in the live object; check customWorkloads in the config file (is the field named differently, or does the workload have no ready replicas?): %w",
			kind.Kind, w.Namespace, w.Name, ws.Unresolved, kind.Name, release.ErrInvalid)
	}
	return nil
}

// namespaceLabels are the workload namespace's labels: from a Namespace
// in the app when it renders one, else from the cluster; nil when neither
// knows.
func (m *Machine) namespaceLabels(ctx context.Context, objs []overlay.Object, ns string) (map[string]string, error) {
	for _, o := range overlay.Find(objs, "Namespace", ns) {
		labels := map[string]string{}
		if m, ok := overlay.Lookup(o, ".metadata.labels").(map[string]any); ok {
			for k, v := range m {
				labels[k], _ = v.(string)
			}
		}
		return labels, nil
	}
	if m.deps.Cluster == nil {
		return nil, nil
	}
	labels, _, err := m.deps.Cluster.NamespaceLabels(ctx, ns)
	return labels, err
}

// aliasTarget describes the Service aliases resolve to.
func aliasTarget(in lint.Input) (*overlay.Service, error) {
	svc, ok := lint.Service(in)
	if !ok {
		return nil, fmt.Errorf("spec.traffic.aliases: the Service of host %s is not rendered by %s; aliases need its ports: %w", in.Host, in.AppPath, release.ErrInvalid)
	}
	ns := svc.Namespace()
	if ns == "" {
		ns = in.Namespace
	}
	out := &overlay.Service{Namespace: svc.Namespace(), FQDN: fmt.Sprintf("%s.%s.svc.cluster.local", svc.Name(), ns)}
	ports, _ := overlay.Lookup(svc, ".spec.ports").([]any)
	for _, p := range ports {
		pm, _ := p.(map[string]any)
		num, _ := pm["port"].(float64)
		name, _ := pm["name"].(string)
		out.Ports = append(out.Ports, overlay.Port{Number: uint32(num), Name: name, Protocol: lint.Protocol(pm)})
	}
	return out, nil
}

// groupEntries names the WorkloadEntries that carry a WorkloadGroup's labels.
func groupEntries(objs []overlay.Object, group overlay.Object) []string {
	want := kube.GroupLabels(group)
	var names []string
	for _, e := range overlay.Find(objs, overlay.EntryKind, "") {
		labels, _ := overlay.Lookup(e, ".spec.labels").(map[string]any)
		match := len(want) > 0
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if match {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names
}

func (m *Machine) findWorkload(objs []overlay.Object, w release.Workload, appPath string) (overlay.Object, kube.Kind, error) {
	found := overlay.Find(objs, w.Kind, w.Name)
	if len(found) == 0 {
		return nil, kube.Kind{}, fmt.Errorf("%s %s not found in the rendered manifests of %s; check spec.workload: %w", w.Kind, w.Name, appPath, release.ErrInvalid)
	}
	o := found[0]
	k, ok := m.deps.Kinds.Lookup(o.Group(), o.Kind())
	if !ok {
		return nil, kube.Kind{}, fmt.Errorf("workload kind %s (%s) is not known to gitcanary: describe it under customWorkloads in the config file (see docs/custom-workloads.md): %w", o.Kind(), o.APIVersion(), release.ErrInvalid)
	}
	return o, k, nil
}

// checkForeignRoutes refuses a release when a VirtualService in the
// cluster that the app does not render (another Application's, or made by
// hand) routes the host to the stable subset: a promote removes that
// subset, and gitcanary can only split what it commits.
func (m *Machine) checkForeignRoutes(ctx context.Context, r overlay.Routing, spec release.Spec, original, appPath string) error {
	if m.deps.Cluster == nil {
		return nil
	}
	ns := spec.Workload.Namespace
	names, err := m.deps.Cluster.VirtualServicesNaming(ctx, kube.HostFQDN(spec.Traffic.Host, ns), original)
	if err != nil {
		return err
	}
	ours := map[string]bool{}
	for _, ref := range r.AllVirtualServices() {
		vsNS := ns
		if ref.Namespace != "" {
			vsNS = ref.Namespace
		}
		ours[vsNS+"/"+ref.Name] = true
	}
	var foreign []string
	for _, n := range names {
		if !ours[n] {
			foreign = append(foreign, n)
		}
	}
	if len(foreign) == 0 {
		return nil
	}
	return fmt.Errorf("VirtualService %s in the cluster routes host %s to subset %s, which a promote removes, and %s does not render it, so gitcanary cannot split it: "+
		"move that route into %s, or make it route the host without a subset: %w", strings.Join(foreign, ", "), spec.Traffic.Host, original, appPath, appPath, release.ErrInvalid)
}

// ErrNoRouting: the app has no DestinationRule or VirtualService for the host.
var ErrNoRouting = errors.New("no routing for the host")

// findRouting picks the DestinationRule for the host (by name when the
// spec names it, else the only one that matches) and every VirtualService
// that routes the host: gitcanary splits the routes of all of them, so
// that no gateway or mesh route is left sending traffic to a subset a
// promote removes. spec.traffic.virtualService names the one whose hosts
// and gateways spec.traffic binds; with several and none named, the first
// by namespace and name, unless spec.traffic binds hosts, gateways or
// aliases. A VirtualService that names the stable subset in a route
// gitcanary cannot split (mixed with other destinations) is refused.
func findRouting(objs []overlay.Object, t release.Traffic, appPath, original, namespace string) (overlay.Routing, error) {
	if err := crossNamespaceHosts(objs, t.Host, namespace, appPath); err != nil {
		return overlay.Routing{}, err
	}
	dr, err := findDestinationRule(objs, t, appPath)
	if err != nil {
		return overlay.Routing{}, err
	}
	if t.VirtualService != "" {
		if _, err := findVirtualService(objs, t, appPath); err != nil {
			return overlay.Routing{}, err
		}
	}
	var refs []overlay.ObjectRef
	for _, o := range overlay.Find(objs, "VirtualService", "") {
		routes, names, err := overlay.RoutesHost(o, t.Host, original)
		if err != nil {
			return overlay.Routing{}, fmt.Errorf("%w: %w", err, release.ErrInvalid)
		}
		if !routes {
			continue
		}
		splits, err := overlay.SplitsHost(o, t.Host, original)
		if err != nil {
			return overlay.Routing{}, err
		}
		if !splits {
			if names {
				return overlay.Routing{}, fmt.Errorf("VirtualService %s routes host %s to subset %s mixed with other destinations, which gitcanary cannot split, and a promote removes that subset: give the host a route of its own: %w",
					o.Name(), t.Host, original, release.ErrInvalid)
			}
			continue
		}
		ref := overlay.ObjectRef{Name: o.Name()}
		if ns := o.Namespace(); ns != "" && ns != namespace {
			ref.Namespace = ns
		}
		refs = append(refs, ref)
	}
	if len(refs) == 0 {
		_, err := findVirtualService(objs, t, appPath)
		if err == nil {
			err = fmt.Errorf("no VirtualService in %s has a route that sends all its traffic to host %s (with subset %s or none); gitcanary needs one to split: %w", appPath, t.Host, original, release.ErrInvalid)
		}
		return overlay.Routing{}, err
	}
	slices.SortFunc(refs, func(a, b overlay.ObjectRef) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	primary := 0
	if t.VirtualService != "" {
		primary = slices.IndexFunc(refs, func(r overlay.ObjectRef) bool { return r.Name == t.VirtualService })
		if primary < 0 {
			return overlay.Routing{}, fmt.Errorf("VirtualService %s has no route that sends all its traffic to host %s (with subset %s or none); gitcanary needs one to split: %w", t.VirtualService, t.Host, original, release.ErrInvalid)
		}
	} else if len(refs) > 1 && (len(t.Hosts) > 0 || len(t.Gateways) > 0 || len(t.Aliases) > 0) {
		var names []string
		for _, r := range refs {
			names = append(names, r.Name)
		}
		return overlay.Routing{}, fmt.Errorf("several VirtualServices route host %s in %s (%s); name in spec.traffic.virtualService the one spec.traffic's hosts, gateways or aliases bind: %w", t.Host, appPath, strings.Join(names, ", "), release.ErrInvalid)
	}
	r := overlay.Routing{Host: t.Host, VirtualService: refs[primary].Name, DestinationRule: dr}
	for i, ref := range refs {
		if i != primary {
			r.VirtualServices = append(r.VirtualServices, ref)
		}
	}
	return r, nil
}

func findDestinationRule(objs []overlay.Object, t release.Traffic, appPath string) (string, error) {
	return pickRouting(objs, "DestinationRule", t.DestinationRule, t.Host, appPath, func(o overlay.Object) bool {
		h, _ := overlay.Lookup(o, ".spec.host").(string)
		return overlay.SameHost(h, t.Host)
	})
}

func findVirtualService(objs []overlay.Object, t release.Traffic, appPath string) (string, error) {
	return pickRouting(objs, "VirtualService", t.VirtualService, t.Host, appPath, func(o overlay.Object) bool {
		routes, _, _ := overlay.RoutesHost(o, t.Host, "")
		return routes
	})
}

func pickRouting(objs []overlay.Object, kind, name, host, appPath string, match func(overlay.Object) bool) (string, error) {
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
		return "", fmt.Errorf("no %s for host %s in %s; add one, or start with --generate-routing to have gitcanary write it: %w: %w", kind, host, appPath, ErrNoRouting, release.ErrInvalid)
	}
	return "", fmt.Errorf("several %ss for host %s in %s (%s); name one in spec.traffic: %w", kind, host, appPath, strings.Join(names, ", "), release.ErrInvalid)
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

// crossNamespaceHosts refuses a VirtualService or DestinationRule that
// sits in another namespace than the workload and names the release's
// host by a short name. Istio resolves a short host in the namespace of
// the object that names it, so "reviews" there is another service than
// the one released: splitting it would move someone else's traffic.
// Written as the FQDN, the host is the released service from anywhere.
func crossNamespaceHosts(objs []overlay.Object, host, namespace, appPath string) error {
	want := kube.HostFQDN(host, namespace)
	for _, o := range objs {
		ns := o.Namespace()
		if ns == "" || ns == namespace {
			continue
		}
		var hosts []string
		switch o.Kind() {
		case "DestinationRule":
			h, _ := overlay.Lookup(o, ".spec.host").(string)
			hosts = []string{h}
		case "VirtualService":
			hosts, _ = overlay.DestinationHosts(o) // a spec that does not parse is refused elsewhere
		}
		for _, h := range hosts {
			if overlay.SameHost(h, host) && kube.HostFQDN(h, ns) != want {
				return fmt.Errorf("%s %s/%s (in %s) is in namespace %s, where Istio reads host %q as %s, not the released service %s in namespace %s: "+
					"write the host as %s, or move the %s to namespace %s: %w",
					o.Kind(), ns, o.Name(), appPath, ns, h, kube.HostFQDN(h, ns), want, namespace, want, o.Kind(), namespace, release.ErrInvalid)
			}
		}
	}
	return nil
}
