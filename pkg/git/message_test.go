package git

import (
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func TestMessageStringParsesBack(t *testing.T) {
	tests := []struct {
		name string
		msg  Message
		want string
	}{
		{
			name: "subject only",
			msg:  Message{Subject: "reviews-v2: prepare"},
			want: "reviews-v2: prepare\n",
		},
		{
			name: "trailers without body",
			msg: Message{Subject: "reviews-v2: weight 30", Trailers: []Trailer{
				{TrailerRelease, "reviews-v2"}, {TrailerAction, "step/3/weight/30"},
			}},
			want: "reviews-v2: weight 30\n\nGitcanary-Release: reviews-v2\nGitcanary-Action: step/3/weight/30\n",
		},
		{
			name: "body and trailers",
			msg: Message{Subject: "s", Body: "why:\nbecause.\n\nsecond paragraph", Trailers: []Trailer{
				{TrailerRelease, "r"}, {TrailerSeq, "7"},
			}},
			want: "s\n\nwhy:\nbecause.\n\nsecond paragraph\n\nGitcanary-Release: r\nGitcanary-Seq: 7\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.msg.Validate(); err != nil {
				t.Fatal(err)
			}
			got := tt.msg.String()
			if got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
			back := ParseMessage(got)
			if !reflect.DeepEqual(back, tt.msg) {
				t.Errorf("ParseMessage(String()) = %#v, want %#v", back, tt.msg)
			}
			// git itself must see the same trailers.
			if gotGit := gitTrailers(t, got); !reflect.DeepEqual(gotGit, tt.msg.Trailers) {
				t.Errorf("git interpret-trailers --parse = %v, want %v", gotGit, tt.msg.Trailers)
			}
		})
	}
}

func TestParseMessage(t *testing.T) {
	tests := []struct {
		name     string
		raw      string
		subject  string
		trailers []Trailer
	}{
		{"no trailers", "fix it\n\njust a body line\n", "fix it", nil},
		{"subject looks like a trailer", "Key: value\n", "Key: value", nil},
		{"mixed last paragraph is body", "s\n\nGitcanary-Release: r\nnot a trailer\n", "s", nil},
		{"continuation line", "s\n\nGitcanary-Action: a\n  b\nX-Y: z\n", "s", []Trailer{{TrailerAction, "a b"}, {"X-Y", "z"}}},
		{"crlf and trailing blank lines", "s\r\n\r\nGitcanary-Release: r\r\n\r\n\r\n", "s", []Trailer{{TrailerRelease, "r"}}},
		{"only last paragraph counts", "s\n\nA: 1\n\nbody\n\nB: 2\n", "s", []Trailer{{"B", "2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ParseMessage(tt.raw)
			if m.Subject != tt.subject || !reflect.DeepEqual(m.Trailers, tt.trailers) {
				t.Errorf("ParseMessage(%q) = subject %q trailers %v, want %q %v", tt.raw, m.Subject, m.Trailers, tt.subject, tt.trailers)
			}
		})
	}
}

// TestParseMessageReadsGitTrailers parses a message whose trailers git
// interpret-trailers added, as a person's `git commit --trailer` would.
func TestParseMessageReadsGitTrailers(t *testing.T) {
	cmd := exec.Command("git", "interpret-trailers",
		"--trailer", "Gitcanary-Release: reviews-v2", "--trailer", "Gitcanary-Action: abort")
	cmd.Stdin = strings.NewReader("abort reviews-v2\n\nby hand\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git interpret-trailers: %v", err)
	}
	m := ParseMessage(string(out))
	want := []Trailer{{TrailerRelease, "reviews-v2"}, {TrailerAction, "abort"}}
	if m.Subject != "abort reviews-v2" || m.Body != "by hand" || !reflect.DeepEqual(m.Trailers, want) {
		t.Errorf("ParseMessage(%q) = %#v", out, m)
	}
}

func TestMessageValidate(t *testing.T) {
	bad := []Message{
		{},
		{Subject: "two\nlines"},
		{Subject: "s", Trailers: []Trailer{{"Bad Key", "v"}}},
		{Subject: "s", Trailers: []Trailer{{"Key", ""}}},
		{Subject: "s", Trailers: []Trailer{{"Key", "multi\nline"}}},
	}
	for _, m := range bad {
		if err := m.Validate(); err == nil {
			t.Errorf("Validate(%#v) = nil, want an error", m)
		}
	}
}

func TestSameTrailers(t *testing.T) {
	a := []Trailer{{TrailerRelease, "r"}, {TrailerAction, "step/1"}}
	tests := []struct {
		b    []Trailer
		want bool
	}{
		{[]Trailer{{TrailerAction, "step/1"}, {TrailerRelease, "r"}}, true},
		{[]Trailer{{TrailerAction, "step/1"}, {TrailerRelease, "r"}, {TrailerRelease, "r"}}, true},
		{[]Trailer{{TrailerRelease, "r"}}, false},
		{[]Trailer{{TrailerRelease, "r"}, {TrailerAction, "step/1"}, {TrailerSeq, "1"}}, false},
		{[]Trailer{{TrailerRelease, "r"}, {TrailerAction, "step/2"}}, false},
	}
	for _, tt := range tests {
		if got := sameTrailers(a, tt.b); got != tt.want {
			t.Errorf("sameTrailers(%v, %v) = %v, want %v", a, tt.b, got, tt.want)
		}
	}
}

// gitTrailers runs git interpret-trailers --parse on msg.
func gitTrailers(t *testing.T, msg string) []Trailer {
	t.Helper()
	cmd := exec.Command("git", "interpret-trailers", "--parse")
	cmd.Stdin = strings.NewReader(msg)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git interpret-trailers: %v", err)
	}
	var ts []Trailer
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if k, v, ok := strings.Cut(l, ": "); ok {
			ts = append(ts, Trailer{k, v})
		}
	}
	return ts
}
