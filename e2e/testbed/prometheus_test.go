package testbed_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/e2e/testbed"
)

// TestPrometheusScript starts Prometheus with the bed's script in a
// temporary directory, registers a target through file_sd, and reads its
// counter back: the path the bed and the tests without a bed Prometheus
// share.
func TestPrometheusScript(t *testing.T) {
	if _, err := exec.LookPath("prometheus"); err != nil {
		if os.Getenv("GITCANARY_E2E") == "1" {
			t.Fatal("no prometheus on PATH: run e2e/testbed/install-deps.sh")
		}
		t.Skip("no prometheus on PATH")
	}
	p := testbed.StartPrometheus(t, t.TempDir())
	if !strings.HasPrefix(p.URL, "http://127.0.0.1:") || p.PID == 0 {
		t.Fatalf("started %+v", p)
	}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "# TYPE made_total counter\nmade_total{pod=\"a\"} 42\n")
	}))
	defer target.Close()
	p.AddTarget(t, "one", strings.TrimPrefix(target.URL, "http://"), map[string]string{"team": "x"})

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.PostForm(p.URL+"/api/v1/query", url.Values{"query": {`made_total{team="x",pod="a",job="trafficsim"}`}})
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Data.Result) == 1 && r.Data.Result[0].Value[1] == "42" {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(p.Dir, "prometheus.log"))
			t.Fatalf("the target's counter never arrived; result %+v; log:\n%s", r.Data.Result, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestLoadPrometheus: the env file's Prometheus lines reach Env.
func TestLoadPrometheus(t *testing.T) {
	dir := t.TempDir()
	env := "KUBECONFIG='k'\nARGOCD_SERVER='a'\nARGOCD_AUTH_TOKEN='t'\nGITCANARY_TESTBED_GIT='g'\nGITCANARY_TESTBED_BIN='b'\n" +
		"GITCANARY_PROMETHEUS_URL='http://127.0.0.1:19090'\nGITCANARY_TESTBED_PROMETHEUS_TARGETS='" + dir + "/prometheus/targets'\n"
	if err := os.WriteFile(filepath.Join(dir, "env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GITCANARY_TESTBED_DIR", dir)
	e, err := testbed.Load()
	if err != nil {
		t.Fatal(err)
	}
	if e.PrometheusURL != "http://127.0.0.1:19090" || e.PrometheusTargets != dir+"/prometheus/targets" {
		t.Fatalf("%+v", e)
	}
}
