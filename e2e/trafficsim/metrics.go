package trafficsim

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Buckets are the bounds (ms) of istio_request_duration_milliseconds:
// Envoy's default histogram buckets, which Istio keeps.
var Buckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

// series is one label set of one proxy: its request counter and its
// duration histogram (they share labels, as in Istio).
type series struct {
	labels   string // rendered {…}, without le
	version  string
	pod      string
	bad      bool    // a 5xx
	requests int64   // istio_requests_total
	buckets  []int64 // per bound of Buckets, not cumulative
	sumMs    float64
	scraped  int64 // requests at the last scrape served
}

// Totals are counts of simulated requests.
type Totals struct {
	Requests int64
	Errors   int64   // answered 5xx
	Buckets  []int64 // cumulative, per bound of Buckets: requests at most that slow
}

func newTotals() Totals { return Totals{Buckets: make([]int64, len(Buckets))} }

func (t *Totals) add(s *series, n int64, bucket int) {
	t.Requests += n
	if s.bad {
		t.Errors += n
	}
	for i := bucket; i < len(Buckets); i++ {
		t.Buckets[i] += n
	}
}

func (t Totals) clone() Totals {
	t.Buckets = append([]int64(nil), t.Buckets...)
	return t
}

// Sub returns t − u.
func (t Totals) Sub(u Totals) Totals {
	out := t.clone()
	out.Requests -= u.Requests
	out.Errors -= u.Errors
	for i := range out.Buckets {
		if i < len(u.Buckets) {
			out.Buckets[i] -= u.Buckets[i]
		}
	}
	return out
}

// Bucket returns the index of bound ms in Buckets, or -1.
func Bucket(ms float64) int {
	for i, b := range Buckets {
		if b == ms {
			return i
		}
	}
	return -1
}

// bucketOf returns the index of the first bound ≥ ms (len(Buckets) for
// +Inf only).
func bucketOf(ms float64) int {
	return sort.SearchFloat64s(Buckets, ms)
}

// labelSet renders Istio's labels of a request from source to pod.
func labelSet(src Source, p Pod, fqdn, service, code string) string {
	kv := [][2]string{
		{"connection_security_policy", "mutual_tls"},
		{"destination_app", p.App},
		{"destination_canonical_revision", p.CanonicalRev},
		{"destination_canonical_service", p.CanonicalName},
		{"destination_cluster", "Kubernetes"},
		{"destination_principal", "spiffe://" + clusterDomain + "/ns/" + p.Namespace + "/sa/" + p.ServiceAccount},
		{"destination_service", fqdn},
		{"destination_service_name", service},
		{"destination_service_namespace", p.Namespace},
		{"destination_version", p.Version},
		{"destination_workload", p.Workload},
		{"destination_workload_namespace", p.Namespace},
		// What Istio's kubernetes-pods scrape job adds by relabelling.
		{"namespace", p.Namespace},
		{"pod", p.Name},
		{"reporter", "destination"},
		{"request_protocol", "http"},
		{"response_code", code},
		{"response_flags", "-"},
		{"source_app", src.Workload},
		{"source_canonical_revision", "latest"},
		{"source_canonical_service", src.Workload},
		{"source_cluster", "Kubernetes"},
		{"source_principal", "spiffe://" + clusterDomain + "/ns/" + src.Namespace + "/sa/" + src.Workload},
		{"source_version", "unknown"},
		{"source_workload", src.Workload},
		{"source_workload_namespace", src.Namespace},
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range kv {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l[0])
		b.WriteString(`="`)
		b.WriteString(escape(l[1]))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// escape escapes a label value for the text exposition format.
func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}

// expose writes series in Prometheus's text format 0.0.4, ordered by
// labels.
func expose(w io.Writer, all []*series) error {
	sort.Slice(all, func(i, j int) bool { return all[i].labels < all[j].labels })
	var b strings.Builder
	b.WriteString("# TYPE istio_requests_total counter\n")
	for _, s := range all {
		fmt.Fprintf(&b, "istio_requests_total%s %d\n", s.labels, s.requests)
	}
	b.WriteString("# TYPE istio_request_duration_milliseconds histogram\n")
	for _, s := range all {
		inner := strings.TrimSuffix(s.labels, "}")
		var cum int64
		for i, bound := range Buckets {
			cum += s.buckets[i]
			fmt.Fprintf(&b, "istio_request_duration_milliseconds_bucket%s,le=\"%s\"} %d\n", inner, strconv.FormatFloat(bound, 'f', -1, 64), cum)
		}
		fmt.Fprintf(&b, "istio_request_duration_milliseconds_bucket%s,le=\"+Inf\"} %d\n", inner, s.requests)
		fmt.Fprintf(&b, "istio_request_duration_milliseconds_sum%s %s\n", s.labels, strconv.FormatFloat(s.sumMs, 'f', -1, 64))
		fmt.Fprintf(&b, "istio_request_duration_milliseconds_count%s %d\n", s.labels, s.requests)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
