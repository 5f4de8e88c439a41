package overlay

import (
	"fmt"
	"slices"

	"github.com/gitcanary/gitcanary/pkg/release"
)

// Adopt describes an app path gitcanary has not managed yet: the user's
// workload carries all traffic.
func Adopt(ref WorkloadRef, originalVersion string, routing Routing) *State {
	return &State{
		Workload:        ref,
		OriginalVersion: originalVersion,
		Versions:        []Version{{Version: originalVersion, Workload: ref.Name, Routed: true, Weight: 100}},
		Routing:         routing,
	}
}

// Stable returns the version carrying all traffic, or an error when a
// release is already splitting it.
func (s *State) Stable() (*Version, error) {
	for i, v := range s.Versions {
		if v.Routed && v.Weight == 100 {
			return &s.Versions[i], nil
		}
	}
	return nil, fmt.Errorf("no version carries 100%% of the traffic (weights %s)", release.FormatWeights(s.Weights()))
}

// BeginOptions are what prepare learned about the app beyond the spec.
type BeginOptions struct {
	// LabelOriginal: add `version: <original>` to the user's pod template.
	LabelOriginal bool
	// NamespaceInjects: the namespace injects sidecars by label.
	NamespaceInjects bool
	// Service is the Service behind the host; required with aliases.
	Service *Service
}

// Begin starts release name: it remembers the current state as the
// baseline and adds the new version, with no route yet.
func (s *State) Begin(name string, spec release.Spec, opts BeginOptions) error {
	if s.Active != "" {
		return fmt.Errorf("release %s is already in progress in this app; finish or abort it first", s.Active)
	}
	stable, err := s.Stable()
	if err != nil {
		return err
	}
	if stable.Workload != spec.Workload.Name {
		return fmt.Errorf("spec.workload.name is %s but the stable workload is %s (version %s)", spec.Workload.Name, stable.Workload, stable.Version)
	}
	if _, ok := s.Version(spec.Version); ok || slices.Contains(s.Retired, spec.Version) {
		return fmt.Errorf("version %s already exists or was retired in this app; choose a new version", spec.Version)
	}
	if len(spec.Traffic.Aliases) > 0 && opts.Service == nil {
		return fmt.Errorf("spec.traffic.aliases need the Service of host %s to resolve to, and the app does not render it", spec.Traffic.Host)
	}
	s.Baseline = s.Clone()
	s.Active = name
	if opts.LabelOriginal {
		s.OriginalLabeled = true
	}
	if len(spec.Traffic.Aliases) > 0 {
		s.Routing.Aliases = slices.Clone(spec.Traffic.Aliases)
		svc := *opts.Service
		svc.Ports = slices.Clone(svc.Ports)
		s.Routing.Service = &svc
	}
	if len(spec.Traffic.Hosts) > 0 {
		s.Routing.Hosts = slices.Clone(spec.Traffic.Hosts)
	}
	if len(spec.Traffic.Gateways) > 0 {
		s.Routing.Gateways = slices.Clone(spec.Traffic.Gateways)
	}
	s.Versions = append(s.Versions, Version{
		Version: spec.Version, Workload: spec.WorkloadName(), Managed: true, Images: slices.Clone(spec.Images),
		NamespaceInjects: opts.NamespaceInjects && !s.Workload.VM, Addresses: slices.Clone(spec.Workload.Addresses),
	})
	return nil
}

// Route adds the route to version at weight 0 (its subset already exists).
func (s *State) Route(version string) error {
	v, ok := s.Version(version)
	if !ok {
		return fmt.Errorf("version %s is not live", version)
	}
	v.Routed = true
	return nil
}

// SetWeight gives version w% and the other routed version the rest.
func (s *State) SetWeight(version string, w int32) error {
	if w < 0 || w > 100 {
		return fmt.Errorf("weight %d is outside 0..100", w)
	}
	v, ok := s.Version(version)
	if !ok || !v.Routed {
		return fmt.Errorf("version %s has no route", version)
	}
	var others []*Version
	for i := range s.Versions {
		if s.Versions[i].Routed && s.Versions[i].Version != version {
			others = append(others, &s.Versions[i])
		}
	}
	if len(others) != 1 {
		return fmt.Errorf("expected one other routed version beside %s, found %d", version, len(others))
	}
	v.Weight = w
	others[0].Weight = 100 - w
	return nil
}

// PromoteRoutes routes 100% to version and removes every other route;
// the other versions' subsets and workloads stay until Retire.
func (s *State) PromoteRoutes(version string) error {
	if _, ok := s.Version(version); !ok {
		return fmt.Errorf("version %s is not live", version)
	}
	for i := range s.Versions {
		v := &s.Versions[i]
		v.Routed = v.Version == version
		v.Weight = 0
		if v.Routed {
			v.Weight = 100
		}
	}
	return nil
}

// Retire removes every version but the promoted one: subsets and
// workloads (the user's own is deleted by a patch).
func (s *State) Retire(version string) error {
	keep, ok := s.Version(version)
	if !ok || !keep.Routed || keep.Weight != 100 {
		return fmt.Errorf("version %s must carry 100%% before older versions are retired", version)
	}
	kept := *keep
	for _, v := range s.Versions {
		if v.Version == version {
			continue
		}
		s.Retired = append(s.Retired, v.Version)
		if !v.Managed {
			s.OriginalRetired = true
			s.OriginalLabeled = false
		}
	}
	s.Versions = []Version{kept}
	s.Baseline = nil
	return nil
}

// End clears the marker of the release in progress: the app path is free
// for the next release. Retire and Revert keep it, so that no release can
// start while the objects of the last one are still being removed.
func (s *State) End() { s.Active = "" }

// AbandonRoutes routes 100% back to the baseline's stable version and
// removes the new version's route; its subset and workload stay until Revert.
func (s *State) AbandonRoutes() error {
	if s.Baseline == nil {
		return fmt.Errorf("no release in progress")
	}
	stable, err := s.Baseline.Stable()
	if err != nil {
		return err
	}
	return s.PromoteRoutes(stable.Version)
}

// Revert restores the state from before the release.
func (s *State) Revert() error {
	if s.Baseline == nil {
		return fmt.Errorf("no release in progress")
	}
	active := s.Active
	*s = *s.Baseline.Clone()
	s.Active = active
	return nil
}
