package judge

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// looks builds n equal looks.
func looks(n int, l Look) []Look {
	out := make([]Look, n)
	for i := range out {
		out[i] = l
	}
	return out
}

func look(n, x, m, y int64) Look {
	return Look{Canary: Counts{Total: n, Bad: x}, Stable: Counts{Total: m, Bad: y}}
}

func TestEdgeCases(t *testing.T) {
	const max = math.MaxInt64
	for _, c := range []struct {
		name     string
		cfg      Config
		looks    []Look
		decision Decision
		reason   string
		look     int
		message  string // a part of the message
	}{
		{"no looks yet", Config{Looks: 10}, nil, Continue, ReasonObserving, 0, "look 0 of 10"},
		{"no traffic at all", Config{Looks: 3}, looks(3, Look{}), Inconclusive, ReasonNotEnoughTraffic, 3, "power 0.000"},
		{"no bad events", Config{Looks: 3}, looks(3, look(1000, 0, 9000, 0)), Inconclusive, ReasonNotEnoughTraffic, 3, "not enough traffic"},
		{"no canary traffic", Config{Looks: 2}, looks(2, look(0, 0, 9000, 90)), Inconclusive, ReasonNotEnoughTraffic, 2, ""},
		{"no stable traffic", Config{Looks: 2}, looks(2, look(9000, 90, 0, 0)), Inconclusive, ReasonNotEnoughTraffic, 2, ""},
		{"alpha out of range", Config{Alpha: 1.5, Looks: 1}, nil, Inconclusive, ReasonInvalidConfig, 0, "alpha 1.5"},
		{"detect at most 1", Config{Detect: 0.5, Looks: 1}, nil, Inconclusive, ReasonInvalidConfig, 0, "detect 0.5"},
		{"power NaN", Config{Power: math.NaN(), Looks: 1}, nil, Inconclusive, ReasonInvalidConfig, 0, "power NaN"},
		{"looks missing", Config{}, nil, Inconclusive, ReasonInvalidConfig, 0, "looks 0"},
		{"negative total", Config{Looks: 3}, []Look{look(10, 0, 90, 1), look(-1, 0, 90, 1)}, Inconclusive, ReasonInvalidCounts, 2, "look 2: canary total -1 is negative"},
		{"negative bad", Config{Looks: 3}, []Look{look(10, 0, 90, -3)}, Inconclusive, ReasonInvalidCounts, 1, "look 1: stable bad -3 is negative"},
		{"bad above total", Config{Looks: 3}, []Look{look(10, 11, 90, 1)}, Inconclusive, ReasonInvalidCounts, 1, "canary bad 11 is more than its total 10"},
		{"bad sub-interval", Config{Looks: 3}, []Look{{Canary: Counts{10, 0}, Stable: Counts{90, 1}, StableSub: []Counts{{45, 0}, {1, 2}}}},
			Inconclusive, ReasonInvalidCounts, 1, "stable sub-interval 2: bad 2 is more than its total 1"},
		{"huge counts, not worse", Config{Looks: 2}, looks(2, look(max/4, max/400, max/4, max/400)), Successful, ReasonNotWorse, 2, "not worse"},
		{"huge counts, worse", Config{Looks: 2}, looks(2, look(max/4, max/200, max/4, max/400)), Failed, ReasonWorse, 1, "e-value 1e+300"},
		{"int64 maximum everywhere", Config{Looks: 2}, looks(2, look(max, max, max, max)), Successful, ReasonNotWorse, 2, ""},
		{"canary bad only", Config{Looks: 1}, []Look{look(1000, 30, 9000, 0)}, Failed, ReasonWorse, 1, ""},
		{"looks past the horizon are not judged", Config{Looks: 2}, append(looks(2, look(3000, 30, 27000, 270)), look(3000, 3000, 27000, 0)), Successful, ReasonNotWorse, 2, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := Judge(c.cfg, c.looks)
			if v.Decision != c.decision || v.Reason != c.reason || v.Look != c.look {
				t.Errorf("%s/%s at look %d, want %s/%s at look %d: %s", v.Decision, v.Reason, v.Look, c.decision, c.reason, c.look, v.Message)
			}
			if !strings.Contains(v.Message, c.message) {
				t.Errorf("message %q does not say %q", v.Message, c.message)
			}
			checkFinite(t, v)
		})
	}
}

// checkFinite fails when a verdict would not serialize or holds a value out
// of its range.
func checkFinite(t *testing.T, v Verdict) {
	t.Helper()
	if _, err := json.Marshal(v); err != nil {
		t.Errorf("verdict does not serialize: %v (%+v)", err, v)
	}
	in := func(what string, x, lo, hi float64) {
		if !(x >= lo && x <= hi) {
			t.Errorf("%s %v outside [%v, %v]: %s", what, x, lo, hi, v.Message)
		}
	}
	in("p-value", v.PValue, 0, 1)
	in("power", v.Power, 0, 1)
	in("dispersion", v.Dispersion, 1, maxDispersion)
	in("θ̂", v.ThetaHat, 0, ThetaMax)
	in("θ lower bound", v.ThetaLo, 0, v.ThetaHat)
	in("θ upper bound", v.ThetaHi, v.ThetaHat, ThetaMax)
	in("e-value", v.EValue, 0, eValueMax)
	for _, e := range v.EValues {
		in("e-value on the path", e, 0, eValueMax)
	}
	if v.Message == "" || v.Reason == "" {
		t.Errorf("verdict without reason or message: %+v", v)
	}
}

// TestPrefix: a verdict other than Continue at look k is the verdict of
// every longer list of looks starting with the same k, and Judge, Decide and
// Analysis agree look by look.
func TestPrefix(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for range 200 {
		cfg := Config{Looks: 1 + r.IntN(12)}
		var ls []Look
		worse := 1 + 3*r.Float64()
		a := NewAnalysis(cfg)
		var decided *Verdict
		for i := range cfg.Looks + 2 {
			n, m := int64(r.IntN(2000)), int64(r.IntN(20000))
			rate := 0.02 * r.Float64()
			ls = append(ls, look(n, int64(float64(n)*rate*worse*r.Float64()*2), m, int64(float64(m)*rate*r.Float64()*2)))
			v := Judge(cfg, ls)
			o := a.Add(ls[i])
			d := Decide(cfg, ls)
			if o != d || o.Decision != v.Decision || o.Look != v.Look || o.PValue != v.PValue || o.EValue != v.EValue {
				t.Fatalf("after look %d: Analysis %+v, Decide %+v, Judge %+v", i+1, o, d, v)
			}
			if decided != nil && !reflect.DeepEqual(*decided, v) {
				t.Fatalf("after look %d the verdict changed from %+v to %+v", i+1, *decided, v)
			}
			if v.Decision != Continue && decided == nil {
				decided = &v
			}
		}
		if decided == nil {
			t.Fatalf("no verdict after %d looks with Looks %d", len(ls), cfg.Looks)
		}
	}
}

// TestDispersion: sub-intervals with bursts of four give φ near 4 and
// weaken the evidence; without sub-intervals φ is 1.
func TestDispersion(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// x and y bad events in bursts of 4, each burst in a random one of 30
	// sub-intervals with equal traffic.
	bursty := func(x, y int64) Look {
		l := look(3000, x, 27000, y)
		l.CanarySub, l.StableSub = make([]Counts, 30), make([]Counts, 30)
		for j := range 30 {
			l.CanarySub[j].Total, l.StableSub[j].Total = 100, 900
		}
		for range x / 4 {
			l.CanarySub[r.IntN(30)].Bad += 4
		}
		for range y / 4 {
			l.StableSub[r.IntN(30)].Bad += 4
		}
		return l
	}
	plain := Judge(Config{Looks: 3}, looks(3, look(3000, 40, 27000, 272)))
	burst := Judge(Config{Looks: 3}, []Look{bursty(40, 272), bursty(40, 272), bursty(40, 272)})
	if plain.Dispersion != 1 {
		t.Errorf("dispersion %v without sub-intervals, want 1", plain.Dispersion)
	}
	if burst.Dispersion < 3 || burst.Dispersion > 5 {
		t.Errorf("dispersion %v with bursts of 4, want about 4", burst.Dispersion)
	}
	if plain.Decision != Failed || burst.Decision == Failed {
		t.Errorf("1.3× the stable rate: %s without bursts (%s), %s with bursts (%s); want Failed, then not",
			plain.Decision, plain.Message, burst.Decision, burst.Message)
	}
	if burst.ThetaHi-burst.ThetaLo <= plain.ThetaHi-plain.ThetaLo {
		t.Errorf("interval with bursts %v–%v no wider than without %v–%v", burst.ThetaLo, burst.ThetaHi, plain.ThetaLo, plain.ThetaHi)
	}
}

// TestLoadSwingsCancel: a look where both versions' error rates jump ten
// times (an outage of a shared dependency) is no evidence against the
// canary, and weights that change between looks are fine.
func TestLoadSwingsCancel(t *testing.T) {
	ls := []Look{look(300, 3, 2700, 27), look(300, 30, 2700, 270), look(1500, 15, 1500, 15), look(3000, 30, 0, 0)}
	v := Judge(Config{Looks: 4}, ls)
	if v.Decision == Failed || v.ThetaHat < 0.9 || v.ThetaHat > 1.1 {
		t.Errorf("%s, θ̂ %v: %s", v.Decision, v.ThetaHat, v.Message)
	}
	// Simpson's paradox: the canary gets most of its traffic while errors
	// are ten times as common for everyone. Per look the versions are
	// equal; pooled over the looks the canary would look eight times worse.
	ls = []Look{look(1000, 1, 9000, 9), look(9000, 900, 1000, 100)}
	perLook := Judge(Config{Looks: 2}, ls)
	pooled := Judge(Config{Looks: 1}, []Look{look(10000, 901, 10000, 109)})
	if perLook.Decision == Failed || pooled.Decision != Failed {
		t.Errorf("per look %s (θ̂ %.3g), pooled %s (θ̂ %.3g); want not Failed, then Failed",
			perLook.Decision, perLook.ThetaHat, pooled.Decision, pooled.ThetaHat)
	}
}

func TestTimeToPower(t *testing.T) {
	cfg := Config{}
	d, ok := TimeToPower(cfg, Traffic{RPS: 100, CanaryShare: 0.1, BadRate: 0.01}, 30*time.Second)
	if !ok || d != 5*time.Minute {
		t.Errorf("headline traffic needs %v (%v), want 5m0s", d, ok)
	}
	prev := time.Duration(math.MaxInt64)
	for _, rps := range []float64{10, 100, 1000, 10000} {
		d, ok := TimeToPower(cfg, Traffic{RPS: rps, CanaryShare: 0.1, BadRate: 0.01}, 30*time.Second)
		if !ok || d > prev || d%(30*time.Second) != 0 {
			t.Errorf("%v rps: %v (%v) after %v", rps, d, ok, prev)
		}
		prev = d
		// The sizing agrees with the judge: looks with exactly the expected
		// counts reach the power at d, and not one interval earlier.
		k := int(d / (30 * time.Second))
		n, m := rps*0.1*30, rps*0.9*30
		l := look(int64(n), int64(n*0.01), int64(m), int64(m*0.01))
		if n*0.01 != math.Trunc(n*0.01) {
			continue // whole counts only
		}
		if v := Judge(Config{Looks: k}, looks(k, l)); v.Power < 0.95 {
			t.Errorf("%v rps: %d looks reach power %v", rps, k, v.Power)
		}
		if k > 1 {
			if v := Judge(Config{Looks: k - 1}, looks(k-1, l)); v.Power >= 0.95 {
				t.Errorf("%v rps: %d looks already reach power %v", rps, k-1, v.Power)
			}
		}
	}
	bursty, _ := TimeToPower(cfg, Traffic{RPS: 100, CanaryShare: 0.1, BadRate: 0.01, Dispersion: 4}, 30*time.Second)
	if bursty < 4*d*9/10 {
		t.Errorf("bursts of 4 need %v, want about 4 × %v", bursty, d)
	}
	for _, tr := range []Traffic{{RPS: 100, CanaryShare: 0.1}, {CanaryShare: 0.1, BadRate: 0.01}, {RPS: 100, CanaryShare: 1, BadRate: 0.01},
		{RPS: math.NaN(), CanaryShare: 0.1, BadRate: 0.01}, {RPS: 0.001, CanaryShare: 0.01, BadRate: 0.0001}} {
		if d, ok := TimeToPower(cfg, tr, 30*time.Second); ok {
			t.Errorf("%+v: %v, want not ok", tr, d)
		}
	}
}

func TestBinomialSum(t *testing.T) {
	// Against the direct formula.
	d := binom(40, 0.3)
	var total float64
	for i, p := range d.p {
		k := d.lo + int64(i)
		want := math.Exp(logChoose(40, k) + float64(k)*math.Log(0.3) + float64(40-k)*math.Log(0.7))
		if math.Abs(p-want) > 1e-15+1e-12*want {
			t.Errorf("P(%d) = %v, want %v", k, p, want)
		}
		total += p
	}
	if math.Abs(total-1) > 1e-14 {
		t.Errorf("probabilities sum to %v", total)
	}
	// Bin(a, q) + Bin(b, q) = Bin(a+b, q).
	sum := newBinomialSum([]float64{30, 70}, []float64{0.2, 0.2}, exactLimit)
	one := newBinomialSum([]float64{100}, []float64{0.2}, exactLimit)
	for _, c := range []float64{10, 20, 30, 35} {
		near(t, "tail", sum.atLeast(c), one.atLeast(c), 1e-12, 1e-16)
	}
	// The normal approximation above exactLimit is close to the exact sum
	// just below it.
	exact := newBinomialSum([]float64{exactLimit}, []float64{0.01}, exactLimit)
	approx := newBinomialSum([]float64{exactLimit}, []float64{0.01}, exactLimit-1)
	if !exact.exact || approx.exact {
		t.Fatal("exactLimit does not switch methods")
	}
	c := exact.critical(0.008)
	near(t, "critical value", approx.critical(0.008), c, 0, 1)
	near(t, "tail", approx.atLeast(c), exact.atLeast(c), 0.05, 0)
}

func TestApportion(t *testing.T) {
	for _, c := range []struct{ in, want []float64 }{
		{[]float64{1 / 1.4, 1 / 1.4, 1 / 1.4, 1 / 1.4}, []float64{1, 1, 1, 0}},
		{[]float64{2, 3}, []float64{2, 3}},
		{[]float64{0.5, 0.5}, []float64{1, 0}},
		{[]float64{}, []float64{}},
	} {
		if got := apportion(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("apportion(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
