package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/controller"
	"github.com/gitcanary/gitcanary/pkg/git"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/kustomize"
	"github.com/gitcanary/gitcanary/pkg/redact"
	"github.com/gitcanary/gitcanary/pkg/release"
)

func newRun(g *globals) *cobra.Command {
	var o controller.Options
	var repos []string
	var branch, dir string
	var readAge time.Duration
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the controller: drive Release resources and releases/ files in git by themselves",
		Long: `run is gitcanary as a long-running controller. It drives Release custom
resources (--resources) and the Release files under --releases-dir of every
--releases-repo: a new one starts a release, an edit of spec.control
(approvals, weight, promote, abort) drives it, and deleting one stops driving
it. With leader election (the default) only one instance drives; the others
wait. Metrics and health probes are served on their own addresses.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !o.Resources && len(repos) == 0 {
				return exit(ExitInvalid, fmt.Errorf("nothing to drive: keep --resources or name a --releases-repo"))
			}
			if g.argoEnvErr != nil {
				return exit(ExitInvalid, g.argoEnvErr)
			}
			if g.argo.Server == "" {
				return exit(ExitInvalid, fmt.Errorf("no Argo CD server: set --server or ARGOCD_SERVER"))
			}
			if err := checkServer(g.argo.Server); err != nil {
				return err
			}
			for _, url := range repos {
				if err := redact.CheckURL("--releases-repo", url); err != nil {
					return exit(ExitInvalid, err)
				}
			}
			kinds, err := g.kinds()
			if err != nil {
				return err
			}
			cfg, err := kube.Config(g.kubeconfig, g.kubeCtx)
			if err != nil {
				return err
			}
			cluster, err := kube.NewCluster(cfg, kinds)
			if err != nil {
				return err
			}
			client, closer, err := argocd.New(cmd.Context(), g.argo)
			if err != nil {
				return err
			}
			defer closer.Close()
			for _, url := range repos {
				o.GitRepos = append(o.GitRepos, release.Repo{URL: url, Branch: branch, Path: dir})
			}
			o.Config, o.Kinds, o.Log = cfg, kinds, g.logger()
			o.Driver.OpenRepo = func(ctx context.Context, r release.Repo) (git.Repo, error) {
				opts := g.gitOptions(r)
				opts.ReadAge = readAge
				return git.Open(ctx, opts)
			}
			// The driver checks each release's grants: the instance's, and
			// a Release resource's namespace's (docs/security.md).
			o.Driver.Argo, o.Driver.Instance, o.Driver.Cluster, o.Driver.Kinds = client, g.instance, cluster, kinds
			o.Driver.DefaultBranch = func(ctx context.Context, r release.Repo) (string, error) {
				return git.DefaultBranch(ctx, g.gitOptions(r))
			}
			o.Driver.Builder, o.Driver.Clock, o.Driver.Log = &kustomize.Krusty{}, time.Now, o.Log
			settings, err := g.analysisSettings()
			if err != nil {
				return err
			}
			o.Driver.MetricsSource, o.Driver.Analysis = metricsSource, settings
			if o.Driver.Hooks, err = g.webhooks(); err != nil {
				return err
			}
			if o.LeaderElectionID == "" {
				o.LeaderElectionID = "gitcanary-" + g.instance
			}
			return controller.Run(cmd.Context(), o)
		},
	}
	o.Driver = &controller.Driver{}
	f := cmd.Flags()
	f.BoolVar(&o.Resources, "resources", true, "drive Release custom resources (the CRD must be installed)")
	f.StringVar(&o.Namespace, "namespace", "", "only Release resources in this namespace (default: all)")
	f.StringArrayVar(&repos, "releases-repo", nil, "a git repository whose Release files to drive, without credentials (repeatable)")
	f.StringVar(&branch, "releases-branch", "main", "branch of the --releases-repo repositories")
	f.StringVar(&dir, "releases-dir", controller.DefaultReleasesDir, "directory of Release files in the --releases-repo repositories")
	f.DurationVar(&o.GitInterval, "releases-interval", 5*time.Second, "how often the --releases-repo repositories are fetched")
	f.DurationVar(&o.Driver.Poll, "poll", 5*time.Second, "how soon a waiting release is looked at again")
	f.DurationVar(&o.Driver.ApprovalPoll, "approval-poll", 30*time.Second, "how soon a release paused until approved is looked at again (edits of its resource or file act at once)")
	f.IntVar(&o.Workers, "workers", 4, "releases reconciled at once")
	f.DurationVar(&readAge, "git-read-age", 2*time.Second, "a release's check reads its repository as last fetched or pushed when that is at most this old, instead of fetching again (0: fetch every time; commits always fetch)")
	f.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint (0 disables it)")
	f.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz (0 disables them)")
	f.BoolVar(&o.LeaderElect, "leader-elect", true, "elect a leader among instances; only it drives releases")
	f.StringVar(&o.LeaderElectionID, "leader-election-id", "", "name of the leader-election Lease (default gitcanary-<instance>)")
	f.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", envOr("POD_NAMESPACE", "gitcanary-system"), "namespace of the leader-election Lease (env POD_NAMESPACE)")
	f.DurationVar(&o.LeaseDuration, "leader-election-lease-duration", 15*time.Second, "how long a leader's lease lasts without renewal")
	f.DurationVar(&o.RenewDeadline, "leader-election-renew-deadline", 10*time.Second, "how long the leader tries to renew before it steps down")
	f.DurationVar(&o.RetryPeriod, "leader-election-retry-period", 2*time.Second, "how often candidates try to take the lease")
	return cmd
}
