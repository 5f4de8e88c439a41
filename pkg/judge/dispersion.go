package judge

import "math"

// maxDispersion caps φ so that it stays finite; at that point no test can
// conclude anything anyway.
const maxDispersion = 1e6

// dispersion estimates how much more bad events vary than independent
// events would: a Pearson χ² estimate pooled over looks and versions.
//
// Within one look each version's rate is taken as constant, so given the
// y bad events a version had in the look (summed over its sub-intervals),
// independent events would fall into sub-interval j with probability
// πⱼ = mⱼ/m, its share of the version's requests: a multinomial, for which
//
//	χ² = Σⱼ (yⱼ − y·πⱼ)² / (y·πⱼ)
//
// has expectation exactly J−1 (J the sub-intervals with requests). Bursts
// of B events inflate it about B times. φ = Σ χ² / Σ (J−1) over the looks so
// far and both versions, floored at 1: the judge never treats events as
// more informative than independent ones. Conditioning on each look's total
// keeps a baseline that drifts from look to look (a daily cycle) out of φ.
//
// The canary's sub-intervals count too: given its look total, how its bad
// events spread over the look does not depend on θ, so a canary that is
// worse but not bursty does not inflate φ, while a bursty one (its bursts
// are what a 10-rps canary shows first) is discounted. The price: a canary
// whose rate jumps within a look looks bursty in that look, which costs
// some power for that look (the e-process still sees the jump).
//
// A version-look without bad events, or with fewer than two sub-intervals
// with requests, says nothing; with none that say something, φ is 1.
type dispersion struct {
	chi2, df float64
}

func (d *dispersion) add(l Look) {
	d.addSubs(l.CanarySub)
	d.addSubs(l.StableSub)
}

func (d *dispersion) addSubs(subs []Counts) {
	var m, y float64
	var j int
	for _, s := range subs {
		if s.Total > 0 {
			m += float64(s.Total)
			y += float64(s.Bad)
			j++
		}
	}
	if y == 0 || j < 2 {
		return
	}
	var chi2 float64
	for _, s := range subs {
		if s.Total > 0 {
			e := y * float64(s.Total) / m
			r := float64(s.Bad) - e
			chi2 += r * r / e
		}
	}
	d.chi2 += chi2
	d.df += float64(j - 1)
}

// phi is the dispersion factor so far, in [1, maxDispersion].
func (d *dispersion) phi() float64 {
	if d.df == 0 {
		return 1
	}
	phi := d.chi2 / d.df
	if math.IsNaN(phi) || phi < 1 {
		return 1
	}
	return math.Min(phi, maxDispersion)
}
