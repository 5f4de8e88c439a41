// Package condition evaluates the successCondition and failureCondition of
// query and web metrics: expr-lang/expr expressions over the value a
// metric read, named result, as Argo Rollouts evaluates them.
//
// What Argo Rollouts does, and this package keeps (utils/evaluate there):
//
//   - result is a float64 for a scalar (a Prometheus scalar), a []float64
//     for a vector (one value per series, in Prometheus's order), and for
//     a web metric the JSON value the JSONPath selected (float64, string,
//     bool, []any, map[string]any) or the body as a string when it is not
//     JSON.
//   - Functions: isNaN(x), isInf(x), asInt(x), asFloat(x) (numbers or
//     numeric strings), isNil(x), default(x, d) (d when x is nil).
//   - Neither condition set: the measurement is Successful. Only
//     successCondition: Failed when it is false. Only failureCondition:
//     Successful when it is false. Both: Failed when the failure condition
//     holds, else Successful when the success condition does, else
//     Inconclusive.
//   - A condition that cannot be evaluated (result[0] of an empty vector,
//     a type mismatch, not a bool) makes the measurement an Error.
//
// Where gitcanary differs: Rollouts' isNil and default ignore their first
// argument and look at result; here they look at their argument (with
// result as the argument, the same thing). asInt and asFloat return an
// error where Rollouts panics (expr turns its panic into an error too).
package condition

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Phase is the outcome of one measurement.
type Phase string

// The phases of a measurement, Argo Rollouts' names.
const (
	Successful   Phase = "Successful"
	Failed       Phase = "Failed"
	Inconclusive Phase = "Inconclusive"
	Error        Phase = "Error"
)

// Condition is a compiled condition.
type Condition struct {
	src  string
	prog *vm.Program
}

// String returns the condition's source.
func (c *Condition) String() string { return c.src }

// env is the environment of every condition; result is set per evaluation.
func env(result any) map[string]any {
	return map[string]any{
		"result":  result,
		"isNaN":   func(f float64) bool { return math.IsNaN(f) },
		"isInf":   func(f float64) bool { return math.IsInf(f, 0) },
		"asInt":   asInt,
		"asFloat": asFloat,
		"isNil":   func(x any) bool { return x == nil },
		"default": func(x, d any) any {
			if x == nil {
				return d
			}
			return x
		},
	}
}

// Compile parses a condition. An empty string is no condition (nil, nil).
// The error says what is wrong in one line, without expr's source excerpt.
func Compile(src string) (*Condition, error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	// result's type is known only when the condition runs: left out of
	// the compile-time environment, it is checked as any.
	e := env(nil)
	delete(e, "result")
	prog, err := expr.Compile(src, expr.Env(e), expr.AllowUndefinedVariables())
	if err != nil {
		return nil, fmt.Errorf("%q does not parse: %s", src, clean(err))
	}
	return &Condition{src: src, prog: prog}, nil
}

// Eval runs the condition on a result.
func (c *Condition) Eval(result any) (bool, error) {
	out, err := expr.Run(c.prog, env(result))
	if err != nil {
		return false, fmt.Errorf("%q: %s", c.src, clean(err))
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("%q gives %T %v, not true or false", c.src, out, out)
	}
	return b, nil
}

// clean keeps the first line of expr's message, without the excerpt and
// caret it adds below it.
func clean(err error) string {
	var fe *file.Error
	msg := err.Error()
	if errors.As(err, &fe) {
		msg = fe.Message
	}
	msg, _, _ = strings.Cut(msg, "\n")
	return msg
}

// Assess applies success and failure conditions (either may be nil) to a
// result, as Argo Rollouts does (see the package comment). err is set
// when the phase is Error.
func Assess(success, failure *Condition, result any) (Phase, error) {
	var ok, bad bool
	var err error
	if success != nil {
		if ok, err = success.Eval(result); err != nil {
			return Error, fmt.Errorf("successCondition %w", err)
		}
	}
	if failure != nil {
		if bad, err = failure.Eval(result); err != nil {
			return Error, fmt.Errorf("failureCondition %w", err)
		}
	}
	switch {
	case success == nil && failure == nil:
		return Successful, nil
	case failure == nil:
		bad = !ok
	case success == nil:
		ok = !bad
	}
	switch {
	case bad:
		return Failed, nil
	case ok:
		return Successful, nil
	}
	return Inconclusive, nil
}

func asInt(x any) (int64, error) {
	switch v := x.(type) {
	case string:
		return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	case float64:
		return int64(v), nil
	case float32:
		return int64(v), nil
	case int:
		return int64(v), nil
	case int64:
		return v, nil
	case int32:
		return int64(v), nil
	case uint64:
		return int64(v), nil
	}
	return 0, fmt.Errorf("asInt: %T %v is not a number", x, x)
}

func asFloat(x any) (float64, error) {
	switch v := x.(type) {
	case string:
		return strconv.ParseFloat(strings.TrimSpace(v), 64)
	case float64:
		return v, nil
	case float32:
		return float64(v), nil
	case int:
		return float64(v), nil
	case int64:
		return float64(v), nil
	case int32:
		return float64(v), nil
	case uint64:
		return float64(v), nil
	}
	return 0, fmt.Errorf("asFloat: %T %v is not a number", x, x)
}
