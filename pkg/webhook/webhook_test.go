package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitcanary/gitcanary/pkg/release"
)

func hook(url string) release.Webhook {
	return release.Webhook{Name: "gate", Type: release.ConfirmStep, URL: url, Metadata: map[string]string{"team": "reviews"}}
}

func payload() Payload {
	return Payload{ID: "reviews-v2/confirm-step/3/step/2/weight/50", Type: release.ConfirmStep, Webhook: "gate", Name: "reviews-v2",
		Namespace: "bookinfo", Release: "reviews-v2", Phase: release.Paused, Step: 1, Steps: 3,
		Weights: []release.Weight{{Version: "v1", Weight: 90}, {Version: "v2", Weight: 10}},
		Next:    &Next{Action: "step/2/weight/50", Weights: []release.Weight{{Version: "v1", Weight: 50}, {Version: "v2", Weight: 50}}},
		Time:    time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Metadata: map[string]string{"team": "reviews"}}
}

// TestCall: the request carries the payload as JSON, gitcanary's headers,
// the configured headers of the first entry that matches, and a signature
// a receiver can verify; the answer's status and body come back.
func TestCall(t *testing.T) {
	var got struct {
		header http.Header
		body   []byte
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.header, got.body = r.Header.Clone(), must(io.ReadAll(r.Body))
		if r.Method != http.MethodPost {
			t.Errorf("method %s", r.Method)
		}
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "outside\n the change\twindow")
	}))
	defer srv.Close()
	c := &Client{Auth: []Auth{
		{Name: "other", Headers: map[string]string{"X-Other": "no"}},
		{URLPrefix: srv.URL + "/hooks/", Headers: map[string]string{"Authorization": "Bearer abc"}, Secret: "k3y"},
		{URLPrefix: srv.URL, Headers: map[string]string{"X-Late": "no"}},
	}}
	a := c.Call(context.Background(), hook(srv.URL+"/hooks/gate"), payload())
	if a.OK() || a.Unreachable() || a.Status != 403 || a.Body != "outside the change window" || a.String() != "answered 403: outside the change window" {
		t.Fatalf("answer %+v (%s)", a, a)
	}
	for k, want := range map[string]string{"Content-Type": "application/json", HeaderDelivery: payload().ID, HeaderType: "confirm-step",
		HeaderWebhook: "gate", "Authorization": "Bearer abc", "X-Other": "", "X-Late": "", "User-Agent": "gitcanary"} {
		if v := got.header.Get(k); v != want {
			t.Errorf("header %s = %q, want %q", k, v, want)
		}
	}
	if !Verify([]byte("k3y"), got.body, got.header.Get(HeaderSignature)) || Verify([]byte("other"), got.body, got.header.Get(HeaderSignature)) {
		t.Errorf("signature %q does not verify", got.header.Get(HeaderSignature))
	}
	var p map[string]any
	if err := json.Unmarshal(got.body, &p); err != nil {
		t.Fatal(err)
	}
	// Flagger's fields, for receivers written for it.
	for k, want := range map[string]any{"name": "reviews-v2", "namespace": "bookinfo", "phase": "Paused", "type": "confirm-step", "step": 1.0} {
		if p[k] != want {
			t.Errorf("payload %s = %v, want %v", k, p[k], want)
		}
	}
	if md, _ := p["metadata"].(map[string]any); md["team"] != "reviews" {
		t.Errorf("metadata %v", p["metadata"])
	}
	if next, _ := p["next"].(map[string]any); next["action"] != "step/2/weight/50" {
		t.Errorf("next %v", p["next"])
	}
}

// TestAnswers: which answers say yes, no, or nothing.
func TestAnswers(t *testing.T) {
	var code atomic.Int64
	var slow atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			time.Sleep(time.Second) // longer than the call's timeout
			return
		}
		if code.Load() == http.StatusFound {
			w.Header().Set("Location", "http://127.0.0.1:1/elsewhere")
		}
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()
	c := &Client{}
	for _, tc := range []struct {
		code        int
		ok, unreach bool
	}{{200, true, false}, {202, true, false}, {204, true, false}, {299, true, false}, {302, false, false},
		{400, false, false}, {403, false, false}, {404, false, false}, {500, false, true}, {503, false, true}} {
		code.Store(int64(tc.code))
		a := c.Call(context.Background(), hook(srv.URL), payload())
		if a.Status != tc.code || a.OK() != tc.ok || a.Unreachable() != tc.unreach {
			t.Errorf("%d: answer %+v ok %v unreachable %v", tc.code, a, a.OK(), a.Unreachable())
		}
	}
	slow.Store(true)
	w := hook(srv.URL)
	w.Timeout = &release.Duration{Duration: 200 * time.Millisecond}
	if a := c.Call(context.Background(), w, payload()); a.Err == nil || !a.Unreachable() || a.String() != "could not be reached: no answer within 200ms" {
		t.Errorf("slow: %+v %s", a, a)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if a := c.Call(context.Background(), hook("http://"+addr+"/x"), payload()); !a.Unreachable() || !strings.Contains(a.String(), "connection refused") {
		t.Errorf("closed port: %s", a)
	}
}

// TestSecretsStayOut: a receiver that echoes the request's headers gets
// them masked in the answer, and a long body is cut.
func TestSecretsStayOut(t *testing.T) {
	const token = "tok-0123456789abcdef"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		io.WriteString(w, "bad credentials: "+r.Header.Get("Authorization")+" "+strings.Repeat("x", 1000))
	}))
	defer srv.Close()
	c := &Client{Auth: []Auth{{Name: "gate", Headers: map[string]string{"Authorization": "Bearer " + token}}}}
	a := c.Call(context.Background(), hook(srv.URL), payload())
	if strings.Contains(a.String(), token) || !strings.HasPrefix(a.Body, "bad credentials: redacted") || len(a.Body) > maxBody+4 {
		t.Errorf("answer %q", a)
	}
	for _, s := range c.Secrets() {
		if s == token {
			return
		}
	}
	t.Errorf("Secrets() %v does not list the token", c.Secrets())
}

// TestResolve: configuration entries are checked with the entry and field
// named and never a value; FromEnv values are read.
func TestResolve(t *testing.T) {
	env := map[string]string{"HOOK_TOKEN": "Bearer t0ken", "HOOK_SECRET": "s3cret"}
	getenv := func(k string) string { return env[k] }
	got, err := Resolve([]Auth{{URLPrefix: "https://hooks.example/", HeadersFromEnv: map[string]string{"authorization": "HOOK_TOKEN"}, SecretFromEnv: "HOOK_SECRET"}}, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Headers["Authorization"] != "Bearer t0ken" || got[0].Secret != "s3cret" {
		t.Errorf("resolved %+v", got[0])
	}
	for _, tc := range []struct {
		a    Auth
		want string
	}{
		{Auth{Headers: map[string]string{"A": "b"}}, "webhooks[0]: set name or urlPrefix"},
		{Auth{Name: "g", Headers: map[string]string{"Content-Type": "text/plain"}}, "headers: Content-Type is set by gitcanary"},
		{Auth{Name: "g", Headers: map[string]string{"X-Gitcanary-Signature": "forged"}}, "X-Gitcanary-Signature is set by gitcanary"},
		{Auth{Name: "g", Headers: map[string]string{"bad header": "v"}}, `"bad header" is not a valid header name`},
		{Auth{Name: "g", Headers: map[string]string{"X-A": "line\nbreak"}}, "the value of header X-A is not a valid header value"},
		{Auth{Name: "g", HeadersFromEnv: map[string]string{"X-A": "UNSET_VAR"}}, "names environment variable UNSET_VAR, which is not set"},
		{Auth{Name: "g", SecretFromEnv: "UNSET_VAR"}, "secretFromEnv names environment variable UNSET_VAR"},
		{Auth{Name: "g", Secret: "hunter22", SecretFromEnv: "HOOK_SECRET"}, "set secret or secretFromEnv, not both"},
		{Auth{URLPrefix: "https://u:hunter22@hooks.example/"}, "urlPrefix carries a password"},
		{Auth{URLPrefix: "ftp://hooks.example/"}, "is not an http(s) URL with a host"},
	} {
		_, err := Resolve([]Auth{tc.a}, getenv)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.a, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "hunter22") || strings.Contains(err.Error(), "s3cret")) {
			t.Errorf("error quotes a secret: %v", err)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
