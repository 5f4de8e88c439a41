package release

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Selector is a PromQL instant vector selector: a metric name and label
// matchers, e.g. http_requests_total{code=~"5..",job="api"}. gitcanary
// reads counters through selectors only (no functions), so that it can
// fetch their raw samples and count exactly.
type Selector struct {
	Name     string
	Matchers []Matcher
}

// Matcher is one label matcher.
type Matcher struct {
	Label string
	Op    string // =, !=, =~, !~
	Value string
}

// String writes the selector back as PromQL.
func (s Selector) String() string {
	var b strings.Builder
	b.WriteString(s.Name)
	b.WriteByte('{')
	for i, m := range s.Matchers {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.Label + m.Op + strconv.Quote(m.Value))
	}
	b.WriteByte('}')
	return b.String()
}

// With returns the selector with more matchers.
func (s Selector) With(ms ...Matcher) Selector {
	s.Matchers = append(append([]Matcher(nil), s.Matchers...), ms...)
	return s
}

var metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*`)

// ParseSelector reads a selector: a metric name, optionally followed by
// {label op "value", ...}. Functions, ranges, offsets and operators are
// refused: gitcanary computes the increase itself.
func ParseSelector(in string) (Selector, error) {
	s := strings.TrimSpace(in)
	var sel Selector
	sel.Name = metricName.FindString(s)
	if sel.Name == "" {
		return sel, fmt.Errorf("%q is not a counter selector: it must start with a metric name (e.g. http_requests_total{code=~\"5..\"})", in)
	}
	rest := strings.TrimSpace(s[len(sel.Name):])
	if rest == "" {
		return sel, nil
	}
	if rest[0] == '(' {
		return sel, fmt.Errorf("%q is not a counter selector: functions such as %s(…) are not allowed; name the counter and gitcanary computes its increase exactly", in, sel.Name)
	}
	if rest[0] != '{' || !strings.HasSuffix(rest, "}") {
		return sel, fmt.Errorf("%q is not a counter selector: only a metric name with {label matchers} is allowed (no ranges, offsets or operators)", in)
	}
	body := rest[1 : len(rest)-1]
	for strings.TrimSpace(body) != "" {
		var m Matcher
		var err error
		m, body, err = parseMatcher(body)
		if err != nil {
			return sel, fmt.Errorf("%q is not a counter selector: %v", in, err)
		}
		if m.Op == "=~" || m.Op == "!~" {
			if _, err := regexp.Compile("^(?:" + m.Value + ")$"); err != nil {
				return sel, fmt.Errorf("%q is not a counter selector: label %s: invalid regular expression: %v", in, m.Label, err)
			}
		}
		sel.Matchers = append(sel.Matchers, m)
		body = strings.TrimSpace(body)
		if body == "" {
			break
		}
		if body[0] != ',' {
			return sel, fmt.Errorf("%q is not a counter selector: expected , between label matchers", in)
		}
		body = body[1:]
	}
	return sel, nil
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*`)

func parseMatcher(s string) (Matcher, string, error) {
	s = strings.TrimSpace(s)
	var m Matcher
	m.Label = labelName.FindString(s)
	if m.Label == "" {
		return m, "", fmt.Errorf("expected a label name at %q", s)
	}
	s = strings.TrimSpace(s[len(m.Label):])
	for _, op := range []string{"=~", "!~", "!=", "="} {
		if strings.HasPrefix(s, op) {
			m.Op = op
			break
		}
	}
	if m.Op == "" {
		return m, "", fmt.Errorf("label %s: expected =, !=, =~ or !~", m.Label)
	}
	s = strings.TrimSpace(s[len(m.Op):])
	if s == "" || (s[0] != '"' && s[0] != '\'' && s[0] != '`') {
		return m, "", fmt.Errorf("label %s: expected a quoted value", m.Label)
	}
	q := s[0]
	end := 1
	for end < len(s) && s[end] != q {
		if s[end] == '\\' && q != '`' {
			end++
		}
		end++
	}
	if end >= len(s) {
		return m, "", fmt.Errorf("label %s: unterminated value", m.Label)
	}
	lit := s[:end+1]
	if q == '\'' {
		lit = `"` + strings.ReplaceAll(lit[1:len(lit)-1], `"`, `\"`) + `"`
	}
	v, err := strconv.Unquote(lit)
	if err != nil {
		return m, "", fmt.Errorf("label %s: invalid value %s", m.Label, s[:end+1])
	}
	m.Value = v
	return m, s[end+1:], nil
}

// CheckSelector reports why a counter selector cannot be used, or nil.
func CheckSelector(s string) error {
	_, err := ParseSelector(s)
	return err
}
