package analysis

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gitcanary/gitcanary/pkg/condition"
	"github.com/gitcanary/gitcanary/pkg/judge"
	"github.com/gitcanary/gitcanary/pkg/prom"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Query and web metrics are read once per look and judged by their
// conditions, with Argo Rollouts' limits: failureLimit (default 0),
// inconclusiveLimit (0), consecutiveErrorLimit (4). A query is evaluated
// at the look's recorded end, so reading it again gives the same value;
// a web metric's value is what the endpoint said when it was read. Both
// are recorded with every look, and the conditions are evaluated on the
// recorded value: a replay evaluates them again on the same values.

// HeaderSource gives the configured headers for a web metric's URL.
type HeaderSource interface {
	Header(url string) http.Header
}

// promDuration writes d as a PromQL duration (30s, 1500ms).
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// resolveConditions fills a query or web metric's placeholders and
// applies the defaults of its limits.
func resolveConditions(m release.ExpandedMetric, vars map[string]string, headers HeaderSource) (release.ResolvedMetric, error) {
	sub := func(s string) string { return release.Substitute(s, vars) }
	r := release.ResolvedMetric{Name: m.Name}
	r.Query = sub(m.Query)
	if w := m.Web; w != nil {
		rw := &release.ResolvedWeb{URL: sub(w.URL), Method: w.Method, Body: sub(w.Body), JSONPath: sub(w.JSONPath),
			Timeout: release.Duration{Duration: release.DefaultWebTimeout}, Headers: w.Headers}
		if rw.Method == "" {
			rw.Method = http.MethodGet
		}
		if rw.JSONPath == "" {
			rw.JSONPath = "{$}"
		}
		if w.Timeout != nil {
			rw.Timeout = *w.Timeout
		}
		if headers != nil {
			have := headers.Header(rw.URL)
			for _, h := range rw.Headers {
				if have.Get(h) == "" {
					return r, fmt.Errorf("web.headers names %s, but gitcanary's configuration has no value for it for %s (webHeaders, docs/analysis.md#web-metrics): %w", h, rw.URL, release.ErrInvalid)
				}
			}
		}
		r.Web = rw
	}
	r.SuccessCondition, r.FailureCondition = sub(m.SuccessCondition), sub(m.FailureCondition)
	for _, c := range []string{r.SuccessCondition, r.FailureCondition} {
		if _, err := condition.Compile(c); err != nil {
			return r, fmt.Errorf("%v: %w", err, release.ErrInvalid)
		}
	}
	r.Limits = &release.Limits{Failure: m.FailureLimitOrDefault(), Inconclusive: m.InconclusiveLimitOrDefault(), ConsecutiveError: m.ConsecutiveErrorLimitOrDefault()}
	return r, nil
}

// Reading is the value a query or web metric read at one look, as text,
// so that it is recorded exactly (Prometheus's NaN included).
type Reading struct {
	// Query: Prometheus's answer.
	*prom.Result
	// JSON is the JSON value a web metric's JSONPath selected; Text its
	// answer when that was not JSON.
	JSON string `json:"json,omitempty"`
	Text string `json:"text,omitempty"`
}

// maxText bounds the text of a web answer kept as a value.
const maxText = 4096

// result is the value conditions see as result: a float64 for a
// scalar, a []float64 for a vector, the JSON value or text of a web
// answer.
func (r *Reading) result() (any, error) {
	switch {
	case r == nil:
		return nil, fmt.Errorf("no value")
	case r.Result != nil && r.Result.Type == "scalar":
		return parseValue(r.Scalar)
	case r.Result != nil:
		out := make([]float64, 0, len(r.Samples))
		for _, s := range r.Samples {
			f, err := parseValue(s.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
		return out, nil
	case r.JSON != "":
		return decodeJSON([]byte(r.JSON))
	}
	return r.Text, nil
}

func parseValue(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(f, 0) {
		return 0, fmt.Errorf("value %q is not a number", s)
	}
	return f, nil
}

// Assessment is a query or web metric's verdict: its looks counted as
// Argo Rollouts counts measurements, and the decision they lead to.
type Assessment struct {
	Decision judge.Decision `json:"decision"`
	Reason   string         `json:"reason"`
	Message  string         `json:"message"`
	// Look is the look the decision was taken at (the last read for Continue).
	Look              int  `json:"look"`
	Successful        int  `json:"successful"`
	Failed            int  `json:"failed"`
	Inconclusive      int  `json:"inconclusive"`
	Errors            int  `json:"errors"`
	ConsecutiveErrors int  `json:"consecutiveErrors"`
	DryRun            bool `json:"dryRun,omitempty"`
}

// Reasons of a query or web metric's decision.
const (
	ReasonFailureLimit      = "FailureLimit"       // Failed: more Failed looks than failureLimit
	ReasonInconclusiveLimit = "InconclusiveLimit"  // Inconclusive: more Inconclusive looks than inconclusiveLimit
	ReasonErrorLimit        = "MetricsUnavailable" // Inconclusive: more Error looks in a row than consecutiveErrorLimit, or the last look one
	ReasonMeasured          = "Measured"           // Successful: every look measured within the limits
)

// assess judges a query or web metric's looks in order, setting each
// look's Phase, until a limit is passed or the horizon (looks) reached.
// A look read in error is an Error; so is a value its conditions cannot
// be evaluated on.
func assess(m release.ResolvedMetric, ls []Look, looks int) Assessment {
	a := Assessment{Decision: judge.Continue, Reason: judge.ReasonObserving, DryRun: m.DryRun}
	lim := release.Limits{Failure: release.DefaultFailureLimit, Inconclusive: release.DefaultInconclusiveLimit, ConsecutiveError: release.DefaultConsecutiveErrorLimit}
	if m.Limits != nil {
		lim = *m.Limits
	}
	success, errS := condition.Compile(m.SuccessCondition)
	failure, errF := condition.Compile(m.FailureCondition)
	for i := range ls {
		if i >= looks {
			break
		}
		l := &ls[i]
		a.Look = l.N
		phase := condition.Error
		if l.Error == "" {
			switch {
			case errS != nil || errF != nil:
				l.Problem = fmt.Sprintf("conditions do not compile: %v %v", errS, errF)
			default:
				res, err := l.Value.result()
				if err == nil {
					phase, err = condition.Assess(success, failure, res)
				}
				if err != nil {
					l.Problem = err.Error()
				}
			}
		}
		l.Phase = string(phase)
		if phase == condition.Error {
			a.Errors++
			a.ConsecutiveErrors++
		} else {
			a.ConsecutiveErrors = 0
		}
		switch phase {
		case condition.Successful:
			a.Successful++
		case condition.Failed:
			a.Failed++
		case condition.Inconclusive:
			a.Inconclusive++
		}
		switch {
		case lim.Failure >= 0 && a.Failed > lim.Failure:
			a.Decision, a.Reason = judge.Failed, ReasonFailureLimit
			a.Message = fmt.Sprintf("failed (%d) > failureLimit (%d) at look %d, value %s", a.Failed, lim.Failure, l.N, l.Value.String())
			return a
		case a.Inconclusive > lim.Inconclusive:
			a.Decision, a.Reason = judge.Inconclusive, ReasonInconclusiveLimit
			a.Message = fmt.Sprintf("inconclusive (%d) > inconclusiveLimit (%d) at look %d, value %s", a.Inconclusive, lim.Inconclusive, l.N, l.Value.String())
			return a
		case a.ConsecutiveErrors > lim.ConsecutiveError:
			a.Decision, a.Reason = judge.Inconclusive, ReasonErrorLimit
			a.Message = fmt.Sprintf("consecutiveErrors (%d) > consecutiveErrorLimit (%d) at look %d: %s", a.ConsecutiveErrors, lim.ConsecutiveError, l.N, l.why())
			return a
		}
	}
	if len(ls) < looks {
		a.Message = fmt.Sprintf("%d of %d looks read", len(ls), looks)
		return a
	}
	if last := ls[looks-1]; last.Phase == string(condition.Error) {
		// Errors under the limit are tolerated as in Argo Rollouts, but a
		// metric whose last look could not be measured does not pass.
		a.Decision, a.Reason = judge.Inconclusive, ReasonErrorLimit
		a.Message = fmt.Sprintf("the last look (%d) could not be measured: %s", last.N, last.why())
		return a
	}
	a.Decision, a.Reason = judge.Successful, ReasonMeasured
	a.Message = fmt.Sprintf("%d looks: %d successful, %d failed, %d inconclusive, %d errors", len(ls[:looks]), a.Successful, a.Failed, a.Inconclusive, a.Errors)
	return a
}

// why says why a look is an Error.
func (l *Look) why() string {
	if l.Error != "" {
		return l.Error
	}
	return l.Problem
}

// String shows a value in one line.
func (r *Reading) String() string {
	switch {
	case r == nil:
		return "(none)"
	case r.Result != nil && r.Result.Type == "scalar":
		return r.Scalar
	case r.Result != nil:
		var vs []string
		for _, s := range r.Samples {
			vs = append(vs, s.Value)
		}
		return "[" + strings.Join(vs, ", ") + "]"
	case r.JSON != "":
		return r.JSON
	}
	return strconv.Quote(r.Text)
}
