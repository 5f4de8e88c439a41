package argocd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/e2e/testbed"
)

// TestArgoCDCLIAgrees runs the samples through the test bed's argocd CLI
// (Argo CD 2.14.21): `argocd admin settings resource-overrides` reads
// argocd-cm.yaml with Argo CD's own settings code, not this package's
// reading of it. It needs the bed's binaries, not a running bed.
func TestArgoCDCLIAgrees(t *testing.T) {
	e, err := testbed.Load()
	if err != nil {
		if os.Getenv("GITCANARY_E2E") == "1" {
			t.Fatal(err)
		}
		t.Skipf("no test bed binaries (run `make testbed-up`): %v", err)
	}
	cli := func(args ...string) string {
		t.Helper()
		args = append(append([]string{"admin", "settings", "resource-overrides"}, args...), "--argocd-cm-path", snippet)
		out, err := exec.Command(filepath.Join(e.BinDir, "argocd"), args...).Output()
		if err != nil {
			t.Fatalf("argocd %s: %v", strings.Join(args, " "), err)
		}
		return string(out)
	}
	for _, c := range healthCases {
		out := cli("health", "testdata/"+c.sample+".yaml")
		if want := "STATUS: " + string(c.status) + "\nMESSAGE: " + c.message + "\n"; !strings.Contains(out, want) {
			t.Errorf("%s: argocd shows\n%s\nwant\n%s", c.sample, out, want)
		}
	}
	for _, c := range actionCases() {
		rows := strings.Split(strings.TrimSpace(cli("list-actions", "testdata/"+c.sample+".yaml")), "\n")
		if len(rows) != len(actionNames(t))+1 {
			t.Errorf("%s: argocd lists\n%s", c.sample, strings.Join(rows, "\n"))
			continue
		}
		for _, row := range rows[1:] {
			f := strings.Fields(row)
			if len(f) != 2 {
				t.Fatalf("%s: unexpected row %q", c.sample, row)
			}
			if _, enabled := c.enabled[f[0]]; (f[1] == "true") == enabled {
				t.Errorf("%s: argocd lists %q; want %s enabled = %v", c.sample, row, f[0], enabled)
			}
		}
	}
}
