package prom

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSelector(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`istio_requests_total`, `istio_requests_total`},
		{` istio_requests_total{reporter="destination", response_code=~"5.."} `, `istio_requests_total{reporter="destination",response_code=~"5.."}`},
		{`{__name__="up", job!="x"}`, `up{job!="x"}`},
		{`x{a='it\'s', b=` + "`raw\\d`" + `}`, `x{a="it's",b="raw\\d"}`},
		{`x{a!~"v1|v2",}`, `x{a!~"v1|v2"}`},
		{`{job=~".+"}`, `{job=~".+"}`},
	} {
		s, err := ParseSelector(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got := s.String(); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.in, got, tc.want)
		}
		again, err := ParseSelector(s.String())
		if err != nil || again.String() != s.String() {
			t.Errorf("%s does not read back: %v %v", s, again, err)
		}
	}
	for _, tc := range []struct{ in, says string }{
		{``, "empty"},
		{`rate(x[1m])`, "only a metric name"},
		{`x[5m]`, "only a metric name"},
		{`x{a="b"} offset 5m`, "after the selector"},
		{`x{a=b}`, "quoted"},
		{`x{a="b"`, "want , or }"},
		{`x{a~"b"}`, "want =, !=, =~ or !~"},
		{`x{a=~"("}`, "regular expression"},
		{`{a=""}`, "every series"},
		{`{a=~".*"}`, "every series"},
		{`x{a="unterminated}`, "unterminated"},
	} {
		_, err := ParseSelector(tc.in)
		if !errors.Is(err, ErrSelector) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%q: got %v, want an ErrSelector saying %q", tc.in, err, tc.says)
		}
	}
}

func TestSelectorMatches(t *testing.T) {
	s, err := ParseSelector(`istio_requests_total{reporter="destination",response_code=~"5..",destination_version!="v0",absent=""}`)
	if err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"__name__": "istio_requests_total", "reporter": "destination", "response_code": "503", "destination_version": "v2"}
	if !s.Matches(base) {
		t.Fatal("a 503 of v2 is not selected")
	}
	for k, v := range map[string]string{"__name__": "other", "response_code": "200", "destination_version": "v0", "absent": "x", "reporter": "source"} {
		l := map[string]string{}
		for a, b := range base {
			l[a] = b
		}
		l[k] = v
		if s.Matches(l) {
			t.Errorf("%s=%s is selected", k, v)
		}
	}
	// Anchored like Prometheus: "5.." does not match "5031".
	base["response_code"] = "5031"
	if s.Matches(base) {
		t.Error("the regular expression is not anchored")
	}
}

func TestNewSelector(t *testing.T) {
	s := NewSelector("istio_requests_total", Eq("reporter", "destination")).With(Re("response_code", "5.."), Ne("a", `q"uote`))
	if got, want := s.String(), `istio_requests_total{reporter="destination",response_code=~"5..",a!="q\"uote"}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
