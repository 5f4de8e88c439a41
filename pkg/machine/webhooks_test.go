package machine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/analysis"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/pkg/webhook"
)

// hookServer is a webhook receiver on 127.0.0.1: each path answers the
// status set for it (200 by default) and records what it received, with
// the world's fake time.
type hookServer struct {
	*httptest.Server
	clock func() time.Time

	mu     sync.Mutex
	status map[string]int
	got    map[string][]received
}

type received struct {
	at      time.Time
	header  http.Header
	body    []byte
	payload webhook.Payload
}

func newHookServer(t *testing.T, clock func() time.Time) *hookServer {
	h := &hookServer{clock: clock, status: map[string]int{}, got: map[string][]received{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p webhook.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("%s: body is not a payload: %v", r.URL.Path, err)
		}
		h.mu.Lock()
		h.got[r.URL.Path] = append(h.got[r.URL.Path], received{at: h.clock(), header: r.Header.Clone(), body: body, payload: p})
		code, ok := h.status[r.URL.Path]
		h.mu.Unlock()
		if !ok {
			code = http.StatusOK
		}
		w.WriteHeader(code)
		if code >= 300 {
			io.WriteString(w, "not yet")
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) set(path string, code int) { h.mu.Lock(); h.status[path] = code; h.mu.Unlock() }

func (h *hookServer) calls(path string) []received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]received(nil), h.got[path]...)
}

func (h *hookServer) hook(name string, t release.WebhookType) release.Webhook {
	return release.Webhook{Name: name, Type: t, URL: h.URL + "/" + name}
}

// hookMachine is the world's machine with its own webhook state.
func (w *world) hookMachine(t *testing.T, hooks *Hooks, src analysis.Source) *Machine {
	t.Helper()
	repo, err := git.Open(context.Background(), git.Options{URL: w.URL, Branch: "main", CacheDir: w.cache})
	if err != nil {
		t.Fatal(err)
	}
	return New(Deps{Repo: repo, Argo: w.Argo, Cluster: w.Cluster, Clock: w.Clock.Now, Sleep: w.Clock.Sleep, Hooks: hooks,
		Metrics: func(*release.AnalysisRun) (analysis.Source, error) { return src, nil }, Looks: &analysis.Cache{}}, "reviews-v2", "apps/reviews")
}

func withHooks(ws ...release.Webhook) func(*release.Release) {
	return func(r *release.Release) { r.Spec.Webhooks = ws }
}

// trailersOf lists the Gitcanary-Webhook trailers by action, oldest first.
func trailersOf(t *testing.T, w *world) map[string]string {
	t.Helper()
	out := map[string]string{}
	log := w.Server.Git(t, "apps.git", "log", "--reverse", "--format=%(trailers:key=Gitcanary-Action,valueonly,separator=)|%(trailers:key="+TrailerWebhook+",valueonly,separator=;)", "main")
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		if a, hooks, ok := strings.Cut(line, "|"); ok && hooks != "" {
			out[a] = hooks
		}
	}
	return out
}

func untilGated(o Outcome) bool { return o.Gated }

// TestWebhookGateHoldsStep: a confirm-step gate that says no holds the
// weight increase: nothing is committed, the outcome names the webhook and
// its answer, and it is asked again every interval, not in a hot loop.
// Once it says yes the step is committed with the call in a trailer; the
// pause steps after it are not gated.
func TestWebhookGateHoldsStep(t *testing.T) {
	w := newWorld(t)
	h := newHookServer(t, w.Clock.Now)
	gate := h.hook("change-window", release.ConfirmStep)
	gate.Interval = &release.Duration{Duration: 20 * time.Second}
	m := w.hookMachine(t, NewHooks(nil), nil)
	h.set("/change-window", http.StatusForbidden)
	if _, err := m.Start(context.Background(), testRelease(t, withHooks(gate))); err != nil {
		t.Fatal(err)
	}
	out := run(t, m, untilGated)
	if !strings.Contains(out.Status.Message, "route to v2 at weight 0") {
		t.Errorf("record %s", out.Status.Message)
	}
	if a := strings.Join(w.Actions(), " "); a != "start route" {
		t.Fatalf("commits %q while the gate says no", a)
	}
	// Held for a while: the gate is asked every 20 s of the fake clock.
	var held Outcome
	n := 0
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := m.Run(ctx, func(o Outcome) bool { held = o; n++; return o.Gated && n > 4 }, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(held.Reason, "webhook change-window (confirm-step) before step/0/weight/10: it answered 403: not yet") {
		t.Errorf("reason %q", held.Reason)
	}
	calls := h.calls("/change-window")
	if len(calls) < 3 {
		t.Fatalf("%d calls", len(calls))
	}
	for i := 1; i < len(calls); i++ {
		if d := calls[i].at.Sub(calls[i-1].at); d < 20*time.Second {
			t.Errorf("gate asked again after %s, want every 20s", d)
		}
	}
	p := calls[0].payload
	if p.Type != release.ConfirmStep || p.Name != "reviews-v2" || p.Phase != release.Routing || p.Next == nil || p.Next.Action != "step/0/weight/10" ||
		release.FormatWeights(p.Next.Weights) != "v1=90,v2=10" || p.Repo.Path != "apps/reviews" {
		t.Errorf("payload %+v next %+v", p, p.Next)
	}
	if a := strings.Join(w.Actions(), " "); a != "start route" {
		t.Fatalf("commits %q while the gate says no", a)
	}
	h.set("/change-window", http.StatusOK)
	got := run(t, m, untilPhase(release.Paused, 3))
	if got.Status.Phase != release.Paused {
		t.Fatalf("phase %s", got.Status.Phase)
	}
	tr := trailersOf(t, w)
	if tr["step/0/weight/10"] != "change-window confirm-step 200" || tr["step/2/weight/50"] != "change-window confirm-step 200" {
		t.Errorf("trailers %v", tr)
	}
	if _, ok := tr["step/1/pause"]; ok {
		t.Errorf("a pause step was gated: %v", tr)
	}
}

// TestWebhookGatesOfAWholeRelease: pre-route once, before the first
// traffic; confirm-step before each increase; confirm-promotion before
// the promote only; confirm-start before the first commit, which a no
// keeps from being made.
func TestWebhookGatesOfAWholeRelease(t *testing.T) {
	w := newWorld(t)
	h := newHookServer(t, w.Clock.Now)
	hooks := []release.Webhook{h.hook("start", release.ConfirmStart), h.hook("smoke", release.PreRoute),
		h.hook("step", release.ConfirmStep), h.hook("promo", release.ConfirmPromotion)}
	m := w.hookMachine(t, NewHooks(nil), nil)
	r := testRelease(t, withHooks(hooks...), func(r *release.Release) {
		r.Spec.Steps = []release.Step{{SetWeight: ptr(int32(10))}, {SetWeight: ptr(int32(5))}, {SetWeight: ptr(int32(50))}}
	})
	h.set("/start", http.StatusServiceUnavailable)
	_, err := m.Start(context.Background(), r)
	var gate *GateError
	if !errors.As(err, &gate) || !errors.Is(err, ErrGateClosed) || Classify(err) != Transient || gate.Retry() != release.DefaultWebhookInterval {
		t.Fatalf("Start with confirm-start saying 503: %v", err)
	}
	if !strings.Contains(err.Error(), "webhook start (confirm-start): it answered 503: not yet") {
		t.Errorf("error %q", err)
	}
	if a := w.Actions(); len(a) != 0 {
		t.Fatalf("commits %v", a)
	}
	h.set("/start", http.StatusNoContent)
	if _, err := m.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if got := run(t, m, untilDone); got.Status.Phase != release.Promoted {
		t.Fatalf("phase %s: %s", got.Status.Phase, got.Status.Message)
	}
	want := map[string]string{
		"start":            "start confirm-start 204",
		"step/0/weight/10": "smoke pre-route 200;step confirm-step 200",
		"step/2/weight/50": "step confirm-step 200",
		"promote":          "promo confirm-promotion 200",
	}
	if got := trailersOf(t, w); len(got) != len(want) {
		t.Errorf("trailers %v, want %v", got, want)
	} else {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: trailers %q, want %q", k, got[k], v)
			}
		}
	}
	for path, n := range map[string]int{"/start": 2, "/smoke": 1, "/step": 2, "/promo": 1} {
		if c := len(h.calls(path)); c != n {
			t.Errorf("%s called %d times, want %d", path, c, n)
		}
	}
}

// TestWebhookAbortNotGated: an abort while a gate holds the release is
// committed at once, and the way out asks no gate.
func TestWebhookAbortNotGated(t *testing.T) {
	w := newWorld(t)
	h := newHookServer(t, w.Clock.Now)
	m := w.hookMachine(t, NewHooks(nil), nil)
	h.set("/promo", http.StatusForbidden)
	h.set("/step", http.StatusForbidden)
	r := testRelease(t, withHooks(h.hook("step", release.ConfirmStep), h.hook("promo", release.ConfirmPromotion)))
	if _, err := m.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	run(t, m, untilGated)
	before := len(h.calls("/step"))
	if _, err := m.Abort(context.Background(), "the gate is stuck"); err != nil {
		t.Fatal(err)
	}
	got := run(t, m, untilDone)
	if got.Status.Phase != release.Abandoned || got.Status.Message != "the gate is stuck" {
		t.Fatalf("phase %s: %s", got.Status.Phase, got.Status.Message)
	}
	if n := len(h.calls("/step")); n != before || len(h.calls("/promo")) != 0 {
		t.Errorf("gates asked on the way out: step %d→%d, promo %d", before, n, len(h.calls("/promo")))
	}
}

// TestWebhookRollback: a rollback webhook is polled while the release runs;
// when it answers 2xx the release is abandoned with a reason naming it.
func TestWebhookRollback(t *testing.T) {
	w := newWorld(t)
	h := newHookServer(t, w.Clock.Now)
	rb := h.hook("pager", release.Rollback)
	rb.Interval = &release.Duration{Duration: 15 * time.Second}
	m := w.hookMachine(t, NewHooks(nil), nil)
	h.set("/pager", http.StatusNotFound)
	if _, err := m.Start(context.Background(), testRelease(t, withHooks(rb))); err != nil {
		t.Fatal(err)
	}
	run(t, m, untilPhase(release.Paused, 3))
	// Waiting for an approval, it is still polled every 15 s.
	polled := len(h.calls("/pager"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := w.Clock.Now()
	if _, err := m.Run(ctx, func(o Outcome) bool { return w.Clock.Now().Sub(start) > 2*time.Minute }, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(h.calls("/pager")) - polled; n < 6 || n > 10 {
		t.Errorf("polled %d times in 2 minutes of an indefinite pause, want about 8", n)
	}
	h.set("/pager", http.StatusOK)
	got := run(t, m, untilDone)
	if got.Status.Phase != release.Abandoned || got.Status.Reason != "RollbackWebhook" || got.Status.Message != "rollback webhook pager answered 200" {
		t.Fatalf("phase %s %s: %s", got.Status.Phase, got.Status.Reason, got.Status.Message)
	}
	if tr := trailersOf(t, w); tr["abort"] != "pager rollback 200" {
		t.Errorf("trailers %v", tr)
	}
	// Not polled before the release routes traffic, nor on its way out.
	for _, c := range h.calls("/pager") {
		if !inSteps(c.payload.Phase) {
			t.Errorf("polled in phase %s", c.payload.Phase)
		}
	}
}

// TestWebhookEvents: the event webhook receives every commit of the
// release once, in order, with the commit's hash and record; post-release
// once at the end. A restarted process (new webhook state) that steps the
// finished release sends nothing again: the Application records what was
// delivered.
func TestWebhookEvents(t *testing.T) {
	w := newWorld(t)
	h := newHookServer(t, w.Clock.Now)
	secret := "s3cret-for-signing"
	client := &webhook.Client{Auth: []webhook.Auth{{URLPrefix: h.URL + "/", Secret: secret, Headers: map[string]string{"Authorization": "Bearer tok-123456"}}}}
	m := w.hookMachine(t, NewHooks(client), nil)
	h.set("/feed", http.StatusInternalServerError) // the receiver is down for the first step
	r := testRelease(t, withHooks(h.hook("feed", release.Event), h.hook("done", release.PostRelease)))
	if _, err := m.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	run(t, m, func(Outcome) bool { return true })
	h.set("/feed", http.StatusOK)
	run(t, m, untilPhase(release.Paused, 3))
	if _, err := m.Approve(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := run(t, m, untilDone); got.Status.Phase != release.Promoted {
		t.Fatalf("phase %s", got.Status.Phase)
	}
	// Finished: a new process steps it again.
	m2 := w.hookMachine(t, NewHooks(client), nil)
	if out, err := m2.Step(context.Background()); err != nil || !out.Done {
		t.Fatalf("step of the finished release: %+v %v", out, err)
	}
	log := strings.Fields(w.Server.Git(t, "apps.git", "log", "--reverse", "--format=%H", "main"))[1:] // the fixture's commit first
	calls := h.calls("/feed")
	for _, c := range calls {
		if !webhook.Verify([]byte(secret), c.body, c.header.Get(webhook.HeaderSignature)) || c.header.Get("Authorization") != "Bearer tok-123456" {
			t.Errorf("event %s: signature %q, Authorization %q", c.payload.ID, c.header.Get(webhook.HeaderSignature), c.header.Get("Authorization"))
		}
	}
	// Event 1 was tried 3 times (500s), then given up; every other one
	// was delivered once, in order.
	if len(calls) != len(log)+2 {
		t.Fatalf("%d event calls for %d commits", len(calls), len(log))
	}
	var ok []webhook.Payload
	for i, c := range calls {
		if i < 3 && c.payload.Seq != 1 {
			t.Errorf("call %d is event %d, want event 1 tried again", i, c.payload.Seq)
		}
		if i >= 2 {
			ok = append(ok, c.payload)
		}
	}
	actions := w.Actions()
	for i, p := range ok {
		if p.Commit != log[i] || p.Seq != i+1 || p.Action != actions[i] || p.ID != "reviews-v2/event/"+itoa(i+1) {
			t.Errorf("event %d: commit %s seq %d action %s id %s; want %s %d %s", i, p.Commit, p.Seq, p.Action, p.ID, log[i], i+1, actions[i])
		}
	}
	if last := ok[len(ok)-1]; last.Phase != release.Promoted || release.FormatWeights(last.Weights) != "v2=100" {
		t.Errorf("last event %+v", last)
	}
	if ok[1].Phase != release.Routing || ok[1].Step != -1 {
		t.Errorf("second event: phase %s step %d", ok[1].Phase, ok[1].Step)
	}
	post := h.calls("/done")
	if len(post) != 1 || post[0].payload.Phase != release.Promoted || post[0].payload.ID != "reviews-v2/post-release" {
		t.Fatalf("post-release calls %+v", post)
	}
	app, _ := w.Argo.Peek("reviews")
	if got := app.Annotations[AnnotationDelivered]; got != "reviews-v2/"+itoa(len(log))+"/post-release" {
		t.Errorf("annotation %q", got)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestWebhookDuringAnalysisFails: a during-analysis webhook is called once
// per look; a 403 at look 2 fails the analysis (reason AnalysisFailed, the
// record's WebhookFailed) although the counts pass, and replay agrees.
func TestWebhookDuringAnalysisFails(t *testing.T) {
	w := newWorld(t)
	h := newHookServer(t, w.Clock.Now)
	src := &countSource{rps: map[string]float64{"v1": 800, "v2": 200}, errRate: map[string]float64{"v1": 0.01, "v2": 0.01}}
	m := w.hookMachine(t, NewHooks(nil), src)
	r := analysisRelease(t)
	r.Spec.Webhooks = []release.Webhook{h.hook("acceptance", release.DuringAnalysis)}
	if _, err := m.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if _, err := m.Run(ctx, func(o Outcome) bool { return len(h.calls("/acceptance")) == 1 }, nil); err != nil {
		t.Fatal(err)
	}
	h.set("/acceptance", http.StatusForbidden)
	got := runLong(t, m, untilDone)
	if got.Status.Phase != release.Abandoned || got.Status.Reason != "AnalysisFailed" || got.Status.Analysis.Reason != "WebhookFailed" {
		t.Fatalf("phase %s %s (analysis %s): %s", got.Status.Phase, got.Status.Reason, got.Status.Analysis.Reason, got.Status.Message)
	}
	if !strings.Contains(got.Status.Message, "failed at look 2 of 4: during-analysis webhook acceptance answered 403: not yet") {
		t.Errorf("message %q", got.Status.Message)
	}
	calls := h.calls("/acceptance")
	if len(calls) != 2 || calls[0].payload.Look != 1 || calls[1].payload.Look != 2 || calls[1].payload.Looks != 4 {
		t.Errorf("%d calls", len(calls))
	}
	evidenceAtHead(t, w)
}

// TestWebhookDuringAnalysisUnreachable: a during-analysis webhook that
// cannot answer (5xx) at 4 looks in a row is no evidence against the
// canary: the analysis is Inconclusive and the release pauses.
func TestWebhookDuringAnalysisUnreachable(t *testing.T) {
	w := newWorld(t)
	h := newHookServer(t, w.Clock.Now)
	src := &countSource{rps: map[string]float64{"v1": 800, "v2": 200}, errRate: map[string]float64{"v1": 0.01, "v2": 0.01}}
	m := w.hookMachine(t, NewHooks(nil), src)
	r := analysisRelease(t)
	r.Spec.Webhooks = []release.Webhook{h.hook("acceptance", release.DuringAnalysis)}
	h.set("/acceptance", http.StatusBadGateway)
	if _, err := m.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	got := runLong(t, m, untilPhase(release.Paused, 1))
	if got.Status.Reason != "WebhookUnavailable" || !got.Status.Analysis.Inconclusive(1) {
		t.Fatalf("status %s %s: %s", got.Status.Phase, got.Status.Reason, got.Status.Message)
	}
	evidenceAtHead(t, w)
}
