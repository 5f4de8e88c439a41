package cli

import (
	"github.com/gitcanary/gitcanary/pkg/analysis"
	"github.com/gitcanary/gitcanary/pkg/config"
)

// config loads gitcanary's configuration file (--config, GITCANARY_CONFIG,
// or the default path when it exists).
func (g *globals) config() (*config.File, error) {
	path, explicit := g.configFile, g.configFile != ""
	if !explicit {
		path = config.DefaultPath()
	}
	f, err := config.Load(path, explicit)
	if err != nil {
		return nil, exit(ExitInvalid, err)
	}
	return f, nil
}

// analysisSettings are what analyses take from outside the spec: the
// Prometheus of --prometheus, and web metrics' headers from the
// configuration (never from git).
func (g *globals) analysisSettings() (analysis.Settings, error) {
	f, err := g.config()
	if err != nil {
		return analysis.Settings{}, err
	}
	return analysis.Settings{Prometheus: g.prometheus, Headers: f, Web: &analysis.WebClient{Headers: f}}, nil
}
