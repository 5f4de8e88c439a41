package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sizedRelease = `apiVersion: gitcanary.io/v1alpha1
kind: Release
metadata: {name: reviews-v2}
spec:
  repo: {url: "git://127.0.0.1/apps.git", path: apps/reviews}
  argocd: {application: reviews}
  workload: {kind: Deployment, name: reviews-v1, namespace: bookinfo}
  version: v2
  images: [{name: example/reviews, newTag: "2.0"}]
  traffic: {host: reviews}
  analysis: {prometheus: {address: "http://prometheus:9090"}}
  steps:
    - setWeight: 10
    - analysis: {duration: 5m, metrics: [{name: errors, compare: {istio: errors}}]}
    - setWeight: 50
    - analysis: {duration: 2m, warmup: 30s, metrics: [{name: errors, compare: {istio: errors}}]}
    - setWeight: 0
    - analysis: {duration: 1m, metrics: [{name: errors, compare: {istio: errors}}]}
`

// TestLintSizing: lint --rps says how long each analysis step needs and
// warns about the ones that are too short (the figures are
// judge.TimeToPower's, also in docs/analysis.md's sizing table).
func TestLintSizing(t *testing.T) {
	file := filepath.Join(t.TempDir(), "r.yaml")
	if err := os.WriteFile(file, []byte(sizedRelease), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Main(context.Background(), append([]string{"lint", "-f", file, "--offline"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, errs := run("--rps", "100")
	want := `step 2 (analysis 5m0s): at 100 requests/s, 10% on the canary, 1% errors, 95% power against 2× the errors needs 5m0s of looks; the step has 5m0s
warning: step 4 (analysis 2m0s): at 100 requests/s, 50% on the canary, 1% errors, 95% power against 2× the errors needs 2m0s of looks; the step has 1m30s: it is likely to end Inconclusive (NotEnoughTraffic)
warning: step 6 (analysis 1m0s): at 100 requests/s, 0% on the canary, 1% errors, no analysis reaches 95% power against 2× the errors: it ends Inconclusive (NotEnoughTraffic)
`
	if code != ExitOK || !strings.HasPrefix(out, want) {
		t.Errorf("lint --rps 100: exit %d\n%s%s\nwant it to start with\n%s", code, out, errs, want)
	}
	if code, out, _ := run(); code != ExitOK || strings.Contains(out, "power") {
		t.Errorf("lint without --rps: exit %d\n%s", code, out)
	}
	if code, _, errs := run("--rps", "100", "--error-rate", "1.5"); code != ExitInvalid || !strings.Contains(errs, "--error-rate must be between 0 and 1") {
		t.Errorf("lint --error-rate 1.5: exit %d %s", code, errs)
	}
}

// TestLintChatWebhookURL: a chat's incoming-webhook URL in the Release
// is allowed (docs/webhooks.md#format-slack) but lint warns that it is
// its own secret; other webhook URLs get no warning.
func TestLintChatWebhookURL(t *testing.T) {
	file := filepath.Join(t.TempDir(), "r.yaml")
	doc := strings.Replace(sizedRelease, "  steps:\n", `  webhooks:
    - {name: gate, type: confirm-step, url: "https://deploy-gate.example/window"}
    - {name: chat, type: event, format: slack, url: "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"}
  steps:
`, 1)
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"lint", "-f", file, "--offline"}, &out, &errb)
	want := "warning: spec.webhooks[1].url is a Slack incoming-webhook URL, which is its own secret"
	if code != ExitOK || !strings.Contains(out.String(), want) || strings.Contains(out.String(), "webhooks[0]") || strings.Contains(out.String()+errb.String(), "XXXXXXXX") {
		t.Errorf("lint: exit %d\n%s%s\nwant exit 0 and only %q, never the URL's secret", code, out.String(), errb.String(), want)
	}
	// docs/webhooks.md shows the warning as lint prints it.
	page, err := os.ReadFile(filepath.Join("..", "..", "docs", "webhooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, want) && !strings.Contains(string(page), "\n"+line+"\n") {
			t.Errorf("docs/webhooks.md does not show lint's warning as printed:\n%s", line)
		}
	}
}
