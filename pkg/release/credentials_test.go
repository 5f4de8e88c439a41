package release

import (
	"errors"
	"strings"
	"testing"
)

// TestCredentialsInRepoURL: a Release whose spec.repo.url carries a
// credential is invalid, with a message naming the field and where
// credentials go, and never quoting the secret. URLs with a user name that
// is no secret stay valid.
func TestCredentialsInRepoURL(t *testing.T) {
	const secret = "S3cr3tValue0123456789xyz"
	refused := []struct{ url, what string }{
		{"https://user:" + secret + "@git.example/apps.git", "a password in its user info (user:password@)"},
		{"https://x-access-token:" + secret + "@github.com/o/apps.git", "a password in its user info (user:password@)"},
		{"https://ghp_" + secret + "@github.com/o/apps.git", "a token as its user name (token@)"},
		{"https://" + secret + "@git.example/apps.git", "a token as its user name (token@)"},
		{"ssh://git:" + secret + "@git.example/apps.git", "a password in its user info (user:password@)"},
		{"git://u:" + secret + "@127.0.0.1:9418/apps.git", "a password in its user info (user:password@)"},
		{"https://git.example/apps.git?access_token=" + secret, `a credential in its query parameter "access_token"`},
		{"https://git.example/apps.git?private_token=" + secret, `a credential in its query parameter "private_token"`},
		{"https://user:" + secret + "@git.example/a%zz pps.git", "a password in its user info (user:password@)"}, // not a URL at all
	}
	for _, tc := range refused {
		doc := strings.Replace(validYAML, "git://127.0.0.1:9418/apps.git", tc.url, 1)
		r, err := Parse([]byte(doc))
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		err = Validate(r, ValidateOptions{})
		want := "spec.repo.url: carries " + tc.what + "; credentials never go in a repository URL"
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "GITCANARY_GIT_PASSWORD") {
			t.Errorf("url with %s: error\n%v\nwant ErrInvalid containing\n%s", tc.what, err, want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("error quotes the secret: %v", err)
		}
	}
	for _, u := range []string{
		"https://git.example/apps.git",
		"https://alice@git.example/apps.git",
		"ssh://git@github.com/o/apps.git",
		"https://git.example/apps.git?ref=main",
	} {
		r, err := Parse([]byte(strings.Replace(validYAML, "git://127.0.0.1:9418/apps.git", u, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if err := Validate(r, ValidateOptions{}); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}
