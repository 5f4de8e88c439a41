package cli

import (
	"fmt"
	"os"

	"github.com/gitcanary/gitcanary/pkg/config"
	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/redact"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/pkg/webhook"
)

// webhooks returns the process's webhook caller, with the headers and
// secrets of the config file's webhooks (their FromEnv values read from
// the environment). A problem there is invalid input, exit code 2.
func (g *globals) webhooks() (*machine.Hooks, error) {
	if g.hooks != nil {
		return g.hooks, nil
	}
	path, explicit := g.configFile, g.configFile != ""
	if !explicit {
		path = config.DefaultPath()
	}
	f, err := config.Load(path, explicit)
	if err != nil {
		return nil, exit(ExitInvalid, err)
	}
	auth, err := f.WebhookAuth(os.Getenv)
	if err != nil {
		return nil, exit(ExitInvalid, err)
	}
	g.hooks = machine.NewHooks(&webhook.Client{Auth: auth})
	return g.hooks, nil
}

// chatURLWarnings says, for lint, which of the release's webhooks call a
// chat's incoming-webhook URL, a URL that is its own secret
// (docs/webhooks.md#format-slack), naming the field and service only.
func chatURLWarnings(r *release.Release) []string {
	var out []string
	for i, w := range r.Spec.Webhooks {
		if svc := redact.Capability(w.URL); svc != "" {
			out = append(out, fmt.Sprintf("spec.webhooks[%d].url is a %s incoming-webhook URL, which is its own secret: whoever can read the repository can post to that channel; point the webhook at a relay that holds it (docs/webhooks.md#format-slack)", i, svc))
		}
	}
	return out
}
