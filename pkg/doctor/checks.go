package doctor

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"

	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Cluster is the part of the Kubernetes API the checks read.
type Cluster interface {
	// ServerVersion returns the API server's version, e.g. "v1.33.13".
	ServerVersion(ctx context.Context) (string, error)
	// ServedVersions returns, for each kind of an API group, the versions
	// the API server serves, in the server's order of preference. The map
	// is empty when the group is not served at all.
	ServedVersions(ctx context.Context, group string) (map[string][]string, error)
	// MutatingWebhooks lists the webhooks of every MutatingWebhookConfiguration.
	MutatingWebhooks(ctx context.Context) ([]Webhook, error)
	// NamespaceLabels returns a namespace's labels; found is false when it
	// does not exist.
	NamespaceLabels(ctx context.Context, name string) (labels map[string]string, found bool, err error)
}

// Webhook is one webhook of a MutatingWebhookConfiguration.
type Webhook struct {
	Configuration string
	Name          string
}

// AppGetter reads an Argo CD Application; argocd.Client is one.
type AppGetter interface {
	Get(ctx context.Context, name string, refresh bool) (*v1alpha1.Application, error)
}

// Env is what the checks read. A client that could not be made is nil,
// with the error saying why; the checks that need it report that error.
type Env struct {
	Cluster     Cluster
	ClusterErr  error
	ClusterHost string // the API server URL from the kubeconfig

	Argo       AppGetter
	ArgoErr    error
	ArgoServer string

	Renderer Renderer

	App       string           // the Application's name; "" when none was given
	Instance  string           // this gitcanary's name in the grant annotation (default gitcanary)
	Namespace string           // the workload's namespace; "" when none was given
	Release   *release.Release // the release file, when one was given
	Now       func() time.Time // the clock; nil is time.Now
}

// Names of the checks, in order; Needs refers to them.
const (
	CheckKube        = "Kubernetes API"
	CheckInjector    = "Istio sidecar injector"
	CheckNamespace   = "namespace injection"
	CheckArgo        = "Argo CD API"
	CheckApplication = "Argo CD Application"
	CheckRender      = "app path renders"
	CheckSource      = "release source"
	CheckSyncWindows = "Argo CD sync windows"
)

// IstioGroup is the API group of the Istio networking CRDs.
const IstioGroup = "networking.istio.io"

// istioKind is one Istio CRD the checks look for.
type istioKind struct {
	kind     string
	required bool   // a release cannot run without it
	why      string // why it is not required
}

var istioKinds = []istioKind{
	{kind: "VirtualService", required: true},
	{kind: "DestinationRule", required: true},
	{kind: "ServiceEntry", required: true},
	{kind: "WorkloadGroup", why: "only VM workloads need it"},
	{kind: "WorkloadEntry", why: "only VM workloads need it"},
}

// Checks returns the checklist for env, in order.
func Checks(env Env) []Check {
	s := &state{env: env}
	checks := []Check{{Name: CheckKube, Run: s.kube}}
	for _, k := range istioKinds {
		checks = append(checks, Check{Name: "Istio " + k.kind, Needs: []string{CheckKube}, Run: s.istioCheck(k)})
	}
	return append(checks,
		Check{Name: CheckInjector, Needs: []string{CheckKube}, Run: s.injector},
		Check{Name: CheckNamespace, Needs: []string{CheckKube}, Run: s.namespace},
		Check{Name: CheckArgo, Run: s.argo},
		Check{Name: CheckApplication, Needs: []string{CheckArgo}, Run: s.application},
		Check{Name: CheckRender, Needs: []string{CheckApplication}, Run: s.render},
		Check{Name: CheckSource, Needs: []string{CheckApplication}, Run: s.source},
		Check{Name: CheckSyncWindows, Needs: []string{CheckApplication}, Run: s.syncWindows},
	)
}

// state is what checks learn and later checks reuse.
type state struct {
	env Env

	istio        map[string][]string // kind → served versions
	istioErr     error
	istioFetched bool

	app    *v1alpha1.Application
	appErr error
}

const kubeRemedy = "point --kubeconfig (or KUBECONFIG) and --context at the cluster, as for kubectl; `kubectl version` must work with the same flags"

func (s *state) kube(ctx context.Context) Result {
	if s.env.ClusterErr != nil {
		return fail(kubeRemedy, "%v", s.env.ClusterErr)
	}
	v, err := s.env.Cluster.ServerVersion(ctx)
	if err != nil {
		return fail(kubeRemedy, "cannot reach the API server at %s: %v", s.env.ClusterHost, err)
	}
	return ok("%s, Kubernetes %s", s.env.ClusterHost, v)
}

func (s *state) istioCheck(k istioKind) func(context.Context) Result {
	return func(ctx context.Context) Result {
		if !s.istioFetched {
			s.istio, s.istioErr = s.env.Cluster.ServedVersions(ctx, IstioGroup)
			s.istioFetched = true
		}
		if s.istioErr != nil {
			return fail("check that your kubeconfig user may list API resources (`kubectl api-resources --api-group="+IstioGroup+"`)",
				"discover %s: %v", IstioGroup, s.istioErr)
		}
		versions := s.istio[k.kind]
		switch {
		case len(versions) == 0 && k.required:
			return fail("install Istio's CRDs: `istioctl install`, or the istio/base Helm chart",
				"%s %s is not served: a release needs it", IstioGroup, k.kind)
		case len(versions) == 0:
			return warn("nothing to do unless the mesh has VM workloads; then install Istio's CRDs (`istioctl install`, or the istio/base Helm chart)",
				"%s %s is not served: %s", IstioGroup, k.kind, k.why)
		case k.kind == "VirtualService" && !slices.Contains(versions, "v1") && !slices.Contains(versions, "v1beta1"):
			// pkg/kube reads VirtualServices as v1 or v1beta1.
			return fail("upgrade Istio to 1.22 or later (networking.istio.io/v1)",
				"%s %s is served only as %s; gitcanary reads v1 or v1beta1", IstioGroup, k.kind, strings.Join(versions, ", "))
		}
		return ok("%s %s", IstioGroup, strings.Join(versions, ", "))
	}
}

// injectorSuffix ends the name of every webhook of Istio's sidecar
// injector: sidecar-injector.istio.io, namespace.sidecar-injector.istio.io,
// rev.object.sidecar-injector.istio.io, …
const injectorSuffix = "sidecar-injector.istio.io"

func (s *state) injector(ctx context.Context) Result {
	hooks, err := s.env.Cluster.MutatingWebhooks(ctx)
	if err != nil {
		return fail("check that your kubeconfig user may list mutatingwebhookconfigurations (`kubectl get mutatingwebhookconfigurations`)",
			"list MutatingWebhookConfigurations: %v", err)
	}
	var configs []string
	for _, h := range hooks {
		if strings.HasSuffix(h.Name, injectorSuffix) && !slices.Contains(configs, h.Configuration) {
			configs = append(configs, h.Configuration)
		}
	}
	if len(configs) == 0 {
		return fail("install istiod: `istioctl install`, or the istiod Helm chart (`helm install istiod istio/istiod -n istio-system`)",
			"no MutatingWebhookConfiguration has a webhook named *%s: istiod is not installed, so no pod gets an Envoy sidecar", injectorSuffix)
	}
	return ok("MutatingWebhookConfiguration %s", strings.Join(configs, ", "))
}

// Namespace labels that decide sidecar injection.
const (
	labelInjection = "istio-injection"
	labelRevision  = "istio.io/rev"
)

func (s *state) namespace(ctx context.Context) Result {
	ns := s.env.Namespace
	if ns == "" {
		return skip("no namespace given: pass --namespace NAME or -f RELEASE")
	}
	labels, found, err := s.env.Cluster.NamespaceLabels(ctx, ns)
	if err != nil {
		return fail("check that your kubeconfig user may get namespaces (`kubectl get namespace "+ns+"`)", "get namespace %s: %v", ns, err)
	}
	if !found {
		return warn(fmt.Sprintf("create it with `kubectl create namespace %s`, or correct spec.workload.namespace / --namespace", ns),
			"namespace %s does not exist: the stable workload cannot be running", ns)
	}
	inj, hasInj := labels[labelInjection]
	rev, hasRev := labels[labelRevision]
	switch {
	case inj == "enabled":
		return ok("namespace %s injects sidecars (%s=enabled)", ns, labelInjection)
	case inj == "disabled":
		return fail(fmt.Sprintf("remove the label: `kubectl label namespace %s %s-` (or set it to enabled)", ns, labelInjection),
			"namespace %s has %s=disabled: no pod there gets a sidecar, and the per-pod %s label and annotation gitcanary sets cannot override it",
			ns, labelInjection, overlay.InjectAnnotation)
	case hasInj:
		return fail(fmt.Sprintf("`kubectl label namespace %s %s=enabled --overwrite`", ns, labelInjection),
			"namespace %s has %s=%s: Istio injects only with enabled, and no pod there gets a sidecar", ns, labelInjection, inj)
	case hasRev:
		return ok("namespace %s injects sidecars of revision %s (%s=%s)", ns, rev, labelRevision, rev)
	}
	// Istio's webhook selects pods of an unlabelled namespace by the pod
	// label, which gitcanary adds to the versions it creates (pkg/overlay).
	return ok("namespace %s has no %s or %s label: the versions gitcanary creates get the pod label %s=true, which Istio injects",
		ns, labelInjection, labelRevision, overlay.InjectAnnotation)
}
