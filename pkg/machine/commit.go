package machine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gitcanary/gitcanary/pkg/analysis"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/redact"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// ErrConflict means the release moved on (another process committed)
// between a decision and its commit; decide again from the new head.
var ErrConflict = errors.New("the release changed in git since this decision; deciding again")

// draft is a commit being prepared: the state and record to write, and
// what the commit says it does.
type draft struct {
	app       *App
	state     *overlay.State
	rec       *release.Release
	templates map[string][]byte
	// userWrites are files outside gitcanary's directory the commit
	// writes (routing from --generate-routing), already in app.
	userWrites map[string][]byte
	action     string
	phase      release.Phase
	message    string // also recorded as the release's status message
	reason     string
	// handBack: the commit ends the release and gives the app path back
	// to its user's files (handBack); note says how that went, in the
	// commit message only.
	handBack bool
	note     string
	now      time.Time
	// ctx and builder let a mutation render the app (it stays pure but
	// for in-memory kustomize builds).
	ctx     context.Context
	builder kustomize.Builder
	// analysis holds the settings an analysis step starts with; extra
	// are files the commit writes in gitcanary's directory besides the
	// state and the record (an analysis's evidence).
	analysis analysis.Settings
	extra    map[string][]byte
	// trailers are added to the commit's own (the webhook calls it passed).
	trailers []git.Trailer
}

// mutation edits a draft; it must be a pure function of the draft.
type mutation func(d *draft) error

// Expectations commit checks the release's record against.
const (
	newRelease = -1 // the release must not exist yet
	atHead     = -2 // the release as it stands at the head, whatever its Seq
)

// commit applies m on the head of the branch and pushes it, once. expect
// is the release's Seq the decision was taken on, newRelease, or atHead
// for a command whose mutation checks the phase itself.
func (m *Machine) commit(ctx context.Context, expect int, mut mutation) (git.Result, error) {
	now := m.deps.now()
	edit := func(head git.Snapshot) (git.Change, git.Message, error) {
		app, err := LoadApp(head, m.path)
		if err != nil {
			return git.Change{}, git.Message{}, err
		}
		return m.draft(ctx, app, expect, mut, now)
	}
	res, err := m.deps.Repo.Apply(ctx, edit)
	if err != nil {
		return res, err
	}
	m.deps.log().Info("committed", "release", m.name, "action", res.Commit.Trailer(git.TrailerAction), "commit", shortHash(res.Commit.Hash), "existing", res.Existing)
	return res, nil
}

func message(name string, d *draft, seq int) git.Message {
	subject := fmt.Sprintf("gitcanary %s: %s", name, d.action)
	if w := d.state.Weights(); len(w) > 0 {
		subject += " (" + release.FormatWeights(w) + ")"
	}
	m := git.Message{
		Subject: subject,
		Body:    strings.TrimSpace(d.message + "\n\n" + d.note),
		Trailers: []git.Trailer{
			{Key: git.TrailerRelease, Value: name},
			{Key: git.TrailerPath, Value: d.app.Path},
			{Key: git.TrailerAction, Value: d.action},
			{Key: git.TrailerSeq, Value: strconv.Itoa(seq)},
		},
	}
	m.Trailers = append(m.Trailers, d.trailers...)
	return m
}

var shortHash = git.ShortHash

// draft runs a mutation on an app and returns the change and commit
// message it makes. It is pure but for kustomize builds in memory.
func (m *Machine) draft(ctx context.Context, app *App, expect int, mut mutation, now time.Time) (git.Change, git.Message, error) {
	rec, err := app.Record(m.name)
	if err != nil {
		return git.Change{}, git.Message{}, err
	}
	switch {
	case expect == newRelease && rec != nil:
		return git.Change{}, git.Message{}, fmt.Errorf("release %s already exists in %s (phase %s): %w", m.name, app.RecordPath(m.name), rec.Status.Phase, ErrExists)
	case expect != newRelease && rec == nil:
		return git.Change{}, git.Message{}, fmt.Errorf("release %s not found in %s: %w", m.name, m.path, ErrNotFound)
	case expect >= 0 && rec.Status.Seq != expect:
		return git.Change{}, git.Message{}, ErrConflict
	}
	d := &draft{app: app, rec: rec, now: now, ctx: ctx, builder: m.deps.Builder, analysis: m.deps.Analysis}
	if app.State != nil {
		d.state = app.State.Clone()
	}
	if err := mut(d); err != nil {
		return git.Change{}, git.Message{}, err
	}
	st := d.rec.Status
	if err := st.Phase.CanMoveTo(d.phase); err != nil {
		return git.Change{}, git.Message{}, err
	}
	st.Weights = d.state.Weights()
	// The message may quote an error of git or Argo CD naming a URL; the
	// record and the commit message are committed, so never with credentials.
	d.message = redact.Text(d.message)
	st.Reason = d.reason
	st.Message = d.message
	seq := st.Record(d.action, d.phase, now, d.message)
	data, err := release.Marshal(d.rec)
	if err != nil {
		return git.Change{}, git.Message{}, err
	}
	var ch git.Change
	if d.handBack {
		if ch, err = d.app.handBack(ctx, m.deps.Builder, d.state); err != nil {
			d.note = "The app path is not handed back (" + err.Error() + "): gitcanary's component stays, and the next release starts from it."
		} else {
			d.note = "The app path is handed back: its own files describe what runs, and gitcanary's directory keeps only the release records."
			ch.Write[app.RecordPath(m.name)] = data
		}
	}
	if !d.handBack || err != nil {
		ch, err = d.app.Change(ctx, m.deps.Builder, d.state, d.templates, map[string][]byte{app.RecordPath(m.name): data})
		if err != nil {
			return git.Change{}, git.Message{}, err
		}
	}
	for p, data := range d.extra {
		ch.Write[p] = data
	}
	for p, data := range d.userWrites {
		if _, ok := ch.Write[p]; !ok {
			ch.Write[p] = data
		}
	}
	d.note = redact.Text(d.note)
	return ch, message(m.name, d, seq), nil
}
