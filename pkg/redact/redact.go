// Package redact keeps credentials out of what gitcanary prints, logs,
// records and commits. It finds credentials in repository URLs, so that
// callers can refuse them, and removes them from URLs and from any text
// that embeds URLs (error messages of git libraries, Argo CD messages).
//
// What counts as a credential in a URL (docs/security.md#credentials):
//
//   - a password in the user info, in any scheme (https://u:p@…, ssh://git:p@…);
//   - in http(s), a user name that is a token: a known token prefix (ghp_,
//     github_pat_, glpat-, …), a JSON Web Token, or a run of letters and
//     digits that no person would pick as a name (see tokenLike);
//   - a query parameter whose name says it holds one (access_token,
//     private_token, password, key, signature, …).
//
// The user of ssh://git@host/… or git@host:path, and a plain user name in
// http(s) such as https://alice@host/…, are not secrets: they stay.
package redact

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Mask replaces a credential in what is printed.
const Mask = "redacted"

// ErrCredentials is wrapped by every refusal of a URL that carries credentials.
var ErrCredentials = errors.New("credentials in a repository URL")

// Where tells users where credentials go instead of a URL.
const Where = "give gitcanary http(s) credentials in GITCANARY_GIT_USERNAME and GITCANARY_GIT_PASSWORD, " +
	"ssh keys through an ssh agent, and Argo CD its own in a repository Secret (docs/security.md#credentials)"

// CredentialError refuses a URL that carries a credential. It never holds the URL.
type CredentialError struct {
	Field string // where the URL came from: "spec.repo.url", "--releases-repo", …
	What  string // what was found: "a password", …
}

func (e *CredentialError) Error() string {
	return fmt.Sprintf("%s carries %s; credentials never go in a repository URL, which is committed, printed and logged: %s", e.Field, e.What, Where)
}

// Is lets errors.Is(err, ErrCredentials) match.
func (e *CredentialError) Is(target error) bool { return target == ErrCredentials }

// CheckURL returns a *CredentialError naming field when raw carries a
// credential, else nil.
func CheckURL(field, raw string) error {
	if what := Credential(raw); what != "" {
		return &CredentialError{Field: field, What: what}
	}
	return nil
}

// Credential describes the credential raw carries ("a password in the user
// info", …) without quoting it, or returns "" when it carries none.
func Credential(raw string) string {
	p, ok := split(raw)
	if !ok {
		return ""
	}
	switch {
	case p.hasPass:
		return "a password in its user info (user:password@)"
	case p.hasUser && webScheme(p.scheme) && tokenLike(p.user):
		return "a token as its user name (token@)"
	}
	if name := secretParam(p.query); name != "" {
		return fmt.Sprintf("a credential in its query parameter %q", name)
	}
	return ""
}

// URL returns raw safe to print: a password and, in http(s), a user name
// that is a token or comes with a password are replaced by Mask, and so is
// the value of every query parameter that holds a credential. Anything
// that is not a URL with a scheme (a path, git@host:path) is returned as
// it is, unless its user info has a password.
func URL(raw string) string {
	p, ok := split(raw)
	if !ok {
		return raw
	}
	user := p.rawUser
	switch {
	case !p.hasUser:
	case webScheme(p.scheme) && (p.hasPass || tokenLike(p.user)):
		// x-oauth-basic and friends put the token in the user name and a
		// placeholder in the password: with a password, hide both.
		user = Mask
	case p.hasPass:
		user += ":" + Mask
	}
	var b strings.Builder
	b.WriteString(p.head)
	if p.hasUser {
		b.WriteString(user)
		b.WriteByte('@')
	}
	b.WriteString(p.host)
	if p.query != "" {
		b.WriteByte('?')
		b.WriteString(maskQuery(p.query))
	}
	b.WriteString(p.tail)
	return b.String()
}

// urlInText finds URLs with a scheme in free text; quotes, spaces and
// angle brackets end them.
var urlInText = regexp.MustCompile("[A-Za-z][A-Za-z0-9+.-]*://[^\\s\"'<>`]+")

// Text returns s with every URL in it passed through URL.
func Text(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlInText.ReplaceAllStringFunc(s, URL)
}

// Error returns err with its message passed through Text; errors.Is and
// errors.As still see err. It returns nil for nil.
func Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := Text(msg); clean != msg {
		return &redacted{err: err, msg: clean}
	}
	return err
}

type redacted struct {
	err error
	msg string
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// parts is a URL cut where credentials live: head is "scheme://", host
// runs to the path, query is without its "?", tail is the rest (path
// and fragment around the query).
type parts struct {
	scheme, head      string
	user, rawUser     string // rawUser as written, user unescaped
	hasUser, hasPass  bool
	host, query, tail string
}

// split cuts raw by hand rather than with url.Parse, which refuses some of
// what people paste (a stray space, a bad escape) and would then hide a
// credential from both the check and the redaction. scp-like addresses
// (user@host:path) are read too: only a password counts there.
func split(raw string) (parts, bool) {
	var p parts
	i := strings.Index(raw, "://")
	if i <= 0 || !validScheme(raw[:i]) {
		return scpLike(raw)
	}
	p.scheme, p.head = strings.ToLower(raw[:i]), raw[:i+3]
	rest := raw[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		p.hasUser = true
		info := authority[:at]
		authority = authority[at+1:]
		if c := strings.IndexByte(info, ':'); c >= 0 {
			p.hasPass, info = true, info[:c]
		}
		p.rawUser = info
		if u, err := url.PathUnescape(info); err == nil {
			p.user = u
		} else {
			p.user = info
		}
	}
	p.host = authority
	rest = rest[end:]
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		path, after := rest[:q], rest[q+1:]
		frag := ""
		if h := strings.IndexByte(after, '#'); h >= 0 {
			after, frag = after[:h], after[h:]
		}
		p.query = after
		// The path goes before the query: keep it in host's place order.
		p.host += path
		p.tail = frag
	} else {
		p.host += rest
	}
	return p, true
}

// scpLike reads user@host:path; a ':' in the user part is a password.
func scpLike(raw string) (parts, bool) {
	at := strings.IndexByte(raw, '@')
	if at <= 0 || strings.ContainsAny(raw[:at], "/ ") {
		return parts{}, false
	}
	info := raw[:at]
	c := strings.IndexByte(info, ':')
	if c < 0 {
		return parts{}, false // user@host:path: the user is no secret
	}
	return parts{user: info[:c], rawUser: info[:c], hasUser: true, hasPass: true, host: raw[at+1:]}, true
}

func validScheme(s string) bool {
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return s != ""
}

func webScheme(s string) bool { return s == "http" || s == "https" }

// tokenPrefixes start tokens of the common git hosts and CI systems.
var tokenPrefixes = []string{
	"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", // GitHub
	"glpat-", "gloas-", "gldt-", "glrt-", "glcbt-", "glptt-", // GitLab
	"ATBB", "ATCTT", // Bitbucket, Atlassian
	"eyJ", // a JSON Web Token (base64 of `{"`)
}

// tokenLike reports whether a user name is really a token: a known prefix;
// 20 characters or more of letters, digits and -_.+/= with at least three
// letters and three digits; or 16 or more of them mixing at least two
// upper-case letters, two lower-case letters and two digits. Names people
// pick are shorter or mostly letters; GitHub's 40-hex, Bitbucket's,
// Azure DevOps' 52-character and most other tokens are not.
func tokenLike(user string) bool {
	for _, p := range tokenPrefixes {
		if strings.HasPrefix(user, p) {
			return true
		}
	}
	upper, lower, digits := 0, 0, 0
	for _, r := range user {
		switch {
		case r >= 'A' && r <= 'Z':
			upper++
		case r >= 'a' && r <= 'z':
			lower++
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("-_.+/=", r):
		default:
			return false
		}
	}
	n, letters := len(user), upper+lower
	return n >= 20 && letters >= 3 && digits >= 3 || n >= 16 && upper >= 2 && lower >= 2 && digits >= 2
}

// secretWords mark query parameters that hold credentials.
var secretWords = []string{"token", "secret", "pass", "pwd", "key", "auth", "sig", "credential", "session"}

func secretName(name string) bool {
	if n, err := url.QueryUnescape(name); err == nil {
		name = n
	}
	name = strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// params cuts a query into name=value pieces and the separators between them.
var params = regexp.MustCompile(`[^&;]+|[&;]+`)

// secretParam returns the name of the first query parameter that holds a credential.
func secretParam(query string) string {
	for _, kv := range params.FindAllString(query, -1) {
		if name, _, _ := strings.Cut(kv, "="); secretName(name) {
			return name
		}
	}
	return ""
}

// maskQuery replaces the values of credential parameters, keeping the rest as written.
func maskQuery(query string) string {
	return params.ReplaceAllStringFunc(query, func(kv string) string {
		if name, _, ok := strings.Cut(kv, "="); ok && secretName(name) {
			return name + "=" + Mask
		}
		return kv
	})
}
