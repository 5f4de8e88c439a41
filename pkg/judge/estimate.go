package judge

import "math"

// chi2Quantile95 is the 95% quantile of χ² with one degree of freedom.
const chi2Quantile95 = 3.841458820694124

// The search range of u = log θ: below uMin θ is reported as about 0.
var uMin, uMax = -50.0, math.Log(ThetaMax)

// estimate returns θ̂, the maximum of the conditional likelihood over the
// informative looks, and the 95% profile-likelihood interval
// {θ : 2·(ℓ(θ̂) − ℓ(θ))/φ ≤ χ²₁,₀.₉₅}, φ widening it for bursty events.
// With no informative look it returns 0, 0, ThetaMax (nothing is known);
// with no canary bad event θ̂ and the lower bound are 0; with bad events on
// the canary only, θ̂ and the upper bound are ThetaMax.
func estimate(ts []term, phi float64) (hat, lo, hi float64) {
	if len(ts) == 0 {
		return 0, 0, ThetaMax
	}
	var x, b float64
	for _, t := range ts {
		x += t.x
		b += t.b
	}
	ll := func(u float64) float64 { return loglik(ts, u) }
	// g(u) > 0 outside the interval; its slope is −2ℓ'(u)/φ.
	outside := func(top float64) func(u float64) (float64, float64) {
		return func(u float64) (float64, float64) {
			return 2*(top-ll(u))/phi - chi2Quantile95, -2 * score(ts, u) / phi
		}
	}
	switch {
	case x == 0:
		// ℓ rises towards its supremum 0 as θ → 0.
		uHi := solveDecreasing(neg(outside(0)), uMin, uMax)
		return 0, 0, theta(uHi)
	case x == b:
		uLo := solveDecreasing(outside(0), uMin, uMax)
		return ThetaMax, theta(uLo), ThetaMax
	}
	uHat := solveDecreasing(func(u float64) (float64, float64) { return score(ts, u), -information(ts, u) }, uMin, uMax)
	g := outside(ll(uHat))
	uLo := solveDecreasing(g, uMin, uHat)
	uHi := solveDecreasing(neg(g), uHat, uMax)
	return theta(uHat), theta(uLo), theta(uHi)
}

func theta(u float64) float64 {
	if u <= uMin {
		return 0
	}
	return finite(math.Min(math.Exp(u), ThetaMax), ThetaMax)
}

func neg(f func(float64) (float64, float64)) func(float64) (float64, float64) {
	return func(u float64) (float64, float64) {
		v, d := f(u)
		return -v, -d
	}
}

// loglik is the conditional log-likelihood at θ = eᵘ, up to a constant:
// Σ xᵢ·log pᵢ + yᵢ·log(1−pᵢ), with pᵢ = σ(u + log(nᵢ/mᵢ)).
func loglik(ts []term, u float64) float64 {
	var l float64
	for _, t := range ts {
		z := u + t.c
		l -= t.x*softplus(-z) + (t.b-t.x)*softplus(z)
	}
	return l
}

// score is dℓ/du = Σ xᵢ − bᵢ·pᵢ, decreasing in u.
func score(ts []term, u float64) float64 {
	var s float64
	for _, t := range ts {
		s += t.x - t.b*sigmoid(u+t.c)
	}
	return s
}

// information is −d²ℓ/du² = Σ bᵢ·pᵢ·(1−pᵢ).
func information(ts []term, u float64) float64 {
	var s float64
	for _, t := range ts {
		p := sigmoid(u + t.c)
		s += t.b * p * (1 - p)
	}
	return s
}

func softplus(z float64) float64 { return math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z))) }

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// solveDecreasing finds the root of a decreasing f in [a, b] (f returns its
// value and slope) by Newton steps kept inside a shrinking bracket; it
// returns a or b when f does not change sign there.
func solveDecreasing(f func(float64) (float64, float64), a, b float64) float64 {
	if v, _ := f(a); !(v > 0) {
		return a
	}
	if v, _ := f(b); !(v < 0) {
		return b
	}
	u := (a + b) / 2
	for range 200 {
		v, d := f(u)
		if v > 0 {
			a = u
		} else {
			b = u
		}
		next := u - v/d
		if !(next > a && next < b) {
			next = (a + b) / 2
		}
		if math.Abs(next-u) < 1e-12 || b-a < 1e-12 {
			return next
		}
		u = next
	}
	return u
}
