// Command bench-analysis simulates releases over a grid of traffic and
// error rates and prints how often the judge (pkg/judge) fails a good
// canary and a 2× worse one: `make bench-analysis`. The simulation is
// pkg/judge/judgesim; docs/testing.md has the figures.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"time"

	"github.com/gitcanary/gitcanary/pkg/judge/judgesim"
)

func main() {
	run := judgesim.Run{Cells: judgesim.Grid(), Plan: judgesim.DefaultPlan()}
	flag.IntVar(&run.AA, "aa", 20000, "A/A releases per cell (canary as good as stable)")
	flag.IntVar(&run.AB, "ab", 5000, "A/B releases per cell (canary 2× the stable error rate)")
	flag.Uint64Var(&run.Seed, "seed", 1, "random seed; a run's figures depend only on the flags")
	flag.IntVar(&run.Workers, "workers", runtime.GOMAXPROCS(0), "goroutines")
	flag.DurationVar(&run.Plan.Sub, "sub", run.Plan.Sub, "the stable version's sub-intervals (scrape interval)")
	headline := flag.Bool("headline", false, "run only the headline cell (100 rps, 10%, 1%, burst 1)")
	quiet := flag.Bool("q", false, "no progress lines on stderr")
	profile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	// The simulation allocates small, short-lived looks by the million; a
	// larger heap between collections saves about a tenth of the CPU.
	debug.SetGCPercent(400)
	if *headline {
		run.Cells = []judgesim.Cell{judgesim.Headline}
	}
	if !*quiet {
		run.Progress = os.Stderr
	}
	start := time.Now()
	results := run.Do()
	fmt.Printf("%d cells, %d A/A and %d A/B releases each, seed %d, %d workers, %s\n",
		len(run.Cells), run.AA, run.AB, run.Seed, run.Workers, time.Since(start).Round(time.Second))
	judgesim.Report(os.Stdout, results, run.Plan)
}
