package redact

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
)

// The secrets planted in the tables below; none may survive redaction.
const (
	pass  = "hunter2pw"
	token = "ghp_0123456789abcdefABCDEF0123456789ab"
)

func TestCredential(t *testing.T) {
	tests := []struct {
		url  string
		want string // a word of the description; "" for no credential
	}{
		// Refused: passwords, in every scheme.
		{"https://user:" + pass + "@git.example/apps.git", "password"},
		{"http://x-access-token:" + pass + "@git.example/apps.git", "password"},
		{"https://oauth2:" + pass + "@gitlab.example/apps.git", "password"},
		{"https://" + token + ":x-oauth-basic@github.com/o/r.git", "password"},
		{"https://user:@git.example/apps.git", "password"}, // an empty one still says "put it here"
		{"ssh://git:" + pass + "@git.example/apps.git", "password"},
		{"git://u:" + pass + "@127.0.0.1/apps.git", "password"},
		{"file://u:" + pass + "@/srv/apps.git", "password"},
		{"HTTPS://user:" + pass + "@git.example/apps.git", "password"},
		{"https://user:" + pass + "@git.example/a b%zz", "password"}, // not a valid URL: still found
		{"git:" + pass + "@git.example:o/r.git", "password"},         // scp-like
		// Refused: a token as the user name of http(s).
		{"https://" + token + "@github.com/o/r.git", "token"},
		{"https://github_pat_11ABCDEFG0123456789_abcdef@github.com/o/r.git", "token"},
		{"https://glpat-abcdefghij0123456789@gitlab.example/o/r.git", "token"},
		{"https://eyJhbGciOiJIUzI1NiJ9.e30.sig@git.example/r.git", "token"},
		{"https://0123456789abcdef0123456789abcdef01234567@github.com/o/r.git", "token"}, // 40 hex
		{"https://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst12@dev.azure.com/o/_git/r", "token"},
		{"https://ghp%5Fabc@github.com/o/r.git", "token"}, // escaped
		// Refused: credential query parameters.
		{"https://git.example/apps.git?access_token=" + pass, "access_token"},
		{"https://git.example/apps.git?ref=main&private_token=" + pass, "private_token"},
		{"https://git.example/apps.git?X-Amz-Signature=" + pass, "X-Amz-Signature"},
		{"https://git.example/apps.git?a=1;api_key=" + pass, "api_key"},
		{"https://git.example/apps.git?Password=" + pass + "#frag", "Password"},
		// Accepted: no credential.
		{"git://127.0.0.1:9418/apps.git", ""},
		{"https://git.example/apps.git", ""},
		{"https://alice@git.example/apps.git", ""},
		{"https://first.last@git.example/apps.git", ""},
		{"https://Zq7S3cretValue4242@git.example/apps.git", "token"}, // 16+, mixed case and digits
		{"https://deploy-bot-2024@git.example/apps.git", ""},
		{"https://JohnSmith1987@git.example/apps.git", ""},
		{"ssh://git@github.com/o/r.git", ""},
		{"ssh://" + token + "@git.example/r.git", ""}, // an ssh user is a login name, never a secret
		{"git@github.com:o/r.git", ""},
		{"file:///srv/apps.git", ""},
		{"/srv/git/apps.git", ""},
		{"../apps", ""},
		{"https://git.example/apps.git?ref=main", ""},
		{"", ""},
		{"://", ""},
		{"@", ""},
	}
	for _, tt := range tests {
		got := Credential(tt.url)
		switch {
		case tt.want == "" && got != "":
			t.Errorf("Credential(%q) = %q, want none", tt.url, got)
		case tt.want != "" && !strings.Contains(got, tt.want):
			t.Errorf("Credential(%q) = %q, want one mentioning %q", tt.url, got, tt.want)
		}
		if strings.Contains(got, pass) || strings.Contains(got, token) {
			t.Errorf("Credential(%q) = %q quotes the secret", tt.url, got)
		}
		err := CheckURL("spec.repo.url", tt.url)
		if (err != nil) != (tt.want != "") || err != nil && (!errors.Is(err, ErrCredentials) || !strings.HasPrefix(err.Error(), "spec.repo.url carries ") || !strings.Contains(err.Error(), "GITCANARY_GIT_PASSWORD")) {
			t.Errorf("CheckURL(%q) = %v", tt.url, err)
		}
	}
}

func TestURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://user:" + pass + "@git.example/apps.git", "https://redacted@git.example/apps.git"},
		{"https://" + token + "@github.com/o/r.git", "https://redacted@github.com/o/r.git"},
		{"https://" + token + ":x-oauth-basic@github.com/o/r.git", "https://redacted@github.com/o/r.git"},
		{"ssh://git:" + pass + "@git.example:22/apps.git", "ssh://git:redacted@git.example:22/apps.git"},
		{"git:" + pass + "@git.example:o/r.git", "git:redacted@git.example:o/r.git"},
		{"https://git.example/a.git?ref=main&access_token=" + pass + "#x", "https://git.example/a.git?ref=main&access_token=redacted#x"},
		{"https://git.example/a.git?a=1;sig=" + pass, "https://git.example/a.git?a=1;sig=redacted"},
		{"https://user:" + pass + "@git.example/a%zz b", "https://redacted@git.example/a%zz b"},
		// Left as they are.
		{"https://alice@git.example/apps.git", "https://alice@git.example/apps.git"},
		{"https://first%2Elast@git.example/apps.git", "https://first%2Elast@git.example/apps.git"},
		{"ssh://git@github.com/o/r.git", "ssh://git@github.com/o/r.git"},
		{"git@github.com:o/r.git", "git@github.com:o/r.git"},
		{"git://127.0.0.1:9418/apps.git", "git://127.0.0.1:9418/apps.git"},
		{"/srv/git/apps.git", "/srv/git/apps.git"},
		{"https://git.example/a.git?ref=main", "https://git.example/a.git?ref=main"},
		{"not a url", "not a url"},
	}
	for _, tt := range tests {
		if got := URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestText(t *testing.T) {
	in := fmt.Sprintf(`fetch main from https://u:%s@h.example/a.git: Get "https://%s@h.example/a.git/info/refs?service=git-upload-pack&access_token=%s": EOF (see <http://u:%s@h/x>, 'git://u:%s@h/y')`, pass, token, pass, pass, pass)
	got := Text(in)
	if strings.Contains(got, pass) || strings.Contains(got, token) {
		t.Errorf("Text left a secret:\n%s", got)
	}
	for _, want := range []string{"fetch main from https://redacted@h.example/a.git: ", `"https://redacted@h.example/a.git/info/refs?service=git-upload-pack&access_token=redacted"`, "<http://redacted@h/x>", "'git://u:redacted@h/y'"} {
		if !strings.Contains(got, want) {
			t.Errorf("Text(…) = %s\nwant it to hold %s", got, want)
		}
	}
	if plain := "no URL here: spec.repo.path is required"; Text(plain) != plain {
		t.Errorf("Text changed %q", plain)
	}
}

func TestError(t *testing.T) {
	if Error(nil) != nil {
		t.Error("Error(nil) != nil")
	}
	base := fmt.Errorf("push to https://u:%s@h/a.git: %w", pass, fs.ErrPermission)
	err := Error(base)
	if strings.Contains(err.Error(), pass) || !strings.Contains(err.Error(), "https://redacted@h/a.git") {
		t.Errorf("Error() = %v", err)
	}
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("the redacted error lost its chain: %v", err)
	}
	plain := errors.New("no URL")
	if Error(plain) != plain {
		t.Error("an error without credentials should come back as it is")
	}
}

type urlStringer struct{}

func (urlStringer) String() string { return "https://u:" + pass + "@h/s" }

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(Handler(slog.NewTextHandler(&buf, nil)))
	log = log.With("repo", "https://"+token+"@h/with").WithGroup("g")
	log.Info("fetch https://u:"+pass+"@h/msg failed",
		"err", fmt.Errorf("dial https://u:%s@h/err", pass),
		"url", "https://h/a?access_token="+pass,
		"stringer", urlStringer{},
		"list", []string{"https://u:" + pass + "@h/list"},
		slog.Group("inner", "u", "ssh://git:"+pass+"@h/inner"),
		"count", 3)
	out := buf.String()
	if strings.Contains(out, pass) || strings.Contains(out, token) {
		t.Errorf("log line leaks a secret:\n%s", out)
	}
	for _, want := range []string{"repo=https://redacted@h/with", "https://redacted@h/msg", "g.err=\"dial https://redacted@h/err\"", "access_token=redacted", "g.stringer=https://redacted@h/s", "g.inner.u=ssh://git:redacted@h/inner", "g.count=3"} {
		if !strings.Contains(out, want) {
			t.Errorf("log line lacks %s:\n%s", want, out)
		}
	}
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := Writer(&buf)
	line := "Git:\thttps://u:" + pass + "@h/a.git apps/reviews@1234abcd\n"
	n, err := fmt.Fprint(w, line)
	if err != nil || n != len(line) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(line))
	}
	if got := buf.String(); got != "Git:\thttps://redacted@h/a.git apps/reviews@1234abcd\n" {
		t.Errorf("wrote %q", got)
	}
}
