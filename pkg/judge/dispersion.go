package judge

import "math"

// maxDispersion caps φ so that it stays finite; at that point no test can
// conclude anything anyway.
const maxDispersion = 1e6

// dispersion estimates how much more the stable version's bad events vary
// than independent events would: a Pearson χ² estimate pooled over looks.
//
// Within one look the baseline rate is taken as constant, so given the
// look's y bad events (summed over its sub-intervals), independent events
// would fall into sub-interval j with probability πⱼ = mⱼ/m, its share of
// the look's requests: a multinomial, for which
//
//	χ² = Σⱼ (yⱼ − y·πⱼ)² / (y·πⱼ)
//
// has expectation exactly J−1 (J the sub-intervals with requests). Bursts
// of B events inflate it about B times. φ = Σ χ² / Σ (J−1) over the looks so
// far, floored at 1: the judge never treats events as more informative than
// independent ones. Conditioning on each look's total keeps a baseline that
// drifts from look to look (a daily cycle) out of φ. Looks without stable
// bad events or with fewer than two sub-intervals say nothing; with none of
// those, φ is 1.
//
// Only the stable version's sub-intervals are used: the canary may be
// genuinely different, and it is what is being judged.
type dispersion struct {
	chi2, df float64
}

func (d *dispersion) add(l Look) {
	var m, y float64
	var j int
	for _, s := range l.StableSub {
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
	for _, s := range l.StableSub {
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
