package argocd

import (
	"bytes"
	"os"
	"testing"
)

// The notifications catalogue: argocd-notifications-cm.yaml is generated
// from the files under notifications/ (go generate ./deploy/argocd).
const (
	notificationsSnippet = "argocd-notifications-cm.yaml"
	notificationsDir     = "notifications/"
	// webhookService is the webhook service the templates' bodies are
	// for: a service.webhook.gitcanary in argocd-notifications-cm.
	webhookService = "gitcanary"
)

// notificationTemplates are the catalogue's templates; each is its facts
// file followed by its message or body file, since every template text is
// parsed on its own and cannot share variables.
var notificationTemplates = []string{"gitcanary-deployed", "gitcanary-finished"}

// notificationTriggers are the catalogue's triggers, one file each.
var notificationTriggers = []string{"on-gitcanary-deployed", "on-gitcanary-finished"}

// templateFiles returns the message and body texts of a template.
func templateFiles(t *testing.T, name string) (message, body string) {
	t.Helper()
	base := notificationsDir + trimGitcanary(name)
	facts := readFile(t, base+".facts.tmpl")
	return facts + readFile(t, base+".message.tmpl"), facts + readFile(t, base+".body.tmpl")
}

func trimGitcanary(name string) string { return name[len("gitcanary-"):] }

// renderNotifications builds argocd-notifications-cm.yaml.
func renderNotifications(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(`# Argo CD Notifications catalogue for gitcanary releases (docs/notifications.md).
# Generated from notifications/ by ` + "`go generate ./deploy/argocd`" + `; do not edit.
# Merge it into argocd-notifications-cm, add a service and subscribe Applications:
#   notifications.argoproj.io/subscribe.on-gitcanary-deployed.<service>: <recipient>
#   notifications.argoproj.io/subscribe.on-gitcanary-finished.<service>: <recipient>
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-notifications-cm
  labels:
    app.kubernetes.io/name: argocd-notifications-cm
    app.kubernetes.io/part-of: argocd
data:
`)
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range notificationTriggers {
		b.WriteString("  trigger." + name + ": |\n")
		check(block(&b, 4, name, readFile(t, notificationsDir+"trigger."+name+".yaml")))
	}
	for _, name := range notificationTemplates {
		message, body := templateFiles(t, name)
		b.WriteString("  template." + name + ": |\n    message: |\n")
		check(block(&b, 6, name+" message", message))
		b.WriteString("    webhook:\n      " + webhookService + ":\n        method: POST\n        body: |\n")
		check(block(&b, 10, name+" body", body))
	}
	return b.Bytes()
}

// TestNotificationsSnippetIsGenerated keeps argocd-notifications-cm.yaml
// equal to what notifications/ renders to; -update rewrites it.
func TestNotificationsSnippetIsGenerated(t *testing.T) {
	got := renderNotifications(t)
	if *update {
		if err := os.WriteFile(notificationsSnippet, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := readFile(t, notificationsSnippet); want != string(got) {
		t.Errorf("%s differs from notifications/; run `go generate ./deploy/argocd`", notificationsSnippet)
	}
}
