package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/e2e/trafficsim"
	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/prom"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// errorRatioTemplate is an AnalysisTemplate of the repository: the
// canary's share of 5xx responses over each look, from Istio's metrics,
// at most args.max.
const errorRatioTemplate = `apiVersion: gitcanary.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: error-ratio}
spec:
  args:
    - {name: max, value: "0.05"}
  metrics:
    - name: error-ratio
      query: >-
        sum(rate(istio_requests_total{reporter="destination",destination_service="{{host}}",destination_version="{{canary}}",response_code=~"5.."}[{{interval}}]))
        / sum(rate(istio_requests_total{reporter="destination",destination_service="{{host}}",destination_version="{{canary}}"}[{{interval}}]))
      successCondition: result[0] <= {{args.max}}
`

// TestAnalysisQueryAndWebMetrics: an analysis step of a template's query
// metric (with an arg) on the bed's Prometheus and a web metric on a
// loopback server, with its token from gitcanary's configuration. A
// canary failing half its requests is past the template's 20% at the
// first look: abandoned (AnalysisFailed, exit 3), with the query resolved
// in git, its value in the evidence (the same when Prometheus is asked
// again at the recorded time), the web metric's value beside it, and the
// token nowhere in git.
func TestAnalysisQueryAndWebMetrics(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var auth []string
	tester := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		fmt.Fprintf(w, `{"ok": true, "version": %q}`, r.URL.Query().Get("v"))
	}))
	t.Cleanup(tester.Close)
	steps := fmt.Sprintf(`[{setWeight: 50}, {analysis: {duration: 40s, interval: 10s,
      metrics: [{name: smoke, web: {url: "%s/run?v={{canary}}", jsonPath: "{$.ok}", headers: [Authorization]}, successCondition: "result == true"}],
      templates: [{name: error-ratio, args: [{name: max, value: "0.2"}]}]}}, {setWeight: 100}]`, tester.URL)
	s := newAnalysisScenarioWith(t, "analysis-query", steps, analysisRPS, map[string]trafficsim.Profile{
		"v1": {ErrorRate: 0.01, Latency: 20 * time.Millisecond},
		"v2": {ErrorRate: 0.5, Latency: 20 * time.Millisecond},
	})
	s.server.Push(t, "apps.git", map[string][]byte{"analysis/error-ratio.yaml": []byte(errorRatioTemplate)}, "an analysis template")
	config := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf("webHeaders:\n  - urlPrefix: %s\n    headers: [{name: Authorization, value: Bearer e2e-s3cret}]\n", tester.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	before := s.snapshot()
	if code, _ := s.cli("start", "-f", s.file, "--config", config, "--wait-for=done", "--timeout=6m"); code != cli.ExitAbandoned {
		t.Fatalf("start exited %d, want %d", code, cli.ExitAbandoned)
	}
	rec := s.recordAtHead()
	if rec.Status.Phase != release.Abandoned || rec.Status.Reason != "AnalysisFailed" || !strings.Contains(rec.Status.Message, "error-ratio: failed (1) > failureLimit (0) at look 1") {
		t.Fatalf("%s %s: %s", rec.Status.Phase, rec.Status.Reason, rec.Status.Message)
	}
	e := s.evidence()
	run := e.Run
	q := run.Metrics[1]
	if q.Name != "error-ratio" || q.Template != "analysis/error-ratio.yaml" || q.Args["max"] != "0.2" || q.SuccessCondition != "result[0] <= 0.2" ||
		!strings.Contains(q.Query, `destination_version="v2"`) || !strings.Contains(q.Query, "[10s]") || strings.Contains(q.Query, "{{") {
		t.Errorf("resolved query metric: %+v", q)
	}
	look := e.Metrics[1].Looks[0]
	if look.Phase != "Failed" || look.Value == nil || look.Value.Result == nil || len(look.Value.Samples) != 1 {
		t.Fatalf("error-ratio look 1: %+v", look)
	}
	// Asked again at the recorded time, Prometheus gives the committed value.
	client, err := prom.New(prom.Options{URL: run.Prometheus, Settle: run.Lag.Duration})
	if err != nil {
		t.Fatal(err)
	}
	again, err := client.Query(context.Background(), q.Query, run.LookEnd(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Samples) != 1 || again.Samples[0].Value != look.Value.Samples[0].Value {
		t.Errorf("the query at look 1's end gives %+v; committed %s", again.Samples, look.Value.String())
	}
	if smoke := e.Metrics[0].Looks; len(smoke) == 0 || smoke[0].Value.JSON != "true" || smoke[0].Phase != "Successful" {
		t.Errorf("smoke looks: %+v", smoke)
	}
	mu.Lock()
	if len(auth) == 0 || auth[0] != "Bearer e2e-s3cret" {
		t.Errorf("the tester saw Authorization %q", auth)
	}
	mu.Unlock()
	if log := s.server.Git(t, "apps.git", "log", "-p", "--all"); strings.Contains(log, "e2e-s3cret") {
		t.Error("the token is in git")
	}
	if code, out := s.cli("analysis", "replay", "-f", s.file); code != cli.ExitOK || !regexp.MustCompile(`Failed\s+Failed`).MatchString(out) {
		t.Errorf("replay exited %d:\n%s", code, out)
	}
	if after := s.snapshot(); after != before {
		t.Errorf("cluster after the abandon differs from before the release:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
