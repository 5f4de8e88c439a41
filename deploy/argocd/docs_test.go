package argocd

import (
	"regexp"
	"strings"
	"testing"

	argolua "github.com/argoproj/argo-cd/v2/util/lua"
)

const page = "../../docs/argocd-ui.md"

// TestDocsShowRealOutput: every message in the page's health table is one
// the health check gives a sample, and the page names every action by the
// name the UI shows.
func TestDocsShowRealOutput(t *testing.T) {
	doc := readFile(t, page)
	section := doc[strings.Index(doc, "## Health\n"):strings.Index(doc, "## Actions\n")]
	messages := map[string]bool{}
	for _, c := range healthCases {
		messages[c.message] = true
	}
	n := 0
	for _, m := range regexp.MustCompile("(?m)^\\|.*\\| `([^`]+)` \\|$").FindAllStringSubmatch(section, -1) {
		n++
		if !messages[m[1]] {
			t.Errorf("%s shows the health message %q, which no sample gives", page, m[1])
		}
	}
	if n < 9 {
		t.Errorf("found %d messages in the health table of %s", n, page)
	}
	vm := argolua.VM{ResourceOverrides: overrides(t)}
	scripts, err := vm.GetResourceActionDiscovery(sample(t, "paused-approval"))
	if err != nil {
		t.Fatal(err)
	}
	actions, err := vm.ExecuteResourceActionDiscovery(sample(t, "paused-approval"), scripts)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range actions {
		if !strings.Contains(doc, "`"+a.Name+"`") || !strings.Contains(doc, a.DisplayName) {
			t.Errorf("%s does not name the action %s (%q)", page, a.Name, a.DisplayName)
		}
	}
}
