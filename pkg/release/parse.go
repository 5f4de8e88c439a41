package release

import (
	"errors"
	"fmt"
	"strings"

	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// ErrInvalid is wrapped by every error about a Release document's content;
// the CLI maps it to exit code 2.
var ErrInvalid = errors.New("invalid release")

// FieldError is one problem, at one field path.
type FieldError struct {
	Path   string
	Reason string
}

func (e FieldError) String() string { return e.Path + ": " + e.Reason }

// InvalidError lists every problem found in a document.
type InvalidError struct {
	Source string // file name, when known
	Errors []FieldError
	// Doc names the kind of document ("release" when empty).
	Doc string
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	if e.Source != "" {
		fmt.Fprintf(&b, "%s: ", e.Source)
	}
	doc := e.Doc
	if doc == "" {
		doc = "release"
	}
	b.WriteString("invalid " + doc + ":")
	for _, fe := range e.Errors {
		b.WriteString("\n  ")
		b.WriteString(fe.String())
	}
	return b.String()
}

// Is lets errors.Is(err, ErrInvalid) match.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// Parse reads one Release document strictly: unknown and duplicate fields
// are errors that name their path. It does not validate values; call
// Validate for that.
func Parse(data []byte) (*Release, error) {
	if strings.Contains(string(data), "\n---") && countDocs(data) > 1 {
		return nil, &InvalidError{Errors: []FieldError{{Path: "(document)", Reason: "expected one Release document, found several separated by ---"}}}
	}
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, &InvalidError{Errors: []FieldError{{Path: "(document)", Reason: "not valid YAML: " + cleanYAMLError(err)}}}
	}
	if strings.TrimSpace(string(j)) == "null" {
		return nil, &InvalidError{Errors: []FieldError{{Path: "(document)", Reason: "empty document"}}}
	}
	var r Release
	strict, err := kjson.UnmarshalStrict(j, &r, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, &InvalidError{Errors: []FieldError{decodeError(err)}}
	}
	if len(strict) > 0 {
		inv := &InvalidError{}
		for _, e := range strict {
			inv.Errors = append(inv.Errors, strictError(e))
		}
		return nil, inv
	}
	return &r, nil
}

// Marshal writes a Release as YAML.
func Marshal(r *Release) ([]byte, error) { return yaml.Marshal(r) }

func countDocs(data []byte) int {
	n := 0
	for _, doc := range strings.Split("\n"+string(data), "\n---") {
		body := doc
		if i := strings.IndexByte(body, '\n'); i >= 0 {
			body = body[i:]
		}
		if strings.TrimSpace(stripComments(body)) != "" {
			n++
		}
	}
	return n
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func cleanYAMLError(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
	return strings.TrimPrefix(msg, "yaml: ")
}

// strictError turns `unknown field "spec.stpes"` into a FieldError at that path.
func strictError(err error) FieldError {
	msg := err.Error()
	for _, kind := range []string{"unknown field", "duplicate field"} {
		if rest, ok := strings.CutPrefix(msg, kind+" "); ok {
			return FieldError{Path: strings.Trim(rest, `"`), Reason: kind}
		}
	}
	return FieldError{Path: "(document)", Reason: msg}
}

// decodeError names the field of a type mismatch such as a string weight.
func decodeError(err error) FieldError {
	msg := err.Error()
	if i := strings.Index(msg, "Go struct field "); i >= 0 {
		rest := msg[i+len("Go struct field "):]
		if j := strings.Index(rest, " of type "); j >= 0 {
			field := rest[:j]
			// "Step.spec.steps.setWeight": drop the Go type name before the path.
			if k := strings.IndexByte(field, '.'); k >= 0 {
				field = field[k+1:]
			}
			got := ""
			if a, ok := strings.CutPrefix(msg[:i], "json: cannot unmarshal "); ok {
				got = strings.TrimSuffix(a, " into ")
			}
			return FieldError{Path: field, Reason: typeReason(rest[j+len(" of type "):], got)}
		}
	}
	if strings.Contains(msg, "duration") {
		return FieldError{Path: "(duration)", Reason: strings.TrimPrefix(msg, "json: ")}
	}
	return FieldError{Path: "(document)", Reason: strings.TrimPrefix(msg, "json: ")}
}

// typeReason says which JSON value a Go type takes, and what was found
// ("number 4294967306", "string", "object").
func typeReason(goType, got string) string {
	want := "an object"
	switch {
	case strings.HasPrefix(goType, "[]"):
		want = "a list"
	case goType == "string":
		want = "a string"
	case goType == "bool":
		want = "true or false"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		want = "a whole number"
		if n, ok := strings.CutPrefix(got, "number "); ok {
			return fmt.Sprintf("%s is out of range or not a whole number", n)
		}
	case strings.HasSuffix(goType, "Duration"):
		want = "a duration such as 5m"
	}
	if got == "" {
		return "expected " + want
	}
	switch {
	case strings.HasPrefix(got, "array"):
		got = "a list"
	case strings.HasPrefix(got, "object"):
		got = "an object"
	default:
		got = "a " + got
	}
	return fmt.Sprintf("expected %s, got %s", want, got)
}
