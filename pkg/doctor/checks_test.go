package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/gitcanary/gitcanary/pkg/argocd"
	"strings"
	"testing"

	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitcanary/gitcanary/pkg/argocd/argocdtest"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

// fakeCluster is a Cluster answering from fields.
type fakeCluster struct {
	version    string
	versionErr error
	served     map[string][]string
	hooks      []Webhook
	namespaces map[string]map[string]string
}

var _ Cluster = (*fakeCluster)(nil)

func (f *fakeCluster) ServerVersion(context.Context) (string, error) { return f.version, f.versionErr }

func (f *fakeCluster) ServedVersions(_ context.Context, group string) (map[string][]string, error) {
	if group != IstioGroup {
		return nil, nil
	}
	return f.served, nil
}

func (f *fakeCluster) MutatingWebhooks(context.Context) ([]Webhook, error) { return f.hooks, nil }

func (f *fakeCluster) NamespaceLabels(_ context.Context, name string) (map[string]string, bool, error) {
	labels, ok := f.namespaces[name]
	return labels, ok, nil
}

// fakeRenderer records what it was asked to render.
type fakeRenderer struct {
	out Rendered
	err error
	got []Source
}

func (f *fakeRenderer) Render(_ context.Context, src Source) (Rendered, error) {
	f.got = append(f.got, src)
	return f.out, f.err
}

// world is a cluster with Istio and istiod, Argo CD deploying the app, and
// the app rendering; each situation changes it.
type world struct {
	cluster  *fakeCluster
	argo     *argocdtest.Fake
	renderer *fakeRenderer
	env      Env
}

func newWorld(t *testing.T) *world {
	all := []string{"v1", "v1beta1", "v1alpha3"}
	w := &world{
		cluster: &fakeCluster{
			version: "v1.33.13",
			served:  map[string][]string{"VirtualService": all, "DestinationRule": all, "ServiceEntry": all, "WorkloadGroup": all, "WorkloadEntry": all},
			hooks: []Webhook{
				{Configuration: "istio-sidecar-injector", Name: "namespace.sidecar-injector.istio.io"},
				{Configuration: "istio-sidecar-injector", Name: "object.sidecar-injector.istio.io"},
				{Configuration: "other", Name: "defaulter.example.com"},
			},
			namespaces: map[string]map[string]string{"bookinfo": {"istio-injection": "enabled"}},
		},
		argo:     argocdtest.New(),
		renderer: &fakeRenderer{out: Rendered{Commit: "0123abcd4567ef", Objects: 5}},
	}
	w.argo.SetApp(application("reviews", "https://git.example/apps.git", "apps/reviews", "main"))
	doc, err := templates.Release(templates.ReleaseParams{RepoURL: "https://git.example/apps.git"})
	if err != nil {
		t.Fatal(err)
	}
	rel, err := release.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	w.env = Env{
		Cluster: w.cluster, ClusterHost: "https://10.0.0.1:6443",
		Argo: w.argo, ArgoServer: "argocd.example:443",
		Renderer: w.renderer,
		App:      rel.Spec.ArgoCD.Application, Namespace: rel.Spec.Workload.Namespace, Release: rel,
	}
	return w
}

func application(name, repo, path, revision string) *v1alpha1.Application {
	return &v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "argocd", Annotations: map[string]string{argocd.GrantAnnotation: "gitcanary"}},
		Spec:       v1alpha1.ApplicationSpec{Source: &v1alpha1.ApplicationSource{RepoURL: repo, Path: path, TargetRevision: revision}},
	}
}

// golden turns ‵ into a backquote, which a raw string cannot hold.
func golden(s string) string { return strings.ReplaceAll(s, "‵", "`") }

const healthyKube = `[ok]   Kubernetes API          https://10.0.0.1:6443, Kubernetes v1.33.13
[ok]   Istio VirtualService    networking.istio.io v1, v1beta1, v1alpha3
[ok]   Istio DestinationRule   networking.istio.io v1, v1beta1, v1alpha3
[ok]   Istio ServiceEntry      networking.istio.io v1, v1beta1, v1alpha3
[ok]   Istio WorkloadGroup     networking.istio.io v1, v1beta1, v1alpha3
[ok]   Istio WorkloadEntry     networking.istio.io v1, v1beta1, v1alpha3
[ok]   Istio sidecar injector  MutatingWebhookConfiguration istio-sidecar-injector
[ok]   namespace injection     namespace bookinfo injects sidecars (istio-injection=enabled)
`

const healthyArgo = `[ok]   Argo CD API             argocd.example:443 answers
[ok]   Argo CD Application     reviews deploys https://git.example/apps.git path apps/reviews at main, manual sync, granted to gitcanary
[ok]   app path renders        apps/reviews at main (0123abcd): 5 objects
[ok]   release source          release reviews-v2 commits to what Application reviews deploys
[ok]   Argo CD sync windows    no sync window applies to reviews
`

func TestChecklist(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(w *world)
		want   string
		failed bool
	}{
		{name: "healthy", change: func(*world) {}, want: healthyKube + healthyArgo},
		{
			name: "no kubeconfig",
			change: func(w *world) {
				w.env.Cluster, w.env.ClusterHost = nil, ""
				w.env.ClusterErr = errors.New("load kubeconfig: invalid configuration: no configuration has been provided")
			},
			want: `[FAIL] Kubernetes API          load kubeconfig: invalid configuration: no configuration has been provided
       remedy: point --kubeconfig (or KUBECONFIG) and --context at the cluster, as for kubectl; ‵kubectl version‵ must work with the same flags
[skip] Istio VirtualService    needs Kubernetes API, which failed
[skip] Istio DestinationRule   needs Kubernetes API, which failed
[skip] Istio ServiceEntry      needs Kubernetes API, which failed
[skip] Istio WorkloadGroup     needs Kubernetes API, which failed
[skip] Istio WorkloadEntry     needs Kubernetes API, which failed
[skip] Istio sidecar injector  needs Kubernetes API, which failed
[skip] namespace injection     needs Kubernetes API, which failed
` + healthyArgo,
			failed: true,
		},
		{
			name: "API server down",
			change: func(w *world) {
				w.cluster.versionErr = errors.New(`Get "https://10.0.0.1:6443/version": dial tcp 10.0.0.1:6443: connect: connection refused`)
			},
			want: `[FAIL] Kubernetes API          cannot reach the API server at https://10.0.0.1:6443: Get "https://10.0.0.1:6443/version": dial tcp 10.0.0.1:6443: connect: connection refused
       remedy: point --kubeconfig (or KUBECONFIG) and --context at the cluster, as for kubectl; ‵kubectl version‵ must work with the same flags
[skip] Istio VirtualService    needs Kubernetes API, which failed
[skip] Istio DestinationRule   needs Kubernetes API, which failed
[skip] Istio ServiceEntry      needs Kubernetes API, which failed
[skip] Istio WorkloadGroup     needs Kubernetes API, which failed
[skip] Istio WorkloadEntry     needs Kubernetes API, which failed
[skip] Istio sidecar injector  needs Kubernetes API, which failed
[skip] namespace injection     needs Kubernetes API, which failed
` + healthyArgo,
			failed: true,
		},
		{
			name: "no Istio, no istiod, injection disabled",
			change: func(w *world) {
				w.cluster.served, w.cluster.hooks = nil, w.cluster.hooks[2:]
				w.cluster.namespaces["bookinfo"] = map[string]string{"istio-injection": "disabled"}
			},
			want: `[ok]   Kubernetes API          https://10.0.0.1:6443, Kubernetes v1.33.13
[FAIL] Istio VirtualService    networking.istio.io VirtualService is not served: a release needs it
       remedy: install Istio's CRDs: ‵istioctl install‵, or the istio/base Helm chart
[FAIL] Istio DestinationRule   networking.istio.io DestinationRule is not served: a release needs it
       remedy: install Istio's CRDs: ‵istioctl install‵, or the istio/base Helm chart
[FAIL] Istio ServiceEntry      networking.istio.io ServiceEntry is not served: a release needs it
       remedy: install Istio's CRDs: ‵istioctl install‵, or the istio/base Helm chart
[warn] Istio WorkloadGroup     networking.istio.io WorkloadGroup is not served: only VM workloads need it
       remedy: nothing to do unless the mesh has VM workloads; then install Istio's CRDs (‵istioctl install‵, or the istio/base Helm chart)
[warn] Istio WorkloadEntry     networking.istio.io WorkloadEntry is not served: only VM workloads need it
       remedy: nothing to do unless the mesh has VM workloads; then install Istio's CRDs (‵istioctl install‵, or the istio/base Helm chart)
[FAIL] Istio sidecar injector  no MutatingWebhookConfiguration has a webhook named *sidecar-injector.istio.io: istiod is not installed, so no pod gets an Envoy sidecar
       remedy: install istiod: ‵istioctl install‵, or the istiod Helm chart (‵helm install istiod istio/istiod -n istio-system‵)
[FAIL] namespace injection     namespace bookinfo has istio-injection=disabled: no pod there gets a sidecar, and the per-pod sidecar.istio.io/inject label and annotation gitcanary sets cannot override it
       remedy: remove the label: ‵kubectl label namespace bookinfo istio-injection-‵ (or set it to enabled)
` + healthyArgo,
			failed: true,
		},
		{
			name: "old Istio with revisions, no VM CRDs",
			change: func(w *world) {
				w.cluster.served = map[string][]string{"VirtualService": {"v1alpha3"}, "DestinationRule": {"v1alpha3"}, "ServiceEntry": {"v1alpha3"}}
				w.cluster.hooks = []Webhook{
					{Configuration: "istio-sidecar-injector-canary", Name: "rev.namespace.sidecar-injector.istio.io"},
					{Configuration: "istio-sidecar-injector-canary", Name: "rev.object.sidecar-injector.istio.io"},
					{Configuration: "istio-revision-tag-default", Name: "rev.namespace.sidecar-injector.istio.io"},
				}
				w.cluster.namespaces["bookinfo"] = map[string]string{"istio.io/rev": "canary"}
			},
			want: `[ok]   Kubernetes API          https://10.0.0.1:6443, Kubernetes v1.33.13
[FAIL] Istio VirtualService    networking.istio.io VirtualService is served only as v1alpha3; gitcanary reads v1 or v1beta1
       remedy: upgrade Istio to 1.22 or later (networking.istio.io/v1)
[ok]   Istio DestinationRule   networking.istio.io v1alpha3
[ok]   Istio ServiceEntry      networking.istio.io v1alpha3
[warn] Istio WorkloadGroup     networking.istio.io WorkloadGroup is not served: only VM workloads need it
       remedy: nothing to do unless the mesh has VM workloads; then install Istio's CRDs (‵istioctl install‵, or the istio/base Helm chart)
[warn] Istio WorkloadEntry     networking.istio.io WorkloadEntry is not served: only VM workloads need it
       remedy: nothing to do unless the mesh has VM workloads; then install Istio's CRDs (‵istioctl install‵, or the istio/base Helm chart)
[ok]   Istio sidecar injector  MutatingWebhookConfiguration istio-sidecar-injector-canary, istio-revision-tag-default
[ok]   namespace injection     namespace bookinfo injects sidecars of revision canary (istio.io/rev=canary)
` + healthyArgo,
			failed: true,
		},
		{
			name:   "no Argo CD server",
			change: func(w *world) { w.env.Argo, w.env.ArgoServer = nil, "" },
			want: healthyKube + `[FAIL] Argo CD API             no Argo CD server given
       remedy: pass --server HOST:PORT and --auth-token TOKEN, or set ARGOCD_SERVER and ARGOCD_AUTH_TOKEN
[skip] Argo CD Application     needs Argo CD API, which failed
[skip] app path renders        needs Argo CD Application, which was skipped
[skip] release source          needs Argo CD Application, which was skipped
[skip] Argo CD sync windows    needs Argo CD Application, which was skipped
`,
			failed: true,
		},
		{
			name: "token refused",
			change: func(w *world) {
				w.argo.FailNext(status.Error(codes.Unauthenticated, "invalid session: token has invalid claims: token is expired"))
			},
			want: healthyKube + `[FAIL] Argo CD API             argocd.example:443 refused the token: get application "reviews": rpc error: code = Unauthenticated desc = invalid session: token has invalid claims: token is expired
       remedy: pass a valid API token with --auth-token or ARGOCD_AUTH_TOKEN (‵argocd account generate-token --account ACCOUNT‵)
[skip] Argo CD Application     needs Argo CD API, which failed
[skip] app path renders        needs Argo CD Application, which was skipped
[skip] release source          needs Argo CD Application, which was skipped
[skip] Argo CD sync windows    needs Argo CD Application, which was skipped
`,
			failed: true,
		},
		{
			name:   "Argo CD unreachable",
			change: func(w *world) { w.argo.FailNext(status.Error(codes.Unavailable, "connection error")) },
			want: healthyKube + `[FAIL] Argo CD API             cannot reach Argo CD at argocd.example:443: get application "reviews": rpc error: code = Unavailable desc = connection error
       remedy: check that --server (ARGOCD_SERVER) is argocd-server's host:port and that --plaintext, --insecure and --grpc-web match how it is served, as for the argocd CLI
[skip] Argo CD Application     needs Argo CD API, which failed
[skip] app path renders        needs Argo CD Application, which was skipped
[skip] release source          needs Argo CD Application, which was skipped
[skip] Argo CD sync windows    needs Argo CD Application, which was skipped
`,
			failed: true,
		},
		{
			name:   "Application missing",
			change: func(w *world) { w.env.App = "nope" },
			want: healthyKube + `[ok]   Argo CD API             argocd.example:443 answers
[FAIL] Argo CD Application     Application nope not found, or the token may not read it
       remedy: create the Application (its source path the app path), or name the one that deploys the app with --app or spec.argocd.application
[skip] app path renders        needs Argo CD Application, which failed
[skip] release source          needs Argo CD Application, which failed
[skip] Argo CD sync windows    needs Argo CD Application, which failed
`,
			failed: true,
		},
		{
			name: "automated sync",
			change: func(w *world) {
				app := application("reviews", "https://git.example/apps.git", "apps/reviews", "main")
				app.Spec.SyncPolicy = &v1alpha1.SyncPolicy{Automated: &v1alpha1.SyncPolicyAutomated{SelfHeal: true}}
				w.argo.SetApp(app)
			},
			want: healthyKube + `[ok]   Argo CD API             argocd.example:443 answers
[ok]   Argo CD Application     reviews deploys https://git.example/apps.git path apps/reviews at main, automated sync (prune off, selfHeal on), granted to gitcanary
[ok]   app path renders        apps/reviews at main (0123abcd): 5 objects
[ok]   release source          release reviews-v2 commits to what Application reviews deploys
[ok]   Argo CD sync windows    no sync window applies to reviews
`,
		},
		{
			name: "kustomize fails",
			change: func(w *world) {
				w.renderer.err = errors.New("kustomize build /repo/apps/reviews: accumulating resources: missing.yaml: file does not exist")
			},
			want: healthyKube + `[ok]   Argo CD API             argocd.example:443 answers
[ok]   Argo CD Application     reviews deploys https://git.example/apps.git path apps/reviews at main, manual sync, granted to gitcanary
[FAIL] app path renders        kustomize build /repo/apps/reviews: accumulating resources: missing.yaml: file does not exist
       remedy: fix the kustomization: ‵kustomize build apps/reviews‵ in a checkout of branch main shows the same error
[ok]   release source          release reviews-v2 commits to what Application reviews deploys
[ok]   Argo CD sync windows    no sync window applies to reviews
`,
			failed: true,
		},
		{
			name: "repository unreadable",
			change: func(w *world) {
				w.renderer.err = fmt.Errorf("%w: fetch https://git.example/apps.git: authentication required", ErrFetch)
			},
			want: healthyKube + `[ok]   Argo CD API             argocd.example:443 answers
[ok]   Argo CD Application     reviews deploys https://git.example/apps.git path apps/reviews at main, manual sync, granted to gitcanary
[FAIL] app path renders        cannot read the repository: fetch https://git.example/apps.git: authentication required
       remedy: check the repoURL and that gitcanary may read it (GITCANARY_GIT_USERNAME and GITCANARY_GIT_PASSWORD for http(s)); targetRevision must be a branch, the one gitcanary commits to
[ok]   release source          release reviews-v2 commits to what Application reviews deploys
[ok]   Argo CD sync windows    no sync window applies to reviews
`,
			failed: true,
		},
		{
			name: "release names another source",
			change: func(w *world) {
				w.argo.SetApp(application("reviews", "https://git.example/other.git", "apps/other", "HEAD"))
			},
			want: healthyKube + `[ok]   Argo CD API             argocd.example:443 answers
[ok]   Argo CD Application     reviews deploys https://git.example/other.git path apps/other at HEAD, manual sync, granted to gitcanary
[ok]   app path renders        apps/other at main (0123abcd): 5 objects (targetRevision HEAD: read branch main)
[FAIL] release source          spec.repo.url is https://git.example/apps.git, the Application's repoURL https://git.example/other.git; spec.repo.path is apps/reviews, the Application's path apps/other
       remedy: make spec.repo of release reviews-v2 name what Application reviews deploys: gitcanary commits to spec.repo, Argo CD deploys its source, and start refuses a release whose Application deploys something else
[ok]   Argo CD sync windows    no sync window applies to reviews
`,
			failed: true,
		},
		{
			name:   "nothing named",
			change: func(w *world) { w.env.App, w.env.Namespace, w.env.Release = "", "", nil },
			want: `[ok]   Kubernetes API          https://10.0.0.1:6443, Kubernetes v1.33.13
[ok]   Istio VirtualService    networking.istio.io v1, v1beta1, v1alpha3
[ok]   Istio DestinationRule   networking.istio.io v1, v1beta1, v1alpha3
[ok]   Istio ServiceEntry      networking.istio.io v1, v1beta1, v1alpha3
[ok]   Istio WorkloadGroup     networking.istio.io v1, v1beta1, v1alpha3
[ok]   Istio WorkloadEntry     networking.istio.io v1, v1beta1, v1alpha3
[ok]   Istio sidecar injector  MutatingWebhookConfiguration istio-sidecar-injector
[skip] namespace injection     no namespace given: pass --namespace NAME or -f RELEASE
[skip] Argo CD API             no Application named, and the API is checked by reading it: pass --app NAME or -f RELEASE
[skip] Argo CD Application     needs Argo CD API, which was skipped
[skip] app path renders        needs Argo CD Application, which was skipped
[skip] release source          needs Argo CD Application, which was skipped
[skip] Argo CD sync windows    needs Argo CD Application, which was skipped
`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			tc.change(w)
			var out bytes.Buffer
			failed := Run(context.Background(), &out, Checks(w.env))
			if got, want := out.String(), golden(tc.want); got != want {
				t.Errorf("checklist:\n%s\nwant:\n%s", got, want)
			}
			if failed != tc.failed {
				t.Errorf("failed = %v, want %v", failed, tc.failed)
			}
		})
	}
}

// TestNamespaceInjection covers the namespace labels the checklist table does not.
func TestNamespaceInjection(t *testing.T) {
	for _, tc := range []struct {
		name   string
		labels map[string]string // nil: no such namespace
		want   Result
	}{
		{
			name:   "unlabelled",
			labels: map[string]string{"team": "reviews"},
			want: Result{Status: OK,
				Detail: "namespace bookinfo has no istio-injection or istio.io/rev label: the versions gitcanary creates get the pod label sidecar.istio.io/inject=true, which Istio injects"},
		},
		{
			name: "missing",
			want: Result{Status: Warn,
				Detail: "namespace bookinfo does not exist: the stable workload cannot be running",
				Remedy: "create it with `kubectl create namespace bookinfo`, or correct spec.workload.namespace / --namespace"},
		},
		{
			name:   "neither enabled nor disabled",
			labels: map[string]string{"istio-injection": "true", "istio.io/rev": "canary"},
			want: Result{Status: Fail,
				Detail: "namespace bookinfo has istio-injection=true: Istio injects only with enabled, and no pod there gets a sidecar",
				Remedy: "`kubectl label namespace bookinfo istio-injection=enabled --overwrite`"},
		},
		{
			name:   "enabled wins over a revision",
			labels: map[string]string{"istio-injection": "enabled", "istio.io/rev": "canary"},
			want:   Result{Status: OK, Detail: "namespace bookinfo injects sidecars (istio-injection=enabled)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeCluster{namespaces: map[string]map[string]string{}}
			if tc.labels != nil {
				c.namespaces["bookinfo"] = tc.labels
			}
			s := &state{env: Env{Cluster: c, Namespace: "bookinfo"}}
			if got := s.namespace(context.Background()); got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
