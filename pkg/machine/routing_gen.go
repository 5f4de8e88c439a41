package machine

import (
	"context"
	"errors"
	"fmt"
	"path"

	"sigs.k8s.io/yaml"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// StartOptions tune a release's first commit.
type StartOptions struct {
	// GenerateRouting writes a DestinationRule and a VirtualService for
	// the host into the app, in the release's first commit, when the app
	// has none. They become the user's files (see docs/lint.md).
	GenerateRouting bool
	// Grant is who starts the release, for the check of its Argo CD
	// Application before the first commit (see admit): the instance and,
	// for a Release resource, its namespace.
	Grant argocd.Grant
	// DefaultBranch reads the repository's default branch, for an
	// Application whose targetRevision is HEAD; nil refuses such an
	// Application.
	DefaultBranch func(ctx context.Context) (string, error)
}

// RoutingFile is where --generate-routing writes, inside the app path.
const RoutingFile = "gitcanary-routing.yaml"

// generateRouting adds what routing the app lacks to the draft's app:
// a DestinationRule with the stable version's subset and a VirtualService
// sending all of the host's traffic to it, in RoutingFile, listed in the
// root kustomization's resources. The files are written by the same
// commit as the rest of prepare.
func (m *Machine) generateRouting(ctx context.Context, d *draft, spec release.Spec) error {
	base, err := d.app.BaseObjects(ctx, m.deps.Builder)
	if err != nil {
		return err
	}
	_, drErr := findDestinationRule(base, spec.Traffic, d.app.Path)
	_, vsErr := findVirtualService(base, spec.Traffic, d.app.Path)
	hasDR, hasVS := !errors.Is(drErr, ErrNoRouting), !errors.Is(vsErr, ErrNoRouting)
	if hasDR && hasVS {
		return nil
	}
	stableObj, kind, err := m.findWorkload(base, spec.Workload, d.app.Path)
	if err != nil {
		return err
	}
	stable, _ := overlay.Lookup(stableObj, kind.PodTemplate+".metadata.labels."+overlay.VersionLabel).(string)
	if stable == "" {
		stable = spec.StableVersion
	}
	if stable == "" {
		return fmt.Errorf("--generate-routing: %s %s has no %q label and spec.stableVersion is empty, so the stable subset cannot be named: %w", kind.Kind, stableObj.Name(), overlay.VersionLabel, release.ErrInvalid)
	}
	meta := map[string]any{"name": spec.AppName()}
	if ns := stableObj.Namespace(); ns != "" {
		meta["namespace"] = ns
	}
	apiVersion := "networking.istio.io/v1"
	var docs []byte
	if !hasDR {
		dr, err := yaml.Marshal(map[string]any{"apiVersion": apiVersion, "kind": "DestinationRule", "metadata": meta, "spec": map[string]any{
			"host":    spec.Traffic.Host,
			"subsets": []any{map[string]any{"name": stable, "labels": map[string]any{overlay.VersionLabel: stable}}},
		}})
		if err != nil {
			return err
		}
		docs = append(docs, dr...)
	}
	if !hasVS {
		hosts := spec.Traffic.Hosts
		if len(hosts) == 0 {
			hosts = []string{spec.Traffic.Host}
		}
		vsSpec := map[string]any{
			"hosts": hosts,
			"http": []any{map[string]any{"route": []any{map[string]any{
				"destination": map[string]any{"host": spec.Traffic.Host, "subset": stable}, "weight": 100,
			}}}},
		}
		if len(spec.Traffic.Gateways) > 0 {
			vsSpec["gateways"] = spec.Traffic.Gateways
		}
		vs, err := yaml.Marshal(map[string]any{"apiVersion": apiVersion, "kind": "VirtualService", "metadata": meta, "spec": vsSpec})
		if err != nil {
			return err
		}
		if len(docs) > 0 {
			docs = append(docs, "---\n"...)
		}
		docs = append(docs, vs...)
	}
	file := path.Join(d.app.Path, RoutingFile)
	if _, err := d.app.source(nil).Stat(file); err == nil {
		return fmt.Errorf("--generate-routing: %s already exists but does not give host %s its routing; fix or remove it: %w", file, spec.Traffic.Host, release.ErrInvalid)
	}
	root, err := d.app.rootKustomization()
	if err != nil {
		return err
	}
	rootData, err := withListEntry(d.app.Files[root], "resources", RoutingFile)
	if err != nil {
		return fmt.Errorf("%s: %w", root, err)
	}
	header := []byte("# Written by gitcanary --generate-routing; yours to edit from now on.\n")
	writes := map[string][]byte{file: append(header, docs...), root: rootData}
	app, err := d.app.Apply(git.Change{Write: writes})
	if err != nil {
		return err
	}
	d.app = app
	d.userWrites = writes
	return nil
}
