package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/release"
)

// slackReceiver answers as a Slack incoming webhook does: 200 "ok" for a
// JSON body with a non-empty text, 400 "invalid_payload" otherwise. It
// keeps the texts it accepted.
func slackReceiver(t *testing.T, texts *[]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if err := json.Unmarshal(must(io.ReadAll(r.Body)), &m); err != nil || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, "invalid_payload")
			return
		}
		text, _ := m["text"].(string)
		if text == "" || len(m) != 1 {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, "invalid_payload")
			return
		}
		*texts = append(*texts, text)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestSlackFormat: event and post-release webhooks with format slack send
// a Slack message that says what the JSON payload says; a receiver that
// reads Slack's body accepts them, signed like any call.
func TestSlackFormat(t *testing.T) {
	var texts []string
	srv := slackReceiver(t, &texts)
	c := &Client{}
	event := Payload{ID: "reviews-v2/event/5", Type: release.Event, Webhook: "chat", Name: "reviews-v2", Release: "reviews-v2",
		Repo: Repo{URL: "git://127.0.0.1:19418/apps.git", Branch: "main", Path: "apps/reviews"}, Application: "reviews",
		Phase: release.Progressing, Step: 2, Steps: 3, Weights: []release.Weight{{Version: "v1", Weight: 50}, {Version: "v2", Weight: 50}},
		Commit: "0123456789abcdef0123456789abcdef01234567", Seq: 5, Action: "step/2/weight/50", Message: "step 2: v2 gets 50% <now> & then",
		Time: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	post := event
	post.ID, post.Type, post.Commit, post.Seq, post.Action = "reviews-v2/post-release", release.PostRelease, "", 0, ""
	post.Phase, post.Step, post.Weights, post.Reason, post.Message = release.Abandoned, 1, []release.Weight{{Version: "v1", Weight: 100}}, "AnalysisFailed", "analysis of step 1 failed at look 2 of 4"
	for _, tc := range []struct {
		p    Payload
		want string
	}{
		{event, "gitcanary *reviews-v2* step/2/weight/50: Progressing, step 3/3, v1=50,v2=50 (reviews in apps/reviews, commit `0123456`, seq 5)\nstep 2: v2 gets 50% &lt;now&gt; &amp; then"},
		{post, "gitcanary *reviews-v2*: Abandoned, step 2/3, v1=100 (reviews in apps/reviews)\nAnalysisFailed: analysis of step 1 failed at look 2 of 4"},
	} {
		w := release.Webhook{Name: "chat", Type: tc.p.Type, URL: srv.URL + "/services/T0/B0/x", Format: release.FormatSlack}
		if a := c.Call(context.Background(), w, tc.p); !a.OK() || a.Body != "ok" {
			t.Fatalf("%s: the Slack receiver answered %s", tc.p.Type, a)
		}
		if got := texts[len(texts)-1]; got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.p.Type, got, tc.want)
		}
	}
	// docs/webhooks.md shows the event's text.
	doc, err := os.ReadFile("../../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)### format: slack\n.*?```text\n(.*?)\n```").FindSubmatch(doc)
	if m == nil || string(m[1]) != SlackText(event) {
		t.Errorf("docs/webhooks.md does not show the event's Slack text %q", SlackText(event))
	}
	// The JSON payload is refused by the same receiver: the format matters.
	w := release.Webhook{Name: "chat", Type: release.Event, URL: srv.URL, Format: release.FormatJSON}
	if a := c.Call(context.Background(), w, event); a.Status != http.StatusBadRequest || a.Body != "invalid_payload" {
		t.Errorf("the JSON payload: %s", a)
	}
}
