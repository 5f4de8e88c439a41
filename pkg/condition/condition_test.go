package condition

import (
	"math"
	"strings"
	"testing"
)

// TestAssess: Argo Rollouts' semantics of successCondition and
// failureCondition, one row per case its evaluate package distinguishes.
func TestAssess(t *testing.T) {
	for _, tt := range []struct {
		name             string
		success, failure string
		result           any
		want             Phase
		err              string
	}{
		{name: "no conditions", result: 5.0, want: Successful},
		{name: "success only, true", success: "result < 10", result: 5.0, want: Successful},
		{name: "success only, false is a failure", success: "result < 10", result: 50.0, want: Failed},
		{name: "failure only, true", failure: "result > 10", result: 50.0, want: Failed},
		{name: "failure only, false is a success", failure: "result > 10", result: 5.0, want: Successful},
		{name: "both, success", success: "result < 10", failure: "result > 20", result: 5.0, want: Successful},
		{name: "both, failure", success: "result < 10", failure: "result > 20", result: 50.0, want: Failed},
		{name: "both, neither: inconclusive", success: "result < 10", failure: "result > 20", result: 15.0, want: Inconclusive},
		{name: "both true: failure wins", success: "result > 1", failure: "result > 2", result: 5.0, want: Failed},
		{name: "vector index", success: "result[0] < 800", result: []float64{120}, want: Successful},
		{name: "vector all", success: "all(result, {# < 1})", result: []float64{0.1, 0.5}, want: Successful},
		{name: "vector all, one over", success: "all(result, {# < 1})", result: []float64{0.1, 1.5}, want: Failed},
		{name: "empty vector is an error", success: "result[0] < 800", result: []float64{}, want: Error, err: "out of range"},
		{name: "NaN compares false", success: "result[0] < 0.05", result: []float64{math.NaN()}, want: Failed},
		{name: "isNaN", success: "isNaN(result[0]) || result[0] < 0.05", result: []float64{math.NaN()}, want: Successful},
		{name: "isInf", failure: "isInf(result)", result: math.Inf(1), want: Failed},
		{name: "web bool", success: "result == true", result: true, want: Successful},
		{name: "web bool false", success: "result == true", result: false, want: Failed},
		{name: "web string", success: "result == 'ok'", result: "ok", want: Successful},
		{name: "asInt of a string", success: "asInt(result) >= 3", result: "4", want: Successful},
		{name: "asFloat of a string", success: "asFloat(result) < 0.5", result: "0.25", want: Successful},
		{name: "asFloat of text is an error", success: "asFloat(result) < 0.5", result: "n/a", want: Error, err: "invalid syntax"},
		{name: "asInt of a bool is an error", success: "asInt(result) > 0", result: true, want: Error, err: "not a number"},
		{name: "map field", success: "result.ok && result.count > 2", result: map[string]any{"ok": true, "count": 3.0}, want: Successful},
		{name: "default of nil", success: "default(result, 0) < 1", result: nil, want: Successful},
		{name: "isNil", failure: "isNil(result)", result: nil, want: Failed},
		{name: "not a bool is an error", success: "result + 1", result: 1.0, want: Error, err: "not true or false"},
		{name: "type mismatch is an error", success: "result < 10", result: "ten", want: Error, err: "successCondition"},
		{name: "failure condition error is named", success: "len(result) > 0", failure: "result[3] > 1", result: []float64{1}, want: Error, err: "failureCondition"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Compile(tt.success)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Compile(tt.failure)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Assess(s, f, tt.result)
			if got != tt.want {
				t.Errorf("phase %s (err %v), want %s", got, err, tt.want)
			}
			if (err != nil) != (tt.err != "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("err %v, want one containing %q", err, tt.err)
			}
		})
	}
}

// TestCompileErrors: a condition that does not parse is refused with a
// one-line message naming it.
func TestCompileErrors(t *testing.T) {
	for _, src := range []string{"result <", "result[0] < )", "len(result) ==="} {
		_, err := Compile(src)
		if err == nil || !strings.Contains(err.Error(), "does not parse") || strings.Contains(err.Error(), "\n") {
			t.Errorf("Compile(%q) = %v", src, err)
		}
	}
	if c, err := Compile("  "); c != nil || err != nil {
		t.Errorf("blank: %v %v", c, err)
	}
}

// FuzzAssess: no condition and no result panics.
func FuzzAssess(f *testing.F) {
	f.Add("result[0] < 800", 1.5)
	f.Add("asInt(result) > 2", 3.0)
	f.Add("result.x.y", 0.0)
	f.Fuzz(func(t *testing.T, src string, v float64) {
		c, err := Compile(src)
		if err != nil || c == nil {
			return
		}
		for _, r := range []any{v, []float64{v}, []float64{}, "x", nil, map[string]any{"a": v}} {
			_, _ = Assess(c, nil, r)
		}
	})
}
