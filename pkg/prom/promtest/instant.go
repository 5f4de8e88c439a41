package promtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Script answers an instant query, as a function of the evaluation time,
// for expressions the fake does not evaluate itself (PromQL functions and
// operators). A real Prometheus answers, for a query at time t:
//
//   - a scalar: {"resultType":"scalar","result":[<t>,"<value>"]};
//   - an instant vector: {"resultType":"vector","result":[{"metric":{…},
//     "value":[<t>,"<value>"]},…]}, empty when no series has a sample in
//     the lookback before t (e.g. a version without traffic);
//   - a string: {"resultType":"string","result":[<t>,"<text>"]}.
//
// Values are text: "0.25", "NaN" (0/0, as a ratio of zero rates gives),
// "+Inf", "-Inf". The same query at the same t gives the same answer once
// the samples before t are stored; a Script must be a pure function of t
// to keep that.
type Script func(at time.Time) Answer

// Answer is a scripted answer: a scalar (Scalar set), a vector (Vector,
// possibly empty) or a string (String set).
type Answer struct {
	Scalar *float64
	Vector []Sample
	String *string
	// Err answers with this errorType and message (HTTP 422 for
	// execution, 400 for bad_data).
	ErrType, Err string
}

// Sample is one element of a scripted vector.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Script scripts the answer to one exact expression.
func (s *Server) Script(expr string, f Script) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.scripts == nil {
		s.scripts = map[string]Script{}
	}
	s.scripts[expr] = f
}

func formatValue(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// answerScripted answers a scripted expression; false when expr has no script.
func (s *Server) answerScripted(w http.ResponseWriter, expr string, at time.Time, failure Failure) bool {
	s.mu.Lock()
	f, ok := s.scripts[expr]
	s.mu.Unlock()
	if !ok {
		return false
	}
	a := f(at)
	if a.ErrType != "" {
		code := http.StatusUnprocessableEntity
		if a.ErrType == "bad_data" {
			code = http.StatusBadRequest
		}
		apiError(w, code, a.ErrType, a.Err)
		return true
	}
	ts := json.Number(fmt.Sprintf("%d.%03d", at.UnixMilli()/1000, at.UnixMilli()%1000))
	var data map[string]any
	switch {
	case a.Scalar != nil:
		data = map[string]any{"resultType": "scalar", "result": []any{ts, formatValue(*a.Scalar)}}
	case a.String != nil:
		data = map[string]any{"resultType": "string", "result": []any{ts, *a.String}}
	default:
		result := []any{}
		for _, v := range a.Vector {
			result = append(result, map[string]any{"metric": v.Labels, "value": []any{ts, formatValue(v.Value)}})
		}
		data = map[string]any{"resultType": "vector", "result": result}
	}
	body := map[string]any{"status": "success", "data": data}
	if failure == PartialData {
		body["warnings"] = []string{"remote store unavailable: results may be partial"}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
	return true
}
