package release

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gitcanary/gitcanary/pkg/redact"
)

// WebhookType says when gitcanary calls a webhook (docs/webhooks.md).
type WebhookType string

// The webhook types: Flagger's eight, named after gitcanary's phases.
const (
	// ConfirmStart is a gate before the release's first commit.
	ConfirmStart WebhookType = "confirm-start"
	// PreRoute is a gate before the first commit that sends the new
	// version traffic.
	PreRoute WebhookType = "pre-route"
	// DuringAnalysis is called at every look of an analysis step; an
	// answer that says no fails the analysis.
	DuringAnalysis WebhookType = "during-analysis"
	// ConfirmStep is a gate before each commit that raises the new
	// version's weight.
	ConfirmStep WebhookType = "confirm-step"
	// ConfirmPromotion is a gate before the promote commit.
	ConfirmPromotion WebhookType = "confirm-promotion"
	// Rollback is polled while the release runs; a 2xx answer aborts it.
	Rollback WebhookType = "rollback"
	// PostRelease is called once the release is Promoted or Abandoned.
	PostRelease WebhookType = "post-release"
	// Event receives every commit of the release.
	Event WebhookType = "event"
)

// WebhookTypes lists every type, in the order of a release's life.
var WebhookTypes = []WebhookType{ConfirmStart, PreRoute, DuringAnalysis, ConfirmStep, ConfirmPromotion, Rollback, PostRelease, Event}

// Gate reports whether a webhook of this type holds the release until it
// answers 2xx.
func (t WebhookType) Gate() bool {
	return t == ConfirmStart || t == PreRoute || t == ConfirmStep || t == ConfirmPromotion
}

// Webhook is one entry of spec.webhooks: an HTTP endpoint gitcanary POSTs
// a JSON description of the release to. Headers and signing secrets are
// never here (this document is committed): they come from gitcanary's
// configuration, matched by the webhook's name or URL.
type Webhook struct {
	// Name identifies the webhook in messages, commit trailers and the
	// configuration's secrets; unique in the release.
	Name string `json:"name"`
	// Type is one of confirm-start, pre-route, during-analysis,
	// confirm-step, confirm-promotion, rollback, post-release, event.
	Type WebhookType `json:"type"`
	// URL is an http(s) URL without credentials.
	URL string `json:"url"`
	// Timeout bounds one call (default 10s).
	Timeout *Duration `json:"timeout,omitempty"`
	// Interval is how often a gate that said no is asked again, and how
	// often a rollback webhook is polled (default 10s).
	Interval *Duration `json:"interval,omitempty"`
	// Metadata is passed to the webhook as it is, in the payload's metadata.
	Metadata map[string]string `json:"metadata,omitempty"`
	// Format is the body's: json (gitcanary's payload, the default) or
	// slack ({"text": ...}, what Slack's incoming webhooks and the chat
	// tools compatible with them read). Only notifications (event,
	// post-release) may use slack: other webhooks answer, and a chat's
	// answer says nothing.
	Format WebhookFormat `json:"format,omitempty"`
}

// WebhookFormat is the body format of a webhook call.
type WebhookFormat string

// The webhook body formats.
const (
	FormatJSON  WebhookFormat = "json"
	FormatSlack WebhookFormat = "slack"
)

// Notification reports whether a webhook of this type only receives
// news (its answer changes nothing).
func (t WebhookType) Notification() bool { return t == Event || t == PostRelease }

// Webhook defaults.
const (
	DefaultWebhookTimeout  = 10 * time.Second
	DefaultWebhookInterval = 10 * time.Second
	maxWebhookTimeout      = time.Minute
)

// TimeoutOrDefault returns the call timeout in effect.
func (w Webhook) TimeoutOrDefault() time.Duration {
	if w.Timeout == nil {
		return DefaultWebhookTimeout
	}
	return w.Timeout.Duration
}

// IntervalOrDefault returns the retry and poll interval in effect.
func (w Webhook) IntervalOrDefault() time.Duration {
	if w.Interval == nil {
		return DefaultWebhookInterval
	}
	return w.Interval.Duration
}

// WebhooksOf returns the spec's webhooks of type t, in spec order.
func (s Spec) WebhooksOf(t WebhookType) []Webhook {
	var out []Webhook
	for _, w := range s.Webhooks {
		if w.Type == t {
			out = append(out, w)
		}
	}
	return out
}

func (v *validator) webhooks(ws []Webhook) {
	seen := map[string]bool{}
	for i, w := range ws {
		p := fmt.Sprintf("spec.webhooks[%d]", i)
		v.dnsLabel(p+".name", w.Name)
		if w.Name != "" && seen[w.Name] {
			v.add(p+".name", "%q is used by another webhook; names are unique in a release", w.Name)
		}
		seen[w.Name] = true
		if v.required(p+".type", string(w.Type)) && !slices.Contains(WebhookTypes, w.Type) {
			names := make([]string, len(WebhookTypes))
			for j, t := range WebhookTypes {
				names[j] = string(t)
			}
			v.add(p+".type", "unknown webhook type %q; use one of %s", w.Type, strings.Join(names, ", "))
		}
		v.webhookURL(p+".url", w.URL)
		if w.Timeout != nil && (w.Timeout.Duration <= 0 || w.Timeout.Duration > maxWebhookTimeout) {
			v.add(p+".timeout", "must be more than 0 and at most %s, got %s", maxWebhookTimeout, w.Timeout.Duration)
		}
		if w.Interval != nil && w.Interval.Duration < time.Second {
			v.add(p+".interval", "must be at least 1s, got %s", w.Interval.Duration)
		}
		switch w.Format {
		case "", FormatJSON:
		case FormatSlack:
			if w.Type != "" && !w.Type.Notification() {
				v.add(p+".format", "slack is for notifications (types event and post-release); a %s webhook's answer decides, and a chat answers every message 200", w.Type)
			}
		default:
			v.add(p+".format", "unknown format %q; use json or slack", w.Format)
		}
		for k := range w.Metadata {
			if strings.TrimSpace(k) == "" {
				v.add(p+".metadata", "has an empty key")
			}
		}
	}
}

// webhookURL checks a webhook's address: an http(s) URL with a host and
// without credentials, which go in gitcanary's configuration.
func (v *validator) webhookURL(p, raw string) {
	if !v.required(p, raw) {
		return
	}
	if what := redact.Credential(raw); what != "" {
		v.add(p, "carries %s; a webhook's headers and secrets go in gitcanary's configuration (webhooks: in the config file), never in the Release, which is committed (docs/webhooks.md#secrets)", what)
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		v.add(p, "%q is not a URL: %v", raw, err)
	case u.Scheme != "http" && u.Scheme != "https":
		v.add(p, "scheme %q is not supported; use http:// or https://", u.Scheme)
	case u.Host == "":
		v.add(p, "%q has no host", raw)
	case u.User != nil:
		v.add(p, "carries user info (user@); a webhook's credentials go in gitcanary's configuration (docs/webhooks.md#secrets)")
	}
}
