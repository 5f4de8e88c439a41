// Package yamledit edits a user's YAML file in place, touching only the
// text of what changes: a scalar is replaced where it stands, an entry is
// inserted as a line with its siblings' indentation, a block is replaced
// line for line. Comments, key order, quoting and indentation of
// everything else stay byte for byte, which a re-encode through a YAML
// library cannot promise. Edits it cannot make that way (a flow-style map
// that would need a new key, say) are errors; the caller decides what to
// do instead.
package yamledit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"
)

// File is one YAML file (possibly several documents) being edited.
type File struct {
	lines []string // without their "\n"
	final bool     // the source ended with a newline
	docs  []*kyaml.Node
	edits []edit
}

// edit replaces lines [from, to) (0-based) with text, or, when col >= 0,
// the span [col, end) of line from.
type edit struct {
	from, to int
	col, end int
	text     []string
	seq      int // order of addition
}

// Parse reads a YAML file.
func Parse(data []byte) (*File, error) {
	f := &File{final: bytes.HasSuffix(data, []byte("\n"))}
	f.lines = strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	dec := kyaml.NewDecoder(bytes.NewReader(data))
	for {
		var n kyaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(n.Content) == 1 && n.Content[0].Kind == kyaml.MappingNode {
			f.docs = append(f.docs, n.Content[0])
		}
	}
	return f, nil
}

// Docs returns the file's documents that are maps.
func (f *File) Docs() []*kyaml.Node { return f.docs }

// Find returns the documents of a kind and metadata.name.
func (f *File) Find(kind, name string) []*kyaml.Node {
	var out []*kyaml.Node
	for _, d := range f.docs {
		k, n := Get(d, "kind"), Get(d, "metadata", "name")
		if k != nil && n != nil && k.Value == kind && n.Value == name {
			out = append(out, d)
		}
	}
	return out
}

// Get follows map keys from n; nil when one is missing.
func Get(n *kyaml.Node, keys ...string) *kyaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != kyaml.MappingNode {
			return nil
		}
		var next *kyaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// SetScalar replaces a scalar's value where it stands, keeping its
// quoting style when the new value allows it.
func (f *File) SetScalar(n *kyaml.Node, value string) error {
	if n.Kind != kyaml.ScalarNode || n.Style&(kyaml.LiteralStyle|kyaml.FoldedStyle) != 0 {
		return fmt.Errorf("line %d: not a one-line scalar", n.Line)
	}
	if n.Value == value {
		return nil
	}
	line := f.lines[n.Line-1]
	start := column(line, n.Column)
	end, err := scalarEnd(line, start, n)
	if err != nil {
		return err
	}
	f.edits = append(f.edits, edit{from: n.Line - 1, to: n.Line, col: start, end: end, text: []string{quote(value, n.Style)}})
	return nil
}

// SetEntry sets key in a block map to value: a scalar in place when the
// key exists with a scalar, else a new entry after the map's last line,
// indented as its keys are. value is a string or anything YAML marshals.
func (f *File) SetEntry(m *kyaml.Node, key string, value any) error {
	if m.Kind != kyaml.MappingNode || m.Style&kyaml.FlowStyle != 0 || len(m.Content) == 0 {
		return fmt.Errorf("line %d: %s is not a block map with entries", m.Line, key)
	}
	if old := Get(m, key); old != nil {
		if s, ok := value.(string); ok && old.Kind == kyaml.ScalarNode {
			return f.SetScalar(old, s)
		}
		return f.Replace(old, value)
	}
	indent := strings.Repeat(" ", m.Content[0].Column-1)
	text, err := entry(key, value)
	if err != nil {
		return err
	}
	at := f.end(m) + 1
	f.edits = append(f.edits, edit{from: at, to: at, col: -1, text: indented(text, indent)})
	return nil
}

// Replace replaces the value node of an entry (a block or flow
// collection, or a scalar) with value, rendered in block style at the
// node's indentation. A flow collection on one line becomes flow again.
func (f *File) Replace(n *kyaml.Node, value any) error {
	if n.Kind == kyaml.ScalarNode {
		if s, ok := value.(string); ok {
			return f.SetScalar(n, s)
		}
	}
	if n.Style&kyaml.FlowStyle != 0 {
		if f.end(n) != n.Line-1 {
			return fmt.Errorf("line %d: a flow collection over several lines", n.Line)
		}
		flow, err := flowText(value)
		if err != nil {
			return err
		}
		line := f.lines[n.Line-1]
		start := column(line, n.Column)
		f.edits = append(f.edits, edit{from: n.Line - 1, to: n.Line, col: start, end: len(strings.TrimRight(stripComment(line), " ")), text: []string{flow}})
		return nil
	}
	if n.Kind != kyaml.MappingNode && n.Kind != kyaml.SequenceNode || len(n.Content) == 0 {
		return fmt.Errorf("line %d: cannot replace this node in place", n.Line)
	}
	first := n.Line - 1
	indent := n.Column - 1
	if n.Kind == kyaml.SequenceNode {
		// The node starts at its first item's content; the dash is before it.
		indent = dashColumn(f.lines[first], n.Content[0].Column)
	}
	data, err := yaml.Marshal(value)
	if err != nil {
		return err
	}
	f.edits = append(f.edits, edit{from: first, to: f.end(n) + 1, col: -1, text: indented(strings.TrimSuffix(string(data), "\n"), strings.Repeat(" ", indent))})
	return nil
}

// DeleteEntry removes key and its value from a block map, with their lines.
func (f *File) DeleteEntry(m *kyaml.Node, key string) error {
	if m.Kind != kyaml.MappingNode || m.Style&kyaml.FlowStyle != 0 {
		return fmt.Errorf("line %d: not a block map", m.Line)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			to := f.end(m.Content[i+1]) + 1
			if i+2 < len(m.Content) {
				to = m.Content[i+2].Line - 1
			}
			f.edits = append(f.edits, edit{from: m.Content[i].Line - 1, to: to, col: -1})
			return nil
		}
	}
	return nil
}

// DeleteItem removes item i of a block sequence, with its lines.
func (f *File) DeleteItem(seq *kyaml.Node, i int) error {
	if seq.Kind != kyaml.SequenceNode || seq.Style&kyaml.FlowStyle != 0 {
		return fmt.Errorf("line %d: not a block sequence", seq.Line)
	}
	item := seq.Content[i]
	from := item.Line - 1
	to := f.end(item) + 1
	if i+1 < len(seq.Content) {
		to = seq.Content[i+1].Line - 1
	}
	f.edits = append(f.edits, edit{from: from, to: to, col: -1})
	return nil
}

// Append adds value as a new last item of a block sequence.
func (f *File) Append(seq *kyaml.Node, value any) error {
	if seq.Kind != kyaml.SequenceNode || seq.Style&kyaml.FlowStyle != 0 || len(seq.Content) == 0 {
		return fmt.Errorf("line %d: not a block sequence with items", seq.Line)
	}
	data, err := yaml.Marshal([]any{value})
	if err != nil {
		return err
	}
	first := seq.Content[0]
	indent := dashColumn(f.lines[first.Line-1], first.Column)
	at := f.end(seq) + 1
	f.edits = append(f.edits, edit{from: at, to: at, col: -1, text: indented(strings.TrimSuffix(string(data), "\n"), strings.Repeat(" ", indent))})
	return nil
}

// Bytes returns the edited file. Edits must not overlap.
func (f *File) Bytes() ([]byte, error) {
	edits := slices.Clone(f.edits)
	for i := range edits {
		edits[i].seq = i
	}
	// Bottom up, and within a line right to left, so that positions hold.
	// Insertions at one point end up deepest first (an inner map's new
	// entry before its parent's), then in the order they were made.
	slices.SortStableFunc(edits, func(a, b edit) int {
		if a.from != b.from {
			return b.from - a.from
		}
		if a.col != b.col {
			return b.col - a.col
		}
		if ia, ib := depth(a), depth(b); ia != ib {
			return ia - ib
		}
		return b.seq - a.seq
	})
	for i := 1; i < len(edits); i++ {
		lo, hi := edits[i], edits[i-1] // lo is above hi in the file
		switch {
		case lo.col >= 0 && hi.col >= 0 && lo.from == hi.from:
			if lo.end > hi.col {
				return nil, fmt.Errorf("overlapping edits on line %d", lo.from+1)
			}
		case lo.to > hi.from && !(hi.col < 0 && hi.from == hi.to && lo.to == hi.from):
			return nil, fmt.Errorf("overlapping edits at line %d", hi.from+1)
		}
	}
	lines := slices.Clone(f.lines)
	for _, e := range edits {
		if e.col >= 0 {
			l := lines[e.from]
			lines[e.from] = l[:e.col] + e.text[0] + l[e.end:]
			continue
		}
		lines = slices.Concat(lines[:e.from], e.text, lines[e.to:])
	}
	out := strings.Join(lines, "\n")
	if f.final {
		out += "\n"
	}
	return []byte(out), nil
}

// depth is the indentation of an insertion's first line.
func depth(e edit) int {
	if len(e.text) == 0 {
		return 0
	}
	return len(e.text[0]) - len(strings.TrimLeft(e.text[0], " "))
}

// end is the 0-based index of the last line of n: its deepest last
// descendant's line (a multi-line block scalar is not looked into).
func (f *File) end(n *kyaml.Node) int {
	last := n.Line - 1
	for _, c := range n.Content {
		if e := f.end(c); e > last {
			last = e
		}
	}
	return last
}

// column turns a 1-based rune column into a byte offset of line.
func column(line string, col int) int {
	i := 0
	for off := range line {
		if i == col-1 {
			return off
		}
		i++
	}
	return len(line)
}

// dashColumn is the indentation of the "- " before an item starting at col.
func dashColumn(line string, col int) int {
	start := column(line, col)
	if d := strings.LastIndex(line[:start], "-"); d >= 0 {
		return d
	}
	return start
}

// scalarEnd finds where a one-line scalar starting at start ends.
func scalarEnd(line string, start int, n *kyaml.Node) (int, error) {
	switch {
	case n.Style&kyaml.DoubleQuotedStyle != 0:
		for i := start + 1; i < len(line); i++ {
			switch line[i] {
			case '\\':
				i++
			case '"':
				return i + 1, nil
			}
		}
	case n.Style&kyaml.SingleQuotedStyle != 0:
		for i := start + 1; i < len(line); i++ {
			if line[i] == '\'' {
				if i+1 < len(line) && line[i+1] == '\'' {
					i++
					continue
				}
				return i + 1, nil
			}
		}
	default:
		if strings.HasPrefix(line[start:], n.Value) {
			return start + len(n.Value), nil
		}
	}
	return 0, fmt.Errorf("line %d: cannot find the end of %q", n.Line, n.Value)
}

// quote writes a scalar in the style it had, or plain when that is safe.
func quote(v string, style kyaml.Style) string {
	switch {
	case style&kyaml.DoubleQuotedStyle != 0:
		return fmt.Sprintf("%q", v)
	case style&kyaml.SingleQuotedStyle != 0:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	data, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%q", v)
	}
	return strings.TrimSuffix(string(data), "\n")
}

// entry renders "key: value" (a block below the key for a collection).
func entry(key string, value any) (string, error) {
	data, err := yaml.Marshal(map[string]any{key: value})
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(data), "\n"), nil
}

func flowText(value any) (string, error) {
	data, err := yaml.Marshal(value)
	if err != nil {
		return "", err
	}
	var n kyaml.Node
	if err := kyaml.Unmarshal(data, &n); err != nil {
		return "", err
	}
	setFlow(&n)
	out, err := kyaml.Marshal(&n)
	return strings.TrimSuffix(string(out), "\n"), err
}

func setFlow(n *kyaml.Node) {
	if n.Kind == kyaml.MappingNode || n.Kind == kyaml.SequenceNode {
		n.Style |= kyaml.FlowStyle
	}
	for _, c := range n.Content {
		setFlow(c)
	}
}

// stripComment drops a trailing "# comment" outside quotes.
func stripComment(line string) string {
	inS, inD := false, false
	for i, r := range line {
		switch {
		case r == '\'' && !inD:
			inS = !inS
		case r == '"' && !inS:
			inD = !inD
		case r == '#' && !inS && !inD && (i == 0 || line[i-1] == ' '):
			return line[:i]
		}
	}
	return line
}

func indented(text, indent string) []string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = indent + l
	}
	return lines
}
