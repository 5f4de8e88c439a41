package prom

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrSelector is wrapped by every error about a series selector a user
// wrote: invalid input, to be reported with the field it came from.
var ErrSelector = errors.New("invalid series selector")

// Op is a label matcher's operator, as PromQL writes it.
type Op string

// The four PromQL label matchers.
const (
	Equal    Op = "="
	NotEqual Op = "!="
	MatchRe  Op = "=~"
	NotRe    Op = "!~"
)

// Matcher is one label matcher of a series selector.
type Matcher struct {
	Label string
	Op    Op
	Value string
	re    *regexp.Regexp // for =~ and !~: ^(?:Value)$, as Prometheus anchors it
}

// Eq, Ne, Re and Nre build matchers (Re and Nre panic on an invalid regular
// expression: they are for expressions written in code, not user input).
func Eq(label, value string) Matcher  { return Matcher{Label: label, Op: Equal, Value: value} }
func Ne(label, value string) Matcher  { return Matcher{Label: label, Op: NotEqual, Value: value} }
func Re(label, value string) Matcher  { return mustRe(Matcher{Label: label, Op: MatchRe, Value: value}) }
func Nre(label, value string) Matcher { return mustRe(Matcher{Label: label, Op: NotRe, Value: value}) }

func mustRe(m Matcher) Matcher {
	if err := m.compile(); err != nil {
		panic(err)
	}
	return m
}

func (m *Matcher) compile() error {
	if m.Op != MatchRe && m.Op != NotRe {
		return nil
	}
	re, err := regexp.Compile("^(?:" + m.Value + ")$")
	if err != nil {
		return fmt.Errorf("%w: label %s: regular expression %q: %v", ErrSelector, m.Label, m.Value, err)
	}
	m.re = re
	return nil
}

// Matches reports whether a label value (absent: "") satisfies m, as
// Prometheus matches: an absent label has the empty value.
func (m Matcher) Matches(v string) bool {
	switch m.Op {
	case Equal:
		return v == m.Value
	case NotEqual:
		return v != m.Value
	case MatchRe:
		return m.re.MatchString(v)
	default:
		return !m.re.MatchString(v)
	}
}

// Selector is a PromQL series selector: an optional metric name and label
// matchers, e.g. istio_requests_total{reporter="destination",response_code=~"5.."}.
// It selects raw series only: no functions, ranges or offsets.
type Selector struct {
	Metric   string
	Matchers []Matcher
}

// NewSelector returns the selector of metric with the given matchers.
func NewSelector(metric string, ms ...Matcher) Selector {
	return Selector{Metric: metric, Matchers: ms}
}

// With returns a copy of s with more matchers.
func (s Selector) With(ms ...Matcher) Selector {
	out := Selector{Metric: s.Metric, Matchers: append(append([]Matcher(nil), s.Matchers...), ms...)}
	return out
}

// Has reports whether a matcher of s is on label.
func (s Selector) Has(label string) bool {
	for _, m := range s.Matchers {
		if m.Label == label {
			return true
		}
	}
	return false
}

// String writes s in PromQL, values quoted, matchers in their order.
func (s Selector) String() string {
	var b strings.Builder
	b.WriteString(s.Metric)
	if len(s.Matchers) == 0 && s.Metric != "" {
		return b.String()
	}
	b.WriteByte('{')
	for i, m := range s.Matchers {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.Label)
		b.WriteString(string(m.Op))
		b.WriteString(strconv.Quote(m.Value))
	}
	b.WriteByte('}')
	return b.String()
}

// Matches reports whether a series with these labels (the metric name in
// __name__) is selected.
func (s Selector) Matches(labels map[string]string) bool {
	if s.Metric != "" && labels["__name__"] != s.Metric {
		return false
	}
	for _, m := range s.Matchers {
		if !m.Matches(labels[m.Label]) {
			return false
		}
	}
	return true
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*`)
)

// ParseSelector reads a series selector as PromQL does, so that a user's
// mistake is reported when the spec is read, not by Prometheus in the
// middle of a release. Like Prometheus it refuses a selector that could
// match every series (no metric name and only matchers that match "").
func ParseSelector(in string) (Selector, error) {
	var s Selector
	rest := strings.TrimSpace(in)
	fail := func(format string, args ...any) (Selector, error) {
		return Selector{}, fmt.Errorf("%w %q: %s", ErrSelector, in, fmt.Sprintf(format, args...))
	}
	if rest == "" {
		return fail("empty")
	}
	if name := metricName.FindString(rest); name != "" {
		s.Metric, rest = name, rest[len(name):]
	}
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return s, nil
	}
	if rest[0] != '{' {
		return fail("unexpected %q after the metric name; only a metric name and {label matchers} are allowed (no functions, ranges or offsets)", rest)
	}
	rest = strings.TrimSpace(rest[1:])
	for {
		if strings.HasPrefix(rest, "}") {
			rest = strings.TrimSpace(rest[1:])
			break
		}
		l := labelName.FindString(rest)
		if l == "" {
			return fail("want a label name at %q", rest)
		}
		rest = strings.TrimSpace(rest[len(l):])
		var op Op
		for _, o := range []Op{MatchRe, NotRe, NotEqual, Equal} {
			if strings.HasPrefix(rest, string(o)) {
				op = o
				break
			}
		}
		if op == "" {
			return fail("want =, !=, =~ or !~ after label %s", l)
		}
		rest = strings.TrimSpace(rest[len(op):])
		v, n, err := unquote(rest)
		if err != nil {
			return fail("label %s: %v", l, err)
		}
		rest = strings.TrimSpace(rest[n:])
		m := Matcher{Label: l, Op: op, Value: v}
		if err := m.compile(); err != nil {
			return Selector{}, fmt.Errorf("%w (in %q)", err, in)
		}
		if l == "__name__" && op == Equal && s.Metric == "" {
			s.Metric = v
		} else {
			s.Matchers = append(s.Matchers, m)
		}
		if strings.HasPrefix(rest, ",") {
			rest = strings.TrimSpace(rest[1:])
			continue
		}
		if !strings.HasPrefix(rest, "}") {
			return fail("want , or } at %q", rest)
		}
	}
	if rest != "" {
		return fail("unexpected %q after the selector; only a metric name and {label matchers} are allowed", rest)
	}
	if s.Metric == "" {
		empty := true
		for _, m := range s.Matchers {
			if !m.Matches("") {
				empty = false
			}
		}
		if empty {
			return fail("no metric name and every matcher matches the empty value: it would select every series")
		}
	}
	return s, nil
}

// unquote reads a PromQL string literal ("…", '…' or `…`) at the start of
// s and returns its value and the bytes it took.
func unquote(s string) (string, int, error) {
	if s == "" {
		return "", 0, errors.New("want a quoted value")
	}
	q := s[0]
	if q != '"' && q != '\'' && q != '`' {
		return "", 0, fmt.Errorf("want a quoted value at %q", s)
	}
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == '\\' && q != '`':
			i++
		case s[i] == q:
			lit := s[:i+1]
			if q == '\'' {
				// Go has no single-quoted strings: requote the body.
				lit = `"` + strings.ReplaceAll(strings.ReplaceAll(s[1:i], `\'`, `'`), `"`, `\"`) + `"`
			}
			v, err := strconv.Unquote(lit)
			if err != nil {
				return "", 0, fmt.Errorf("bad string %s: %v", s[:i+1], err)
			}
			if !utf8.ValidString(v) {
				return "", 0, fmt.Errorf("string %s is not UTF-8", s[:i+1])
			}
			return v, i + 1, nil
		}
	}
	return "", 0, fmt.Errorf("unterminated string %s", s)
}

// labelsKey is a stable text of a label set, for sorting and messages.
func labelsKey(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, l[k])
	}
	b.WriteByte('}')
	return b.String()
}
