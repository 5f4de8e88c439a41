package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/doctor"
	"github.com/gitcanary/gitcanary/pkg/kube"
)

// argoConnectTimeout bounds connecting to Argo CD: the apiclient has no
// deadline of its own, and doctor must report an unreachable server.
const argoConnectTimeout = 15 * time.Second

func newDoctor(g *globals) *cobra.Command {
	var file, app, namespace string
	cmd := &cobra.Command{
		Use:   "doctor [-f FILE] [--app NAME] [--namespace NAMESPACE]",
		Short: "Check that the cluster, Argo CD and the app repository have what a release needs",
		Long: `doctor prints a checklist: the Kubernetes API, the Istio CRDs, the sidecar
injector and the namespace's injection labels, Argo CD and the Application,
and whether the Application's source path renders. Every warning and failure
comes with the remedy. A release file (-f) names the Application and the
namespace; --app and --namespace name them, or override the file's.
Exit code 0 when nothing fails (warnings allowed), 1 when a check fails.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return exit(ExitInvalid, fmt.Errorf("doctor takes no arguments (got %q): name the Application with --app NAME or -f RELEASE", args[0]))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			env := doctor.Env{App: app, Namespace: namespace, Instance: g.instance}
			if file != "" {
				r, err := g.readRelease(file)
				if err != nil {
					return err
				}
				env.Release = r
				if env.App == "" {
					env.App = r.Spec.ArgoCD.Application
				}
				if env.Namespace == "" {
					env.Namespace = r.Spec.Workload.Namespace
				}
			}
			ctx := cmd.Context()
			closeArgo := g.doctorClients(ctx, &env)
			defer closeArgo()
			if doctor.Run(ctx, g.stdout, doctor.Checks(env)) {
				return exit(ExitError, errors.New("doctor: a check failed; its remedy is printed under it"))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "a Release file: names the Application, the namespace and the repository to compare")
	cmd.Flags().StringVar(&app, "app", "", "the Argo CD Application (default: the file's spec.argocd.application)")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "the workload's namespace (default: the file's spec.workload.namespace)")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return exit(ExitInvalid, err) })
	return cmd
}

// doctorClients fills env with the clients the checks use. A client that
// cannot be made is left nil with its error, for its check to report; the
// returned func closes the Argo CD connection.
func (g *globals) doctorClients(ctx context.Context, env *doctor.Env) func() {
	env.Renderer = &doctor.GitRenderer{CacheDir: g.cacheDir, Username: g.gitUser, Password: g.gitPass}
	if cfg, err := kube.Config(g.kubeconfig, g.kubeCtx); err != nil {
		env.ClusterErr = err
	} else {
		env.ClusterHost = cfg.Host
		env.Cluster, env.ClusterErr = doctor.NewCluster(cfg)
	}
	env.ArgoServer = g.argo.Server
	switch {
	case g.argoEnvErr != nil:
		env.ArgoErr = g.argoEnvErr
	case g.argo.Server != "":
		cctx, cancel := context.WithTimeout(ctx, argoConnectTimeout)
		defer cancel()
		client, closer, err := argocd.New(cctx, g.argo)
		if err != nil {
			env.ArgoErr = err
			return func() {}
		}
		env.Argo = client
		return func() { closer.Close() }
	}
	return func() {}
}
