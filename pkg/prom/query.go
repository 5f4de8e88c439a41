package prom

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Result is the answer to an instant query: a scalar, or samples (a
// vector; a matrix's samples flattened series by series), each value as
// Prometheus writes it ("0.25", "NaN", "+Inf").
type Result struct {
	// Type is Prometheus's resultType: scalar, vector or matrix.
	Type    string         `json:"type"`
	Scalar  string         `json:"scalar,omitempty"`
	Samples []ResultSample `json:"samples,omitempty"`
}

// ResultSample is one value of a vector or matrix, with its series' labels.
type ResultSample struct {
	Labels map[string]string `json:"labels,omitempty"`
	Value  string            `json:"value"`
}

// Query evaluates PromQL at t (POST /api/v1/query with time=t). Asked
// again later it gives the same answer, from the samples stored at or
// before t, provided t is settled: a t less than the settle time ago is
// refused with ErrNotSettled. A string result is refused (ErrBadQuery):
// conditions judge numbers.
func (c *Client) Query(ctx context.Context, q string, t time.Time) (*Result, error) {
	if ready := t.Add(c.settle); c.now().Before(ready) {
		return nil, fmt.Errorf("%w: a query at %s can be evaluated from %s", ErrNotSettled,
			t.UTC().Format(time.RFC3339Nano), ready.UTC().Format(time.RFC3339Nano))
	}
	if strings.TrimSpace(q) == "" {
		return nil, fmt.Errorf("%w: an empty query", ErrBadQuery)
	}
	raw, err := c.query(ctx, q, t)
	if err != nil {
		return nil, err
	}
	where := c.base.Redacted()
	bad := func(err error) error {
		return fmt.Errorf("%w: %s answered a %s gitcanary cannot read: %v", ErrUnavailable, where, raw.ResultType, err)
	}
	out := &Result{Type: raw.ResultType}
	switch raw.ResultType {
	case "scalar":
		var v [2]json.RawMessage
		if err := json.Unmarshal(raw.Result, &v); err != nil {
			return nil, bad(err)
		}
		if err := json.Unmarshal(v[1], &out.Scalar); err != nil {
			return nil, bad(err)
		}
	case "vector":
		var vs []struct {
			Metric map[string]string  `json:"metric"`
			Value  [2]json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(raw.Result, &vs); err != nil {
			return nil, bad(err)
		}
		out.Samples = make([]ResultSample, 0, len(vs))
		for _, s := range vs {
			var v string
			if err := json.Unmarshal(s.Value[1], &v); err != nil {
				return nil, bad(err)
			}
			out.Samples = append(out.Samples, ResultSample{Labels: s.Metric, Value: v})
		}
	case "matrix":
		var ms []struct {
			Metric map[string]string    `json:"metric"`
			Values [][2]json.RawMessage `json:"values"`
		}
		if err := json.Unmarshal(raw.Result, &ms); err != nil {
			return nil, bad(err)
		}
		out.Samples = []ResultSample{}
		for _, s := range ms {
			for _, p := range s.Values {
				var v string
				if err := json.Unmarshal(p[1], &v); err != nil {
					return nil, bad(err)
				}
				out.Samples = append(out.Samples, ResultSample{Labels: s.Metric, Value: v})
			}
		}
	default:
		return nil, fmt.Errorf("%w: %q answers a %s; a query metric needs a number or numbers (scalar, vector)", ErrBadQuery, q, raw.ResultType)
	}
	return out, nil
}
