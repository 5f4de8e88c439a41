package argocd

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/kballard/go-shellquote"
)

// Environment variables read by OptionsFromEnv, the same as the argocd CLI's.
const (
	EnvServer    = "ARGOCD_SERVER"
	EnvAuthToken = "ARGOCD_AUTH_TOKEN"
	EnvOpts      = "ARGOCD_OPTS"
)

// Options say how to reach the Argo CD API server. The zero value of each
// flag is the argocd CLI's default (TLS, verified, plain gRPC).
type Options struct {
	Server    string // host:port of argocd-server (--server)
	AuthToken string // bearer token (--auth-token); never logged
	PlainText bool   // no TLS (--plaintext), e.g. argocd-server --insecure
	Insecure  bool   // TLS without verifying the certificate (--insecure)
	GRPCWeb   bool   // gRPC-web over HTTP/1.1, for proxies without HTTP/2 (--grpc-web)
}

// String describes the options with the token redacted.
func (o Options) String() string {
	token := "<none>"
	if o.AuthToken != "" {
		token = "<redacted>"
	}
	return fmt.Sprintf("server=%s plaintext=%t insecure=%t grpc-web=%t auth-token=%s",
		o.Server, o.PlainText, o.Insecure, o.GRPCWeb, token)
}

// LogValue makes slog print the options without the token.
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("server", o.Server),
		slog.Bool("plaintext", o.PlainText),
		slog.Bool("insecure", o.Insecure),
		slog.Bool("grpc_web", o.GRPCWeb),
		slog.Bool("auth_token_set", o.AuthToken != ""),
	)
}

// OptionsFromEnv reads the connection settings the way the argocd CLI does
// when no flags are given: ARGOCD_OPTS may carry --server, --auth-token,
// --plaintext, --insecure and --grpc-web (flags there win over
// ARGOCD_SERVER and ARGOCD_AUTH_TOKEN); other flags in it are ignored.
// Unlike the CLI, the login config file (~/.config/argocd/config) is not read.
func OptionsFromEnv() (Options, error) {
	return optionsFromEnv(os.Getenv)
}

func optionsFromEnv(getenv func(string) string) (Options, error) {
	flags, err := parseArgoCDOpts(getenv(EnvOpts))
	if err != nil {
		return Options{}, err
	}
	o := Options{
		Server:    getenv(EnvServer),
		AuthToken: strings.TrimSpace(getenv(EnvAuthToken)),
		PlainText: flags["plaintext"] == "true",
		Insecure:  flags["insecure"] == "true",
		GRPCWeb:   flags["grpc-web"] == "true",
	}
	if v, ok := flags["server"]; ok {
		o.Server = v
	}
	if v, ok := flags["auth-token"]; ok {
		o.AuthToken = strings.TrimSpace(v)
	}
	return o, nil
}

// parseArgoCDOpts mirrors argo-cd's util/config.LoadFlags: shell-split, each
// "--name" takes the next word as its value unless another flag follows
// (then it is "true"), and "--name=value" is accepted. The CLI exits on a
// malformed ARGOCD_OPTS; this returns an error instead.
func parseArgoCDOpts(s string) (map[string]string, error) {
	words, err := shellquote.Split(s)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", EnvOpts, err)
	}
	flags := map[string]string{}
	key := ""
	for _, w := range words {
		switch {
		case strings.HasPrefix(w, "--"):
			if key != "" {
				flags[key] = "true"
			}
			key = strings.TrimPrefix(w, "--")
		case key != "":
			flags[key] = w
			key = ""
		default:
			// Values are not echoed: this one might be a token.
			return nil, fmt.Errorf("parse %s: a value without a flag (flags must start with --)", EnvOpts)
		}
	}
	if key != "" {
		flags[key] = "true"
	}
	for k, v := range flags {
		if name, value, ok := strings.Cut(k, "="); ok && v == "true" {
			if _, set := flags[name]; !set {
				flags[name] = value
			}
			delete(flags, k)
		}
	}
	return flags, nil
}
