package webhook

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gitcanary/gitcanary/pkg/release"
)

// A webhook with format slack gets, instead of the payload, the body of a
// Slack incoming webhook: {"text": "..."}, mrkdwn, with &, < and >
// escaped as Slack asks. Mattermost, Rocket.Chat, Google Chat and Discord
// (its /slack endpoint) read the same "text". Slack answers 200 "ok", or
// 4xx with a short reason (invalid_payload, no_service, …), which gitcanary
// logs as for any notification.

// slackMessage is the body of a Slack incoming webhook.
type slackMessage struct {
	Text string `json:"text"`
}

// encode is the body of a call: the payload as JSON, or its Slack message.
func encode(w release.Webhook, p Payload) ([]byte, error) {
	if w.Format == release.FormatSlack {
		return json.Marshal(slackMessage{Text: SlackText(p)})
	}
	return json.Marshal(p)
}

// SlackText says what a notification payload says, on one or two lines:
// the release, the commit's action, phase, step and weights, then its
// message and reason.
func SlackText(p Payload) string {
	var b strings.Builder
	fmt.Fprintf(&b, "gitcanary *%s*", slackEscape(p.Release))
	if p.Type == release.Event && p.Action != "" {
		fmt.Fprintf(&b, " %s", slackEscape(p.Action))
	}
	fmt.Fprintf(&b, ": %s", p.Phase)
	if p.Step >= 0 && p.Steps > 0 && p.Step < p.Steps {
		fmt.Fprintf(&b, ", step %d/%d", p.Step+1, p.Steps)
	}
	if len(p.Weights) > 0 {
		fmt.Fprintf(&b, ", %s", release.FormatWeights(p.Weights))
	}
	fmt.Fprintf(&b, " (%s in %s", slackEscape(p.Application), slackEscape(p.Repo.Path))
	if p.Commit != "" {
		fmt.Fprintf(&b, ", commit `%.7s`, seq %d", p.Commit, p.Seq)
	}
	b.WriteString(")")
	if p.Message != "" || p.Reason != "" {
		b.WriteString("\n")
		if p.Reason != "" {
			fmt.Fprintf(&b, "%s: ", slackEscape(p.Reason))
		}
		b.WriteString(slackEscape(p.Message))
	}
	return b.String()
}

// slackEscape escapes what Slack's mrkdwn reads as markup or links.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
