package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/pkg/webhook"
	"github.com/gitcanary/gitcanary/templates"
)

// Webhooks (docs/webhooks.md) on the test bed: a loopback HTTP server
// plays the receivers, the release runs on real git, Argo CD and cluster.

// receiver is a webhook receiver on 127.0.0.1: each path answers the status
// set for it (200 by default) and keeps what it received.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	status map[string]int
	got    map[string][]delivery
}

type delivery struct {
	header  http.Header
	body    []byte
	payload webhook.Payload
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{status: map[string]int{}, got: map[string][]delivery{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var p webhook.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("%s: not a payload: %v", req.URL.Path, err)
		}
		r.mu.Lock()
		r.got[req.URL.Path] = append(r.got[req.URL.Path], delivery{header: req.Header.Clone(), body: body, payload: p})
		code, ok := r.status[req.URL.Path]
		r.mu.Unlock()
		if !ok {
			code = http.StatusOK
		}
		w.WriteHeader(code)
		if code == http.StatusForbidden {
			io.WriteString(w, "outside the change window")
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) set(path string, code int) { r.mu.Lock(); r.status[path] = code; r.mu.Unlock() }

func (r *receiver) deliveries(path string) []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got[path]...)
}

// withWebhooks rewrites the scenario's Release file with webhooks.
func (s *scenario) withWebhooks(p templates.ReleaseParams, ws ...release.Webhook) {
	s.t.Helper()
	r := s.release(p)
	r.Spec.Webhooks = ws
	out, err := release.Marshal(r)
	if err != nil {
		s.t.Fatal(err)
	}
	s.writeReleaseFile(out)
}

// hookMachine is the scenario's machine with a process's webhook state.
func (s *scenario) hookMachine(h *machine.Hooks) *machine.Machine {
	s.t.Helper()
	repo, err := git.Open(context.Background(), git.Options{URL: s.url, Branch: "main", CacheDir: s.cache})
	if err != nil {
		s.t.Fatal(err)
	}
	return machine.New(machine.Deps{Repo: repo, Argo: s.argo, Cluster: s.cluster, Builder: &kustomize.Krusty{}, Kinds: kube.NewKinds(), Clock: time.Now, Hooks: h}, s.name(), s.path)
}

const hookSecret = "e2e-signing-secret"

// TestWebhookGates: a confirm-step gate that answers 403 holds the release
// at its step (the branch head does not move; the release says why), then
// answers 200 and the release proceeds and is promoted, while a bot
// commits to another app of the repository. The event webhook received
// every commit of the release, once, in order, signed; post-release once.
func TestWebhookGates(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	p := templates.ReleaseParams{Steps: "[{setWeight: 20}, {pause: {duration: 5s}}, {setWeight: 60}]", ProgressDeadline: writerDeadline}
	s := newScenario(t, "webhook-gates", p, withMonorepo())
	every := &release.Duration{Duration: 2 * time.Second}
	s.withWebhooks(p,
		release.Webhook{Name: "change-window", Type: release.ConfirmStep, URL: rcv.URL + "/gate", Interval: every},
		release.Webhook{Name: "feed", Type: release.Event, URL: rcv.URL + "/feed"},
		release.Webhook{Name: "done", Type: release.PostRelease, URL: rcv.URL + "/done"})
	hooks := machine.NewHooks(&webhook.Client{Auth: []webhook.Auth{{URLPrefix: rcv.URL + "/", Secret: hookSecret}}})
	rcv.set("/gate", http.StatusForbidden)
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	m := s.hookMachine(hooks)
	var held machine.Outcome
	r := s.drive(m, func(o machine.Outcome) bool { held = o; return o.Gated })
	head := s.head()
	// Held: asked again every 2 s, nothing committed.
	n := 0
	s.drive(m, func(o machine.Outcome) bool { n++; held = o; return o.Gated && n >= 3 })
	if s.head() != head {
		t.Errorf("the branch moved from %s to %s while the gate said no", head[:8], s.head()[:8])
	}
	if r.Status.Phase != release.Routing || !strings.Contains(held.Reason, "waiting for webhook change-window (confirm-step) before step/0/weight/20: it answered 403: outside the change window") {
		t.Errorf("held in %s: %q", r.Status.Phase, held.Reason)
	}
	if c := len(rcv.deliveries("/gate")); c < 3 {
		t.Errorf("the gate was asked %d times", c)
	}
	rcv.set("/gate", http.StatusOK)
	b := s.startBot()
	r = s.drive(m, done)
	b.stopAtLeast(1)
	if r.Status.Phase != release.Promoted {
		t.Fatalf("phase %s: %s %s", r.Status.Phase, r.Status.Reason, r.Status.Message)
	}
	s.checkBotCommitsKept(b)
	// The commit the gate let through records the call.
	out := s.server.Git(t, "apps.git", "log", "-1", "--format=%(trailers:key="+machine.TrailerWebhook+",valueonly)", s.commitOf(3))
	if strings.TrimSpace(out) != "change-window confirm-step 200" {
		t.Errorf("step commit's trailer %q", out)
	}
	// Every commit of the release, once, in order, as git log has it.
	commits := s.releaseCommits()
	events := rcv.deliveries("/feed")
	if len(events) != len(commits) {
		t.Fatalf("%d events for %d commits", len(events), len(commits))
	}
	for i, e := range events {
		c, p := commits[i], e.payload
		if p.Commit != c.hash || c.seq != itoa(p.Seq) || p.Action != c.action || p.Release != s.name() || p.Repo.Path != s.path || p.Type != release.Event {
			t.Errorf("event %d: %s seq %d %s; git has %s seq %s %s", i, p.Commit, p.Seq, p.Action, c.hash, c.seq, c.action)
		}
		if !webhook.Verify([]byte(hookSecret), e.body, e.header.Get(webhook.HeaderSignature)) {
			t.Errorf("event %d: signature %q does not verify", i, e.header.Get(webhook.HeaderSignature))
		}
	}
	if last := events[len(events)-1].payload; last.Phase != release.Promoted || release.FormatWeights(last.Weights) != "v2=100" {
		t.Errorf("last event: %s %s", last.Phase, release.FormatWeights(last.Weights))
	}
	if post := rcv.deliveries("/done"); len(post) != 1 || post[0].payload.Phase != release.Promoted {
		t.Errorf("post-release: %d calls", len(post))
	}
	// Another process that steps the finished release sends nothing: the
	// Application records what was delivered.
	app, err := s.argo.Get(context.Background(), s.ns, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := app.Annotations[machine.AnnotationDelivered], s.name()+"/"+commits[len(commits)-1].seq+"/post-release"; got != want {
		t.Errorf("Application annotation %s = %q, want %q", machine.AnnotationDelivered, got, want)
	}
	if out, err := s.hookMachine(machine.NewHooks(nil)).Step(context.Background()); err != nil || !out.Done {
		t.Fatalf("another process's step: %+v %v", out, err)
	}
	if n, m := len(rcv.deliveries("/feed")), len(rcv.deliveries("/done")); n != len(commits) || m != 1 {
		t.Errorf("after another process: %d events, %d post-release", n, m)
	}
}

// TestWebhookRollback: a rollback webhook polled while the release waits
// for an approval starts answering 200: the release is abandoned with a
// reason naming it, and the namespace is as before the release.
func TestWebhookRollback(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	p := templates.ReleaseParams{Steps: "[{setWeight: 20}, {pause: {}}, {setWeight: 60}]", ProgressDeadline: writerDeadline}
	s := newScenario(t, "webhook-rollback", p)
	s.withWebhooks(p, release.Webhook{Name: "pager", Type: release.Rollback, URL: rcv.URL + "/pager", Interval: &release.Duration{Duration: 2 * time.Second}})
	before := s.snapshot()
	rcv.set("/pager", http.StatusNotFound)
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	m := s.hookMachine(machine.NewHooks(nil))
	r := s.drive(m, awaiting)
	if r.Status.Phase != release.Paused {
		t.Fatalf("phase %s: %s", r.Status.Phase, r.Status.Message)
	}
	polled := len(rcv.deliveries("/pager"))
	rcv.set("/pager", http.StatusOK)
	r = s.drive(m, done)
	if r.Status.Phase != release.Abandoned || r.Status.Reason != "RollbackWebhook" || r.Status.Message != "rollback webhook pager answered 200" {
		t.Fatalf("phase %s %s: %s", r.Status.Phase, r.Status.Reason, r.Status.Message)
	}
	if polled < 1 {
		t.Errorf("not polled before it answered 200")
	}
	if got := s.snapshot(); got != before {
		t.Errorf("namespace after the rollback:\n%s\nbefore the release:\n%s", got, before)
	}
}
