package prom_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/prom"
	"github.com/gitcanary/gitcanary/pkg/prom/promtest"
)

var (
	start = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	reqs  = prom.NewSelector("istio_requests_total", prom.Eq("reporter", "destination"), prom.Eq("destination_service_name", "reviews"))
)

func ms(sec float64) int64 { return start.UnixMilli() + int64(sec*1000) }

func pod(version, pod, code string) map[string]string {
	return promtest.Labels("istio_requests_total", "reporter", "destination", "destination_service_name", "reviews",
		"destination_version", version, "pod", pod, "response_code", code)
}

// seed stores what a 1 s scrape of three pods would have stored around a
// 30 s look: a steady stable pod, a canary pod restarted in place (its
// counter dropped), a canary 503 series born in the look, a stable pod
// whose scrapes failed for a while (stale markers), and another service.
func seed(s *promtest.Server) {
	var a, b []prom.Sample
	for i := -10; i <= 40; i++ {
		a = append(a, prom.Sample{T: ms(float64(i)), V: float64(1000 + 10*(i+10))})
		v := float64(50 + 2*(i+10))
		if i >= 12 {
			v = float64(2 * (i - 11)) // restarted at 0 between 11 s and 12 s
		}
		b = append(b, prom.Sample{T: ms(float64(i)), V: v})
	}
	s.Add(pod("v1", "reviews-v1-a", "200"), a...)
	s.Add(pod("v2", "reviews-v2-a", "200"), b...)
	s.Add(pod("v2", "reviews-v2-a", "503"), prom.Sample{T: ms(17), V: 3}, prom.Sample{T: ms(18), V: 3}, prom.Sample{T: ms(25), V: 5})
	s.Add(pod("v1", "reviews-v1-b", "200"),
		prom.Sample{T: ms(-1), V: 7}, prom.Sample{T: ms(0), V: 8},
		prom.Sample{T: ms(1), V: promtest.StaleNaN}, // a failed scrape
		prom.Sample{T: ms(9), V: 20}, prom.Sample{T: ms(35), V: 90})
	other := pod("v1", "ratings-v1-a", "200")
	other["destination_service_name"] = "ratings"
	s.Add(other, prom.Sample{T: ms(5), V: 1e6})
}

func client(t *testing.T, url string, now time.Time) *prom.Client {
	t.Helper()
	c, err := prom.New(prom.Options{URL: url, Now: func() time.Time { return now }, Header: http.Header{"X-Scope-Orgid": {"team-a"}}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCount(t *testing.T) {
	srv := promtest.New(t)
	seed(srv)
	w := prom.Window{Start: start, End: start.Add(30 * time.Second), Step: 10 * time.Second}
	c := client(t, srv.URL, w.End.Add(prom.DefaultSettle))
	got, err := c.Count(context.Background(), reqs, "destination_version", w)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*prom.Count{
		// reviews-v1-a: 1100 → 1400 (300, 100 per 10 s); reviews-v1-b: 8 → 20 across the gap.
		"v1": {Events: 300 + 12, Steps: []int64{100 + 12, 100, 100}, Series: 2, Last: time.UnixMilli(ms(30))},
		// reviews-v2-a 200s: 70 → 92 by 11 s (22), restarted: 2 at 12 s → 38 at 30 s (38);
		// its 503s: born at 17 s with 3, 5 by 25 s.
		"v2": {Events: 22 + 38 + 5, Steps: []int64{20, 2 + 2 + 16 + 3, 20 + 2}, Series: 2, New: 1, Resets: 1, Last: time.UnixMilli(ms(30))},
	}
	if !reflect.DeepEqual(got, want) {
		for _, k := range prom.Groups(got) {
			t.Logf("got %s: %+v", k, *got[k])
		}
		t.Fatalf("want v1 %+v, v2 %+v", *want["v1"], *want["v2"])
	}

	// The query: the raw samples from the lookback before the start to
	// the end, asked at the end.
	q := srv.Queries()
	if len(q) != 1 || !q[0].Time.Equal(w.End) || !strings.HasSuffix(q[0].Expr, "[330001ms]") || !strings.HasPrefix(q[0].Expr, reqs.String()) {
		t.Fatalf("queries %+v", q)
	}

	// Asked again later (samples after the end have arrived meanwhile),
	// the same numbers.
	srv.Add(pod("v1", "reviews-v1-a", "200"), prom.Sample{T: ms(60), V: 99999})
	srv.Add(pod("v2", "reviews-v2-c", "200"), prom.Sample{T: ms(45), V: 4})
	again, err := client(t, srv.URL, w.End.Add(time.Hour)).Count(context.Background(), reqs, "destination_version", w)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, got) {
		t.Fatal("a later count of the same look differs")
	}
}

func TestCountErrors(t *testing.T) {
	srv := promtest.New(t)
	seed(srv)
	w := prom.Window{Start: start, End: start.Add(30 * time.Second)}
	ctx := context.Background()

	if _, err := client(t, srv.URL, w.End.Add(prom.DefaultSettle-time.Millisecond)).Count(ctx, reqs, "", w); !errors.Is(err, prom.ErrNotSettled) {
		t.Errorf("a look within the settle time: %v", err)
	}
	if n := len(srv.Queries()); n != 0 {
		t.Errorf("an unsettled look asked Prometheus %d times", n)
	}

	c := client(t, srv.URL, w.End.Add(time.Minute))
	for _, tc := range []struct {
		f    promtest.Failure
		is   error
		says string
	}{
		{promtest.CutOff, prom.ErrUnavailable, "EOF"},
		{promtest.Overloaded, prom.ErrUnavailable, "unavailable"},
		{promtest.Timeout, prom.ErrUnavailable, "timeout"},
		{promtest.HTMLError, prom.ErrUnavailable, "not Prometheus's API"},
		{promtest.PartialData, prom.ErrUnavailable, "warnings"},
	} {
		srv.Fail(tc.f)
		_, err := c.Count(ctx, reqs, "", w)
		if !errors.Is(err, tc.is) || errors.Is(err, prom.ErrBadQuery) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("failure %d: got %v, want %v saying %q", tc.f, err, tc.is, tc.says)
		}
	}
	srv.Fail(promtest.Healthy)

	// Nothing listens: unavailable.
	dead := client(t, "http://127.0.0.1:1", w.End.Add(time.Minute))
	if _, err := dead.Count(ctx, reqs, "", w); !errors.Is(err, prom.ErrUnavailable) {
		t.Errorf("nothing listening: %v", err)
	}

	// A selector Prometheus refuses is the query's fault, not an outage.
	bad := prom.NewSelector("", prom.Eq("a", ""))
	if _, err := c.Count(ctx, bad, "", w); !errors.Is(err, prom.ErrBadQuery) || errors.Is(err, prom.ErrUnavailable) {
		t.Errorf("a refused selector: %v", err)
	}

	// Values no counter holds.
	srv.Add(promtest.Labels("gauge", "x", "y"), prom.Sample{T: ms(3), V: 0.5})
	if _, err := c.Count(ctx, prom.NewSelector("gauge"), "", w); !errors.Is(err, prom.ErrNotCounter) {
		t.Errorf("a gauge: %v", err)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, u := range []string{"", "prometheus:9090", "ftp://h/", "http://user:secret@h:9090", "http://h:9090/?a=b", "http:///x"} {
		_, err := prom.New(prom.Options{URL: u})
		if err == nil {
			t.Errorf("%q accepted", u)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: the error shows the password: %v", u, err)
		}
	}
	c, err := prom.New(prom.Options{URL: "http://prometheus.istio-system:9090/prom/"})
	if err != nil || c.URL() != "http://prometheus.istio-system:9090/prom" {
		t.Fatalf("%v %v", c, err)
	}
}
