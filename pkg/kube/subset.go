package kube

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"
)

// SubsetStatus is what the cluster says about one subset of a
// DestinationRule: which endpoints carry its labels and how many of them
// are ready. It holds facts; whether Ready 0 is a problem is the caller's
// call.
type SubsetStatus struct {
	// DestinationRule names the rule chosen for host in the namespace: the
	// one defining the subset, else the oldest for the host; "" if none.
	DestinationRule string
	// Found reports that the subset exists in that rule.
	Found bool
	// Labels are the subset's labels.
	Labels map[string]string
	// Service is the Service behind host; "" when host is not a Service of
	// the namespace (a ServiceEntry host, or "reviews.ns", which Istio
	// does not expand).
	Service string
	// ServiceEntry names the ServiceEntry behind host when Service is "".
	ServiceEntry string
	// Ready and Total count the endpoints behind host carrying all of the
	// subset's labels: pods behind the Service (from its EndpointSlices),
	// WorkloadEntries the Service selects, and for a ServiceEntry its
	// inline endpoints and the pods and WorkloadEntries it selects.
	Ready, Total int
	// Describe is one short phrase for people when Ready is 0.
	Describe string
}

// clusterDomain is the DNS domain Istio appends to short names. It is
// Istio's default; a mesh configured with another domain is not modelled.
const clusterDomain = "cluster.local"

// HostFQDN resolves a host written in a VirtualService or DestinationRule
// of namespace as Istio does (ResolveShortnameToFQDN): a bare name
// ("reviews") becomes reviews.<namespace>.svc.cluster.local; a name with a
// dot is taken as written, so "reviews.other" is not the Service reviews
// of namespace other to Istio, unlike to Kubernetes DNS.
func HostFQDN(host, namespace string) string {
	if host == "*" || strings.Contains(host, ".") {
		return host
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return host // an IPv6 address has no dot
	}
	return host + "." + namespace + ".svc." + clusterDomain
}

// ServiceOf returns the name of the Service of namespace that fqdn names
// (<name>.<namespace>.svc.cluster.local), or "".
func ServiceOf(fqdn, namespace string) string {
	name, ok := strings.CutSuffix(fqdn, "."+namespace+".svc."+clusterDomain)
	if !ok || name == "" || strings.Contains(name, ".") {
		return ""
	}
	return name
}

// hostMatch reports whether a rule's host (resolved) applies to fqdn, and
// how specifically: an exact match beats any wildcard, a longer wildcard
// beats a shorter one, as Istio picks the most specific host.
func hostMatch(pattern, fqdn string) (specificity int, ok bool) {
	switch {
	case pattern == fqdn:
		return 1 << 30, true
	case pattern == "*":
		return 0, true
	case strings.HasPrefix(pattern, "*.") && strings.HasSuffix(fqdn, pattern[1:]):
		return len(pattern), true
	}
	return 0, false
}

// Rule is a DestinationRule as subset lookup needs it.
type Rule struct {
	Name    string
	Host    string // spec.host as written
	Created time.Time
	Subsets []Subset
}

// Subset is one subset of a DestinationRule.
type Subset struct {
	Name   string
	Labels map[string]string
}

// FindSubset picks, among the DestinationRules of namespace, the one whose
// host applies most specifically to host, and in it the subset. Istio
// merges the subsets of several rules for one host only in limited cases
// (same namespace, no workload selector; the oldest rule wins a duplicate
// name), so among equally specific rules the oldest one defining the
// subset is taken. rule is the oldest matching rule when none defines it.
func FindSubset(rules []Rule, namespace, host, subset string) (rule string, labels map[string]string, found bool) {
	fqdn := HostFQDN(host, namespace)
	best := -1
	var matched []Rule
	for _, r := range rules {
		spec, ok := hostMatch(HostFQDN(r.Host, namespace), fqdn)
		switch {
		case !ok || spec < best:
		case spec > best:
			best, matched = spec, []Rule{r}
		default:
			matched = append(matched, r)
		}
	}
	sort.SliceStable(matched, func(i, j int) bool {
		if !matched[i].Created.Equal(matched[j].Created) {
			return matched[i].Created.Before(matched[j].Created)
		}
		return matched[i].Name < matched[j].Name
	})
	for _, r := range matched {
		for _, s := range r.Subsets {
			if s.Name == subset {
				return r.Name, maps.Clone(s.Labels), true
			}
		}
	}
	if len(matched) > 0 {
		return matched[0].Name, nil, false
	}
	return "", nil, false
}

// Endpoint is one endpoint behind a host: the labels Istio matches subsets
// against (the pod's, or the WorkloadEntry's spec.labels) and whether
// traffic may go to it.
type Endpoint struct {
	Labels map[string]string
	Ready  bool
}

// CountSubset counts the endpoints carrying all of labels, as Istio
// matches a subset: every subset label must be on the endpoint.
func CountSubset(endpoints []Endpoint, labels map[string]string) (ready, total int) {
	for _, e := range endpoints {
		if !hasLabels(e.Labels, labels) {
			continue
		}
		total++
		if e.Ready {
			ready++
		}
	}
	return ready, total
}

// WorkloadEntryReady is Istio's health rule for a WorkloadEntry: with
// health checks enabled (the proxy.istio.io/health-checks-enabled
// annotation, which auto-registration adds when the group has a probe)
// it takes traffic only once its Healthy condition is True; without, Istio
// ignores the condition. healthy is that condition's status, "" if absent.
func WorkloadEntryReady(annotations map[string]string, healthy string) bool {
	if annotations["proxy.istio.io/health-checks-enabled"] == "true" {
		return healthy == "True"
	}
	return true
}

// EntryAddressable reports whether a WorkloadEntry with address can back a
// Kubernetes Service: Istio uses only entries with an IP (or no address,
// reached through a network gateway) there, not hostnames or Unix sockets.
func EntryAddressable(address string) bool {
	if address == "" {
		return true
	}
	_, err := netip.ParseAddr(address)
	return err == nil
}

// DescribeSubset fills st.Describe with one phrase when st.Ready is 0 and
// returns st.
func DescribeSubset(st SubsetStatus, namespace, host, subset string) SubsetStatus {
	if st.Ready > 0 {
		st.Describe = ""
		return st
	}
	switch {
	case st.DestinationRule == "":
		st.Describe = fmt.Sprintf("no DestinationRule in %s has host %s", namespace, host)
	case !st.Found:
		st.Describe = fmt.Sprintf("DestinationRule %s in %s has no subset %s", st.DestinationRule, namespace, subset)
	case st.Service == "" && st.ServiceEntry == "":
		st.Describe = fmt.Sprintf("host %s is neither a Service nor a ServiceEntry host in %s", host, namespace)
		if name, ns, ok := strings.Cut(host, "."); ok && !strings.Contains(ns, ".") {
			st.Describe += fmt.Sprintf(" (Istio takes a host with a dot as written; did you mean %s?)", HostFQDN(name, ns))
		} else if _, rest, ok := strings.Cut(host, "."); ok {
			if ns, ok := strings.CutSuffix(rest, ".svc."+clusterDomain); ok && ns != namespace && !strings.Contains(ns, ".") {
				st.Describe += fmt.Sprintf(" (it names a Service of namespace %s)", ns)
			}
		}
	default:
		st.Describe = fmt.Sprintf("subset %s (%s) of %s selects 0 ready of %d endpoints", subset, labelString(st.Labels), host, st.Total)
	}
	return st
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func labelString(l map[string]string) string {
	keys := slices.Sorted(maps.Keys(l))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return strings.Join(parts, ",")
}
