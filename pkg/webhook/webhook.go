// Package webhook calls the webhooks of a release (spec.webhooks): an
// HTTP POST of a JSON payload, with the headers and signing secret that
// gitcanary's configuration gives it, and an answer that says yes (2xx),
// no (any other status) or nothing (unreachable, timed out).
//
// It is the transport only; when a webhook is called and what its answer
// does to the release is pkg/machine's (docs/webhooks.md).
//
// How the receivers gitcanary replaces behave, which this package keeps
// where it can: Flagger POSTs {name, namespace, phase, checksum,
// metadata} as JSON with Content-Type application/json, a timeout of 10 s
// by default, no redirects followed specially, and counts a status above
// 202 as a failure. gitcanary sends the same four fields (so a receiver
// written for Flagger, such as its load tester's gates, keyed on name and
// namespace, works), more fields of its own, and counts every 2xx as yes.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gitcanary/gitcanary/pkg/redact"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Headers gitcanary sets on every call.
const (
	// HeaderSignature carries "sha256=" and the hex HMAC-SHA256 of the
	// body under the webhook's secret, when the configuration gives one.
	HeaderSignature = "X-Gitcanary-Signature"
	// HeaderDelivery is the payload's id: the same for every retry of one
	// notification, and across processes.
	HeaderDelivery = "X-Gitcanary-Delivery"
	HeaderType     = "X-Gitcanary-Type"
	HeaderWebhook  = "X-Gitcanary-Webhook"
)

// maxBody is how much of an answer's body is kept for messages.
const maxBody = 256

// Payload is the JSON body of every call. Name, Namespace, Phase and
// Metadata are Flagger's CanaryWebhookPayload fields.
type Payload struct {
	// ID identifies the notification: release, type and what it is
	// about (a commit's Seq, a look, a gate's next action). Receivers
	// de-duplicate on it.
	ID      string              `json:"id"`
	Type    release.WebhookType `json:"type"`
	Webhook string              `json:"webhook"`
	// Name is the release (Flagger: the canary's name); Namespace the
	// workload's namespace.
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Release   string `json:"release"`
	Repo      Repo   `json:"repo"`
	// Application is the Argo CD Application that deploys the app path.
	Application   string `json:"application"`
	Version       string `json:"version"`
	StableVersion string `json:"stableVersion,omitempty"`
	// Phase, Step and Weights are the release's as recorded in git when
	// the call is made (for an event: at its commit). Step indexes
	// spec.steps; -1 before the first step.
	Phase   release.Phase    `json:"phase"`
	Step    int              `json:"step"`
	Steps   int              `json:"steps"`
	Weights []release.Weight `json:"weights"`
	// Commit, Seq, Action, Message and Reason describe a commit: the
	// event's, the last one before a gate or a poll.
	Commit  string `json:"commit,omitempty"`
	Seq     int    `json:"seq,omitempty"`
	Action  string `json:"action,omitempty"`
	Message string `json:"message,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Next is what a gate holds: the action and weights of the commit
	// that follows a yes.
	Next *Next `json:"next,omitempty"`
	// Look and Looks: a during-analysis call's look (1-based) and the
	// analysis's number of looks.
	Look  int `json:"look,omitempty"`
	Looks int `json:"looks,omitempty"`
	// Time is when the call was made.
	Time     time.Time         `json:"time"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Repo is where the release lives; the URL never carries credentials.
type Repo struct {
	URL    string `json:"url"`
	Branch string `json:"branch"`
	Path   string `json:"path"`
}

// Next is the commit a gate holds.
type Next struct {
	Action  string           `json:"action"`
	Weights []release.Weight `json:"weights"`
}

// Answer is what a webhook said.
type Answer struct {
	// Status is the HTTP status; 0 when there was no answer.
	Status int
	// Body is the start of the answer's body, on one line, without
	// configured secrets.
	Body string
	// Err says why there was no answer (unreachable, timed out).
	Err error
}

// OK reports a 2xx answer.
func (a Answer) OK() bool { return a.Err == nil && a.Status >= 200 && a.Status < 300 }

// Unreachable reports that there was no answer, or one that says the
// receiver itself failed (5xx): "could not find out", never "no".
func (a Answer) Unreachable() bool { return a.Err != nil || a.Status >= 500 }

// String describes the answer for messages: "answered 403: not yet",
// "could not be reached: …".
func (a Answer) String() string {
	if a.Err != nil {
		return "could not be reached: " + a.Err.Error()
	}
	s := fmt.Sprintf("answered %d", a.Status)
	if a.Body != "" {
		s += ": " + a.Body
	}
	return s
}

// Client calls webhooks. The zero value works: no configured headers or
// secrets, an HTTP client that follows no redirects.
type Client struct {
	// HTTP is the client used (nil: one that follows no redirects, so
	// that configured headers never reach another address).
	HTTP *http.Client
	// Auth gives webhooks headers and secrets, first match wins.
	Auth []Auth
}

// Call POSTs p to the webhook (as JSON, or as a Slack message for format
// slack: slack.go) and returns its answer. It never returns an
// error: what went wrong is in the Answer.
func (c *Client) Call(ctx context.Context, w release.Webhook, p Payload) Answer {
	body, err := encode(w, p)
	if err != nil {
		return Answer{Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, w.TimeoutOrDefault())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return Answer{Err: redact.Error(err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gitcanary")
	req.Header.Set(HeaderDelivery, p.ID)
	req.Header.Set(HeaderType, string(w.Type))
	req.Header.Set(HeaderWebhook, w.Name)
	a := c.auth(w)
	for k, v := range a.Headers {
		req.Header.Set(k, v)
	}
	if a.Secret != "" {
		req.Header.Set(HeaderSignature, Sign([]byte(a.Secret), body))
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return Answer{Err: a.mask(cleanError(err, w.TimeoutOrDefault()))}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4*maxBody))
	return Answer{Status: resp.StatusCode, Body: a.maskText(oneLine(data))}
}

// Sign returns the X-Gitcanary-Signature value of body under secret:
// "sha256=" and the hex HMAC-SHA256.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is body's signature under secret, in
// constant time. Receivers written in Go may use it.
func Verify(secret, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(sig))
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return noRedirects
}

var noRedirects = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// cleanError says what failed without Go's "Post \"url\": " prefix, and
// names a timeout as one.
func cleanError(err error, timeout time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s", timeout)
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && ue.Unwrap() != nil {
		err = ue.Unwrap()
	}
	return redact.Error(err)
}

// oneLine keeps the start of a body, valid UTF-8 on one line.
func oneLine(data []byte) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(data), "?")), " ")
	if len(s) > maxBody {
		cut := maxBody
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return redact.Text(s)
}
