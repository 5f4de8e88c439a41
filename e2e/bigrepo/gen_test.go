package bigrepo

import (
	"bytes"
	"strings"
	"testing"
)

// TestStream: the history is the same bytes every time, with the layout
// the benchmark reports.
func TestStream(t *testing.T) {
	var a, b bytes.Buffer
	if err := Stream(&a); err != nil {
		t.Fatal(err)
	}
	if err := Stream(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two streams differ")
	}
	s := a.String()
	if n := strings.Count(s, "\ncommit refs/heads/main\n") + 1; n != Commits {
		t.Errorf("%d commits, want %d", n, Commits)
	}
	files := map[string]bool{}
	for _, line := range strings.Split(s, "\n") {
		if p, ok := strings.CutPrefix(line, "M 100644 inline "); ok {
			files[p] = true
		}
	}
	if len(files) != Apps*FilesPerApp {
		t.Errorf("%d files, want %d", len(files), Apps*FilesPerApp)
	}
}
