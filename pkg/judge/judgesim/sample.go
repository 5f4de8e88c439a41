package judgesim

import (
	"math"
	"math/rand/v2"
)

// The standard library has no Poisson or binomial sampler. These follow the
// published algorithms: inversion for small means, and W. Hörmann's
// transformed rejection with squeeze for large ones (PTRS for the Poisson,
// "The transformed rejection method for generating Poisson random
// variables", 1993; BTRS for the binomial, "The generation of binomial
// random variates", 1993). TestSamplers checks both against the exact
// probabilities.

// poisson draws from Poisson(mu).
func poisson(r *rand.Rand, mu float64) int64 {
	if mu <= 0 {
		return 0
	}
	if mu < 10 {
		u := r.Float64()
		p := math.Exp(-mu)
		s := p
		var k int64
		for u > s && k < 1000 {
			k++
			p *= mu / float64(k)
			s += p
		}
		return k
	}
	smu, lmu := math.Sqrt(mu), math.Log(mu)
	b := 0.931 + 2.53*smu
	a := -0.059 + 0.02483*b
	invAlpha := 1.1239 + 1.1328/(b-3.4)
	vr := 0.9277 - 3.6224/(b-2)
	for {
		u := r.Float64() - 0.5
		v := r.Float64()
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*a/us+b)*u + mu + 0.43)
		if us >= 0.07 && v <= vr {
			return int64(k)
		}
		if k < 0 || (us < 0.013 && v > us) {
			continue
		}
		lg, _ := math.Lgamma(k + 1)
		if math.Log(v)+math.Log(invAlpha)-math.Log(a/(us*us)+b) <= -mu+k*lmu-lg {
			return int64(k)
		}
	}
}

// binomial draws from Binomial(n, p).
func binomial(r *rand.Rand, n int64, p float64) int64 {
	switch {
	case n <= 0 || p <= 0:
		return 0
	case p >= 1:
		return n
	case p > 0.5:
		return n - binomial(r, n, 1-p)
	}
	q := 1 - p
	if float64(n)*p < 10 {
		s := p / q
		a := float64(n+1) * s
		f := math.Pow(q, float64(n))
		u := r.Float64()
		var k int64
		for u > f && k < n {
			u -= f
			k++
			f *= a/float64(k) - s
		}
		return k
	}
	nf := float64(n)
	spq := math.Sqrt(nf * p * q)
	b := 1.15 + 2.53*spq
	a := -0.0873 + 0.0248*b + 0.01*p
	c := nf*p + 0.5
	vr := 0.92 - 4.2/b
	alpha := (2.83 + 5.1/b) * spq
	lpq := math.Log(p / q)
	m := math.Floor((nf + 1) * p)
	h1, _ := math.Lgamma(m + 1)
	h2, _ := math.Lgamma(nf - m + 1)
	h := h1 + h2
	for {
		u := r.Float64() - 0.5
		v := r.Float64()
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*a/us+b)*u + c)
		if k < 0 || k > nf {
			continue
		}
		if us >= 0.07 && v <= vr {
			return int64(k)
		}
		g1, _ := math.Lgamma(k + 1)
		g2, _ := math.Lgamma(nf - k + 1)
		if math.Log(v*alpha/(a/(us*us)+b)) <= h-g1-g2+(k-m)*lpq {
			return int64(k)
		}
	}
}

// bursty draws the bad requests among n when bad requests come in bursts:
// the requests fall into runs of burst consecutive ones (the last run may
// be shorter) and each run fails as a whole with probability rate. Every
// request is bad with probability rate, as without bursts, but the count's
// variance is burst times larger.
func bursty(r *rand.Rand, n int64, rate float64, burst int) int64 {
	if burst <= 1 {
		return binomial(r, n, rate)
	}
	b := int64(burst)
	bad := b * binomial(r, n/b, rate)
	if rest := n % b; rest > 0 && r.Float64() < rate {
		bad += rest
	}
	return bad
}
