package gittest

import (
	"crypto/subtle"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// HTTPServer serves a Server's repositories over git's smart HTTP protocol
// with basic auth, as git hosts do for https. It runs `git http-backend`
// as a CGI program, the way git's documentation sets it up behind a web
// server: the backend sees a REMOTE_USER only once the request carried the
// right user name and password, and only then accepts pushes
// (http.receivepack's default). A request without them, or with others,
// gets 401 and a WWW-Authenticate challenge, as from GitHub or GitLab.
type HTTPServer struct {
	srv    *httptest.Server
	denied atomic.Int64
}

// HTTP starts an HTTP front for s's repositories on 127.0.0.1 that asks for
// user and password, and stops it when the test ends.
func (s *Server) HTTP(t testing.TB, user, password string) *HTTPServer {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("gittest: git --exec-path: %v", err)
	}
	backend := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(out)), "git-http-backend"),
		Env: append(gitEnv(),
			"GIT_PROJECT_ROOT="+s.base,
			"GIT_HTTP_EXPORT_ALL=1",
			"REMOTE_USER="+user,
		),
	}
	h := &HTTPServer{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(password)) != 1 {
			h.denied.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="gittest"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// URL is the http:// URL of repository name, without credentials.
func (h *HTTPServer) URL(name string) string { return h.srv.URL + "/" + name }

// Denied counts the requests refused for want of the right credentials.
func (h *HTTPServer) Denied() int64 { return h.denied.Load() }
