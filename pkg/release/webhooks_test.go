package release

import (
	"errors"
	"strings"
	"testing"
)

// webhooksYAML is validYAML with one webhook of each type.
const webhooksYAML = validYAML + `  webhooks:
    - {name: start, type: confirm-start, url: "https://hooks.example/start"}
    - {name: smoke, type: pre-route, url: "http://smoke.bookinfo:8080/run", timeout: 30s, metadata: {suite: smoke}}
    - {name: load, type: during-analysis, url: "http://loadtester.test/"}
    - {name: window, type: confirm-step, url: "https://hooks.example/window", interval: 1m}
    - {name: promo, type: confirm-promotion, url: "https://hooks.example/promo"}
    - {name: pager, type: rollback, url: "https://hooks.example/pager", interval: 5s}
    - {name: done, type: post-release, url: "https://hooks.example/done"}
    - {name: feed, type: event, url: "https://hooks.example/feed?team=reviews", format: json}
    - {name: chat, type: post-release, url: "https://hooks.example/chat", format: slack}
`

func TestWebhooksValid(t *testing.T) {
	r, err := Parse([]byte(webhooksYAML))
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(r, ValidateOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(r.Spec.Webhooks) != len(WebhookTypes)+1 {
		t.Fatalf("%d webhooks", len(r.Spec.Webhooks))
	}
	w := r.Spec.WebhooksOf(ConfirmStep)
	if len(w) != 1 || w[0].IntervalOrDefault().String() != "1m0s" || w[0].TimeoutOrDefault() != DefaultWebhookTimeout {
		t.Errorf("confirm-step %+v", w)
	}
	for _, typ := range WebhookTypes {
		if typ.Gate() != (typ == ConfirmStart || typ == PreRoute || typ == ConfirmStep || typ == ConfirmPromotion) {
			t.Errorf("%s.Gate() = %v", typ, typ.Gate())
		}
	}
}

// TestWebhooksInvalid: each case edits the valid document and names the
// message the user must see, at its field path, without quoting a secret.
func TestWebhooksInvalid(t *testing.T) {
	const secret = "hunter2hunter2hunter2"
	cases := []struct{ old, new, want string }{
		{"name: start,", "name: Start_1,", `spec.webhooks[0].name: "Start_1" is not a DNS-1123 label`},
		{"name: smoke,", "name: start,", `spec.webhooks[1].name: "start" is used by another webhook`},
		{"type: confirm-step", "type: confirm-traffic-increase", `spec.webhooks[3].type: unknown webhook type "confirm-traffic-increase"; use one of confirm-start, pre-route`},
		{"type: event, ", "", "spec.webhooks[7].type: is required"},
		{`url: "https://hooks.example/promo"`, `url: ""`, "spec.webhooks[4].url: is required"},
		{"https://hooks.example/pager", "ftp://hooks.example/pager", `spec.webhooks[5].url: scheme "ftp" is not supported; use http:// or https://`},
		{"https://hooks.example/pager", "https:///pager", `spec.webhooks[5].url: "https:///pager" has no host`},
		{"https://hooks.example/done", "https://bot:" + secret + "@hooks.example/done", "spec.webhooks[6].url: carries a password in its user info (user:password@); a webhook's headers and secrets go in gitcanary's configuration"},
		{"feed?team=reviews", "feed?token=" + secret, `spec.webhooks[7].url: carries a credential in its query parameter "token"`},
		{"https://hooks.example/start", "https://alice@hooks.example/start", "spec.webhooks[0].url: carries user info (user@)"},
		{"timeout: 30s", "timeout: 2m", "spec.webhooks[1].timeout: must be more than 0 and at most 1m0s, got 2m0s"},
		{"timeout: 30s", "timeout: 0s", "spec.webhooks[1].timeout: must be more than 0"},
		{"interval: 5s", "interval: 100ms", "spec.webhooks[5].interval: must be at least 1s, got 100ms"},
		{"format: slack", "format: teams", `spec.webhooks[8].format: unknown format "teams"; use json or slack`},
		{"interval: 1m}", "interval: 1m, format: slack}", "spec.webhooks[3].format: slack is for notifications (types event and post-release); a confirm-step webhook's answer decides"},
		{"metadata: {suite: smoke}", `metadata: {"": smoke}`, "spec.webhooks[1].metadata: has an empty key"},
	}
	for _, tc := range cases {
		doc := strings.Replace(webhooksYAML, tc.old, tc.new, 1)
		if doc == webhooksYAML {
			t.Fatalf("%q not in the document", tc.old)
		}
		r, err := Parse([]byte(doc))
		if err == nil {
			err = Validate(r, ValidateOptions{})
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s → %s:\n got %v\nwant %s", tc.old, tc.new, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("error quotes the secret: %v", err)
		}
	}
	// Headers and secrets have no place in the spec at all.
	doc := strings.Replace(webhooksYAML, "metadata: {suite: smoke}", "headers: {Authorization: x}", 1)
	if _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), "spec.webhooks[1].headers: unknown field") {
		t.Errorf("headers in the spec: %v", err)
	}
}
