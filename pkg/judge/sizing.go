package judge

import (
	"math"
	"time"
)

// Traffic describes a step's expected traffic for sizing.
type Traffic struct {
	// RPS is the service's requests per second, both versions together.
	RPS float64
	// CanaryShare is the canary's share of them, in (0, 1).
	CanaryShare float64
	// BadRate is the stable version's share of bad requests, in (0, 1).
	BadRate float64
	// Dispersion is the expected φ (bursts of about that many bad events);
	// 0 means 1.
	Dispersion float64
}

// maxSizing bounds the search: a step that needs longer than this cannot
// reach the power.
const maxSizing = 30 * 24 * time.Hour

// TimeToPower is the time a step needs, in whole intervals, for the final
// test to reach cfg.Power against a canary cfg.Detect times worse, at the
// expected traffic: the same achieved power a Successful verdict requires,
// computed with each look's expected counts instead of observed ones. The
// warm-up is not included. ok is false when no step up to 30 days reaches
// it (no traffic, no bad events, a share of 0 or 1) or the arguments are
// out of range. Observed counts scatter around the expected ones, so a step
// exactly this long passes a good canary only about half of the time; see
// the sizing notes in docs/analysis.md.
func TimeToPower(cfg Config, t Traffic, interval time.Duration) (d time.Duration, ok bool) {
	cfg.Looks = 1
	cfg = cfg.WithDefaults()
	phi := t.Dispersion
	if phi == 0 {
		phi = 1
	}
	switch {
	case cfg.Validate() != nil, interval <= 0,
		!(t.RPS > 0 && t.RPS < 1e12), !(t.CanaryShare > 0 && t.CanaryShare < 1),
		!(t.BadRate > 0 && t.BadRate < 1), !(phi >= 1 && phi <= maxDispersion):
		return 0, false
	}
	secs := interval.Seconds()
	look := term{n: t.RPS * t.CanaryShare * secs, m: t.RPS * (1 - t.CanaryShare) * secs}
	perLook := t.BadRate * (cfg.Detect*look.n + look.m) / phi
	q0, q1 := look.q(), look.p(cfg.Detect)
	// Looks with the same q add up to one binomial: k looks are one
	// Binomial(k·perLook, ·), as achievedPower computes it.
	enough := func(k int64) bool {
		b := math.Round(float64(k) * perLook)
		return power(b, q0, q1, cfg.alphaFinal()) >= cfg.Power
	}
	maxLooks := int64(maxSizing / interval)
	if maxLooks < 1 || !enough(maxLooks) {
		return 0, false
	}
	// Power grows with k, up to the discreteness of the test (a saw-tooth
	// of a fraction of a percent): the bisection finds a k that is enough
	// where k−1 is not.
	lo, hi := int64(0), int64(1)
	for hi < maxLooks && !enough(hi) {
		lo, hi = hi, min(2*hi, maxLooks)
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if enough(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return time.Duration(hi) * interval, true
}
