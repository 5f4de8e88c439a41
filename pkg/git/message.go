package git

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// trailerKey is the token git interpret-trailers accepts as a key.
var trailerKey = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*$`)

// Validate reports whether m can be written as a commit message whose
// subject and trailers read back unchanged.
func (m Message) Validate() error {
	if strings.TrimSpace(m.Subject) == "" {
		return errors.New("commit message: empty subject")
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return fmt.Errorf("commit message: subject %q spans lines", m.Subject)
	}
	for _, t := range m.Trailers {
		if !trailerKey.MatchString(t.Key) {
			return fmt.Errorf("commit message: trailer key %q is not a git trailer token", t.Key)
		}
		if strings.TrimSpace(t.Value) == "" || strings.ContainsAny(t.Value, "\r\n") {
			return fmt.Errorf("commit message: trailer %s needs a one-line, non-empty value", t.Key)
		}
	}
	return nil
}

// String renders the message as git writes one: subject, blank line, body,
// blank line, one "Key: value" line per trailer, so that
// `git interpret-trailers --parse` and `git log --format=%(trailers)` read
// the trailers back.
func (m Message) String() string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(m.Subject))
	b.WriteString("\n")
	if body := strings.TrimSpace(m.Body); body != "" {
		b.WriteString("\n")
		b.WriteString(body)
		b.WriteString("\n")
	}
	if len(m.Trailers) > 0 {
		b.WriteString("\n")
		for _, t := range m.Trailers {
			fmt.Fprintf(&b, "%s: %s\n", t.Key, strings.TrimSpace(t.Value))
		}
	}
	return b.String()
}

// ParseMessage splits a raw commit message into subject, body and trailers.
// Trailers are the last paragraph when every line of it is a "Key: value"
// line (or a whitespace-indented continuation of one) and it is not the
// subject's paragraph, as git interpret-trailers reads them.
func ParseMessage(raw string) Message {
	raw = strings.ReplaceAll(raw, "\r\n", "\n")
	lines := strings.Split(strings.TrimRight(raw, " \t\n"), "\n")
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	if len(lines) == 0 {
		return Message{}
	}
	m := Message{Subject: strings.TrimSpace(lines[0])}
	rest := lines[1:]

	last := -1 // index in rest of the blank line before the last paragraph
	for i := len(rest) - 1; i >= 0; i-- {
		if strings.TrimSpace(rest[i]) == "" {
			last = i
			break
		}
	}
	if last >= 0 {
		if ts, ok := parseTrailers(rest[last+1:]); ok {
			m.Trailers = ts
			rest = rest[:last]
		}
	}
	m.Body = strings.TrimSpace(strings.Join(rest, "\n"))
	return m
}

func parseTrailers(lines []string) ([]Trailer, bool) {
	var ts []Trailer
	for _, l := range lines {
		if (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) && len(ts) > 0 {
			ts[len(ts)-1].Value += " " + strings.TrimSpace(l)
			continue
		}
		key, value, ok := strings.Cut(l, ":")
		key = strings.TrimRight(key, " \t")
		if !ok || !trailerKey.MatchString(key) {
			return nil, false
		}
		ts = append(ts, Trailer{Key: key, Value: strings.TrimSpace(value)})
	}
	return ts, len(ts) > 0
}

// sameTrailers reports whether a and b hold the same set of trailers,
// ignoring order and repetition.
func sameTrailers(a, b []Trailer) bool {
	return slices.Equal(trailerSet(a), trailerSet(b))
}

func trailerSet(ts []Trailer) []Trailer {
	s := slices.Clone(ts)
	slices.SortFunc(s, func(x, y Trailer) int {
		if c := strings.Compare(x.Key, y.Key); c != 0 {
			return c
		}
		return strings.Compare(x.Value, y.Value)
	})
	return slices.Compact(s)
}
