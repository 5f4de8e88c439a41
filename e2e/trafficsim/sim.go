// Package trafficsim simulates a service's traffic on the test bed as an
// Istio mesh would carry it, and exports the metrics Istio's proxies
// would, so that gitcanary's analysis reads real Prometheus samples of
// known traffic.
//
// What it models (Istio 1.2x, Envoy as the sidecar; sources: Istio's
// "Istio Standard Metrics" reference, its proxy's stats filter, Envoy's
// default histogram buckets):
//
//   - Routing. A request to the Service goes by the oldest VirtualService
//     of the namespace whose hosts name the Service and whose gateways
//     include mesh (or are empty): its first HTTP route without a match,
//     split by the destinations' weights (a lone destination without a
//     weight takes 100). A destination's subset selects, from the
//     DestinationRule for the host (the oldest), the ready, not
//     terminating pods behind the Service that carry the subset's labels;
//     each request goes to one of them in turn. Without a VirtualService
//     every ready pod of the Service gets an equal share. A request with
//     no endpoint (subset missing or empty) would be answered 503 by the
//     client's proxy and never reach a destination proxy: it is counted as
//     Unrouted and exported nowhere (only reporter="destination" is).
//   - Metrics. Each destination pod's proxy has, per label set, the
//     counter istio_requests_total and the histogram
//     istio_request_duration_milliseconds (buckets: Buckets), with
//     reporter="destination", source_workload, source_workload_namespace,
//     source_principal, source_app, source_version, source_cluster,
//     source_canonical_service, source_canonical_revision,
//     destination_workload, destination_workload_namespace,
//     destination_principal, destination_app, destination_version,
//     destination_service, destination_service_name,
//     destination_service_namespace, destination_canonical_service,
//     destination_canonical_revision, destination_cluster,
//     request_protocol, response_code, response_flags and
//     connection_security_policy; plus namespace and pod, which Istio's
//     kubernetes-pods scrape job adds by relabelling. A label set's
//     series appears at its first request (Envoy creates a stat on first
//     use), so a new series starts at 0 between two scrapes. A pod that
//     goes away (deleted, or terminating) stops being exported; a new pod
//     has new series; RestartProxy drops a pod's series as a restarted
//     sidecar does, and they come back from 0.
//   - Behaviour per version: an error rate (answered ErrorCode), errors in
//     bursts of Burst consecutive requests of a pod, and a log-normal
//     latency, set per pod image tag or version label (Profile).
//
// All proxies are exported on one /metrics endpoint (one scrape target
// instead of one per pod); SetReachable(false) takes it off the network for
// a scrape gap. Generated and Lost tell what was simulated, so a test can
// check counts read back from Prometheus exactly.
package trafficsim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Profile is how the pods of a version answer.
type Profile struct {
	ErrorRate float64 // share of requests answered with ErrorCode
	ErrorCode int     // default 503
	// Burst: errors come in runs of this many consecutive requests of one
	// pod (default 1); the mean error rate stays about ErrorRate.
	Burst int
	// Latency is the median request duration (default 20 ms); Sigma the
	// log-normal spread (default 0.5).
	Latency time.Duration
	Sigma   float64
}

// Source is the simulated client workload.
type Source struct{ Workload, Namespace string }

// Config sets up a Sim.
type Config struct {
	Namespace, Service string // the destination Service
	RPS                float64
	// Profiles: by "image:<tag>" of a pod's first container, else by its
	// version label, else "" ; none: no errors, 20 ms.
	Profiles map[string]Profile
	Source   Source        // default trafficsim in Namespace
	Seed     uint64        // of the random choices
	Tick     time.Duration // generation step, default 50 ms
	Refresh  time.Duration // how often the cluster is read, default 300 ms
	Listen   string        // metrics address, default 127.0.0.1:0
}

// Sim generates the traffic and serves the metrics.
type Sim struct {
	cfg    Config
	reader *Reader

	mu        sync.Mutex
	rng       *rand.Rand
	top       Topology
	topErr    error
	paused    bool
	carry     float64
	next      map[string]int             // round robin per subset
	burstLeft map[string]int             // per pod
	series    map[string]*series         // live series by labels
	generated map[string]Totals          // by version
	lost      map[string]Totals          // by version: never exposed to a scrape
	unrouted  int64                      // requests with no endpoint
	scrapes   int                        // scrapes served
	scrapeCh  chan struct{}              // closed and replaced at each scrape
	pods      map[string]map[string]bool // live series keys per pod

	addr    string
	srvMu   sync.Mutex
	srv     *http.Server
	stop    context.CancelFunc
	done    sync.WaitGroup
	started bool
}

// New returns a simulator reading the cluster through reader.
func New(cfg Config, reader *Reader) *Sim {
	if cfg.Tick <= 0 {
		cfg.Tick = 50 * time.Millisecond
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 300 * time.Millisecond
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Source.Workload == "" {
		cfg.Source = Source{Workload: "trafficsim", Namespace: cfg.Namespace}
	}
	return &Sim{
		cfg: cfg, reader: reader, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		next: map[string]int{}, burstLeft: map[string]int{}, series: map[string]*series{},
		generated: map[string]Totals{}, lost: map[string]Totals{}, scrapeCh: make(chan struct{}),
		pods: map[string]map[string]bool{},
	}
}

// Start reads the cluster once (an error there is returned), listens, and
// starts generating. Stop with Close.
func (s *Sim) Start(ctx context.Context) error {
	if err := s.refresh(ctx); err != nil {
		return err
	}
	if err := s.listen(); err != nil {
		return err
	}
	ctx, s.stop = context.WithCancel(context.Background())
	s.started = true
	s.done.Add(2)
	go s.loop(ctx, s.cfg.Refresh, func() { s.refresh(ctx) })
	last := time.Now()
	go s.loop(ctx, s.cfg.Tick, func() {
		now := time.Now()
		s.generate(now.Sub(last))
		last = now
	})
	return nil
}

// Close stops generating and serving.
func (s *Sim) Close() {
	if !s.started {
		return
	}
	s.stop()
	s.done.Wait()
	s.SetReachable(false)
}

// Addr is host:port of the metrics endpoint (/metrics).
func (s *Sim) Addr() string { return s.addr }

func (s *Sim) loop(ctx context.Context, every time.Duration, f func()) {
	defer s.done.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// refresh reads the topology; series of pods no longer there stop.
func (s *Sim) refresh(ctx context.Context) error {
	top, err := s.reader.Read(ctx, s.cfg.Namespace, s.cfg.Service)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.topErr = err
	if err != nil {
		return err
	}
	s.top = top
	live := map[string]bool{}
	for _, p := range top.Pods {
		live[p.Name] = true
	}
	for pod := range s.pods {
		if !live[pod] {
			s.dropPod(pod)
		}
	}
	return nil
}

// dropPod stops exporting a pod's series; what they counted since the
// last scrape is lost, as it is when a proxy goes away. Locked.
func (s *Sim) dropPod(pod string) {
	for key := range s.pods[pod] {
		sr := s.series[key]
		if n := sr.requests - sr.scraped; n > 0 {
			t := s.lost[sr.version]
			if t.Buckets == nil {
				t = newTotals()
			}
			// The lost requests' latencies are not tracked apart; Lost
			// counts requests and errors only.
			t.Requests += n
			if sr.bad {
				t.Errors += n
			}
			s.lost[sr.version] = t
		}
		delete(s.series, key)
	}
	delete(s.pods, pod)
}

// RestartProxy restarts a pod's sidecar: its series disappear and come
// back from 0 at their next request.
func (s *Sim) RestartProxy(pod string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropPod(pod)
}

// Pause stops generating requests; Resume starts again.
func (s *Sim) Pause() { s.mu.Lock(); s.paused, s.carry = true, 0; s.mu.Unlock() }

// Resume resumes generating requests.
func (s *Sim) Resume() { s.mu.Lock(); s.paused = false; s.mu.Unlock() }

// SetProfile sets the behaviour of a version or image tag (see Config).
func (s *Sim) SetProfile(key string, p Profile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.Profiles == nil {
		s.cfg.Profiles = map[string]Profile{}
	}
	s.cfg.Profiles[key] = p
}

// SetRPS changes the request rate.
func (s *Sim) SetRPS(rps float64) { s.mu.Lock(); s.cfg.RPS = rps; s.mu.Unlock() }

// generate simulates the requests of d.
func (s *Sim) generate(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused || s.topErr != nil {
		return
	}
	s.carry += s.cfg.RPS * d.Seconds()
	n := int(s.carry)
	s.carry -= float64(n)
	for i := 0; i < n; i++ {
		s.request()
	}
}

// request routes and records one request. Locked.
func (s *Sim) request() {
	var total int32
	for _, r := range s.top.Routes {
		total += r.Weight
	}
	if total <= 0 {
		s.unrouted++
		return
	}
	pick := s.rng.Int32N(total)
	var subset string
	for _, r := range s.top.Routes {
		if pick < r.Weight {
			subset = r.Subset
			break
		}
		pick -= r.Weight
	}
	eps := s.top.Endpoints[subset]
	if len(eps) == 0 {
		s.unrouted++
		return
	}
	p := eps[s.next[subset]%len(eps)]
	s.next[subset]++
	prof := s.profile(p)
	code := "200"
	if s.burstLeft[p.Name] > 0 {
		s.burstLeft[p.Name]--
		code = strconv.Itoa(prof.ErrorCode)
	} else if prof.ErrorRate > 0 && s.rng.Float64() < prof.ErrorRate/float64(prof.Burst) {
		s.burstLeft[p.Name] = prof.Burst - 1
		code = strconv.Itoa(prof.ErrorCode)
	}
	ms := float64(prof.Latency) / float64(time.Millisecond) * math.Exp(prof.Sigma*s.rng.NormFloat64())
	labels := labelSet(s.cfg.Source, p, s.top.FQDN, s.cfg.Service, code)
	sr := s.series[labels]
	if sr == nil {
		sr = &series{labels: labels, version: p.Version, pod: p.Name, bad: code[0] == '5', buckets: make([]int64, len(Buckets))}
		s.series[labels] = sr
		if s.pods[p.Name] == nil {
			s.pods[p.Name] = map[string]bool{}
		}
		s.pods[p.Name][labels] = true
	}
	b := bucketOf(ms)
	sr.requests++
	sr.sumMs += ms
	if b < len(Buckets) {
		sr.buckets[b]++
	}
	t := s.generated[p.Version]
	if t.Buckets == nil {
		t = newTotals()
	}
	t.add(sr, 1, b)
	s.generated[p.Version] = t
}

func (s *Sim) profile(p Pod) Profile {
	prof, ok := s.cfg.Profiles["image:"+p.ImageTag]
	if !ok {
		if prof, ok = s.cfg.Profiles[p.Version]; !ok {
			prof = s.cfg.Profiles[""]
		}
	}
	if prof.ErrorCode == 0 {
		prof.ErrorCode = 503
	}
	if prof.Burst < 1 {
		prof.Burst = 1
	}
	if prof.Latency <= 0 {
		prof.Latency = 20 * time.Millisecond
	}
	if prof.Sigma == 0 {
		prof.Sigma = 0.5
	}
	return prof
}

// Snapshot is what the simulator did up to one moment.
type Snapshot struct {
	Generated map[string]Totals // requests simulated, by version
	Lost      map[string]Totals // of them, never seen by a scrape (Requests and Errors only)
	Unrouted  int64
	Scrapes   int
	Series    int // series exported now
}

// Snapshot returns the counts so far.
func (s *Sim) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Snapshot{Generated: map[string]Totals{}, Lost: map[string]Totals{}, Unrouted: s.unrouted, Scrapes: s.scrapes, Series: len(s.series)}
	for v, t := range s.generated {
		out.Generated[v] = t.clone()
	}
	for v, t := range s.lost {
		out.Lost[v] = t.clone()
	}
	return out
}

// Topology returns the last topology read and its error.
func (s *Sim) Topology() (Topology, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.top, s.topErr
}

// WaitScrapes waits until n more scrapes have been served.
func (s *Sim) WaitScrapes(ctx context.Context, n int) error {
	for i := 0; i < n; i++ {
		s.mu.Lock()
		ch := s.scrapeCh
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for scrape %d of %d: %w", i+1, n, ctx.Err())
		}
	}
	return nil
}

func (s *Sim) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/metrics" {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	all := make([]*series, 0, len(s.series))
	for _, sr := range s.series {
		c := *sr
		c.buckets = append([]int64(nil), sr.buckets...)
		all = append(all, &c)
		sr.scraped = sr.requests
	}
	s.scrapes++
	close(s.scrapeCh)
	s.scrapeCh = make(chan struct{})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	expose(w, all)
}

// SetReachable takes the metrics endpoint off the network (false: the
// port refuses connections; a scrape in flight finishes first) or puts
// it back on the same address (true).
func (s *Sim) SetReachable(on bool) error {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if !on {
		if s.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s.srv.Shutdown(ctx)
			s.srv = nil
		}
		return nil
	}
	if s.srv != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	s.serve(ln)
	return nil
}

func (s *Sim) listen() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return err
	}
	s.addr = ln.Addr().String()
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	s.serve(ln)
	return nil
}

// serve starts a server on ln. srvMu held.
func (s *Sim) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(s.serveMetrics), ReadHeaderTimeout: 5 * time.Second}
	s.srv = srv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Println("trafficsim: serve:", err)
		}
	}()
}
