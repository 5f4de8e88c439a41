package judge

import "math"

// final takes the horizon's decision into o.
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
// bᵢ' = yᵢ·(Detect·nᵢ + mᵢ)/mᵢ bad events (divided by φ), the canary's share
// of them pᵢ(Detect) instead of qᵢ. The power is computed for a single
// binomial with B' = Σbᵢ' events and the event-weighted mean shares q̄ and p̄:
// a sum of binomials with shares that differ between looks varies a little
// less than that, so the figure is slightly conservative, it costs no
// convolution, and it is what TimeToPower computes for a planned step. It
// uses the stable version's events only, so a canary that is worse but not
// significantly so does not inflate it; and it only chooses between
// Successful and NotEnoughTraffic, so it cannot make a false positive.
func final(cfg Config, looks []Look, o *Outcome) {
	ts := informative(looks)
	bs, qs := make([]float64, len(ts)), make([]float64, len(ts))
	for i, t := range ts {
		bs[i], qs[i] = t.b/o.Dispersion, t.q()
	}
	bs = wholeIfExact(bs, exactLimit)
	var observed float64
	for i, t := range ts {
		observed += t.x * bs[i] / t.b
	}
	null := newBinomialSum(bs, qs, exactLimit)
	o.PValue = finite(null.atLeast(observed), 1)
	o.Exact = null.exact
	o.Power = finite(achievedPower(cfg, looks, o.Dispersion), 0)
	switch {
	case o.PValue <= cfg.alphaFinal():
		o.Decision, o.Reason, o.Test = Failed, ReasonWorse, TestFinal
	case o.Power >= cfg.Power:
		o.Decision, o.Reason = Successful, ReasonNotWorse
	default:
		o.Decision, o.Reason = Inconclusive, ReasonNotEnoughTraffic
	}
}

// achievedPower is the final test's power for cfg.Detect given the looks'
// traffic and the stable version's bad-event rate (see final).
func achievedPower(cfg Config, looks []Look, phi float64) float64 {
	var b, q0, q1 float64
	for _, l := range looks {
		n, m, y := float64(l.Canary.Total), float64(l.Stable.Total), float64(l.Stable.Bad)
		if n <= 0 || m <= 0 || y <= 0 {
			continue
		}
		t := term{n: n, m: m}
		bi := y * (cfg.Detect*n + m) / m / phi
		b += bi
		q0 += bi * t.q()
		q1 += bi * t.p(cfg.Detect)
	}
	if !(b > 0) {
		return 0
	}
	return power(b, q0/b, q1/b, cfg.alphaFinal())
}

// power is P₁(T ≥ c) for T ~ Binomial(b, q1), where c is the level-alpha
// critical value of Binomial(b, q0); b is rounded to a whole number of
// events when the exact distribution is used.
func power(b, q0, q1, alpha float64) float64 {
	bs := wholeIfExact([]float64{b}, exactLimit)
	c := newBinomialSum(bs, []float64{q0}, exactLimit).critical(alpha)
	return newBinomialSum(bs, []float64{q1}, exactLimit).atLeast(c)
}

// wholeIfExact apportions the counts to whole numbers when the exact
// distribution will be used (at most limit events), and leaves them as they
// are otherwise.
func wholeIfExact(bs []float64, limit float64) []float64 {
	var total float64
	for _, b := range bs {
		total += b
	}
	if total > limit || math.IsNaN(total) {
		return bs
	}
	return apportion(bs)
}
