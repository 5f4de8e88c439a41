package argocd

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const notificationsPage = "../../docs/notifications.md"

// TestNotificationsDocs: the messages and bodies docs/notifications.md
// shows are what the catalogue renders for its samples; its service and
// subscription examples name what the catalogue has, in the shape the
// engine reads.
func TestNotificationsDocs(t *testing.T) {
	doc := readFile(t, notificationsPage)
	section := doc[strings.Index(doc, "## What is sent\n"):strings.Index(doc, "### Where the facts come from\n")]
	texts := regexp.MustCompile("(?s)```text\n(.*?)\n```").FindAllStringSubmatch(section, -1)
	bodies := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllStringSubmatch(section, -1)
	if len(texts) != 2 || len(bodies) != 2 {
		t.Fatalf("%d messages and %d bodies in %s", len(texts), len(bodies), notificationsPage)
	}
	c := loadCatalogue(t)
	samples := []struct {
		template string
		app      appObject
	}{
		{"gitcanary-deployed", appObject{path: "apps/reviews", health: "Healthy", opPhase: "Succeeded", revision: revStep, annotations: shown("reviews-v2", "Progressing", "1/3", "v1=50,v2=50")}},
		{"gitcanary-finished", appObject{path: "apps/reviews", health: "Healthy", revision: revEnd, annotations: shown("reviews-v2", "Promoted", "3/3", "v2=100")}},
	}
	for i, s := range samples {
		msg, body := c.render(t, s.template, vars(s.app.object(), repo))
		if msg != texts[i][1] {
			t.Errorf("%s: the page shows the message\n%s\nthe template renders\n%s", s.template, texts[i][1], msg)
		}
		var shown map[string]any
		if err := json.Unmarshal([]byte(bodies[i][1]), &shown); err != nil {
			t.Fatalf("%s: the page's body: %v", s.template, err)
		}
		if !reflect.DeepEqual(shown, body) {
			got, _ := json.MarshalIndent(body, "", "  ")
			t.Errorf("%s: the page's body differs from the rendered one:\n%s", s.template, got)
		}
	}
	// The service: one key of the ConfigMap, a webhook service's options.
	yamls := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(doc, -1)
	var service map[string]string
	if err := yaml.Unmarshal([]byte(yamls[0][1]), &service); err != nil {
		t.Fatal(err)
	}
	var opts struct {
		URL     string `json:"url"`
		Headers []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"headers"`
	}
	if err := yaml.UnmarshalStrict([]byte(service["service.webhook."+webhookService]), &opts); err != nil || opts.URL == "" || len(opts.Headers) != 2 {
		t.Errorf("the service example: %v %+v", err, opts)
	}
	// The subscriptions name the catalogue's triggers.
	var app struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	if err := yaml.UnmarshalStrict([]byte(yamls[1][1]), &app); err != nil {
		t.Fatal(err)
	}
	for k := range app.Metadata.Annotations {
		trigger := strings.Split(strings.TrimPrefix(k, "notifications.argoproj.io/subscribe."), ".")[0]
		if _, ok := c.conds[trigger]; !ok {
			t.Errorf("the page subscribes to %s, which the catalogue lacks", trigger)
		}
	}
	for _, name := range append(notificationTriggers, notificationTemplates...) {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("the page does not name %s", name)
		}
	}
}
