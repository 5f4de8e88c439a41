package argocd

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite argocd-cm.yaml from the Lua files")

// The argocd-cm keys; Argo CD turns "gitcanary.io_Release" into the
// override key "gitcanary.io/Release" (util/settings).
const (
	healthKey  = "resource.customizations.health.gitcanary.io_Release"
	actionsKey = "resource.customizations.actions.gitcanary.io_Release"
	snippet    = "argocd-cm.yaml"
)

// actionNames lists the actions, one directory each under actions/.
func actionNames(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob("actions/*/action.lua")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no actions/*/action.lua: %v", err)
	}
	var names []string
	for _, d := range dirs {
		names = append(names, filepath.Base(filepath.Dir(d)))
	}
	slices.Sort(names)
	return names
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// block writes text as a YAML literal block scalar indented by indent
// spaces. Its first line must not start with a space, or YAML would take
// that for the block's indentation.
func block(b *bytes.Buffer, indent int, name, text string) error {
	if !strings.HasSuffix(text, "\n") || strings.HasSuffix(text, "\n\n") || strings.HasPrefix(text, " ") {
		return fmt.Errorf("%s must end with exactly one newline and not start with a space", name)
	}
	pad := strings.Repeat(" ", indent)
	for _, line := range strings.SplitAfter(strings.TrimSuffix(text, "\n"), "\n") {
		if line != "\n" {
			b.WriteString(pad)
		}
		b.WriteString(line)
	}
	b.WriteString("\n")
	return nil
}

// render builds argocd-cm.yaml from the Lua files.
func render(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(`# Argo CD health check and resource actions for gitcanary Releases.
# Generated from release-health.lua and actions/ by ` + "`go generate ./deploy/argocd`" + `; do not edit.
# Install next to Argo CD as a patch of argocd-cm: docs/argocd-ui.md.
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
  ` + healthKey + `: |
`)
	check := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	check(block(&b, 4, "release-health.lua", readFile(t, "release-health.lua")))
	b.WriteString("  " + actionsKey + ": |\n    discovery.lua: |\n")
	check(block(&b, 6, "actions/discovery.lua", readFile(t, "actions/discovery.lua")))
	b.WriteString("    definitions:\n")
	for _, name := range actionNames(t) {
		fmt.Fprintf(&b, "      - name: %s\n        action.lua: |\n", name)
		path := "actions/" + name + "/action.lua"
		check(block(&b, 10, path, readFile(t, path)))
	}
	return b.Bytes()
}

// TestSnippetIsGenerated keeps argocd-cm.yaml equal to what the Lua files
// render to; -update (go generate) rewrites it.
func TestSnippetIsGenerated(t *testing.T) {
	got := render(t)
	if *update {
		if err := os.WriteFile(snippet, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := readFile(t, snippet); want != string(got) {
		t.Errorf("%s differs from the Lua files; run `go generate ./deploy/argocd`", snippet)
	}
}
