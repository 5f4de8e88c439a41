package machine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/redact"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/pkg/webhook"
)

// Webhooks (spec.webhooks, docs/webhooks.md) are called by the process
// that drives the release, in Step, the same way by the CLI and by
// `gitcanary run`:
//
//   - gates (confirm-start, pre-route, confirm-step, confirm-promotion)
//     are asked before the commit they hold; any answer but 2xx, or none,
//     is a wait like an approval: nothing is committed and the gate is
//     asked again every interval. The commit that passes records each
//     call in a Gitcanary-Webhook trailer. Only what gitcanary decides by
//     itself is gated: a person's command (set-weight, promote, abort,
//     spec.control) is its own confirmation, and an abort never waits;
//   - rollback is polled every interval while the release is
//     Progressing, Paused or Analyzing; 2xx aborts it;
//   - during-analysis is called at each look of an analysis (webhooks_analysis.go);
//   - event and post-release are notifications (webhooks_notify.go).

// TrailerWebhook records a webhook call that a commit passed or acted on:
// "<name> <type> <status>".
const TrailerWebhook = "Gitcanary-Webhook"

// ErrGateClosed is wrapped by the error of a start that a confirm-start
// gate holds. It is transient: the start is tried again.
var ErrGateClosed = errors.New("held by a webhook")

// GateError is a gate's no to a start.
type GateError struct {
	Hook   release.Webhook
	Answer webhook.Answer
}

func (e *GateError) Error() string {
	return fmt.Sprintf("waiting for webhook %s (%s): it %s; asked again every %s", e.Hook.Name, e.Hook.Type, e.Answer, e.Hook.IntervalOrDefault())
}

// Is lets errors.Is(err, ErrGateClosed) match.
func (e *GateError) Is(target error) bool { return target == ErrGateClosed }

// Retry is how soon the gate is asked again.
func (e *GateError) Retry() time.Duration { return e.Hook.IntervalOrDefault() }

// Hooks calls webhooks for a process and remembers, across steps and
// machines, what it called: when each rollback webhook was polled, the
// answers of each analysis's looks, and what was notified. One per
// process (Deps.Hooks); safe for concurrent use.
type Hooks struct {
	Client *webhook.Client

	mu     sync.Mutex
	polled map[string]time.Time
	closed map[string]said // gates that said no, by release, webhook and held commit
	looks  map[string]map[int]webhook.Answer
	sent   map[string]cursor
}

// said is an answer and when it was given.
type said struct {
	at     time.Time
	answer webhook.Answer
}

// NewHooks returns a process's webhook state around a client (nil: the
// zero Client, without configured headers or secrets).
func NewHooks(c *webhook.Client) *Hooks {
	if c == nil {
		c = &webhook.Client{}
	}
	return &Hooks{Client: c, polled: map[string]time.Time{}, closed: map[string]said{}, looks: map[string]map[int]webhook.Answer{}, sent: map[string]cursor{}}
}

// defaultHooks serves machines whose Deps name none.
var defaultHooks = NewHooks(nil)

func (m *Machine) hooks() *Hooks {
	if m.deps.Hooks != nil {
		return m.deps.Hooks
	}
	return defaultHooks
}

// key names a release in the process's memory: repository, path, name.
func (m *Machine) key(rec *release.Release) string {
	return rec.Spec.Repo.URL + "#" + rec.Spec.Repo.BranchOrDefault() + ":" + m.path + "/" + m.name
}

// payload describes the release as rec records it.
func (m *Machine) payload(rec *release.Release, w release.Webhook, id string) webhook.Payload {
	p := webhook.Payload{
		ID: id, Type: w.Type, Webhook: w.Name,
		Name: m.name, Namespace: rec.Spec.Workload.Namespace, Release: m.name,
		Repo:        webhook.Repo{URL: redact.URL(rec.Spec.Repo.URL), Branch: rec.Spec.Repo.BranchOrDefault(), Path: m.path},
		Application: rec.Spec.ArgoCD.Application, Version: rec.Spec.Version,
		Steps: len(rec.Spec.Steps), Step: -1, Weights: []release.Weight{},
		Time: m.deps.now().UTC(), Metadata: w.Metadata,
	}
	if st := rec.Status; st != nil {
		p.Phase, p.Step, p.Seq, p.Action, p.Message, p.Reason = st.Phase, st.Step, st.Seq, st.Action, st.Message, st.Reason
		p.StableVersion = st.StableVersion
		if st.Weights != nil {
			p.Weights = st.Weights
		}
	}
	return p
}

// call calls one webhook and logs the answer (never a header or secret:
// the Client keeps them out of the Answer).
func (m *Machine) call(ctx context.Context, w release.Webhook, p webhook.Payload) webhook.Answer {
	a := m.hooks().Client.Call(ctx, w, p)
	m.deps.log().Info("webhook called", "release", m.name, "webhook", w.Name, "type", w.Type, "answer", a.String())
	return a
}

// passed is the trailer value of a call.
func passed(w release.Webhook, a webhook.Answer) git.Trailer {
	return git.Trailer{Key: TrailerWebhook, Value: fmt.Sprintf("%s %s %d", w.Name, w.Type, a.Status)}
}

// confirmStart asks the confirm-start gates before a release's first commit.
func (m *Machine) confirmStart(ctx context.Context, r *release.Release) ([]git.Trailer, error) {
	var calls []git.Trailer
	for _, w := range r.Spec.WebhooksOf(release.ConfirmStart) {
		p := m.payload(r, w, m.name+"/confirm-start")
		p.Next = &webhook.Next{Action: "start"}
		a := m.call(ctx, w, p)
		if !a.OK() {
			return nil, &GateError{Hook: w, Answer: a}
		}
		calls = append(calls, passed(w, a))
	}
	return calls, nil
}

// withCalls adds the webhook calls a commit passed to its trailers and message.
func withCalls(mut mutation, calls []git.Trailer) mutation {
	if len(calls) == 0 {
		return mut
	}
	return func(d *draft) error {
		if err := mut(d); err != nil {
			return err
		}
		d.trailers = append(d.trailers, calls...)
		var said []string
		for _, c := range calls {
			f := strings.Fields(c.Value)
			said = append(said, fmt.Sprintf("%s (%s) answered %s", f[0], f[1], f[2]))
		}
		d.message += "; webhook " + strings.Join(said, ", ")
		return nil
	}
}

// gate asks the gates that hold the commit dec would make. It returns the
// calls passed, or the outcome of a wait when one says no.
func (m *Machine) gate(ctx context.Context, rec *release.Release, app *App, next func() (effect, error)) ([]git.Trailer, *Outcome) {
	types := []release.WebhookType{release.PreRoute, release.ConfirmStep, release.ConfirmPromotion}
	any := false
	for _, t := range types {
		any = any || len(rec.Spec.WebhooksOf(t)) > 0
	}
	if !any || app.State == nil {
		return nil, nil
	}
	eff, err := next()
	if err != nil {
		return nil, nil // the commit itself will fail and say why
	}
	h, now := m.hooks(), m.deps.now()
	var calls []git.Trailer
	for _, t := range gatesOf(rec, app.State.Weights(), eff) {
		for _, w := range rec.Spec.WebhooksOf(t) {
			every := w.IntervalOrDefault()
			// A gate that said no is asked again once its interval is
			// over, however often the release is looked at meanwhile.
			k := fmt.Sprintf("%s/%s/%d/%s", m.key(rec), w.Name, rec.Status.Seq, eff.action)
			h.mu.Lock()
			last, ok := h.closed[k]
			h.mu.Unlock()
			a, left := last.answer, every-now.Sub(last.at)
			if !ok || left <= 0 {
				p := m.payload(rec, w, fmt.Sprintf("%s/%s/%d/%s", m.name, t, rec.Status.Seq, eff.action))
				p.Next = &webhook.Next{Action: eff.action, Weights: eff.weights}
				a, left = m.call(ctx, w, p), every
			}
			h.mu.Lock()
			if a.OK() {
				delete(h.closed, k)
			} else if left == every {
				h.closed[k] = said{at: now, answer: a}
			}
			h.mu.Unlock()
			if !a.OK() {
				return nil, &Outcome{Release: rec, Converged: true, Gated: true, Wait: left, Wake: left,
					Reason: fmt.Sprintf("waiting for webhook %s (%s) before %s: it %s; asked again every %s", w.Name, t, eff.action, a, every)}
			}
			calls = append(calls, passed(w, a))
		}
	}
	return calls, nil
}

// effect is what a commit would do: its action, phase and weights.
type effect struct {
	action  string
	phase   release.Phase
	step    int
	weights []release.Weight
}

// effectOnce returns m.effect of the mutation, run at the first call only.
func (m *Machine) effectOnce(ctx context.Context, rec *release.Release, app *App, mut mutation) func() (effect, error) {
	var eff effect
	var err error
	done := false
	return func() (effect, error) {
		if !done {
			eff, err = m.effect(ctx, rec, app, mut)
			done = true
		}
		return eff, err
	}
}

// effect runs a mutation on a copy of the release, without rendering or
// committing anything, to learn what its commit would do.
func (m *Machine) effect(ctx context.Context, rec *release.Release, app *App, mut mutation) (effect, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return effect{}, err
	}
	var cp release.Release
	if err := json.Unmarshal(data, &cp); err != nil {
		return effect{}, err
	}
	d := &draft{app: app, rec: &cp, state: app.State.Clone(), now: m.deps.now(), ctx: ctx, builder: m.deps.Builder, analysis: m.deps.Analysis}
	if err := mut(d); err != nil {
		return effect{}, err
	}
	return effect{action: d.action, phase: d.phase, step: d.rec.Status.Step, weights: d.state.Weights()}, nil
}

// gatesOf says which gates hold a commit from weights before to eff:
// pre-route before the new version's first traffic, confirm-step before a
// higher weight, confirm-promotion before the promote. Nothing holds a
// commit on the way out.
func gatesOf(rec *release.Release, before []release.Weight, eff effect) []release.WebhookType {
	if eff.phase.Abandoning() {
		return nil
	}
	v := rec.Spec.Version
	was, will := release.WeightOf(before, v), release.WeightOf(eff.weights, v)
	var out []release.WebhookType
	if will > 0 && !hadTraffic(rec) {
		out = append(out, release.PreRoute)
	}
	switch {
	case eff.phase == release.Promoting:
		out = append(out, release.ConfirmPromotion)
	case will > was:
		out = append(out, release.ConfirmStep)
	}
	return out
}

// hadTraffic reports whether a commit of the release ever routed the new
// version a weight above 0, from its history.
func hadTraffic(rec *release.Release) bool {
	if release.WeightOf(rec.Status.Weights, rec.Spec.Version) > 0 {
		return true
	}
	for _, e := range rec.Status.History {
		for _, part := range strings.Split(e.Weights, ",") {
			if v, w, ok := strings.Cut(part, "="); ok && v == rec.Spec.Version {
				if n, err := strconv.Atoi(w); err == nil && n > 0 {
					return true
				}
			}
		}
	}
	return false
}

// rollback polls the release's rollback webhooks that are due and returns
// the abort a 2xx answer asks for, or nil. hooks is how soon the next poll
// is due (0: none).
func (m *Machine) rollback(ctx context.Context, rec *release.Release) (mut mutation, hooks time.Duration) {
	ws := rec.Spec.WebhooksOf(release.Rollback)
	if len(ws) == 0 || !inSteps(rec.Status.Phase) {
		return nil, 0
	}
	h, now := m.hooks(), m.deps.now()
	for _, w := range ws {
		every := w.IntervalOrDefault()
		k := m.key(rec) + "/" + w.Name
		h.mu.Lock()
		last, seen := h.polled[k]
		due := !seen || now.Sub(last) >= every
		if due {
			h.polled[k] = now
		}
		h.mu.Unlock()
		if !due {
			left := every - now.Sub(last)
			if hooks == 0 || left < hooks {
				hooks = left
			}
			continue
		}
		if hooks == 0 || every < hooks {
			hooks = every
		}
		a := m.call(ctx, w, m.payload(rec, w, fmt.Sprintf("%s/rollback/%d", m.name, rec.Status.Seq)))
		if a.OK() {
			msg := fmt.Sprintf("rollback webhook %s answered %d", w.Name, a.Status)
			if a.Body != "" {
				msg += ": " + a.Body
			}
			return withTrailers(abandon("RollbackWebhook", msg), passed(w, a)), hooks
		}
	}
	return nil, hooks
}

// withTrailers adds trailers to a mutation's commit.
func withTrailers(mut mutation, ts ...git.Trailer) mutation {
	return func(d *draft) error {
		if err := mut(d); err != nil {
			return err
		}
		d.trailers = append(d.trailers, ts...)
		return nil
	}
}
