//go:build linux

package controller

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/gitcanary/gitcanary/fixtures"
	"github.com/gitcanary/gitcanary/pkg/argocd"
	"github.com/gitcanary/gitcanary/pkg/argocd/argocdtest"
	"github.com/gitcanary/gitcanary/pkg/git/gittest"
	"github.com/gitcanary/gitcanary/pkg/kube"
	"github.com/gitcanary/gitcanary/pkg/kube/kubetest"
	"github.com/gitcanary/gitcanary/pkg/overlay"
)

// scaleWorld is what the scale benchmark's controller drives: app
// repositories holding copies of the fixture app, one config repository
// holding a Release file per app, and Argo CD and the cluster faked at
// their interfaces.
//
// The fake Argo CD is argocdtest.Fake; its OnSync plays the sync the way a
// real Argo CD would end it, but cheaply: instead of rendering the synced
// revision it reads .gitcanary/state.yaml at that revision (through a
// long-running `git cat-file --batch`, outside this process, as a real Argo
// CD is) and makes the cluster show every version of that state as a ready
// workload and the state's weights in the VirtualService. With prune, the
// workloads the state no longer lists are deleted.
type scaleWorld struct {
	srv     *gittest.Server
	config  string // URL of config.git
	repos   []string
	apps    map[string]*scaleApp // by Application name
	argo    *argocdtest.Fake
	cluster *kubetest.Fake
	cats    *catPool
}

// scaleApp is one app: a copy of the fixture app at apps/<name> in one
// repository, deployed by Application <name> into namespace <name>.
type scaleApp struct {
	name, repo, url string

	mu        sync.Mutex
	workloads map[string]bool // applied and not pruned
}

func appName(i int) string       { return fmt.Sprintf("app-%05d", i) }
func repoName(r int) string      { return fmt.Sprintf("apps-%04d.git", r) }
func (a *scaleApp) path() string { return "apps/" + a.name }

// newScaleWorld creates n apps spread over ceil(n/perRepo) repositories,
// app i in repository i mod repos, so that neighbours in the releases/
// directory (which GitSource reconciles in order) are in different
// repositories, and their Release files.
func newScaleWorld(tb testing.TB, n, perRepo int) *scaleWorld {
	tb.Helper()
	w := &scaleWorld{srv: gittest.NewServer(tb), apps: map[string]*scaleApp{}, argo: argocdtest.New(), cluster: kubetest.New()}
	w.cats = newCatPool(tb, w.srv, 64)
	fixture := map[string][]byte{}
	err := fs.WalkDir(fixtures.Apps, "apps/reviews", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fixture[path.Base(p)], err = fs.ReadFile(fixtures.Apps, p)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	repos := (n + perRepo - 1) / perRepo
	files := make([]map[string][]byte, repos)
	for r := range files {
		files[r] = map[string][]byte{}
	}
	var names []string
	for i := range n {
		a := &scaleApp{name: appName(i), repo: repoName(i % repos), workloads: map[string]bool{}}
		for f, data := range fixture {
			files[i%repos][a.path()+"/"+f] = data
		}
		w.apps[a.name] = a
		names = append(names, a.name)
	}
	for r := range files {
		w.repos = append(w.repos, repoName(r))
		url := w.srv.CreateRepo(tb, repoName(r), files[r])
		for i := r; i < n; i += repos {
			w.apps[appName(i)].url = url
		}
	}
	releases := map[string][]byte{}
	for _, name := range names {
		releases["releases/"+name+".yaml"] = w.releaseDoc(name, "")
	}
	w.config = w.srv.CreateRepo(tb, "config.git", releases)

	// Before any release: the stable workload runs, the Application has
	// never been synced by gitcanary.
	for _, a := range w.apps {
		w.argo.AddApp(a.name)
		w.argo.SetSource(a.name, a.url, a.path(), "main")
		if err := w.argo.Annotate(context.Background(), a.name, map[string]string{argocd.GrantAnnotation: argocd.DefaultInstance}); err != nil {
			tb.Fatal(err)
		}
		w.cluster.SetWorkload(w.ref(a, "reviews-v1"), ready())
		a.workloads["reviews-v1"] = true
	}
	w.argo.OnSync = w.onSync
	return w
}

// releaseDoc is app name's Release file: 10%, a pause until approved, 50%.
func (w *scaleWorld) releaseDoc(name, control string) []byte {
	a := w.apps[name]
	doc := fmt.Sprintf(`apiVersion: gitcanary.io/v1alpha1
kind: Release
metadata: {name: %s-v2}
spec:
  repo: {url: %q, branch: main, path: %s}
  argocd: {application: %s}
  workload: {kind: Deployment, name: reviews-v1, namespace: %s}
  version: v2
  images: [{name: example/reviews, newTag: "2.0"}]
  traffic: {host: reviews, gateways: [bookinfo-gateway, mesh]}
  steps: [{setWeight: 10}, {pause: {}}, {setWeight: 50}]
`, name, a.url, a.path(), name, name)
	if control != "" {
		doc += "  control: " + control + "\n"
	}
	return []byte(doc)
}

// approveAll commits an approval to every Release file at once, as one
// person approving a batch would.
func (w *scaleWorld) approveAll(tb testing.TB) {
	tb.Helper()
	files := map[string][]byte{}
	for name := range w.apps {
		files["releases/"+name+".yaml"] = w.releaseDoc(name, "{approvals: 1}")
	}
	w.srv.Push(tb, "config.git", files, "approve every release")
}

func (w *scaleWorld) ref(a *scaleApp, workload string) kube.Ref {
	return kube.Ref{Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments", Namespace: a.name, Name: workload}
}

func ready() kube.WorkloadStatus {
	return kube.WorkloadStatus{Found: true, Generation: 1, ObservedGeneration: 1, Replicas: 2, ReadyReplicas: 2}
}

// onSync makes the cluster show what the synced revision's state says.
func (w *scaleWorld) onSync(name, revision string, prune bool) error {
	a, ok := w.apps[name]
	if !ok {
		return fmt.Errorf("no app %s", name)
	}
	data, err := w.cats.read(a.repo, revision+":"+a.path()+"/"+overlay.Dir+"/"+overlay.StateFile)
	if err != nil {
		return err
	}
	var st overlay.State
	if err := yaml.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("state of %s at %s: %w", name, revision, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	live := map[string]bool{}
	for _, v := range st.Versions {
		live[v.Workload] = true
		w.cluster.SetWorkload(w.ref(a, v.Workload), ready())
		a.workloads[v.Workload] = true
	}
	if prune {
		for wl := range a.workloads {
			if !live[wl] {
				w.cluster.SetWorkload(w.ref(a, wl), kube.WorkloadStatus{})
				delete(a.workloads, wl)
			}
		}
	}
	var route []kube.Route
	for _, wt := range st.Weights() {
		route = append(route, kube.Route{Host: st.Routing.Host, Subset: wt.Version, Weight: wt.Weight})
	}
	w.cluster.SetRoutes(a.name, st.Routing.VirtualService, [][]kube.Route{route})
	return nil
}

// catPool keeps up to max `git cat-file --batch` processes, one per
// repository, so the fake Argo CD reads git outside the measured process.
type catPool struct {
	tb  testing.TB
	srv *gittest.Server
	max int

	mu   sync.Mutex
	cats map[string]*catFile
}

type catFile struct {
	mu     sync.Mutex
	closed bool
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
}

func newCatPool(tb testing.TB, srv *gittest.Server, max int) *catPool {
	p := &catPool{tb: tb, srv: srv, max: max, cats: map[string]*catFile{}}
	tb.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.cats {
			c.close()
		}
	})
	return p
}

// read returns the content of object ("<rev>:<path>") in repository repo.
func (p *catPool) read(repo, object string) ([]byte, error) {
	for {
		c, err := p.get(repo)
		if err != nil {
			return nil, err
		}
		data, err := c.read(object)
		if err != errCatClosed {
			return data, err
		}
	}
}

// errCatClosed: the process was evicted between get and read; get another.
var errCatClosed = errors.New("cat-file closed")

func (p *catPool) get(repo string) (*catFile, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.cats[repo]; ok {
		return c, nil
	}
	if len(p.cats) >= p.max {
		for r, c := range p.cats { // any one: the layouts that exceed max have no locality to keep
			c.close()
			delete(p.cats, r)
			break
		}
	}
	cmd := exec.Command("git", "--git-dir="+p.srv.Dir(repo), "cat-file", "--batch")
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &catFile{cmd: cmd, in: in, out: bufio.NewReader(out)}
	p.cats[repo] = c
	return c, nil
}

func (c *catFile) read(object string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errCatClosed
	}
	if _, err := fmt.Fprintln(c.in, object); err != nil {
		return nil, err
	}
	header, err := c.out.ReadString('\n')
	if err != nil {
		return nil, err
	}
	f := strings.Fields(header) // <oid> <type> <size>, or <object> missing
	if len(f) != 3 {
		return nil, fmt.Errorf("cat-file %s: %s", object, strings.TrimSpace(header))
	}
	size, err := strconv.Atoi(f[2])
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size+1) // the content and a newline
	if _, err := io.ReadFull(c.out, buf); err != nil {
		return nil, err
	}
	return buf[:size], nil
}

func (c *catFile) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.in.Close()
	_ = c.cmd.Wait()
}
