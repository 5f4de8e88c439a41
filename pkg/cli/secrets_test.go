package cli

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/gitcanary/gitcanary/templates"
)

// TestCredentialsRefused: every way a repository URL (or the Argo CD
// server) reaches the command line refuses credentials in it with exit
// code 2, a message naming where it came from and where credentials go,
// nothing committed, and the secret nowhere in what was printed.
func TestCredentialsRefused(t *testing.T) {
	const secret = "Zq7S3cretValue4242xyzzy"
	w := newCLIWorld(t)
	head := w.server.Git(t, "apps.git", "rev-parse", "main")
	host := strings.TrimPrefix(w.url, "git://")
	withURL := func(name, url string) string {
		f := w.writeRelease(name, templates.ReleaseParams{})
		os.WriteFile(f, bytes.Replace(mustRead(t, f), []byte(w.url), []byte(url), 1), 0o644)
		return f
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"start, password in spec.repo.url", nil,
			[]string{"start", "-f", withURL("a.yaml", "http://user:"+secret+"@"+host), "--wait-for=none"},
			"spec.repo.url: carries a password in its user info (user:password@); credentials never go in a repository URL"},
		{"lint, token as user in spec.repo.url", nil,
			[]string{"lint", "-f", withURL("b.yaml", "https://ghp_"+secret+"@"+host)},
			"spec.repo.url: carries a token as its user name (token@)"},
		{"plan, query token in spec.repo.url", nil,
			[]string{"plan", "-f", withURL("c.yaml", "https://"+host+"?access_token="+secret)},
			`spec.repo.url: carries a credential in its query parameter "access_token"`},
		{"status --repo with a password", nil,
			[]string{"status", "reviews-v2", "--repo", "https://x-access-token:" + secret + "@" + host, "--path", "apps/reviews"},
			"--repo carries a password in its user info"},
		{"approve, GITCANARY_REPO with a token", map[string]string{"GITCANARY_REPO": "https://" + secret + "@" + host, "GITCANARY_PATH": "apps/reviews"},
			[]string{"approve", "reviews-v2", "--wait-for=none"},
			"GITCANARY_REPO carries a token as its user name"},
		{"set-weight --repo ssh with a password", nil,
			[]string{"set-weight", "reviews-v2", "10", "--repo", "ssh://git:" + secret + "@" + host, "--path", "apps/reviews", "--wait-for=none"},
			"--repo carries a password in its user info"},
		{"abort --repo with a private_token", nil,
			[]string{"abort", "reviews-v2", "--repo", "https://" + host + "?private_token=" + secret, "--path", "apps/reviews", "--wait-for=none"},
			`--repo carries a credential in its query parameter "private_token"`},
		{"history --repo with a password", nil,
			[]string{"history", "reviews-v2", "--repo", "git://u:" + secret + "@" + host, "--path", "apps/reviews"},
			"--repo carries a password in its user info"},
		{"run --releases-repo with a password", nil,
			[]string{"--server", "127.0.0.1:1", "run", "--releases-repo", w.url, "--releases-repo", "https://bot:" + secret + "@" + host},
			"--releases-repo carries a password in its user info"},
		{"--server with user info", nil,
			[]string{"--server", "admin:" + secret + "@127.0.0.1:1", "start", "-f", w.file},
			"--server (ARGOCD_SERVER) carries user info (user@ or user:password@); it is host:port only: give Argo CD's token in ARGOCD_AUTH_TOKEN"},
		{"ARGOCD_SERVER with user info", map[string]string{"ARGOCD_SERVER": "admin:" + secret + "@127.0.0.1:1"},
			[]string{"run", "--resources=false", "--releases-repo", w.url},
			"--server (ARGOCD_SERVER) carries user info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, out, errs := w.run(tt.args...)
			if code != ExitInvalid || !strings.Contains(errs, tt.want) {
				t.Errorf("code %d, stderr:\n%s\nwant exit 2 and:\n%s", code, errs, tt.want)
			}
			if !strings.Contains(errs, "GITCANARY_GIT_PASSWORD") && !strings.Contains(tt.want, "--server") {
				t.Errorf("the message does not say where credentials go:\n%s", errs)
			}
			if strings.Contains(out+errs, secret) {
				t.Errorf("the secret was printed:\n%s%s", out, errs)
			}
			if got := w.server.Git(t, "apps.git", "rev-parse", "main"); got != head {
				t.Errorf("main moved from %.8s to %.8s", head, got)
			}
		})
	}
}
