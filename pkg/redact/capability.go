package redact

import (
	"net/url"
	"strings"
)

// capability is a chat service whose incoming-webhook URLs hold their
// secret in the path: whoever has the URL may post to the channel.
type capability struct {
	service string
	host    func(host string) bool
	prefix  string // of the path, followed by the secret segments
}

func hostIs(names ...string) func(string) bool {
	return func(h string) bool {
		for _, n := range names {
			if h == n {
				return true
			}
		}
		return false
	}
}

// capabilities: the services gitcanary's format: slack reaches, and
// Microsoft Teams, as their documentation gives their webhook URLs.
var capabilities = []capability{
	{"Slack", hostIs("hooks.slack.com"), "/services/"},
	{"Slack", hostIs("hooks.slack.com"), "/workflows/"},
	{"Slack", hostIs("hooks.slack.com"), "/triggers/"},
	{"Discord", hostIs("discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"), "/api/webhooks/"},
	{"Microsoft Teams", func(h string) bool { return strings.HasSuffix(h, ".webhook.office.com") }, "/webhookb2/"},
	{"Mattermost or Rocket.Chat", func(string) bool { return true }, "/hooks/"},
}

// Capability names the service whose incoming-webhook URL raw is ("Slack",
// …), a URL that is its own secret, or returns "". Unlike Credential it
// does not refuse: such a URL may be committed on purpose, but whoever can
// read the repository can then post to the channel.
func Capability(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	for _, c := range capabilities {
		rest, ok := strings.CutPrefix(u.EscapedPath(), c.prefix)
		if ok && c.host(host) && strings.Trim(rest, "/") != "" {
			return c.service
		}
	}
	return ""
}
