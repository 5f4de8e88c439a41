package judge

import (
	"math"
	"slices"
)

// exactLimit is the most bad events (after dividing by φ) for which the
// final test computes the exact distribution; above it, a normal
// approximation with continuity correction, which is then very close (the
// count's standard deviation is in the hundreds) and whose cost does not
// grow with the counts. The exact work grows about linearly with the
// events: about 0.1 s at the limit on one core.
const exactLimit = 1_000_000

// tiny is where the distributions' tails are cut: probabilities below it
// are dropped, so a tail probability is accurate to about 1e-15 in absolute
// terms (p-values are compared with thresholds of 1e-4 and more). The work
// grows with the square of the kept width.
const tiny = 1e-17

// dist is a distribution on the integers lo, lo+1, …, lo+len(p)−1, its
// tails below tiny cut off.
type dist struct {
	lo int64
	p  []float64
}

// binom is the Binomial(b, q) distribution, built outwards from its mode
// with the ratio of successive probabilities.
func binom(b int64, q float64) dist {
	switch {
	case b <= 0 || q <= 0:
		return dist{0, []float64{1}}
	case q >= 1:
		return dist{b, []float64{1}}
	}
	mode := min(int64(float64(b+1)*q), b)
	lq, lr := math.Log(q), math.Log1p(-q)
	pm := math.Exp(logChoose(b, mode) + float64(mode)*lq + float64(b-mode)*lr)
	r := q / (1 - q)
	// Walk down from the mode to where the probabilities fall below tiny,
	// then fill the slice upwards from there.
	lo, v := mode, pm
	for lo > 0 {
		next := v * float64(lo) / float64(b-lo+1) / r
		if next < tiny {
			break
		}
		lo, v = lo-1, next
	}
	p := make([]float64, 0, int(mode-lo)+int(20*math.Sqrt(float64(b)*q*(1-q)))+4)
	for k := lo; ; k++ {
		if k == mode {
			v = pm // the walk's rounding stops here
		}
		p = append(p, v)
		if k == b {
			break
		}
		v *= float64(b-k) / float64(k+1) * r
		if k >= mode && v < tiny {
			break
		}
	}
	return dist{lo, p}
}

func logChoose(n, k int64) float64 {
	a, _ := math.Lgamma(float64(n) + 1)
	b, _ := math.Lgamma(float64(k) + 1)
	c, _ := math.Lgamma(float64(n-k) + 1)
	return a - b - c
}

// convolve is the distribution of the sum of independent draws from a and b.
func convolve(a, b dist) dist {
	if len(a.p) < len(b.p) {
		a, b = b, a
	}
	out := make([]float64, len(a.p)+len(b.p)-1)
	ap := a.p
	for j, pb := range b.p {
		dst := out[j : j+len(ap)]
		dst = dst[:len(ap)] // lets the compiler drop the bounds checks
		for i, pa := range ap {
			dst[i] += pa * pb
		}
	}
	lo, hi := 0, len(out)
	for lo < hi-1 && out[lo] < tiny {
		lo++
	}
	for hi > lo+1 && out[hi-1] < tiny {
		hi--
	}
	return dist{a.lo + b.lo + int64(lo), out[lo:hi]}
}

// binomialSum is the distribution of Σ Binomial(bᵢ, qᵢ), exact or, above
// exactLimit events, normal.
type binomialSum struct {
	exact      bool
	d          dist
	mean, sdev float64
}

// newBinomialSum takes the counts as floats: exact (whole numbers, as
// apportion makes them) when their sum is at most limit.
func newBinomialSum(bs, qs []float64, limit float64) binomialSum {
	var total float64
	for _, b := range bs {
		total += b
	}
	if total > limit {
		s := binomialSum{}
		var v float64
		for i, b := range bs {
			s.mean += b * qs[i]
			v += b * qs[i] * (1 - qs[i])
		}
		s.sdev = math.Sqrt(v)
		return s
	}
	d := dist{0, []float64{1}}
	for i, b := range bs {
		if b > 0 {
			d = convolve(d, binom(int64(b), qs[i]))
		}
	}
	return binomialSum{exact: true, d: d}
}

// atLeast is P(T ≥ t) for a real t (T takes whole values).
func (s binomialSum) atLeast(t float64) float64 {
	k := math.Ceil(t - 1e-9)
	if !s.exact {
		if s.sdev == 0 {
			if k <= s.mean {
				return 1
			}
			return 0
		}
		return 0.5 * math.Erfc((k-0.5-s.mean)/(s.sdev*math.Sqrt2))
	}
	var sum float64
	for i := len(s.d.p) - 1; i >= 0 && float64(s.d.lo+int64(i)) >= k; i-- {
		sum += s.d.p[i]
	}
	return math.Min(sum, 1)
}

// critical is the smallest whole c with P(T ≥ c) ≤ alpha.
func (s binomialSum) critical(alpha float64) float64 {
	if !s.exact {
		z := math.Sqrt2 * math.Erfinv(1-2*alpha)
		c := math.Ceil(s.mean + 0.5 + z*s.sdev)
		// Settle the rounding at the boundary; past 2⁵³ c±1 is c itself.
		for range 4 {
			if c-1 == c || s.atLeast(c-1) > alpha {
				break
			}
			c--
		}
		for range 4 {
			if c+1 == c || s.atLeast(c) <= alpha {
				break
			}
			c++
		}
		return c
	}
	var sum float64
	for i := len(s.d.p) - 1; i >= 0; i-- {
		if sum+s.d.p[i] > alpha {
			return float64(s.d.lo + int64(i) + 1)
		}
		sum += s.d.p[i]
	}
	return float64(s.d.lo)
}

// apportion rounds non-negative values to whole numbers that keep their
// rounded sum: each is floored and the remainder goes one by one to the
// largest fractions (ties to the earlier value). Per-value rounding would
// turn many small values (one bad event each, divided by φ = 1.4) into as
// many as before.
func apportion(vs []float64) []float64 {
	out := make([]float64, len(vs))
	var total, floors float64
	type frac struct {
		i int
		f float64
	}
	fr := make([]frac, len(vs))
	for i, v := range vs {
		out[i] = math.Floor(v)
		total += v
		floors += out[i]
		fr[i] = frac{i, v - out[i]}
	}
	slices.SortStableFunc(fr, func(a, b frac) int {
		switch {
		case a.f > b.f:
			return -1
		case a.f < b.f:
			return 1
		}
		return 0
	})
	rest := int(math.Round(total) - floors)
	for k := 0; k < rest && k < len(fr); k++ {
		out[fr[k].i]++
	}
	return out
}
