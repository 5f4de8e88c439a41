package judge

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// goldenCase is one case of testdata/golden.json. The file is written by
// testdata/golden.py, an independent implementation in Python (exact
// rational arithmetic for the p-value and the power, bisection for the
// estimate); regenerate it from the repository root with
//
//	python3 pkg/judge/testdata/golden.py > pkg/judge/testdata/golden.json
//
// and review the diff: a changed number is a changed verdict.
type goldenCase struct {
	Name   string `json:"name"`
	Config Config `json:"config"`
	Looks  []Look `json:"looks"`
	Want   struct {
		Decision   Decision  `json:"decision"`
		Reason     string    `json:"reason"`
		Test       string    `json:"test"`
		Look       int       `json:"look"`
		PValue     *float64  `json:"pValue"`
		Power      *float64  `json:"power"`
		EValues    []float64 `json:"eValues"`
		Dispersion float64   `json:"dispersion"`
		ThetaHat   float64   `json:"thetaHat"`
		ThetaLo    float64   `json:"thetaLo"`
		ThetaHi    float64   `json:"thetaHi"`
	} `json:"want"`
}

func TestGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 10 {
		t.Fatalf("%d golden cases; expected at least 10", len(cases))
	}
	decisions := map[Decision]bool{}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			v := Judge(c.Config, c.Looks)
			w := c.Want
			decisions[w.Decision] = true
			if v.Decision != w.Decision || v.Reason != w.Reason || v.Test != w.Test || v.Look != w.Look {
				t.Errorf("verdict %s/%s/%q at look %d, want %s/%s/%q at look %d (%s)",
					v.Decision, v.Reason, v.Test, v.Look, w.Decision, w.Reason, w.Test, w.Look, v.Message)
			}
			if w.PValue != nil {
				near(t, "p-value", v.PValue, *w.PValue, 1e-9, 1e-14)
			} else if v.PValue != 1 {
				t.Errorf("p-value %v before the horizon, want 1", v.PValue)
			}
			if w.Power != nil {
				near(t, "power", v.Power, *w.Power, 0, 1e-9)
			}
			if len(v.EValues) != len(w.EValues) {
				t.Fatalf("e-values %v, want %v", v.EValues, w.EValues)
			}
			for i := range w.EValues {
				near(t, "e-value", v.EValues[i], w.EValues[i], 1e-9, 0)
			}
			near(t, "dispersion", v.Dispersion, w.Dispersion, 1e-12, 0)
			near(t, "θ̂", v.ThetaHat, w.ThetaHat, 1e-6, 1e-9)
			near(t, "θ lower bound", v.ThetaLo, w.ThetaLo, 1e-6, 1e-9)
			near(t, "θ upper bound", v.ThetaHi, w.ThetaHi, 1e-6, 1e-9)
		})
	}
	for _, d := range []Decision{Continue, Successful, Failed, Inconclusive} {
		if !decisions[d] {
			t.Errorf("no golden case decides %s", d)
		}
	}
}

// near fails unless |got−want| ≤ rel·|want| + abs.
func near(t *testing.T, what string, got, want, rel, abs float64) {
	t.Helper()
	if math.Abs(got-want) > rel*math.Abs(want)+abs {
		t.Errorf("%s %.17g, want %.17g", what, got, want)
	}
}
