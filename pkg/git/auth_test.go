package git

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// TestHTTPBasicAuth: over http(s) the credentials come from Options (the
// CLI's GITCANARY_GIT_USERNAME and GITCANARY_GIT_PASSWORD), fetch and push
// work with them, and a wrong or missing password fails without the
// password in the error or the cache's name.
func TestHTTPBasicAuth(t *testing.T) {
	const user, password = "gitcanary", "pw-s3cret-http"
	e := newEnv(t)
	h := e.srv.HTTP(t, user, password)
	url := h.URL(e.name)
	ctx := context.Background()

	cache := t.TempDir()
	r, err := Open(ctx, Options{URL: url, Branch: "main", CacheDir: cache, Username: user, Password: password})
	if err != nil {
		t.Fatalf("Open with the right credentials: %v", err)
	}
	res, err := r.Apply(ctx, fixed(Change{Write: map[string][]byte{"apps/reviews/weight": []byte("10")}},
		Message{Subject: "weight 10", Trailers: step("reviews-v2", "step/1/weight/10")}))
	if err != nil {
		t.Fatalf("push over http: %v", err)
	}
	if got := e.head(t); got != res.Commit.Hash {
		t.Errorf("server's main is %.8s, the push made %.8s", got, res.Commit.Hash)
	}
	if strings.Contains(CacheDir(Options{URL: url, CacheDir: cache}), password) {
		t.Error("cache directory named after the password")
	}

	for name, opts := range map[string]Options{
		"wrong password": {Username: user, Password: "pw-wrong-s3cret"},
		"no password":    {Username: user},
		"none":           {},
	} {
		opts.URL, opts.Branch, opts.CacheDir = url, "main", t.TempDir()
		before := h.Denied()
		_, err := Open(ctx, opts)
		t.Logf("%s: %v", name, err)
		if !errors.Is(err, transport.ErrAuthenticationRequired) && !errors.Is(err, transport.ErrAuthorizationFailed) {
			t.Errorf("%s: error %v, want an authentication error", name, err)
		}
		if err != nil && (strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), url)) {
			t.Errorf("%s: error %q should name %s and no password", name, err, url)
		}
		if h.Denied() == before {
			t.Errorf("%s: the server denied nothing", name)
		}
	}
}
