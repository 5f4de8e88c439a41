package judge

import "math"

// gridSize is the number of alternatives θ the e-process mixes.
const gridSize = 8

// sequential is a mixture-SPRT e-process on θ. For each alternative θ_g of
// a fixed grid it keeps the log-likelihood ratio, against θ = 1, of the
// canary's bad events given each look's total:
//
//	log LRᵢ(θ) = xᵢ·log θ − bᵢ·log(1 + (θ−1)·qᵢ),  qᵢ = nᵢ/(nᵢ+mᵢ),
//
// summed over looks. The e-value is the average over the grid of
// exp(Σᵢ log LRᵢ(θ_g) / φ).
//
// Why it is valid under continuous monitoring: for every θ_g > 1 the product
// of likelihood ratios is a nonnegative martingale when θ = 1 and a
// supermartingale when θ < 1 (the canary is better), so their average is
// too, with expectation at most 1; by Ville's inequality it ever reaches
// 1/α with probability at most α, however many looks are taken or when.
// Dividing the log-likelihood by φ is the quasi-likelihood for bad events
// that arrive in bursts of about φ: exact for bursts of exactly φ (the
// counts are then φ times binomial counts of bursts), an approximation
// otherwise, and φ is itself estimated; the simulation (judgesim) measures
// what that costs.
//
// The grid: gridSize points spaced evenly in log θ from √Detect to
// max(10, Detect²), equal weights. Mixing pays at most log(gridSize) in
// log e-value against knowing the best θ in advance, and buys a quick
// abort of gross failures (a 10× worse canary) as well as power near Detect.
type sequential struct {
	logTheta [gridSize]float64
	sum      [gridSize]float64
}

func newSequential(detect float64) *sequential {
	s := &sequential{}
	lo, hi := 0.5*math.Log(detect), math.Log(math.Max(10, detect*detect))
	for g := range gridSize {
		s.logTheta[g] = lo + (hi-lo)*float64(g)/float64(gridSize-1)
	}
	return s
}

// add takes one look into the running log-likelihood ratios.
func (s *sequential) add(l Look) {
	ts := informative([]Look{l})
	if len(ts) == 0 {
		return
	}
	t := ts[0]
	q := t.q()
	for g, lt := range s.logTheta {
		s.sum[g] += t.x*lt - t.b*math.Log1p(math.Expm1(lt)*q)
	}
}

// evalue is the mixture's e-value with the log-likelihoods divided by phi,
// capped at eValueMax.
func (s *sequential) evalue(phi float64) float64 {
	top := math.Inf(-1)
	for _, v := range s.sum {
		top = math.Max(top, v/phi)
	}
	var acc float64
	for _, v := range s.sum {
		acc += math.Exp(v/phi - top)
	}
	logE := top + math.Log(acc/gridSize)
	if logE > math.Log(eValueMax) {
		return eValueMax
	}
	return finite(math.Exp(logE), 1)
}
