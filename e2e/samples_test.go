package e2e

import (
	"context"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitcanary/gitcanary/fixtures"
	"github.com/gitcanary/gitcanary/pkg/cli"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/overlay"
	"github.com/gitcanary/gitcanary/pkg/release"
	"github.com/gitcanary/gitcanary/templates"
)

// Public sample apps as their projects ship them (fixtures.Samples),
// released as their users would write the Release.

// sampleScenario deploys fixtures.Samples' apps/<app> and writes its
// Release releases/<rel>.yaml.
func sampleScenario(t *testing.T, name, app, rel string) *scenario {
	t.Helper()
	doc, err := fs.ReadFile(fixtures.Samples, "releases/"+rel+".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return newScenario(t, name, templates.ReleaseParams{}, withSample(app), withRelease(doc))
}

// TestSampleHelloworld: Istio's helloworld sample released from
// helloworld-v1 to v3 through Argo CD to Promoted. Two VirtualServices
// route the host (upstream's gateway one without a subset, our mesh one
// to subset v1); both are split at every converged phase and send 100% to
// v3 at the end, in git and in the cluster. The shipped helloworld-v2 is
// left alone; the app is handed back.
func TestSampleHelloworld(t *testing.T) {
	t.Parallel()
	s := sampleScenario(t, "hello", "helloworld", "helloworld-v3")
	ctx := context.Background()
	v2Before := s.env.Kubectl(t, "get", "deployment", "helloworld-v2", "-n", s.ns, "-o", "jsonpath={.spec}")
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	r := s.drive(s.machine(), done)
	if r.Status.Phase != release.Promoted {
		t.Fatalf("phase %s: %s %s", r.Status.Phase, r.Status.Reason, r.Status.Message)
	}
	want := []release.Phase{release.Preparing, release.Routing, release.Progressing, release.Promoting, release.Retiring, release.Promoted}
	if !slices.Equal(s.phases, want) {
		t.Errorf("phases seen converged: %v, want %v", s.phases, want)
	}
	if vs := s.splitVirtualServices(r.Status.Seq); len(vs) != 2 {
		t.Errorf("the release split %v, want helloworld and helloworld-mesh", vs)
	}

	// Git: handed back, the user's files are v3.
	s.checkHandedBack()
	files := s.gitFile("helloworld.yaml")
	if !strings.Contains(files, "name: helloworld-v3") || strings.Contains(files, "helloworld-v1") ||
		!strings.Contains(files, "image: registry.istio.io/release/examples-helloworld-v2:1.0") || !strings.Contains(files, "name: helloworld-v2") {
		t.Errorf("helloworld.yaml in git after the promote:\n%s", files)
	}
	for file, vs := range map[string]string{"helloworld-gateway.yaml": "helloworld", "virtualservice.yaml": "helloworld-mesh"} {
		if got := s.gitRoutes(file, vs); got != "v3=100" {
			t.Errorf("git: %s's VirtualService %s routes %s, want v3=100", file, vs, got)
		}
	}
	if dr := s.gitFile("destinationrule.yaml"); strings.Contains(dr, "name: v1") || !strings.Contains(dr, "name: v2") || !strings.Contains(dr, "name: v3") {
		t.Errorf("destinationrule.yaml in git after the promote:\n%s", dr)
	}

	// The cluster: v3 and the shipped v2 run, v1 is gone, all routes to v3.
	if s.exists("helloworld-v1") || !s.exists("helloworld-v2") || !s.exists("helloworld-v3") {
		t.Errorf("after promote: helloworld-v1 exists=%v, -v2 %v, -v3 %v", s.exists("helloworld-v1"), s.exists("helloworld-v2"), s.exists("helloworld-v3"))
	}
	if got := s.env.Kubectl(t, "get", "deployment", "helloworld-v2", "-n", s.ns, "-o", "jsonpath={.spec}"); got != v2Before {
		t.Errorf("helloworld-v2 changed:\n%s\nwas:\n%s", got, v2Before)
	}
	for _, vs := range []string{"helloworld", "helloworld-mesh"} {
		if got := s.routesOf(ctx, overlay.ObjectRef{Name: vs}); got != "v3=100" {
			t.Errorf("cluster: VirtualService %s routes %s, want v3=100", vs, got)
		}
	}
	if dr := s.env.Kubectl(t, "get", "destinationrule", "helloworld", "-n", s.ns, "-o", "jsonpath={.spec.subsets[*].name}"); dr != "v2 v3" {
		t.Errorf("cluster DestinationRule subsets %q, want v2 v3", dr)
	}
	s.checkFinished(ctx, r.Status.Phase, s.commitOf(r.Status.Seq))
}

// TestSampleProductCatalog: Online Boutique's productcatalogservice (a
// Deployment named like its Service, no version label) released with
// stableVersion v1 through Argo CD: paused at 10%, approved, Promoted. The
// Deployment's file is handed back as productcatalogservice-v2.
func TestSampleProductCatalog(t *testing.T) {
	t.Parallel()
	s := sampleScenario(t, "catalog", "productcatalog", "productcatalogservice-v2")
	ctx := context.Background()
	if code, _ := s.cli("start", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("start exited %d", code)
	}
	r := s.drive(s.machine(), awaiting)
	if got := release.FormatWeights(r.Status.Weights); r.Status.Phase != release.Paused || got != "v1=90,v2=10" {
		t.Fatalf("waiting at %s %s (%s %s), want Paused v1=90,v2=10", r.Status.Phase, got, r.Status.Reason, r.Status.Message)
	}
	if code, _ := s.cli("approve", "-f", s.file, "--wait-for=none"); code != cli.ExitOK {
		t.Fatalf("approve exited %d", code)
	}
	r = s.drive(s.machine(), done)
	if r.Status.Phase != release.Promoted {
		t.Fatalf("phase %s: %s %s", r.Status.Phase, r.Status.Reason, r.Status.Message)
	}
	want := []release.Phase{release.Preparing, release.Routing, release.Progressing, release.Paused, release.Progressing, release.Promoting, release.Retiring, release.Promoted}
	if !slices.Equal(s.phases, want) {
		t.Errorf("phases seen converged: %v, want %v", s.phases, want)
	}

	s.checkHandedBack()
	dep := s.gitFile("productcatalogservice.yaml")
	if !strings.Contains(dep, "name: productcatalogservice-v2") || !strings.Contains(dep, "image: productcatalogservice:2.0") ||
		!strings.Contains(dep, "Copyright 2018 Google LLC") || !strings.Contains(dep, "kind: Service\n") {
		t.Errorf("productcatalogservice.yaml in git after the promote:\n%s", dep)
	}
	if got := s.gitRoutes("virtualservice.yaml", "productcatalogservice"); got != "v2=100" {
		t.Errorf("git: VirtualService productcatalogservice routes %s, want v2=100", got)
	}

	if s.exists("productcatalogservice") || !s.exists("productcatalogservice-v2") {
		t.Errorf("after promote: productcatalogservice exists=%v, -v2 %v", s.exists("productcatalogservice"), s.exists("productcatalogservice-v2"))
	}
	if !s.existsAs(kube.Ref{Version: "v1", Kind: "Service", Resource: "services"}, "productcatalogservice") {
		t.Error("after promote: Service productcatalogservice is gone")
	}
	if got := s.routes(ctx); got != "v2=100" {
		t.Errorf("cluster routes %s, want v2=100", got)
	}
	s.checkFinished(ctx, r.Status.Phase, s.commitOf(r.Status.Seq))
}

// checkHandedBack asserts that git's app path is its user's again after the
// release: gitcanary's directory holds only the release record and the
// root kustomization is as seeded.
func (s *scenario) checkHandedBack() {
	s.t.Helper()
	dir := s.path + "/" + overlay.Dir + "/"
	tree := strings.TrimSpace(s.server.Git(s.t, "apps.git", "ls-tree", "-r", "--name-only", "main", dir))
	if tree != s.recordPath() {
		s.t.Errorf("gitcanary's directory after the release holds:\n%s\nwant only %s", tree, s.recordPath())
	}
	seeded := s.server.Git(s.t, "apps.git", "rev-list", "--max-parents=0", "main")
	if root := s.path + "/kustomization.yaml"; !s.gitOK("diff", "--quiet", seeded, "main", "--", root) {
		s.t.Errorf("the root kustomization changed:\n%s", s.server.Git(s.t, "apps.git", "diff", seeded, "main", "--", root))
	}
}

// gitFile reads file of the app path at the branch head.
func (s *scenario) gitFile(file string) string {
	s.t.Helper()
	return s.server.Git(s.t, "apps.git", "show", "main:"+s.path+"/"+file)
}

// gitRoutes reads the first HTTP route of VirtualService name in file of
// the app path at the branch head, as routesOf reads the cluster's.
func (s *scenario) gitRoutes(file, name string) string {
	s.t.Helper()
	objs, err := overlay.ParseObjects([]byte(s.gitFile(file)))
	if err != nil {
		s.t.Fatalf("%s: %v", file, err)
	}
	vs := overlay.Find(objs, "VirtualService", name)
	if len(vs) != 1 {
		s.t.Fatalf("%s declares VirtualService %s %d times", file, name, len(vs))
	}
	routes, err := kube.ParseVirtualServiceRoutes(&unstructured.Unstructured{Object: vs[0]})
	if err != nil || len(routes) == 0 {
		s.t.Fatalf("%s: VirtualService %s: %d routes, %v", file, name, len(routes), err)
	}
	return formatRoute(routes[0])
}
