package judgesim

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Grid is the issue's: rps 10/100/1000, canary weight 1/10/50%, stable error
// rate 0.1/1/5%, burst size 1/2/4.
func Grid() []Cell {
	var cells []Cell
	for _, burst := range []int{1, 2, 4} {
		for _, rps := range []float64{10, 100, 1000} {
			for _, w := range []float64{0.01, 0.10, 0.50} {
				for _, e := range []float64{0.001, 0.01, 0.05} {
					cells = append(cells, Cell{RPS: rps, Weight: w, BadRate: e, Burst: burst})
				}
			}
		}
	}
	return cells
}

// Headline is the cell of the headline figures: 100 rps, 10% canary, 1%
// errors, no bursts.
var Headline = Cell{RPS: 100, Weight: 0.10, BadRate: 0.01, Burst: 1}

// Worse is the A/B canary's ratio of bad-event rates.
const Worse = 2.0

// Run is a grid run's parameters.
type Run struct {
	Cells   []Cell
	AA, AB  int // releases per cell: canary as good (A/A), canary Worse× as bad (A/B)
	Plan    Plan
	Seed    uint64
	Workers int
	// Progress, when set, gets one line per finished cell.
	Progress io.Writer
}

// Result is one cell's tallies.
type Result struct {
	Cell   Cell
	AA, AB Tally
}

// batch is the unit of work: releases of one kind in one cell, with their
// own random source.
const batch = 250

type task struct {
	cell, kind, index, n int
}

// Do runs the grid on Workers goroutines and returns one Result per cell,
// in the order of Cells. The figures depend only on the parameters.
func (run Run) Do() []Result {
	looks := run.Plan.looks()
	var tasks []task
	for c := range run.Cells {
		for kind, total := range []int{run.AA, run.AB} {
			for i := 0; i*batch < total; i++ {
				tasks = append(tasks, task{c, kind, i, min(batch, total-i*batch)})
			}
		}
	}
	results := make([]Result, len(run.Cells))
	left := make([]int, len(run.Cells))
	for i, c := range run.Cells {
		results[i].Cell = c
	}
	for _, t := range tasks {
		left[t.cell]++
	}
	var mu sync.Mutex
	start := time.Now()
	work := make(chan task)
	var wg sync.WaitGroup
	for range max(1, run.Workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				cell := run.Cells[t.cell]
				theta := 1.0
				if t.kind == 1 {
					theta = Worse
				}
				r := rand.New(rand.NewPCG(run.Seed, uint64(t.cell)<<40|uint64(t.kind)<<32|uint64(t.index)))
				var tally Tally
				for range t.n {
					tally.add(Release(r, cell, theta, run.Plan), looks)
				}
				mu.Lock()
				res := &results[t.cell]
				if t.kind == 0 {
					res.AA.merge(tally)
				} else {
					res.AB.merge(tally)
				}
				left[t.cell]--
				if left[t.cell] == 0 {
					slices.Sort(res.AA.Dispersions)
					slices.Sort(res.AB.Dispersions)
					if run.Progress != nil {
						fmt.Fprintf(run.Progress, "done %s after %s\n", cell, time.Since(start).Round(time.Second))
					}
				}
				mu.Unlock()
			}
		}()
	}
	for _, t := range tasks {
		work <- t
	}
	close(work)
	wg.Wait()
	return results
}

// Report prints one line per cell and, last, the headline line
// `headline: power=<p> false_positives=<f>` when the headline cell was run.
func Report(w io.Writer, results []Result, p Plan) {
	fmt.Fprintf(w, "%d-minute horizon, %s looks, %s sub-intervals, detect %g×, alpha %g; A/B canary %g× the stable error rate\n",
		int(p.Horizon.Minutes()), p.Interval, p.Sub, p.config().WithDefaults().Detect, p.config().WithDefaults().Alpha, Worse)
	fmt.Fprintln(w, "false+: A/A releases failed (95% upper bound, Clopper-Pearson; seq: share of them by the sequential test);")
	fmt.Fprintln(w, "pass: A/A Successful; φ: median dispersion on A/A; power: A/B releases failed; detect: median time to the failing look")
	fmt.Fprintf(w, "%6s %7s %7s %5s | %6s %7s %8s %5s %6s %5s | %6s %6s %7s\n",
		"rps", "canary", "errors", "burst", "A/A", "false+", "95% up", "seq", "pass", "φ", "A/B", "power", "detect")
	var headline *Result
	for i, r := range results {
		if r.Cell == Headline {
			headline = &results[i]
		}
		fmt.Fprintf(w, "%6g %6g%% %6g%% %5d | %6d %7.4f %8.4f %5.2f %6.3f %5.2f | %6d %6.3f %7s\n",
			r.Cell.RPS, 100*r.Cell.Weight, 100*r.Cell.BadRate, r.Cell.Burst,
			r.AA.N, r.AA.Rate(), ClopperPearsonUpper(r.AA.Failed, r.AA.N), share(r.AA.Sequential, r.AA.Failed),
			share(r.AA.Successful, r.AA.N), r.AA.MedianDispersion(),
			r.AB.N, r.AB.Rate(), detectTime(r.AB, p))
	}
	if headline != nil {
		fmt.Fprintf(w, "headline: power=%.4f false_positives=%.4f\n", headline.AB.Rate(), headline.AA.Rate())
	}
}

func share(k, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(k) / float64(n)
}

func detectTime(t Tally, p Plan) string {
	if t.Failed == 0 {
		return "-"
	}
	return (time.Duration(t.MedianFailedLook() * float64(p.Interval))).String()
}
