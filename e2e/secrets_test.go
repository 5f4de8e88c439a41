package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/gitcanary/gitcanary/pkg/controller"
	"github.com/gitcanary/gitcanary/templates"
)

// planted are the secrets TestSecrets puts in every input channel, by
// channel; each is distinct, so a leak names its channel.
type planted map[string]string

func plant(channels ...string) planted {
	p := planted{}
	for _, c := range channels {
		p[c] = "gcsecret" + strings.ReplaceAll(c, "-", "") + randSuffix() + randSuffix()
	}
	return p
}

// leaks lists "channel in where" for every planted secret found in the
// outputs (where → text).
func (p planted) leaks(outputs map[string]string) []string {
	var found []string
	for where, text := range outputs {
		for channel, secret := range p {
			if strings.Contains(text, secret) {
				found = append(found, fmt.Sprintf("the %s secret in %s", channel, where))
			}
		}
	}
	return found
}

// TestSecrets plants a distinct secret in every channel gitcanary takes
// input from, drives a real release over an http repository that asks for
// the git password (the CLI to the pause, then `gitcanary run` with a
// Release resource to Promoted), has it refuse every URL with credentials,
// and searches everything gitcanary wrote for the secrets: stdout, stderr
// and logs, Events and status of the Release resources, the Application's
// annotations, every commit of the repository (message and tree), and its
// git cache. docs/security.md lists the channels.
func TestSecrets(t *testing.T) {
	t.Parallel()
	s := newScenario(t, "secrets", templates.ReleaseParams{Steps: pauseSteps})
	sec := plant("git-user", "git-password", "argocd-token-env", "argocd-token-flag", "argocd-opts",
		"config", "url-file", "url-repo-flag", "url-releases-repo", "url-resource")
	argoEnv := s.argoToken(sec["argocd-token-env"])
	argoFlag := s.argoToken(sec["argocd-token-flag"])

	// The app repository over http with basic auth; Argo CD reads it with
	// the same credentials from a repository Secret, as its users set it up.
	h := s.server.HTTP(t, sec["git-user"], sec["git-password"])
	s.url = h.URL("apps.git")
	s.useRepo(sec["git-user"], sec["git-password"])
	s.writeRelease(templates.ReleaseParams{Steps: pauseSteps})

	config := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, config, fmt.Sprintf("# token: %s\ncustomWorkloads:\n  - name: clonesets\n    localizedName: {en-US: CloneSet, x-planted: %s}\n"+
		"    resourceSchema: {group: apps.kruise.io, version: v1alpha1, kind: CloneSet, resource: clonesets}\n"+
		"    path: {podTemplate: .spec.template, replicas: .spec.replicas, statusReadyReplicas: .status.readyReplicas}\n", sec["config"], sec["config"]))

	outputs := map[string]string{}
	env := []string{
		"GITCANARY_GIT_PASSWORD=" + sec["git-password"],
		"ARGOCD_AUTH_TOKEN=" + argoEnv,
		// A token in ARGOCD_OPTS is overridden by --auth-token, never printed.
		"ARGOCD_OPTS=--plaintext --auth-token " + sec["argocd-opts"],
	}
	flags := []string{"--cache-dir", s.cache, "--server", s.env.ArgoServer, "--auth-token", argoFlag, "--kubeconfig", s.env.Kubeconfig,
		"--git-username", sec["git-user"], "--config", config, "--log-level", "debug"}
	run := func(want int, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		cmd := exec.Command(gitcanaryBinary(t), append(flags, args...)...)
		cmd.Env, cmd.Stdout, cmd.Stderr = append(os.Environ(), env...), &out, &errb
		err := cmd.Run()
		code := cmd.ProcessState.ExitCode()
		t.Logf("gitcanary %s → %d (%v)\n%s%s", args[0], code, err, out.String(), errb.String())
		outputs[fmt.Sprintf("stdout of %s #%d", args[0], len(outputs))] = out.String()
		outputs[fmt.Sprintf("stderr of %s #%d", args[0], len(outputs))] = errb.String()
		if code != want {
			t.Fatalf("gitcanary %s exited %d, want %d", strings.Join(args, " "), code, want)
		}
		return errb.String()
	}

	// Every URL with credentials is refused, before anything is committed.
	head := s.head()
	host := strings.TrimPrefix(s.url, "http://")
	leaky := filepath.Join(t.TempDir(), "leaky.yaml")
	writeFile(t, leaky, strings.Replace(string(mustReadFile(t, s.file)), s.url, "http://"+sec["git-user"]+":"+sec["url-file"]+"@"+host, 1))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"start", "-f", leaky}, "spec.repo.url: carries a password"},
		{[]string{"status", "reviews-v2", "--repo", "https://ghp_" + sec["url-repo-flag"] + "@" + host, "--path", s.path}, "--repo carries a token as its user name"},
		{[]string{"run", "--namespace", s.ns, "--releases-repo", "http://bot:" + sec["url-releases-repo"] + "@" + host}, "--releases-repo carries a password"},
	} {
		if msg := run(2, c.args...); !strings.Contains(msg, c.want) || !strings.Contains(msg, "GITCANARY_GIT_PASSWORD") {
			t.Errorf("gitcanary %s: %s\nwant a refusal with %q that says where credentials go", c.args[0], msg, c.want)
		}
	}
	if got := s.head(); got != head {
		t.Fatalf("a refused command committed: main moved from %.8s to %.8s", head, got)
	}

	// The CLI drives the release into its pause, over http with the
	// planted credentials, reads it back and approves it to Promoted.
	run(0, "start", "-f", s.file, "--wait-for=approval", "--timeout", "5m")
	run(0, "status", "reviews-v2", "--repo", s.url, "--path", s.path)
	run(0, "history", "-f", s.file)
	run(0, "approve", "-f", s.file, "--wait-for=done", "--timeout", "5m")
	s.checkPromoted()

	// The controller drives the next release, reviews-v3 from the
	// handed-back reviews-v2, as a Release resource (a release the CLI
	// started is never taken over by a resource: docs/security.md); a
	// second resource with a credential in its URL is stalled.
	next, err := templates.Release(templates.ReleaseParams{Name: "reviews-v3", RepoURL: s.url, Path: s.path, Application: s.rel.Spec.ArgoCD.Application,
		Namespace: s.ns, Workload: "reviews-v2", Version: "v3", Tag: "3.0", Steps: "[{setWeight: 10}, {setWeight: 100}]"})
	if err != nil {
		t.Fatal(err)
	}
	nextFile := filepath.Join(t.TempDir(), "next.yaml")
	writeFile(t, nextFile, string(next))
	installReleaseCRD(t, s.env)
	dyn := s.dynamic()
	c := s.startSecretsController(config, []string{
		"GITCANARY_GIT_USERNAME=" + sec["git-user"],
		"GITCANARY_GIT_PASSWORD=" + sec["git-password"],
		"ARGOCD_AUTH_TOKEN=" + argoEnv,
	})
	s.env.Kubectl(t, "apply", "-n", s.ns, "-f", nextFile)
	bad := strings.Replace(strings.Replace(string(mustReadFile(t, s.file)), "name: reviews-v2", "name: reviews-leak", 1), s.url, "https://x-access-token:"+sec["url-resource"]+"@"+host, 1)
	badFile := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, badFile, bad)
	s.env.Kubectl(t, "apply", "-n", s.ns, "-f", badFile)
	stalled := s.waitNamedCR(dyn, "reviews-leak", func(st controller.Status) bool {
		return conditionReason(st, controller.ConditionStalled) == "InvalidSpec"
	})
	if msg := conditionMessage(stalled, controller.ConditionStalled); !strings.Contains(msg, "spec.repo.url: carries a password") {
		t.Errorf("reviews-leak Stalled: %q, want the refusal of its URL", msg)
	}
	s.waitNamedCR(dyn, "reviews-v3", promoted)
	if got := s.routes(context.Background()); got != "v3=100" {
		t.Errorf("cluster routes %s after reviews-v3, want v3=100", got)
	}
	c.stop(syscall.SIGTERM)
	outputs["controller log"] = c.log()

	// Everything gitcanary wrote.
	outputs["Events"] = s.env.Kubectl(t, "get", "events", "-n", s.ns, "-o", "json")
	for _, name := range []string{"reviews-v3", "reviews-leak"} {
		// The spec is what the user wrote (reviews-leak's holds a secret on
		// purpose); the status is gitcanary's.
		outputs["status of Release "+name] = s.env.Kubectl(t, "get", "releases.gitcanary.io", "-n", s.ns, name, "-o", "jsonpath={.status}")
	}
	outputs["Application annotations"] = s.env.Kubectl(t, "get", "applications.argoproj.io", "-n", "argocd", s.ns, "-o", "jsonpath={.metadata.annotations}")
	outputs["git log -p --all"] = s.server.Git(t, "apps.git", "log", "-p", "--all", "--format=fuller%n%B")
	outputs["git cache"] = cacheText(t, s.cache)

	if !strings.Contains(outputs["git log -p --all"], "Gitcanary-Release: reviews-v2") || !strings.Contains(outputs["controller log"], "reviews-v3") ||
		!strings.Contains(outputs["Events"], "Promoted") || !strings.Contains(outputs["Application annotations"], "gitcanary.io/phase") {
		t.Fatal("the outputs searched miss what the release wrote: the search would prove nothing")
	}
	if found := sec.leaks(map[string]string{"a check of the check": "x" + sec["config"] + "x"}); len(found) != 1 {
		t.Fatalf("the search finds %v in a text holding one secret", found)
	}
	for _, leak := range sec.leaks(outputs) {
		t.Errorf("leaked: %s", leak)
	}
}

// argoToken makes a new API token of the bed's gitcanary account, with id,
// deleted when the test ends: a second, distinct Argo CD credential.
func (s *scenario) argoToken(id string) string {
	s.t.Helper()
	call := func(method, path, body string) []byte {
		req, err := http.NewRequest(method, "http://"+s.env.ArgoServer+path, strings.NewReader(body))
		if err != nil {
			s.t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+s.env.ArgoToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			s.t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			s.t.Fatalf("Argo CD %s %s: %s", method, path, resp.Status)
		}
		return b
	}
	var out struct{ Token string }
	if err := json.Unmarshal(call("POST", "/api/v1/account/gitcanary/token", fmt.Sprintf(`{"name":"gitcanary","id":%q,"expiresIn":3600}`, id)), &out); err != nil || out.Token == "" {
		s.t.Fatalf("no token from Argo CD: %v", err)
	}
	s.t.Cleanup(func() { call("DELETE", "/api/v1/account/gitcanary/token/"+id, "") })
	return out.Token
}

// useRepo points the scenario's Application at s.url and gives Argo CD the
// repository's credentials in a repository Secret, then waits until Argo
// CD has applied the head from there.
func (s *scenario) useRepo(user, password string) {
	s.t.Helper()
	secret := fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: repo-%s
  namespace: argocd
  labels: {argocd.argoproj.io/secret-type: repository}
stringData: {type: git, url: %q, username: %q, password: %q}
`, s.ns, s.url, user, password)
	file := filepath.Join(s.t.TempDir(), "repo.yaml")
	writeFile(s.t, file, secret)
	s.env.Kubectl(s.t, "apply", "-f", file)
	s.t.Cleanup(func() {
		s.env.KubectlE(context.Background(), "delete", "secret", "-n", "argocd", "repo-"+s.ns, "--wait=false")
	})
	s.env.Kubectl(s.t, "patch", "applications.argoproj.io", "-n", "argocd", s.ns, "--type=merge", "-p", fmt.Sprintf(`{"spec":{"source":{"repoURL":%q}}}`, s.url))
	s.syncAndWait(s.head())
}

// startSecretsController is startController with the planted environment
// (its ARGOCD_AUTH_TOKEN replaces the bed's: the later value wins) and
// config file, logging at debug.
func (s *scenario) startSecretsController(config string, env []string) *controllerProc {
	s.t.Helper()
	s.procEnv = env
	defer func() { s.procEnv = nil }()
	return s.startController("secrets", s.cache, "--config", config, "--log-level", "debug")
}

// waitNamedCR waits until Release resource name's status satisfies ok.
func (s *scenario) waitNamedCR(dyn dynamic.Interface, name string, ok func(controller.Status) bool) controller.Status {
	s.t.Helper()
	deadline := time.Now().Add(crWait)
	for {
		var st controller.Status
		u, err := dyn.Resource(releases).Namespace(s.ns).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			b, _ := json.Marshal(u.Object["status"])
			_ = json.Unmarshal(b, &st)
			if ok(st) {
				return st
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("waiting for Release %s: %v, conditions %s", name, err, conditions(st))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func conditionReason(st controller.Status, t string) string {
	for _, c := range st.Conditions {
		if c.Type == t && c.Status == "True" {
			return c.Reason
		}
	}
	return ""
}

func conditionMessage(st controller.Status, t string) string {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c.Message
		}
	}
	return ""
}

// cacheText is every file of the git cache but its objects (which hold the
// repository's content, searched through git log) and every name in it.
func cacheText(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(p + "\n")
		if fi.IsDir() && fi.Name() == "objects" {
			return filepath.SkipDir
		}
		if !fi.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b.Write(data)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
