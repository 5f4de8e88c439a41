// Package judge decides, from exact event counts, whether a canary is worse
// than the stable version it runs next to. It is pure: no I/O, no clock, no
// goroutines, no randomness. Judge is a function of the looks so far, so the
// same looks (read back from git) always give the same verdict.
//
// The model. In look i the canary served n requests of which x were bad, the
// stable version m requests of which y were bad. Bad events of each version
// are treated as Poisson with rates θ·λᵢ·n and λᵢ·m: θ is the canary/stable
// ratio of bad-event rates, λᵢ whatever the baseline was in that look.
// Conditional on the look's b = x+y bad events, x is Binomial(b, pᵢ(θ)) with
//
//	pᵢ(θ) = θ·n / (θ·n + m),
//
// which no longer depends on λᵢ: load and error swings shared by both
// versions cancel, and the canary weight may change from look to look. For
// two binomials (rather than Poisson counts) the conditional law under θ = 1
// is hypergeometric, narrower than this binomial, so the tests are
// conservative when bad events are common (latency shares, say).
//
// Two tests share the false-positive budget Alpha (a union bound):
//
//   - at every look, a mixture-SPRT e-process on θ (see sequential.go) fails
//     the canary when its e-value reaches 1/(0.2·Alpha). It stays valid
//     however often it is looked at (Ville's inequality), so it can abort a
//     bad canary at the first look;
//   - at the horizon, one exact conditional test of Σx over all looks at
//     0.8·Alpha (see final.go). If it does not fail the canary, the canary
//     passes only if that test had at least Power to detect a ratio of
//     Detect with the traffic the looks actually saw; otherwise the verdict
//     is Inconclusive with reason NotEnoughTraffic.
//
// Bad events that come in bursts (one outage fails several requests at
// once) are over-dispersed: counted one by one they look like far more
// evidence than they are. The versions' sub-interval counts give a
// dispersion factor φ ≥ 1 (see dispersion.go); both tests use the counts
// divided by φ.
package judge

import (
	"fmt"
	"math"
)

// Counts are exact event counts over one interval.
type Counts struct {
	Total int64 `json:"total"`
	Bad   int64 `json:"bad"`
}

// Look is one look's counts: the deltas since the previous look.
type Look struct {
	Canary Counts `json:"canary"`
	Stable Counts `json:"stable"`
	// CanarySub and StableSub are each version's counts in sub-intervals
	// of the look (for example one per scrape), used only to estimate
	// over-dispersion (see dispersion). They need not add up to Canary and
	// Stable (scrapes and looks may not align). Either may be empty.
	CanarySub []Counts `json:"canarySub,omitempty"`
	StableSub []Counts `json:"stableSub,omitempty"`
}

// Decision is what the judge says after a look.
type Decision string

// The decisions.
const (
	// Continue: no verdict yet; look again after the next interval.
	Continue Decision = "Continue"
	// Successful: at the horizon, the canary is not worse and the analysis
	// could have told if it were.
	Successful Decision = "Successful"
	// Failed: the canary's bad-event rate is higher than the stable's.
	Failed Decision = "Failed"
	// Inconclusive: the judge cannot tell (too little traffic, bad input).
	Inconclusive Decision = "Inconclusive"
)

// Reasons, in Verdict.Reason.
const (
	ReasonObserving        = "Observing"        // Continue
	ReasonNotWorse         = "CanaryNotWorse"   // Successful
	ReasonWorse            = "CanaryWorse"      // Failed
	ReasonNotEnoughTraffic = "NotEnoughTraffic" // Inconclusive: power below Config.Power at the horizon
	ReasonInvalidCounts    = "InvalidCounts"    // Inconclusive: a negative count, or more bad events than requests
	ReasonInvalidConfig    = "InvalidConfig"    // Inconclusive: Config.Validate failed
)

// Which test took a Failed decision, in Verdict.Test.
const (
	TestSequential = "sequential"
	TestFinal      = "final"
)

// Verdict is the judge's answer and the evidence for it. Every float is
// finite, so the verdict can be written as JSON or YAML as it is.
type Verdict struct {
	Decision Decision `json:"decision"`
	Reason   string   `json:"reason"`
	// Message says in one line why, with the figures.
	Message string `json:"message"`
	// Test names the test that failed the canary (TestSequential or
	// TestFinal); empty otherwise.
	Test string `json:"test,omitempty"`
	// Look is the look (1-based) the verdict was taken at; for Continue the
	// last look judged. Looks past Config.Looks are never judged.
	Look int `json:"look"`
	// Canary and Stable are the totals over the looks judged: 1…Look, or
	// the looks before Look when it had invalid counts.
	Canary Counts `json:"canary"`
	Stable Counts `json:"stable"`
	// ThetaHat estimates θ, the canary/stable ratio of bad-event rates, by
	// maximum conditional likelihood; ThetaLo and ThetaHi bound it (95%,
	// profile likelihood, widened by Dispersion). θ̂ is 0 when the canary
	// had no bad event; values are capped at ThetaMax.
	ThetaHat float64 `json:"thetaHat"`
	ThetaLo  float64 `json:"thetaLo"`
	ThetaHi  float64 `json:"thetaHi"`
	// EValue is the e-process at Look; the sequential test fails the
	// canary when it reaches EThreshold. EValues is its path, one per look.
	EValue     float64   `json:"eValue"`
	EThreshold float64   `json:"eThreshold"`
	EValues    []float64 `json:"eValues"`
	// PValue is the one-sided p-value of the final test, 1 until the
	// horizon; Power the achieved power for Config.Detect at the horizon,
	// 0 before. Exact is false when the counts were so large that the
	// final test used a normal approximation (above exactLimit events).
	PValue float64 `json:"pValue"`
	Power  float64 `json:"power"`
	Exact  bool    `json:"exact"`
	// Dispersion is φ, the over-dispersion factor estimated from the
	// sub-intervals (1: none seen or no sub-intervals given).
	Dispersion float64 `json:"dispersion"`
}

// ThetaMax caps the reported θ̂ and its bounds (a canary with bad events
// where the stable version had none has an unbounded estimate).
const ThetaMax = 1e6

// eValueMax caps the reported e-value so that it stays finite.
const eValueMax = 1e300

// Judge decides after the looks so far; looks[i] is look i+1. It never
// panics and never returns NaN or infinities, whatever the input: bad counts
// or configuration make an Inconclusive verdict that names them. Calling it
// again with the same arguments gives the same verdict, and a verdict other
// than Continue at look k is also the verdict for every longer list that
// starts with the same k looks.
func Judge(cfg Config, looks []Look) Verdict {
	a := NewAnalysis(cfg)
	for _, l := range looks {
		if a.Add(l).Decision != Continue {
			break
		}
	}
	o := a.out
	if o.Reason == ReasonInvalidConfig {
		return Verdict{Decision: Inconclusive, Reason: ReasonInvalidConfig, Message: a.err.Error(),
			ThetaHi: ThetaMax, EValue: 1, PValue: 1, Exact: true, Dispersion: 1, EValues: []float64{}}
	}
	v := Verdict{Decision: o.Decision, Reason: o.Reason, Test: o.Test, Look: o.Look,
		EValue: o.EValue, EThreshold: a.threshold, EValues: a.path, PValue: o.PValue, Power: o.Power, Exact: o.Exact, Dispersion: o.Dispersion}
	for _, l := range a.looks {
		v.Canary.Total = satAdd(v.Canary.Total, l.Canary.Total)
		v.Canary.Bad = satAdd(v.Canary.Bad, l.Canary.Bad)
		v.Stable.Total = satAdd(v.Stable.Total, l.Stable.Total)
		v.Stable.Bad = satAdd(v.Stable.Bad, l.Stable.Bad)
	}
	v.ThetaHat, v.ThetaLo, v.ThetaHi = estimate(informative(a.looks), o.Dispersion)
	est := fmt.Sprintf("θ̂ %.3g, 95%% interval %.3g–%.3g, dispersion %.3g", v.ThetaHat, v.ThetaLo, v.ThetaHi, v.Dispersion)
	cfg = a.cfg
	switch {
	case a.err != nil:
		v.Message = fmt.Sprintf("look %d: %v", o.Look, a.err)
	case o.Decision == Continue:
		v.Message = fmt.Sprintf("look %d of %d: e-value %.4g (fails at %.4g; %s)", o.Look, cfg.Looks, v.EValue, a.threshold, est)
	case o.Test == TestSequential:
		v.Message = fmt.Sprintf("canary worse than stable at look %d: e-value %.4g ≥ %.4g (%s)", o.Look, v.EValue, a.threshold, est)
	case o.Test == TestFinal:
		v.Message = fmt.Sprintf("canary worse than stable at the horizon (look %d): p-value %.3g ≤ %.3g (%s)",
			o.Look, v.PValue, cfg.alphaFinal(), est)
	case o.Decision == Successful:
		v.Message = fmt.Sprintf("canary not worse than stable: p-value %.3g, power %.3f to detect %g× (%s)",
			v.PValue, v.Power, cfg.Detect, est)
	default:
		v.Message = fmt.Sprintf("not enough traffic: power %.3f to detect %g× is below %g (p-value %.3g, %d canary and %d stable bad events, dispersion %.3g)",
			v.Power, cfg.Detect, cfg.Power, v.PValue, v.Canary.Bad, v.Stable.Bad, v.Dispersion)
	}
	return v
}

// satAdd adds non-negative counts, saturating at the int64 maximum.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// invalid reports whether counts cannot be: negative, or more bad than total.
func (c Counts) invalid() bool { return c.Total < 0 || c.Bad < 0 || c.Bad > c.Total }

func (c Counts) explain(what string) error {
	switch {
	case c.Total < 0:
		return fmt.Errorf("%s total %d is negative", what, c.Total)
	case c.Bad < 0:
		return fmt.Errorf("%s bad %d is negative", what, c.Bad)
	}
	return fmt.Errorf("%s bad %d is more than its total %d", what, c.Bad, c.Total)
}

// validate names the first impossible count of a look (formatting only then:
// the simulation calls Judge millions of times).
func (l Look) validate() error {
	if l.Canary.invalid() {
		return l.Canary.explain("canary")
	}
	if l.Stable.invalid() {
		return l.Stable.explain("stable")
	}
	for _, sub := range []struct {
		what string
		cs   []Counts
	}{{"canary", l.CanarySub}, {"stable", l.StableSub}} {
		for j, c := range sub.cs {
			if c.invalid() {
				return c.explain(fmt.Sprintf("%s sub-interval %d:", sub.what, j+1))
			}
		}
	}
	return nil
}

// term is one look as the conditional model sees it: canary and stable
// traffic, canary and total bad events, as floats (counts may exceed 2⁵³;
// the precision lost there is far below the statistics' own).
type term struct {
	n, m, x, b float64
	c          float64 // log(n/m)
}

// informative keeps the looks that carry information about θ: both versions
// had traffic and there was at least one bad event. A look without traffic
// on one side, or without bad events, has a likelihood that does not depend
// on θ.
func informative(looks []Look) []term {
	var ts []term
	for _, l := range looks {
		t := term{n: float64(l.Canary.Total), m: float64(l.Stable.Total), x: float64(l.Canary.Bad)}
		t.b = t.x + float64(l.Stable.Bad)
		if t.n > 0 && t.m > 0 && t.b > 0 {
			t.c = math.Log(t.n) - math.Log(t.m)
			ts = append(ts, t)
		}
	}
	return ts
}

// q is the canary's share of a look's bad events under θ = 1.
func (t term) q() float64 { return t.n / (t.n + t.m) }

// p is the canary's share of a look's bad events under θ.
func (t term) p(theta float64) float64 { return theta * t.n / (theta*t.n + t.m) }

// finite replaces NaN and infinities (which no path should produce) so that
// a verdict always serializes.
func finite(v, fallback float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fallback
	}
	return v
}
