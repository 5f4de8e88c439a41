package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const twoContexts = `apiVersion: v1
kind: Config
current-context: one
clusters:
- name: one
  cluster: {server: "https://127.0.0.1:6443"}
- name: two
  cluster: {server: "https://127.0.0.1:7443"}
users:
- name: admin
  user: {token: "not-a-secret"}
contexts:
- name: one
  context: {cluster: one, user: admin}
- name: two
  context: {cluster: two, user: admin}
`

func TestConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(twoContexts), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		kubeconfig string
		env        string
		context    string
		wantHost   string
		wantErr    string
	}{
		{name: "explicit path, current context", kubeconfig: path, wantHost: "https://127.0.0.1:6443"},
		{name: "explicit path, --context", kubeconfig: path, context: "two", wantHost: "https://127.0.0.1:7443"},
		{name: "KUBECONFIG env", env: path, context: "two", wantHost: "https://127.0.0.1:7443"},
		{name: "unknown context", kubeconfig: path, context: "three", wantErr: `context "three" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tt.env)
			cfg, err := Config(tt.kubeconfig, tt.context)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Config error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Host != tt.wantHost {
				t.Errorf("Host = %q, want %q", cfg.Host, tt.wantHost)
			}
		})
	}
}
