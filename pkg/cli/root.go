// Package cli is gitcanary's command line: flags, wiring and output. The
// decisions live in pkg/machine; this package only calls them.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitcanary/gitcanary/pkg/analysis"
	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/config"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/machine"
	"github.com/gitcanary/gitcanary/pkg/prom"
	"github.com/gitcanary/gitcanary/pkg/redact"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Exit codes, as documented in docs/cli.md.
const (
	ExitOK        = 0 // the awaited state was reached
	ExitError     = 1 // anything else went wrong
	ExitInvalid   = 2 // invalid input: a bad spec, flag or command for the phase
	ExitAbandoned = 3 // the release was abandoned (or its analysis failed)
	ExitTimeout   = 4 // --timeout passed before the awaited state
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exit(code int, err error) error { return &exitError{code: code, err: err} }

// codeOf maps an error to its exit code.
func codeOf(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, release.ErrInvalid), errors.Is(err, machine.ErrRefused), errors.Is(err, argocd.ErrNotAuthorized), errors.Is(err, argocd.ErrMismatch),
		errors.Is(err, argocd.ErrNotFound), errors.Is(err, machine.ErrExists), errors.Is(err, machine.ErrNotFound), errors.Is(err, machine.ErrBadFile),
		errors.Is(err, kustomize.ErrBuild), errors.Is(err, redact.ErrCredentials):
		return ExitInvalid
	case errors.Is(err, context.DeadlineExceeded):
		return ExitTimeout
	}
	return ExitError
}

// Main runs the command line and returns the process exit code. What it
// writes passes through redact.Writer: no URL is printed with credentials.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	stdout, stderr = redact.Writer(stdout), redact.Writer(stderr)
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	usageErrors(root)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "gitcanary:", userMessage(err))
	}
	return codeOf(err)
}

// markers are the texts of the errors that only classify another one (for
// exit codes and conditions): a message ending in ": refused" says nothing
// the words before it did not.
var markers = []error{release.ErrInvalid, machine.ErrNoRouting, machine.ErrRefused, machine.ErrNotFound, machine.ErrExists, machine.ErrBadFile}

// userMessage is an error's text without trailing classification markers.
func userMessage(err error) string {
	msg := err.Error()
	for trimmed := true; trimmed; {
		trimmed = false
		for _, m := range markers {
			if rest, ok := strings.CutSuffix(msg, ": "+m.Error()); ok {
				msg, trimmed = rest, true
			}
		}
	}
	return msg
}

// usageErrors makes a wrong flag or argument count, on any command, an
// invalid-input error (exit code 2) that names the command.
func usageErrors(root *cobra.Command) {
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return exit(ExitInvalid, fmt.Errorf("%s: %w (see %s --help)", c.CommandPath(), err, c.CommandPath()))
	})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if check := c.Args; check != nil {
			c.Args = func(c *cobra.Command, args []string) error {
				if err := check(c, args); err != nil {
					return exit(ExitInvalid, fmt.Errorf("%s: %w (usage: %s)", c.CommandPath(), err, c.UseLine()))
				}
				return nil
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// globals are the flags every command shares.
type globals struct {
	stdout, stderr io.Writer

	cacheDir   string
	argo       argocd.Options
	kubeconfig string
	kubeCtx    string
	logLevel   string
	gitUser    string
	gitPass    string
	configFile string
	locale     string
	instance   string
	prometheus string
	// looks caches analysis looks for the process (analysis.Cache).
	looks analysis.Cache
	// hooks calls webhooks for the process (webhooks.go).
	hooks *machine.Hooks
	// argoEnvErr is a problem in ARGOCD_* variables, reported when Argo CD is needed.
	argoEnvErr error
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "gitcanary",
		Short: "Canary releases on Istio through git and Argo CD",
		Long: `gitcanary moves traffic from a stable version of a service to a new one in
steps. Every step is a git commit in the app's GitOps repository that Argo CD
applies, so git always equals the cluster and git log is the audit trail.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	env, envErr := argocd.OptionsFromEnv()
	g.argo, g.argoEnvErr = env, envErr
	f := root.PersistentFlags()
	f.StringVar(&g.cacheDir, "cache-dir", defaultCache(), "where cached clones of app repositories live")
	f.StringVar(&g.argo.Server, "server", env.Server, "Argo CD server host:port (env ARGOCD_SERVER)")
	f.StringVar(&g.argo.AuthToken, "auth-token", env.AuthToken, "Argo CD API token (env ARGOCD_AUTH_TOKEN)")
	f.BoolVar(&g.argo.PlainText, "plaintext", env.PlainText, "talk to Argo CD without TLS")
	f.BoolVar(&g.argo.Insecure, "insecure", env.Insecure, "do not verify Argo CD's TLS certificate")
	f.BoolVar(&g.argo.GRPCWeb, "grpc-web", env.GRPCWeb, "use gRPC-web (for proxies without HTTP/2)")
	f.StringVar(&g.kubeconfig, "kubeconfig", "", "kubeconfig file (default: KUBECONFIG, then ~/.kube/config)")
	f.StringVar(&g.kubeCtx, "context", "", "kubeconfig context")
	f.StringVar(&g.logLevel, "log-level", "warn", "debug, info, warn or error (logs go to stderr)")
	f.StringVar(&g.gitUser, "git-username", os.Getenv("GITCANARY_GIT_USERNAME"), "username for http(s) git (env GITCANARY_GIT_USERNAME)")
	g.gitPass = os.Getenv("GITCANARY_GIT_PASSWORD")
	f.StringVar(&g.configFile, "config", os.Getenv(config.Env), "gitcanary config file with custom workload kinds (env "+config.Env+"; default "+displayHome(config.DefaultPath())+" when it exists)")
	g.locale = kube.Locale(os.Getenv)
	f.StringVar(&g.instance, "instance", envOr("GITCANARY_INSTANCE", argocd.DefaultInstance), "this gitcanary's name in Applications' "+argocd.GrantAnnotation+" annotation (env GITCANARY_INSTANCE)")
	f.StringVar(&g.prometheus, "prometheus", os.Getenv("GITCANARY_PROMETHEUS_URL"), "Prometheus URL for analysis steps whose release has no spec.analysis.prometheus.address (env GITCANARY_PROMETHEUS_URL)")
	root.AddCommand(newLint(g), newPlan(g), newStart(g), newStatus(g), newSetWeight(g), newApprove(g),
		newPromote(g), newAbort(g), newHistory(g), newRun(g), newDoctor(g), newAnalysis(g))
	return root
}

// metricsSource opens the Prometheus an analysis reads. Its settle time is
// the run's lag: the machine reads a look only once it has passed.
func metricsSource(run *release.AnalysisRun) (analysis.Source, error) {
	return prom.New(prom.Options{URL: run.Prometheus, Settle: run.Lag.Duration})
}

// checkServer refuses an Argo CD server address with user info in it: the
// address is printed, and Argo CD's credential is a token of its own.
func checkServer(server string) error {
	if strings.Contains(server, "@") {
		return exit(ExitInvalid, fmt.Errorf("--server (ARGOCD_SERVER) carries user info (user@ or user:password@); it is host:port only: give Argo CD's token in ARGOCD_AUTH_TOKEN (or --auth-token)"))
	}
	return nil
}

func defaultCache() string {
	if d := os.Getenv("GITCANARY_CACHE"); d != "" {
		return filepath.Join(d, "repos")
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "gitcanary", "repos")
}

func (g *globals) logger() *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		lvl = slog.LevelWarn
	}
	return slog.New(redact.Handler(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: lvl})))
}

// target says which release in which repository a command acts on.
type target struct {
	name   string
	repo   release.Repo
	argoCD string
}

func (g *globals) openRepo(ctx context.Context, r release.Repo) (git.Repo, error) {
	return git.Open(ctx, g.gitOptions(r))
}

func (g *globals) gitOptions(r release.Repo) git.Options {
	return git.Options{
		URL: r.URL, Branch: r.BranchOrDefault(), CacheDir: g.cacheDir,
		Username: g.gitUser, Password: g.gitPass,
	}
}

// deps wires a machine. With needCluster, Argo CD and the cluster are
// connected too; the returned func closes the connections.
func (g *globals) deps(ctx context.Context, r release.Repo, needCluster bool) (machine.Deps, func(), error) {
	repo, err := g.openRepo(ctx, r)
	if err != nil {
		return machine.Deps{}, nil, err
	}
	kinds, err := g.kinds()
	if err != nil {
		return machine.Deps{}, nil, err
	}
	hooks, err := g.webhooks()
	if err != nil {
		return machine.Deps{}, nil, err
	}
	settings, err := g.analysisSettings()
	if err != nil {
		return machine.Deps{}, nil, err
	}
	d := machine.Deps{Repo: repo, Builder: &kustomize.Krusty{}, Kinds: kinds, Log: g.logger(), Clock: time.Now,
		Metrics: metricsSource, Analysis: settings, Looks: &g.looks, Hooks: hooks}
	if !needCluster {
		return d, func() {}, nil
	}
	if g.argoEnvErr != nil {
		return d, nil, exit(ExitInvalid, g.argoEnvErr)
	}
	if g.argo.Server == "" {
		return d, nil, exit(ExitInvalid, fmt.Errorf("no Argo CD server: set --server or ARGOCD_SERVER (or use --wait-for=none to only commit)"))
	}
	if err := checkServer(g.argo.Server); err != nil {
		return d, nil, err
	}
	// A server that takes connections but never answers must not use up
	// --timeout in one attempt: the connection is retried instead.
	cctx, cancel := context.WithTimeout(ctx, argoConnectTimeout)
	client, closer, err := argocd.New(cctx, g.argo)
	cancel()
	if err != nil {
		return d, nil, err
	}
	cluster, err := g.clusterWith(d.Kinds)
	if err != nil {
		closer.Close()
		return d, nil, err
	}
	d.Argo, d.Cluster = argocd.Granted(client, g.instance), cluster
	return d, func() { closer.Close() }, nil
}

// cluster connects to the cluster of the kubeconfig.
func (g *globals) cluster() (kube.Cluster, error) {
	kinds, err := g.kinds()
	if err != nil {
		return nil, err
	}
	return g.clusterWith(kinds)
}

func (g *globals) clusterWith(kinds *kube.Kinds) (kube.Cluster, error) {
	cfg, err := kube.Config(g.kubeconfig, g.kubeCtx)
	if err != nil {
		return nil, err
	}
	return kube.NewCluster(cfg, kinds)
}

// kinds loads the workload kinds: the built-ins and the config file's.
func (g *globals) kinds() (*kube.Kinds, error) {
	f, err := g.config()
	if err != nil {
		return nil, err
	}
	kinds, err := f.Kinds()
	if err != nil {
		return nil, exit(ExitInvalid, err)
	}
	return kinds, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// displayHome shows a path under the home directory as ~/… in help text.
func displayHome(p string) string {
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		if rest, ok := strings.CutPrefix(p, home+string(filepath.Separator)); ok {
			return "~/" + rest
		}
	}
	return p
}

// readRelease reads and validates a Release file.
func (g *globals) readRelease(file string) (*release.Release, error) {
	if file == "" {
		return nil, exit(ExitInvalid, fmt.Errorf("no release file: pass -f FILE"))
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, exit(ExitInvalid, err)
	}
	r, err := release.Parse(data)
	if err != nil {
		var inv *release.InvalidError
		if errors.As(err, &inv) {
			inv.Source = file
		}
		return nil, err
	}
	kinds, err := g.kinds()
	if err != nil {
		return nil, err
	}
	if err := release.Validate(r, release.ValidateOptions{KnownKind: kinds.Known}); err != nil {
		var inv *release.InvalidError
		if errors.As(err, &inv) {
			inv.Source = file
		}
		return nil, err
	}
	return r, nil
}
