package machine

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/pkg/webhook"
)

// Notifications: an event webhook receives every commit of the release,
// in order, and a post-release webhook one call once the release is
// Promoted or Abandoned. They are sent by whichever process steps the
// release next (the one that committed steps again at once), never by a
// command that only commits, and they never hold the release.
//
// Delivery is at least once: a notification is marked sent after its
// call, in the process's memory and in the annotation
// gitcanary.io/webhooks-delivered of the release's Application
// ("<release>/<seq>", with "/post-release" once that was sent), so that a
// restarted process, or another one, goes on from there instead of
// sending again. What can still repeat: a process killed between a call
// and the annotation, or two processes stepping the same release at the
// same moment. Receivers de-duplicate on the payload's id. A call that
// gets no answer or a 5xx is tried 3 times, 1 s and 2 s apart; then it
// is given up (logged) and the next notification goes.

// AnnotationDelivered records on the release's Application what its event
// and post-release webhooks were sent.
const AnnotationDelivered = "gitcanary.io/webhooks-delivered"

// cursor is what was notified of one release.
type cursor struct {
	release string
	seq     int  // events sent for commits 1..seq
	post    bool // post-release sent
}

func (c cursor) String() string {
	s := fmt.Sprintf("%s/%d", c.release, c.seq)
	if c.post {
		s += "/" + string(release.PostRelease)
	}
	return s
}

func parseCursor(s string) cursor {
	parts := strings.Split(s, "/")
	if len(parts) < 2 {
		return cursor{}
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil {
		return cursor{}
	}
	return cursor{release: parts[0], seq: n, post: len(parts) > 2 && parts[2] == string(release.PostRelease)}
}

func (c cursor) covers(want cursor) bool { return c.seq >= want.seq && (c.post || !want.post) }

// notifyAttempts and notifyBackoff bound the tries of one notification.
const (
	notifyAttempts = 3
	notifyBackoff  = time.Second
)

// notify sends the event and post-release notifications rec calls for
// that were not sent yet. It never fails the step: what cannot be sent is
// logged.
func (m *Machine) notify(ctx context.Context, rec *release.Release, app *App) {
	events, posts := rec.Spec.WebhooksOf(release.Event), rec.Spec.WebhooksOf(release.PostRelease)
	if len(events)+len(posts) == 0 || rec.Status == nil {
		return
	}
	want := cursor{release: m.name, seq: rec.Status.Seq, post: rec.Status.Phase.Terminal() && len(posts) > 0}
	h, key := m.hooks(), m.key(rec)
	h.mu.Lock()
	have, known := h.sent[key]
	h.mu.Unlock()
	if known && have.covers(want) {
		return
	}
	have.release = m.name
	if m.deps.Argo != nil {
		if a, err := m.deps.Argo.Get(ctx, rec.Spec.ArgoCD.Application, false); err == nil {
			switch c := parseCursor(a.Annotations[AnnotationDelivered]); {
			case c.release == m.name:
				have.seq, have.post = max(have.seq, c.seq), have.post || c.post
			case c.release != "" && !known && rec.Status.Phase.Terminal():
				// A later release of the Application has notified since:
				// this one ended long ago.
				h.mu.Lock()
				h.sent[key] = want
				h.mu.Unlock()
				return
			}
		}
	}
	before := have
	if len(events) > 0 && have.seq < want.seq {
		have.seq = m.sendEvents(ctx, rec, app, events, have.seq)
	} else {
		have.seq = max(have.seq, want.seq)
	}
	if want.post && !have.post && have.seq >= want.seq {
		for _, w := range posts {
			m.deliver(ctx, w, m.payload(rec, w, fmt.Sprintf("%s/post-release", m.name)))
		}
		have.post = true
	}
	h.mu.Lock()
	h.sent[key] = have
	h.mu.Unlock()
	if have != before && m.deps.Argo != nil {
		if err := m.deps.Argo.Annotate(ctx, rec.Spec.ArgoCD.Application, map[string]string{AnnotationDelivered: have.String()}); err != nil {
			m.deps.log().Warn("cannot record the webhooks delivered on the Application (a restarted process may send them again)", "release", m.name, "app", rec.Spec.ArgoCD.Application, "err", err)
		}
	}
}

// sendEvents sends the events of the release's commits after seq, oldest
// first, and returns the last Seq sent.
func (m *Machine) sendEvents(ctx context.Context, rec *release.Release, app *App, events []release.Webhook, seq int) int {
	want := rec.Status.Seq
	cs, err := m.deps.Repo.Log(ctx, app.Commit, func(c git.Commit) bool {
		n, err := strconv.Atoi(c.Trailer(git.TrailerSeq))
		return err == nil && n > seq && n <= want && c.Trailer(git.TrailerRelease) == m.name && OfPath(c, m.path)
	}, want-seq)
	if err != nil {
		m.deps.log().Warn("cannot read the release's commits for its event webhooks", "release", m.name, "err", err)
		return seq
	}
	slices.Reverse(cs)
	for _, c := range cs {
		n, _ := strconv.Atoi(c.Trailer(git.TrailerSeq))
		at := rec
		if n != want {
			if at, err = m.recordAt(ctx, c.Hash); err != nil {
				m.deps.log().Warn("cannot read the release at a commit for its event webhooks", "release", m.name, "commit", shortHash(c.Hash), "err", err)
				return seq
			}
		}
		for _, w := range events {
			p := m.payload(at, w, fmt.Sprintf("%s/event/%d", m.name, n))
			p.Commit, p.Seq = c.Hash, n
			p.Time = c.Time.UTC()
			m.deliver(ctx, w, p)
		}
		seq = n
	}
	return seq
}

// recordAt reads the release's record at a commit.
func (m *Machine) recordAt(ctx context.Context, commit string) (*release.Release, error) {
	snap, err := m.deps.Repo.At(ctx, commit)
	if err != nil {
		return nil, err
	}
	app, err := LoadApp(snap, m.path)
	if err != nil {
		return nil, err
	}
	rec, err := app.Record(m.name)
	if err == nil && rec == nil {
		err = fmt.Errorf("no record of %s at %s", m.name, shortHash(commit))
	}
	return rec, err
}

// deliver calls a notification webhook, again after no answer or a 5xx.
func (m *Machine) deliver(ctx context.Context, w release.Webhook, p webhook.Payload) {
	var a webhook.Answer
	for i := range notifyAttempts {
		if i > 0 {
			if m.deps.sleep(ctx, notifyBackoff<<(i-1)) != nil {
				return
			}
		}
		if a = m.call(ctx, w, p); !a.Unreachable() {
			break
		}
	}
	if !a.OK() {
		m.deps.log().Warn("webhook notification not delivered", "release", m.name, "webhook", w.Name, "type", w.Type, "id", p.ID, "answer", a.String())
	}
}
