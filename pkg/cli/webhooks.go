package cli

import (
	"os"

	"github.com/gitcanary/gitcanary/pkg/config"
	"github.com/gitcanary/gitcanary/pkg/machine"
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
