package argocd

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestOptionsFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Options
		wantErr string
	}{
		{
			name: "nothing set",
			want: Options{},
		},
		{
			name: "server and token from their variables",
			env:  map[string]string{EnvServer: "127.0.0.1:8080", EnvAuthToken: " tok\n"},
			want: Options{Server: "127.0.0.1:8080", AuthToken: "tok"},
		},
		{
			name: "booleans from ARGOCD_OPTS",
			env:  map[string]string{EnvServer: "argocd:443", EnvOpts: "--plaintext --insecure --grpc-web"},
			want: Options{Server: "argocd:443", PlainText: true, Insecure: true, GRPCWeb: true},
		},
		{
			name: "ARGOCD_OPTS flags win over variables",
			env: map[string]string{
				EnvServer: "from-env:443", EnvAuthToken: "env-token",
				EnvOpts: "--server from-opts:80 --auth-token 'opts token' --plaintext",
			},
			want: Options{Server: "from-opts:80", AuthToken: "opts token", PlainText: true},
		},
		{
			name: "flag=value form",
			env:  map[string]string{EnvOpts: "--server=127.0.0.1:9000 --insecure"},
			want: Options{Server: "127.0.0.1:9000", Insecure: true},
		},
		{
			name: "explicit false",
			env:  map[string]string{EnvOpts: "--plaintext=false --grpc-web"},
			want: Options{GRPCWeb: true},
		},
		{
			name: "unknown flags are ignored",
			env:  map[string]string{EnvOpts: "--header 'X-Foo: bar' --plaintext --core"},
			want: Options{PlainText: true},
		},
		{
			name:    "value without a flag",
			env:     map[string]string{EnvOpts: "secret-token --plaintext"},
			wantErr: "ARGOCD_OPTS: a value without a flag",
		},
		{
			name:    "unterminated quote",
			env:     map[string]string{EnvOpts: "--server 'oops"},
			wantErr: "parse ARGOCD_OPTS",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := optionsFromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret-token") {
					t.Errorf("error echoes a possible token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("options = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestOptionsFromEnvReadsProcessEnv(t *testing.T) {
	t.Setenv(EnvServer, "127.0.0.1:8080")
	t.Setenv(EnvAuthToken, "tok")
	t.Setenv(EnvOpts, "--plaintext")
	got, err := OptionsFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Options{Server: "127.0.0.1:8080", AuthToken: "tok", PlainText: true}); got != want {
		t.Errorf("OptionsFromEnv = %+v, want %+v", got, want)
	}
}

func TestOptionsNeverPrintTheToken(t *testing.T) {
	o := Options{Server: "127.0.0.1:8080", AuthToken: "s3cr3t-token", PlainText: true}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("connecting", "argocd", o)
	for what, s := range map[string]string{"String": o.String(), "slog": buf.String()} {
		if strings.Contains(s, "s3cr3t") {
			t.Errorf("%s leaks the token: %s", what, s)
		}
		if !strings.Contains(s, "127.0.0.1:8080") {
			t.Errorf("%s lacks the server: %s", what, s)
		}
	}
	if !strings.Contains(o.String(), "auth-token=<redacted>") {
		t.Errorf("String = %s", o)
	}
}
