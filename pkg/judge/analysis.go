package judge

// Outcome is a decision without its evidence: what Decide returns and
// Analysis.Add returns after each look.
type Outcome struct {
	Decision Decision
	Reason   string
	Test     string // TestSequential or TestFinal for Failed
	Look     int    // the look the decision was taken at (0: no look yet)
	// As in Verdict.
	EValue, PValue, Power, Dispersion float64
	Exact                             bool
}

// Decide is Judge's decision without the estimate and the message.
func Decide(cfg Config, looks []Look) Outcome {
	a := NewAnalysis(cfg)
	for _, l := range looks {
		if a.Add(l).Decision != Continue {
			break
		}
	}
	return a.out
}

// Analysis judges one analysis' looks as they come, in time linear in the
// looks (Judge on a growing list is quadratic): after Add, the outcome is
// Decide's for all the looks added. It is what Judge and Decide run; the
// simulation drives it directly.
type Analysis struct {
	cfg       Config
	looks     []Look // the looks judged: up to the decision, before an invalid one
	path      []float64
	threshold float64
	seq       *sequential
	disp      dispersion
	out       Outcome
	err       error // why the configuration or a look is invalid
}

// NewAnalysis starts an analysis; cfg's zero fields take the defaults.
func NewAnalysis(cfg Config) *Analysis {
	cfg = cfg.WithDefaults()
	a := &Analysis{cfg: cfg, out: Outcome{Decision: Continue, Reason: ReasonObserving, EValue: 1, PValue: 1, Dispersion: 1, Exact: true}}
	if err := cfg.Validate(); err != nil {
		a.err = err
		a.out.Decision, a.out.Reason = Inconclusive, ReasonInvalidConfig
		return a
	}
	a.threshold = 1 / cfg.alphaSequential()
	a.seq = newSequential(cfg.Detect)
	a.path = make([]float64, 0, min(cfg.Looks, 64))
	return a
}

// Add judges the next look: the sequential test at every look, the final
// test at the horizon (look cfg.Looks). Once the outcome is other than
// Continue, Add ignores further looks and returns it again.
func (a *Analysis) Add(l Look) Outcome {
	o := &a.out
	if o.Decision != Continue {
		return *o
	}
	o.Look++
	if err := l.validate(); err != nil {
		a.err = err
		o.Decision, o.Reason = Inconclusive, ReasonInvalidCounts
		return *o
	}
	a.looks = append(a.looks, l)
	a.disp.add(l)
	a.seq.add(l)
	o.Dispersion = a.disp.phi()
	o.EValue = a.seq.evalue(o.Dispersion)
	a.path = append(a.path, o.EValue)
	switch {
	case o.EValue >= a.threshold:
		o.Decision, o.Reason, o.Test = Failed, ReasonWorse, TestSequential
	case o.Look == a.cfg.Looks:
		final(a.cfg, a.looks, o)
	}
	return *o
}
