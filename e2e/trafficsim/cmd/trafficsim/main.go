// Command trafficsim runs the traffic simulator (package trafficsim)
// against a cluster until interrupted, e.g. on the test bed:
//
//	set -a; . .work/testbed/env; set +a
//	go run ./e2e/trafficsim/cmd/trafficsim -namespace demo -service reviews -rps 100 \
//	    -profile v2=0.02,2,40ms -targets "$GITCANARY_TESTBED_PROMETHEUS_TARGETS"
//
// -profile KEY=ERRORRATE[,BURST[,LATENCY]] sets a version's (or
// image:TAG's) behaviour; -targets writes a file_sd file so that the
// bed's Prometheus scrapes it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gitcanary/gitcanary/e2e/trafficsim"
)

type profiles map[string]trafficsim.Profile

func (p profiles) String() string { return fmt.Sprint(map[string]trafficsim.Profile(p)) }

func (p profiles) Set(v string) error {
	key, spec, ok := strings.Cut(v, "=")
	if !ok || key == "" {
		return fmt.Errorf("want KEY=ERRORRATE[,BURST[,LATENCY]], got %q", v)
	}
	parts := strings.Split(spec, ",")
	var prof trafficsim.Profile
	var err error
	if prof.ErrorRate, err = strconv.ParseFloat(parts[0], 64); err != nil || prof.ErrorRate < 0 || prof.ErrorRate > 1 {
		return fmt.Errorf("%s: error rate %q: want a number from 0 to 1", key, parts[0])
	}
	if len(parts) > 1 {
		if prof.Burst, err = strconv.Atoi(parts[1]); err != nil || prof.Burst < 1 {
			return fmt.Errorf("%s: burst %q: want a whole number ≥ 1", key, parts[1])
		}
	}
	if len(parts) > 2 {
		if prof.Latency, err = time.ParseDuration(parts[2]); err != nil || prof.Latency <= 0 {
			return fmt.Errorf("%s: latency %q: want a duration such as 40ms", key, parts[2])
		}
	}
	if len(parts) > 3 {
		return fmt.Errorf("%s: too many fields in %q", key, spec)
	}
	p[key] = prof
	return nil
}

func main() {
	prof := profiles{}
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig")
	ns := flag.String("namespace", "", "namespace of the Service")
	svc := flag.String("service", "", "the Service receiving the traffic")
	rps := flag.Float64("rps", 100, "requests per second")
	listen := flag.String("listen", "127.0.0.1:0", "metrics address (loopback)")
	targets := flag.String("targets", "", "file_sd directory of a Prometheus to register with")
	seed := flag.Uint64("seed", 0, "random seed (0: from the clock)")
	refresh := flag.Duration("refresh", 300*time.Millisecond, "how often the cluster's routing and pods are read")
	flag.Var(prof, "profile", "KEY=ERRORRATE[,BURST[,LATENCY]] for a version or image:TAG (repeatable)")
	flag.Parse()
	if *ns == "" || *svc == "" || *rps < 0 {
		fmt.Fprintln(os.Stderr, "trafficsim: -namespace and -service are required, -rps ≥ 0")
		os.Exit(2)
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "trafficsim:", err)
		os.Exit(2)
	}
	core, err := kubernetes.NewForConfig(cfg)
	if err == nil {
		var dyn dynamic.Interface
		if dyn, err = dynamic.NewForConfig(cfg); err == nil {
			err = run(&trafficsim.Reader{Core: core, Dynamic: dyn}, trafficsim.Config{Namespace: *ns, Service: *svc, RPS: *rps, Profiles: prof, Listen: *listen, Seed: *seed, Refresh: *refresh}, *targets)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "trafficsim:", err)
		os.Exit(1)
	}
}

func run(r *trafficsim.Reader, cfg trafficsim.Config, targets string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	sim := trafficsim.New(cfg, r)
	if err := sim.Start(ctx); err != nil {
		return err
	}
	defer sim.Close()
	fmt.Printf("trafficsim: %s/%s at %.0f rps; metrics on http://%s/metrics\n", cfg.Namespace, cfg.Service, cfg.RPS, sim.Addr())
	if targets != "" {
		file := filepath.Join(targets, "trafficsim-"+cfg.Namespace+"-"+cfg.Service+".json")
		b, _ := json.Marshal([]map[string]any{{"targets": []string{sim.Addr()}}})
		if err := os.WriteFile(file, b, 0o644); err != nil {
			return err
		}
		defer os.Remove(file)
	}
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			snap := sim.Snapshot()
			for v, g := range snap.Generated {
				fmt.Printf("  %s: %d requests, %d errors\n", v, g.Requests, g.Errors)
			}
		}
	}
}
