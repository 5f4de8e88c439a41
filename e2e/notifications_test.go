package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

// Argo CD Notifications (docs/notifications.md) on the test bed: the
// catalogue of deploy/argocd is the bed's argocd-notifications-cm, with a
// webhook service pointing at a receiver on 127.0.0.1; the bed's
// notifications controller sends what the catalogue's triggers say.

const catalogueFile = "../deploy/argocd/argocd-notifications-cm.yaml"

// notificationReceiver keeps the JSON bodies the notifications controller
// POSTs.
type notificationReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
}

func newNotificationReceiver(t *testing.T) *notificationReceiver {
	r := &notificationReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		data, _ := io.ReadAll(req.Body)
		var body map[string]any
		if err := json.Unmarshal(data, &body); err != nil {
			t.Errorf("%s %s: the body is not JSON: %v\n%s", req.Method, req.URL.Path, err, data)
		}
		if ct := req.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		r.mu.Lock()
		r.bodies = append(r.bodies, body)
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

// of returns the bodies received about an Application.
func (r *notificationReceiver) of(app string) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, b := range r.bodies {
		if b["application"] == app {
			out = append(out, b)
		}
	}
	return out
}

// installCatalogue makes the catalogue, with a webhook service "gitcanary"
// sending to url, the bed's argocd-notifications-cm, and deletes it when
// the test ends. No other test uses that ConfigMap.
func installCatalogue(t *testing.T, s *scenario, url string) {
	t.Helper()
	data, err := os.ReadFile(catalogueFile)
	if err != nil {
		t.Fatal(err)
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(data, &cm); err != nil {
		t.Fatal(err)
	}
	cm.Namespace = "argocd"
	cm.Data["service.webhook.gitcanary"] = "url: " + url + "\nheaders:\n- name: Content-Type\n  value: application/json\n"
	out, err := yaml.Marshal(cm)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "cm.yaml")
	if err := os.WriteFile(file, out, 0o644); err != nil {
		t.Fatal(err)
	}
	s.env.Kubectl(t, "apply", "-f", file)
	t.Cleanup(func() {
		s.env.KubectlE(context.Background(), "delete", "configmap", "-n", "argocd", "argocd-notifications-cm", "--ignore-not-found")
	})
}

// notificationsUp fails the test unless the bed runs the notifications
// controller (a bed started before it was part of the bed lacks it).
func notificationsUp(t *testing.T, s *scenario) {
	t.Helper()
	pid, err := os.ReadFile(filepath.Join(s.env.Dir, "pids", "argocd-notifications.pid"))
	if err == nil {
		_, err = os.Stat("/proc/" + strings.TrimSpace(string(pid)))
	}
	if err != nil {
		t.Fatalf("the bed runs no Argo CD notifications controller (%v): `make testbed-up` starts it alone", err)
	}
}

// deployedRevisions lists the revisions Argo CD's operations deployed,
// from the Application's history, oldest first.
func (s *scenario) deployedRevisions(ctx context.Context) []string {
	s.t.Helper()
	app, err := s.argo.Get(ctx, s.ns, false)
	if err != nil {
		s.t.Fatal(err)
	}
	var revs []string
	for _, h := range app.Status.History {
		revs = append(revs, h.Revision)
	}
	return revs
}

// TestNotificationsCatalogue: a release (50%, a pause until approved,
// promote) while a bot pushes to another app of the repository. The
// receiver gets one body per gitcanary commit of the release that Argo CD
// deployed (the revision of an operation), with what the commit says, none
// for the bot's commits Argo CD deployed (one of them on purpose, during
// the pause), and one post-release body at the end.
func TestNotificationsCatalogue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rcv := newNotificationReceiver(t)
	s := newScenario(t, "notify", templates.ReleaseParams{Steps: "[{setWeight: 50}, {pause: {}}]", ProgressDeadline: writerDeadline}, withMonorepo())
	notificationsUp(t, s)
	installCatalogue(t, s, rcv.URL)
	// Every operation of the release stays in the history the test reads.
	s.env.Kubectl(t, "patch", "application", "-n", "argocd", s.ns, "--type", "merge", "-p", `{"spec":{"revisionHistoryLimit":100}}`)
	s.env.Kubectl(t, "annotate", "application", "-n", "argocd", s.ns,
		"notifications.argoproj.io/subscribe.on-gitcanary-deployed.gitcanary=",
		"notifications.argoproj.io/subscribe.on-gitcanary-finished.gitcanary=")
	b := s.startBot()
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	m := s.machine()
	r := s.drive(m, awaiting)
	if r.Status.Phase != release.Paused {
		t.Fatalf("waiting in %s: %s", r.Status.Phase, r.Status.Message)
	}
	// During the pause Argo CD deploys a commit of the bot: no notification.
	last := s.commitOf(r.Status.Seq)
	deadline := time.Now().Add(time.Minute)
	for s.head() == last && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
	}
	if s.head() == last {
		t.Fatal("the bot pushed nothing during the pause")
	}
	s.syncAndWait(s.head())
	app, err := s.argo.Get(ctx, s.ns, false)
	if err != nil {
		t.Fatal(err)
	}
	// The head when Argo CD synced: the bot's, or a later one of the bot's.
	botHead := app.Status.OperationState.SyncResult.Revision
	if m := git.ParseMessage(s.server.Git(t, "apps.git", "log", "-1", "--format=%B", botHead)); trailer(m, git.TrailerRelease) != "" {
		t.Fatalf("Argo CD deployed %s (%s) during the pause, not a bot's commit", botHead[:8], m.Subject)
	}
	if code, _ := s.cli("approve", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("approve exited %d", code)
	}
	r = s.drive(m, done)
	b.stopAtLeast(1)
	if r.Status.Phase != release.Promoted {
		t.Fatalf("phase %s: %s %s", r.Status.Phase, r.Status.Reason, r.Status.Message)
	}

	// What should have been sent: the deployed revisions that are this
	// release's commits (the last one, promoted, is never deployed).
	deployed := s.deployedRevisions(ctx)
	if !contains(deployed, botHead) {
		t.Fatalf("Argo CD's history %v lacks the bot's commit %s", deployed, botHead[:8])
	}
	want := map[string]git.Message{}
	for _, rev := range deployed {
		msg := git.ParseMessage(s.server.Git(t, "apps.git", "log", "-1", "--format=%B", rev))
		if trailer(msg, git.TrailerRelease) == s.name() {
			want[rev] = msg
		}
	}
	if len(want) < 3 {
		t.Fatalf("Argo CD deployed %d commits of the release (%v)", len(want), deployed)
	}
	// Wait for them all (the controller works on its own time), then check.
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for wctx.Err() == nil && len(rcv.of(s.ns)) < len(want)+1 {
		time.Sleep(500 * time.Millisecond)
	}
	bodies := rcv.of(s.ns)
	seen := map[string]bool{}
	post := 0
	for _, b := range bodies {
		if b["type"] == "post-release" {
			post++
			if b["release"] != s.name() || b["phase"] != "Promoted" || fmt.Sprint(b["weights"]) != "[map[version:v2 weight:100]]" {
				t.Errorf("post-release body %v", b)
			}
			continue
		}
		rev, _ := b["commit"].(string)
		msg, ok := want[rev]
		switch {
		case rev == botHead:
			t.Errorf("a notification for the bot's commit %s: %v", rev[:8], b)
			continue
		case !ok:
			t.Errorf("a notification for %q, not a deployed commit of the release: %v", rev, b)
			continue
		case seen[rev]:
			t.Errorf("a second notification for %s: %v", rev[:8], b)
		}
		seen[rev] = true
		action, seq := trailer(msg, git.TrailerAction), trailer(msg, git.TrailerSeq)
		weights := strings.TrimSuffix(msg.Subject[strings.LastIndex(msg.Subject, "(")+1:], ")")
		var got []string
		for _, w := range b["weights"].([]any) {
			w := w.(map[string]any)
			got = append(got, fmt.Sprintf("%v=%v", w["version"], w["weight"]))
		}
		if b["type"] != "event" || b["release"] != s.name() || b["action"] != action || fmt.Sprint(b["seq"]) != seq ||
			b["id"] != s.name()+"/event/"+seq || b["phase"] != phaseOf[action] || strings.Join(got, ",") != weights ||
			b["health"] == "" || b["repo"].(map[string]any)["path"] != s.path {
			t.Errorf("the body for %s (%s, seq %s, phase %s, %s): %v", rev[:8], action, seq, phaseOf[action], weights, b)
		}
	}
	for rev, msg := range want {
		if !seen[rev] {
			t.Errorf("no notification for the deployed commit %s (%s)", rev[:8], msg.Subject)
		}
	}
	if post != 1 {
		t.Errorf("%d post-release bodies, want 1", post)
	}
	t.Logf("%d bodies for %d deployed revisions (%d of the release)", len(bodies), len(deployed), len(want))
}

// phaseOf is the phase of each commit of this scenario's release.
var phaseOf = map[string]string{
	"start": "Preparing", "route": "Routing", "step/0/weight/50": "Progressing", "step/1/pause": "Paused",
	"approve/step/1": "Paused", "promote": "Promoting", "retire": "Retiring",
}

func trailer(m git.Message, key string) string {
	for _, t := range m.Trailers {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
