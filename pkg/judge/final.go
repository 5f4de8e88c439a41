package judge

import (
	"fmt"
	"math"
)

// final takes the horizon's decision; v already holds the summary.
//
// The test: given each look's bad events, the canary's Σxᵢ is, under θ = 1,
// a sum of independent Binomial(bᵢ, qᵢ) with qᵢ = nᵢ/(nᵢ+mᵢ). Σxᵢ is the
// score statistic of θ at 1 (the locally most powerful one when the canary's
// share of traffic differs between looks), and its exact distribution is
// the convolution of the looks' binomials, which binomialSum computes. The
// p-value is P(Σ ≥ observed); the canary fails when it is at most
// 0.8·Alpha. With φ > 1 every look counts bᵢ/φ events (apportioned to whole
// numbers) of which the canary had xᵢ/φ (scaled alike).
//
// The power: what the same test would have had, with the requests each
// look actually saw and the stable version's observed bad-event rate, if
// the canary's rate were Detect times the stable's. Look i then expects
// yᵢ·(Detect·nᵢ + mᵢ)/mᵢ bad events (divided by φ); the power is the chance
// that the Binomial sum with pᵢ(Detect) reaches the test's critical value
// for those counts. It uses the stable version's events only, so a canary
// that is worse but not significantly so does not inflate it.
func final(cfg Config, looks []Look, v Verdict) Verdict {
	ts := informative(looks)
	phi := v.Dispersion
	bs, qs := make([]float64, len(ts)), make([]float64, len(ts))
	for i, t := range ts {
		bs[i], qs[i] = t.b/phi, t.q()
	}
	bs = wholeIfExact(bs)
	var observed float64
	for i, t := range ts {
		observed += t.x * bs[i] / t.b
	}
	null := newBinomialSum(bs, qs)
	v.PValue = finite(null.atLeast(observed), 1)
	v.Power = finite(achievedPower(cfg, looks, phi), 0)
	v.Exact = null.exact
	alpha := cfg.alphaFinal()
	switch {
	case v.PValue <= alpha:
		v.Decision, v.Reason, v.Test = Failed, ReasonWorse, TestFinal
		v.Message = fmt.Sprintf("canary worse than stable at the horizon (look %d): p-value %.3g ≤ %.3g (θ̂ %.3g, 95%% interval %.3g–%.3g, dispersion %.3g)",
			v.Look, v.PValue, alpha, v.ThetaHat, v.ThetaLo, v.ThetaHi, v.Dispersion)
	case v.Power >= cfg.Power:
		v.Decision, v.Reason = Successful, ReasonNotWorse
		v.Message = fmt.Sprintf("canary not worse than stable: p-value %.3g, power %.3f to detect %g× (θ̂ %.3g, 95%% interval %.3g–%.3g, dispersion %.3g)",
			v.PValue, v.Power, cfg.Detect, v.ThetaHat, v.ThetaLo, v.ThetaHi, v.Dispersion)
	default:
		v.Decision, v.Reason = Inconclusive, ReasonNotEnoughTraffic
		v.Message = fmt.Sprintf("not enough traffic: power %.3f to detect %g× is below %g (p-value %.3g, %d canary and %d stable bad events, dispersion %.3g)",
			v.Power, cfg.Detect, cfg.Power, v.PValue, v.Canary.Bad, v.Stable.Bad, v.Dispersion)
	}
	return v
}

// achievedPower is the final test's power for cfg.Detect given the looks'
// traffic and the stable version's bad-event rate (see final).
func achievedPower(cfg Config, looks []Look, phi float64) float64 {
	var bs, q0, q1 []float64
	for _, l := range looks {
		n, m, y := float64(l.Canary.Total), float64(l.Stable.Total), float64(l.Stable.Bad)
		if n <= 0 || m <= 0 || y <= 0 {
			continue
		}
		t := term{n: n, m: m}
		bs = append(bs, y*(cfg.Detect*n+m)/m/phi)
		q0 = append(q0, t.q())
		q1 = append(q1, t.p(cfg.Detect))
	}
	return power(bs, q0, q1, cfg.alphaFinal())
}

// power is P₁(T ≥ c) where c is the level-alpha critical value of T under
// q0 and T is the sum of Binomial(bᵢ, ·) under q0 or q1.
func power(bs, q0, q1 []float64, alpha float64) float64 {
	bs = wholeIfExact(bs)
	c := newBinomialSum(bs, q0).critical(alpha)
	return newBinomialSum(bs, q1).atLeast(c)
}

// wholeIfExact apportions the counts to whole numbers when the exact
// distribution will be used, and leaves them as they are otherwise.
func wholeIfExact(bs []float64) []float64 {
	var total float64
	for _, b := range bs {
		total += b
	}
	if total > exactLimit || math.IsNaN(total) {
		return bs
	}
	return apportion(bs)
}
