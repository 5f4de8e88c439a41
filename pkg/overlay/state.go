// Package overlay renders, purely, what gitcanary writes into an app path:
// a kustomize Component under Dir holding one overlay per managed version
// and JSON patches that give the user's DestinationRule one subset per live
// version and the VirtualService one weighted route per live version.
package overlay

import (
	"fmt"
	"slices"

	"github.com/gitcanary/gitcanary/pkg/release"
)

// Dir is the directory gitcanary owns inside an app path.
const Dir = ".gitcanary"

// Paths of files inside Dir.
const (
	KustomizationFile = "kustomization.yaml"
	StateFile         = "state.yaml"
	ReleasesDir       = "releases"
	VersionsDir       = "versions"
	PatchesDir        = "patches"
	TemplateFile      = "workload.yaml"
	EntriesFile       = "entries.yaml"
	AliasesFile       = "aliases.yaml"
)

// State is everything gitcanary manages in one app path. It is committed as
// Dir/state.yaml, and the component is rendered from it alone (plus the
// user's own DestinationRule and VirtualService, and the frozen templates).
type State struct {
	// Active names the release in progress, if any.
	Active string `json:"active,omitempty"`
	// Workload is the user's own workload and how to edit its kind.
	Workload WorkloadRef `json:"workload"`
	// OriginalVersion is the subset name of the user's own workload.
	OriginalVersion string `json:"originalVersion"`
	// OriginalLabeled: gitcanary adds `version: OriginalVersion` to its pod template.
	OriginalLabeled bool `json:"originalLabeled,omitempty"`
	// OriginalRetired: a promote removed the user's workload ($patch: delete).
	OriginalRetired bool `json:"originalRetired,omitempty"`
	// Retired lists versions whose subsets were removed by a promote.
	Retired []string `json:"retired,omitempty"`
	// Versions are the live versions, oldest first. The user's workload is
	// the one with Managed false, unless it is retired.
	Versions []Version `json:"versions"`
	Routing  Routing   `json:"routing"`
	// Baseline is the state before the active release; abandon restores it.
	Baseline *State `json:"baseline,omitempty"`
}

// WorkloadRef names a workload kind and where its pod template and selector live.
type WorkloadRef struct {
	APIVersion  string `json:"apiVersion"`
	Kind        string `json:"kind"`
	Name        string `json:"name"`
	PodTemplate string `json:"podTemplate"` // dot path, e.g. .spec.template
	Selector    string `json:"selector"`    // dot path of the matchLabels map; "" for none
	// VM: a WorkloadGroup, whose versions are groups of WorkloadEntries.
	VM bool `json:"vm,omitempty"`
	// Entries are the user's own WorkloadEntries of this workload (a
	// WorkloadGroup's VMs listed in git); a promote deletes them with it.
	Entries []string `json:"entries,omitempty"`
}

// Version is one live version.
type Version struct {
	Version  string `json:"version"`
	Workload string `json:"workload"`
	// Managed versions are rendered from Dir/versions/<version>/.
	Managed bool            `json:"managed"`
	Images  []release.Image `json:"images,omitempty"`
	// Routed versions have a VirtualService route (possibly at weight 0).
	Routed bool  `json:"routed"`
	Weight int32 `json:"weight"`
	// NamespaceInjects: the namespace injects sidecars by label, so the
	// version's pod template carries no inject annotation.
	NamespaceInjects bool `json:"namespaceInjects,omitempty"`
	// Addresses are a VM version's WorkloadEntry addresses.
	Addresses []string `json:"addresses,omitempty"`
}

// Routing names the objects gitcanary patches and how the VirtualService is bound.
type Routing struct {
	Host string `json:"host"`
	// VirtualService is the VirtualService whose hosts, gateways and
	// aliases spec.traffic sets; its routes are split like the others'.
	VirtualService string `json:"virtualService"`
	// VirtualServices are the others whose routes to the host are split.
	VirtualServices []ObjectRef `json:"virtualServices,omitempty"`
	DestinationRule string      `json:"destinationRule"`
	Hosts           []string    `json:"hosts,omitempty"`
	Gateways        []string    `json:"gateways,omitempty"`
	// Aliases are other names of the service, each rendered as a
	// ServiceEntry resolving to Service and added to the VirtualService.
	Aliases []string `json:"aliases,omitempty"`
	// Service is what aliases resolve to; set with Aliases.
	Service *Service `json:"service,omitempty"`
}

// ObjectRef names an object; an empty namespace is the workload's.
type ObjectRef struct {
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// AllVirtualServices lists every VirtualService whose routes to the host
// gitcanary splits, the one spec.traffic binds first.
func (r Routing) AllVirtualServices() []ObjectRef {
	return append([]ObjectRef{{Name: r.VirtualService}}, r.VirtualServices...)
}

// Service is the Kubernetes Service behind the host, as aliases need it.
type Service struct {
	Namespace string `json:"namespace,omitempty"`
	FQDN      string `json:"fqdn"`
	Ports     []Port `json:"ports"`
}

// Port is a Service port as a ServiceEntry declares it.
type Port struct {
	Number   uint32 `json:"number"`
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
}

// Pristine reports whether the state changes nothing in the user's render
// (the marker of a release in progress renders nothing).
func (s *State) Pristine() bool {
	return !s.OriginalLabeled && !s.OriginalRetired && len(s.Retired) == 0 &&
		len(s.Versions) == 1 && !s.Versions[0].Managed && len(s.Routing.Hosts) == 0 && len(s.Routing.Gateways) == 0 && len(s.Routing.Aliases) == 0
}

// Clone returns a deep copy.
func (s *State) Clone() *State {
	c := *s
	c.Retired = slices.Clone(s.Retired)
	c.Versions = make([]Version, len(s.Versions))
	for i, v := range s.Versions {
		v.Images = slices.Clone(v.Images)
		v.Addresses = slices.Clone(v.Addresses)
		c.Versions[i] = v
	}
	c.Workload.Entries = slices.Clone(s.Workload.Entries)
	c.Routing.Hosts = slices.Clone(s.Routing.Hosts)
	c.Routing.Gateways = slices.Clone(s.Routing.Gateways)
	c.Routing.Aliases = slices.Clone(s.Routing.Aliases)
	c.Routing.VirtualServices = slices.Clone(s.Routing.VirtualServices)
	if s.Routing.Service != nil {
		svc := *s.Routing.Service
		svc.Ports = slices.Clone(svc.Ports)
		c.Routing.Service = &svc
	}
	if s.Baseline != nil {
		c.Baseline = s.Baseline.Clone()
	}
	return &c
}

// Version returns the live version named v.
func (s *State) Version(v string) (*Version, bool) {
	for i := range s.Versions {
		if s.Versions[i].Version == v {
			return &s.Versions[i], true
		}
	}
	return nil, false
}

// Weights lists the routed versions' weights in order.
func (s *State) Weights() []release.Weight {
	var out []release.Weight
	for _, v := range s.Versions {
		if v.Routed {
			out = append(out, release.Weight{Version: v.Version, Weight: v.Weight})
		}
	}
	return out
}

// Check verifies the invariants the renderer relies on.
func (s *State) Check() error {
	var sum int32
	routed := 0
	seen := map[string]bool{}
	for _, v := range s.Versions {
		if seen[v.Version] {
			return fmt.Errorf("version %q is live twice", v.Version)
		}
		seen[v.Version] = true
		if v.Weight < 0 || v.Weight > 100 {
			return fmt.Errorf("version %q has weight %d, outside 0..100", v.Version, v.Weight)
		}
		if v.Routed {
			routed++
			sum += v.Weight
		} else if v.Weight != 0 {
			return fmt.Errorf("version %q has weight %d but no route", v.Version, v.Weight)
		}
	}
	if routed == 0 {
		return fmt.Errorf("no version is routed")
	}
	if sum != 100 {
		return fmt.Errorf("route weights sum to %d, not 100", sum)
	}
	return nil
}
