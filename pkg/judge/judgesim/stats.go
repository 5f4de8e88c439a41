package judgesim

import "math"

// ClopperPearsonUpper is the upper end of the exact (Clopper-Pearson) 95%
// interval of a proportion after k successes in n trials: the p at which
// P(X ≤ k) = 2.5% for X ~ Binomial(n, p). 1 when n is 0 or k is n.
func ClopperPearsonUpper(k, n int) float64 {
	if n <= 0 || k >= n {
		return 1
	}
	lo, hi := float64(k)/float64(n), 1.0
	for range 100 {
		mid := (lo + hi) / 2
		if binomialCDF(k, n, mid) > 0.025 {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// binomialCDF is P(X ≤ k) for X ~ Binomial(n, p), k < n, with p ≥ k/n so
// that the terms fall from k down to 0.
func binomialCDF(k, n int, p float64) float64 {
	if p >= 1 {
		return 0
	}
	a, _ := math.Lgamma(float64(n) + 1)
	b, _ := math.Lgamma(float64(k) + 1)
	c, _ := math.Lgamma(float64(n-k) + 1)
	logTop := a - b - c + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p)
	sum, term := 1.0, 1.0
	for j := k; j > 0; j-- {
		term *= float64(j) / float64(n-j+1) * (1 - p) / p
		sum += term
		if term < 1e-17*sum {
			break
		}
	}
	return math.Exp(logTop) * sum
}
