package redact

import "testing"

func TestCapability(t *testing.T) {
	for raw, want := range map[string]string{
		"https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX":  "Slack",
		"https://hooks.slack.com/triggers/T0000/1234/abcdef":                     "Slack",
		"https://discord.com/api/webhooks/123456/abcDEF-token":                   "Discord",
		"https://discord.com/api/webhooks/123456/abcDEF-token/slack":             "Discord",
		"https://contoso.webhook.office.com/webhookb2/a-b@c/IncomingWebhook/d/e": "Microsoft Teams",
		"https://chat.example.com/hooks/xbmf1e1kz7nx3b9sdfk":                     "Mattermost or Rocket.Chat",
		"https://hooks.slack.com/services/":                                      "",
		"https://hooks.slack.com/":                                               "",
		"https://deploy-gate.example/gitcanary/confirm":                          "",
		"https://relay.example/slack/deploys":                                    "",
		"http://127.0.0.1:8080/hook":                                             "",
		"git://hooks.slack.com/services/T0000/B0000/X":                           "",
		"not a url": "",
	} {
		if got := Capability(raw); got != want {
			t.Errorf("Capability(%q) = %q, want %q", raw, got, want)
		}
	}
}
