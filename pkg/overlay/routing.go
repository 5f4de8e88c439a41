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
	// VirtualServices are Routing.AllVirtualServices, in order.
	VirtualServices []Object
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

// managed reports whether a route's destinations are the traffic
// gitcanary splits: every destination is the host, with no subset or the
// original version's subset. Routes to other subsets (say, a header
// route for testers) are left alone.
func managed(dests []*networking.Destination, host, original string) bool {
	if len(dests) == 0 {
		return false
	}
	for _, d := range dests {
		if d == nil || !SameHost(d.Host, host) {
			return false
		}
		if d.Subset != "" && d.Subset != original {
			return false
		}
	}
	return true
}

func httpDestinations(r *networking.HTTPRoute) []*networking.Destination {
	var out []*networking.Destination
	for _, d := range r.Route {
		out = append(out, d.Destination)
	}
	return out
}

func routeDestinations(r []*networking.RouteDestination) []*networking.Destination {
	var out []*networking.Destination
	for _, d := range r {
		out = append(out, d.Destination)
	}
	return out
}

// split returns the destinations of a managed route: one per routed
// version, on the first destination's host and port.
func split(st *State, first *networking.Destination) []*networking.RouteDestination {
	var out []*networking.RouteDestination
	for _, v := range st.Versions {
		if v.Routed {
			out = append(out, &networking.RouteDestination{
				Destination: &networking.Destination{Host: first.Host, Subset: v.Version, Port: first.Port},
				Weight:      v.Weight,
			})
		}
	}
	return out
}

// Destinations lists the destinations of every route (http, tcp, tls) of
// a VirtualService spec.
func Destinations(spec *networking.VirtualService) []*networking.Destination {
	var all []*networking.Destination
	for _, r := range spec.GetHttp() {
		all = append(all, httpDestinations(r)...)
	}
	for _, r := range spec.GetTcp() {
		all = append(all, routeDestinations(r.GetRoute())...)
	}
	for _, r := range spec.GetTls() {
		all = append(all, routeDestinations(r.GetRoute())...)
	}
	return all
}

// DestinationHosts lists the host of every destination of a
// VirtualService's routes (http, tcp and tls), as written.
func DestinationHosts(vs Object) ([]string, error) {
	var spec networking.VirtualService
	if err := parseSpec(vs, &spec); err != nil {
		return nil, err
	}
	var hosts []string
	for _, d := range Destinations(&spec) {
		if d != nil {
			hosts = append(hosts, d.Host)
		}
	}
	return hosts, nil
}

// RoutesHost reports whether a VirtualService has a route (http, tcp or
// tls) to host, and whether one of them names subset.
func RoutesHost(vs Object, host, subset string) (routes, names bool, err error) {
	var spec networking.VirtualService
	if err := parseSpec(vs, &spec); err != nil {
		return false, false, err
	}
	for _, d := range Destinations(&spec) {
		if d != nil && SameHost(d.Host, host) {
			routes = true
			names = names || subset != "" && d.Subset == subset
		}
	}
	return routes, names, nil
}

// SplitsHost reports whether a VirtualService has a route gitcanary
// splits: all of its destinations the host, with no subset or original.
func SplitsHost(vs Object, host, original string) (bool, error) {
	var spec networking.VirtualService
	if err := parseSpec(vs, &spec); err != nil {
		return false, err
	}
	for _, r := range spec.Http {
		if managed(httpDestinations(r), host, original) {
			return true, nil
		}
	}
	for _, l := range []routeList{tcpRoutes(spec.Tcp), tlsRoutes(spec.Tls)} {
		for _, r := range l.routes {
			if managed(routeDestinations(*r), host, original) {
				return true, nil
			}
		}
	}
	return false, nil
}

// virtualServicePatch replaces the destinations of every managed route
// (http, tcp and tls) with one destination per routed version, weights
// summing to 100; the primary VirtualService (the one spec.traffic binds)
// also gets the configured hosts, gateways and aliases.
func virtualServicePatch(st *State, vs Object, primary bool) ([]jsonPatch, error) {
	var spec networking.VirtualService
	if err := parseSpec(vs, &spec); err != nil {
		return nil, err
	}
	count := 0
	var ops []jsonPatch
	var http []any
	for _, r := range spec.Http {
		isManaged := managed(httpDestinations(r), st.Routing.Host, st.OriginalVersion)
		if isManaged {
			count++
			first := r.Route[0].Destination
			r.Route = nil
			for _, d := range split(st, first) {
				r.Route = append(r.Route, &networking.HTTPRouteDestination{Destination: d.Destination, Weight: d.Weight})
			}
		}
		p, err := plain(r)
		if err != nil {
			return nil, err
		}
		if isManaged {
			zeroWeights(p)
		}
		http = append(http, p)
	}
	if len(http) > 0 {
		ops = append(ops, jsonPatch{Op: "add", Path: "/spec/http", Value: http})
	}
	for _, l := range []routeList{tcpRoutes(spec.Tcp), tlsRoutes(spec.Tls)} {
		if len(l.routes) == 0 {
			continue
		}
		var out []any
		for i, route := range l.routes {
			isManaged := managed(routeDestinations(*route), st.Routing.Host, st.OriginalVersion)
			if isManaged {
				count++
				*route = split(st, (*route)[0].Destination)
			}
			p, err := plain(l.values[i])
			if err != nil {
				return nil, err
			}
			if isManaged {
				zeroWeights(p)
			}
			out = append(out, p)
		}
		ops = append(ops, jsonPatch{Op: "add", Path: "/spec/" + l.field, Value: out})
	}
	if count == 0 {
		return nil, fmt.Errorf("VirtualService %s has no route that sends all its traffic to host %s (with subset %s or none); gitcanary needs one to split",
			vs.Name(), st.Routing.Host, st.OriginalVersion)
	}
	if !primary {
		return ops, nil
	}
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

// zeroWeights writes out a route's zero weights, which protojson drops.
func zeroWeights(route any) {
	for _, d := range route.(map[string]any)["route"].([]any) {
		if _, ok := d.(map[string]any)["weight"]; !ok {
			d.(map[string]any)["weight"] = 0
		}
	}
}

// routeList is a VirtualService's tcp or tls routes: each route's
// destinations, to rewrite in place, and the route, to marshal.
type routeList struct {
	field  string
	routes []*[]*networking.RouteDestination
	values []proto.Message
}

func tcpRoutes(rs []*networking.TCPRoute) routeList {
	l := routeList{field: "tcp"}
	for _, r := range rs {
		l.routes = append(l.routes, &r.Route)
		l.values = append(l.values, r)
	}
	return l
}

func tlsRoutes(rs []*networking.TLSRoute) routeList {
	l := routeList{field: "tls"}
	for _, r := range rs {
		l.routes = append(l.routes, &r.Route)
		l.values = append(l.values, r)
	}
	return l
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
