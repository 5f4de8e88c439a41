package judgesim

import (
	"math"
	"math/rand/v2"

	"github.com/gitcanary/gitcanary/pkg/judge"
)

// The standard library has no Poisson sampler. This one follows the
// published algorithms: inversion for small means, and W. Hörmann's
// transformed rejection with squeeze (PTRS, "The transformed rejection
// method for generating Poisson random variables", 1993) for means of 10
// and more. TestPoisson checks it against the exact probabilities.

// poissonSampler draws from Poisson(mu), its constants computed once (a
// release draws thousands of counts with the same few means).
type poissonSampler struct {
	mu, expNeg              float64 // inversion (mu < 10)
	lmu, a, b, invAlpha, vr float64 // PTRS
}

func newPoisson(mu float64) poissonSampler {
	s := poissonSampler{mu: mu, expNeg: math.Exp(-mu)}
	if mu >= 10 {
		s.lmu = math.Log(mu)
		s.b = 0.931 + 2.53*math.Sqrt(mu)
		s.a = -0.059 + 0.02483*s.b
		s.invAlpha = 1.1239 + 1.1328/(s.b-3.4)
		s.vr = 0.9277 - 3.6224/(s.b-2)
	}
	return s
}

func (s *poissonSampler) draw(r *rand.Rand) int64 {
	if s.mu <= 0 {
		return 0
	}
	if s.mu < 10 {
		u := r.Float64()
		p := s.expNeg
		sum := p
		var k int64
		for u > sum && k < 1000 {
			k++
			p *= s.mu / float64(k)
			sum += p
		}
		return k
	}
	for {
		u := r.Float64() - 0.5
		v := r.Float64()
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*s.a/us+s.b)*u + s.mu + 0.43)
		if us >= 0.07 && v <= s.vr {
			return int64(k)
		}
		if k < 0 || (us < 0.013 && v > us) {
			continue
		}
		lg, _ := math.Lgamma(k + 1)
		if math.Log(v)+math.Log(s.invAlpha)-math.Log(s.a/(us*us)+s.b) <= -s.mu+k*s.lmu-lg {
			return int64(k)
		}
	}
}

// poisson draws from Poisson(mu).
func poisson(r *rand.Rand, mu float64) int64 {
	s := newPoisson(mu)
	return s.draw(r)
}

// traffic draws one version's requests in one sub-interval: good requests
// arrive as a Poisson process, bad ones in bursts of burst requests whose
// starts arrive as a Poisson process, so that the share of bad requests is
// rate and the bad count's variance is burst times its mean. With burst 1
// this is exactly Poisson requests each bad with probability rate (Poisson
// thinning).
type traffic struct {
	good, bursts poissonSampler
	burst        int64
}

func newTraffic(mu, rate float64, burst int) traffic {
	return traffic{good: newPoisson(mu * (1 - rate)), bursts: newPoisson(mu * rate / float64(burst)), burst: int64(burst)}
}

func (t *traffic) draw(r *rand.Rand) judge.Counts {
	bad := t.burst * t.bursts.draw(r)
	return judge.Counts{Total: t.good.draw(r) + bad, Bad: bad}
}
