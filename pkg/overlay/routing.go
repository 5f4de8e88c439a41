package overlay

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"
	"sigs.k8s.io/yaml"
)

// Base holds the user's own DestinationRule and VirtualService, as the app
// renders without gitcanary's component.
type Base struct {
	DestinationRule Object
	VirtualService  Object
}

// jsonPatch is one RFC 6902 operation.
type jsonPatch struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// SameHost reports whether two Istio host names name the same service,
// treating short names as prefixes of the FQDN ("reviews" ~ "reviews.bookinfo.svc.cluster.local").
func SameHost(a, b string) bool {
	return a == b || strings.HasPrefix(a, b+".") || strings.HasPrefix(b, a+".")
}

func parseSpec(o Object, msg proto.Message) error {
	raw, err := json.Marshal(o["spec"])
	if err != nil {
		return err
	}
	if err := protojson.Unmarshal(raw, msg); err != nil {
		return fmt.Errorf("%s %s: spec: %w", o.Kind(), o.Name(), err)
	}
	return nil
}

// plain turns a proto message into JSON-shaped Go values.
func plain(msg proto.Message) (any, error) {
	raw, err := protojson.Marshal(msg)
	if err != nil {
		return nil, err
	}
	var v any
	return v, json.Unmarshal(raw, &v)
}

// destinationRulePatch gives the DestinationRule one subset per live
// version: the user's subsets are kept (with their trafficPolicy) unless
// their version was retired, and a subset selecting `version: <v>` is
// added for every live version that has none.
func destinationRulePatch(st *State, dr Object) ([]jsonPatch, error) {
	var spec networking.DestinationRule
	if err := parseSpec(dr, &spec); err != nil {
		return nil, err
	}
	var subsets []*networking.Subset
	have := map[string]bool{}
	for _, s := range spec.Subsets {
		if slices.Contains(st.Retired, s.Name) {
			continue
		}
		subsets = append(subsets, s)
		have[s.Name] = true
	}
	for _, v := range st.Versions {
		if !have[v.Version] {
			subsets = append(subsets, &networking.Subset{Name: v.Version, Labels: map[string]string{"version": v.Version}})
		}
	}
	value := make([]any, 0, len(subsets))
	for _, s := range subsets {
		p, err := plain(s)
		if err != nil {
			return nil, err
		}
		value = append(value, p)
	}
	return []jsonPatch{{Op: "add", Path: "/spec/subsets", Value: value}}, nil
}

// managedRoute reports whether an HTTP route is the traffic gitcanary
// splits: every destination is the host, with no subset or the original
// version's subset. Routes to other subsets (say, a header route for
// testers) are left alone.
func managedRoute(r *networking.HTTPRoute, host, original string) bool {
	if len(r.Route) == 0 {
		return false
	}
	for _, d := range r.Route {
		if d.Destination == nil || !SameHost(d.Destination.Host, host) {
			return false
		}
		if d.Destination.Subset != "" && d.Destination.Subset != original {
			return false
		}
	}
	return true
}

// virtualServicePatch replaces the destinations of every managed HTTP
// route with one destination per routed version, weights summing to 100,
// and binds the VirtualService to the configured hosts and gateways.
func virtualServicePatch(st *State, vs Object) ([]jsonPatch, error) {
	var spec networking.VirtualService
	if err := parseSpec(vs, &spec); err != nil {
		return nil, err
	}
	managed := 0
	var routes []any
	for _, r := range spec.Http {
		isManaged := managedRoute(r, st.Routing.Host, st.OriginalVersion)
		if isManaged {
			managed++
			first := r.Route[0].Destination
			r.Route = nil
			for _, v := range st.Versions {
				if !v.Routed {
					continue
				}
				r.Route = append(r.Route, &networking.HTTPRouteDestination{
					Destination: &networking.Destination{Host: first.Host, Subset: v.Version, Port: first.Port},
					Weight:      v.Weight,
				})
			}
		}
		p, err := plain(r)
		if err != nil {
			return nil, err
		}
		if isManaged {
			// protojson drops zero weights; a route at weight 0 is written out.
			for _, d := range p.(map[string]any)["route"].([]any) {
				if _, ok := d.(map[string]any)["weight"]; !ok {
					d.(map[string]any)["weight"] = 0
				}
			}
		}
		routes = append(routes, p)
	}
	if managed == 0 {
		return nil, fmt.Errorf("VirtualService %s has no HTTP route that sends all its traffic to host %s (with subset %s or none); gitcanary needs one to split",
			vs.Name(), st.Routing.Host, st.OriginalVersion)
	}
	ops := []jsonPatch{{Op: "add", Path: "/spec/http", Value: routes}}
	hosts := st.Routing.Hosts
	if len(st.Routing.Aliases) > 0 {
		if len(hosts) == 0 {
			hosts = spec.Hosts
		}
		hosts = slices.Clone(hosts)
		for _, a := range st.Routing.Aliases {
			if !slices.Contains(hosts, a) {
				hosts = append(hosts, a)
			}
		}
	}
	if len(hosts) > 0 {
		ops = append(ops, jsonPatch{Op: "add", Path: "/spec/hosts", Value: hosts})
	}
	if len(st.Routing.Gateways) > 0 {
		ops = append(ops, jsonPatch{Op: "add", Path: "/spec/gateways", Value: st.Routing.Gateways})
	}
	return ops, nil
}

// aliasEntries renders one ServiceEntry per alias: the alias host, inside
// the mesh, resolved by DNS to the Service's FQDN on the Service's ports.
// The VirtualService lists the aliases too, so their traffic is split by
// the same weights. Named <app>-alias-<alias, dots as dashes>.
func aliasEntries(st *State, app string, vs Object) ([]byte, error) {
	svc := st.Routing.Service
	if svc == nil {
		return nil, fmt.Errorf("aliases %v have no Service to resolve to", st.Routing.Aliases)
	}
	apiVersion := vs.APIVersion()
	var docs []byte
	for i, alias := range st.Routing.Aliases {
		se := &networking.ServiceEntry{
			Hosts:      []string{alias},
			Location:   networking.ServiceEntry_MESH_INTERNAL,
			Resolution: networking.ServiceEntry_DNS,
			Endpoints:  []*networking.WorkloadEntry{{Address: svc.FQDN}},
		}
		for _, p := range svc.Ports {
			se.Ports = append(se.Ports, &networking.ServicePort{Number: p.Number, Name: p.Name, Protocol: p.Protocol})
		}
		spec, err := plain(se)
		if err != nil {
			return nil, err
		}
		meta := map[string]any{"name": app + "-alias-" + strings.ReplaceAll(alias, ".", "-")}
		if svc.Namespace != "" {
			meta["namespace"] = svc.Namespace
		}
		doc, err := yaml.Marshal(map[string]any{"apiVersion": apiVersion, "kind": "ServiceEntry", "metadata": meta, "spec": spec})
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
