package config

import (
	"strings"
	"testing"
)

// TestWebhooks: the file's webhooks are checked when it is read (form
// only) and resolved with the environment when wired; errors name the
// entry and never a value.
func TestWebhooks(t *testing.T) {
	f, err := Parse([]byte(`
webhooks:
  - urlPrefix: https://hooks.example/
    headersFromEnv: {Authorization: HOOKS_AUTH}
    secretFromEnv: HOOKS_SECRET
  - name: smoke
    headers: {X-Api-Key: k3y-value}
`), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HOOKS_AUTH": "Bearer abc", "HOOKS_SECRET": "s3cret"}
	auth, err := f.WebhookAuth(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(auth) != 2 || auth[0].Headers["Authorization"] != "Bearer abc" || auth[0].Secret != "s3cret" || auth[1].Headers["X-Api-Key"] != "k3y-value" {
		t.Errorf("resolved %+v", auth)
	}
	if _, err := f.WebhookAuth(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "webhooks[0]: headersFromEnv: Authorization names environment variable HOOKS_AUTH, which is not set") {
		t.Errorf("unset variable: %v", err)
	}
	for doc, want := range map[string]string{
		"webhooks: [{headers: {A: b}}]":                       "config.yaml: invalid webhook configuration: webhooks[0]: set name or urlPrefix",
		"webhooks: [{name: x, header: {A: b}}]":               `unknown field "webhooks[0].header"`,
		"webhooks: [{name: x, headers: {Host: s3cretvalue}}]": "webhooks[0]: headers: Host is set by gitcanary",
		"webhooks: [{urlPrefix: 'https://u:s3cretvalue@h/'}]": "webhooks[0]: urlPrefix carries a password",
	} {
		_, err := Parse([]byte(doc), "config.yaml")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", doc, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cretvalue") {
			t.Errorf("error quotes a value: %v", err)
		}
	}
}
