package prom_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/prom"
	"github.com/gitcanary/gitcanary/pkg/prom/promtest"
)

// TestQuery: an instant query at a recorded time gives Prometheus's
// answer as text (NaN included), the same when asked again; a time too
// recent is not settled; a string result, a refused query and a server
// in trouble are told apart.
func TestQuery(t *testing.T) {
	s := promtest.New(t)
	ratio := `sum(rate(errors[30s])) / sum(rate(requests[30s]))`
	s.Script(ratio, func(at time.Time) promtest.Answer {
		return promtest.Answer{Vector: []promtest.Sample{{Labels: map[string]string{"destination_version": "v2"}, Value: float64(at.Unix()%100) / 1000}}}
	})
	s.Script("vector(0)/0", func(time.Time) promtest.Answer {
		return promtest.Answer{Vector: []promtest.Sample{{Value: math.NaN()}}}
	})
	s.Script("scalar(x)", func(time.Time) promtest.Answer { v := 2.5; return promtest.Answer{Scalar: &v} })
	s.Script("absent", func(time.Time) promtest.Answer { return promtest.Answer{} })
	s.Script(`"text"`, func(time.Time) promtest.Answer { v := "text"; return promtest.Answer{String: &v} })
	s.Script("rate(x)", func(time.Time) promtest.Answer {
		return promtest.Answer{ErrType: "bad_data", Err: "1:1: parse error: expected type range vector"}
	})
	at := start.Add(30 * time.Second)
	c := client(t, s.URL, at.Add(time.Minute))
	ctx := context.Background()

	got, err := c.Query(ctx, ratio, at)
	if err != nil {
		t.Fatal(err)
	}
	want := &prom.Result{Type: "vector", Samples: []prom.ResultSample{{Labels: map[string]string{"destination_version": "v2"}, Value: "0.03"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if again, _ := c.Query(ctx, ratio, at); !reflect.DeepEqual(again, got) {
		t.Errorf("asked again: %+v", again)
	}
	if q := s.Queries(); q[len(q)-1].Time.UnixMilli() != at.UnixMilli() {
		t.Errorf("evaluated at %s, want %s", q[len(q)-1].Time, at)
	}
	for q, want := range map[string]*prom.Result{
		"vector(0)/0": {Type: "vector", Samples: []prom.ResultSample{{Value: "NaN"}}},
		"scalar(x)":   {Type: "scalar", Scalar: "2.5"},
		"absent":      {Type: "vector", Samples: []prom.ResultSample{}},
	} {
		got, err := c.Query(ctx, q, at)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v %v, want %+v", q, got, err, want)
		}
	}
	for q, want := range map[string]error{`"text"`: prom.ErrBadQuery, "rate(x)": prom.ErrBadQuery, "  ": prom.ErrBadQuery} {
		if _, err := c.Query(ctx, q, at); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", q, err, want)
		}
	}
	if _, err := client(t, s.URL, at.Add(time.Second)).Query(ctx, ratio, at); !errors.Is(err, prom.ErrNotSettled) {
		t.Errorf("too early: %v", err)
	}
	for _, f := range []promtest.Failure{promtest.CutOff, promtest.Overloaded, promtest.HTMLError, promtest.PartialData} {
		s.Fail(f)
		if _, err := c.Query(ctx, ratio, at); !errors.Is(err, prom.ErrUnavailable) {
			t.Errorf("failure %d: %v, want ErrUnavailable", f, err)
		}
	}
}
