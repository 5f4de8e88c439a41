package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gitcanary/gitcanary/pkg/redact"
	"github.com/gitcanary/gitcanary/pkg/release"
)

// Auth is one entry of the configuration file's webhooks: the headers
// and signing secret of the webhooks it matches. A webhook matches when
// Name (if set) is its name and URLPrefix (if set) starts its URL; the
// first entry that matches applies. Values come from the file or, with
// the FromEnv fields, from environment variables named there, so that the
// file itself may hold no secret.
type Auth struct {
	// Name matches spec.webhooks[].name.
	Name string `json:"name,omitempty"`
	// URLPrefix matches the start of spec.webhooks[].url (scheme, host
	// and path, compared as written).
	URLPrefix string `json:"urlPrefix,omitempty"`
	// Headers are set on every call (e.g. Authorization).
	Headers map[string]string `json:"headers,omitempty"`
	// HeadersFromEnv maps a header to the environment variable holding
	// its value.
	HeadersFromEnv map[string]string `json:"headersFromEnv,omitempty"`
	// Secret signs the body: X-Gitcanary-Signature: sha256=<HMAC-SHA256>.
	Secret string `json:"secret,omitempty"`
	// SecretFromEnv names the environment variable holding the secret.
	SecretFromEnv string `json:"secretFromEnv,omitempty"`
}

// ErrConfig is wrapped by every problem of the configuration's webhooks.
var ErrConfig = errors.New("invalid webhook configuration")

// reserved are the headers gitcanary sets itself.
var reserved = []string{"Content-Type", "Content-Length", "Host", "User-Agent", HeaderSignature, HeaderDelivery, HeaderType, HeaderWebhook}

// Resolve checks the entries and reads their FromEnv values with getenv.
// The errors name the entry and field, never a value.
func Resolve(entries []Auth, getenv func(string) string) ([]Auth, error) {
	var problems []string
	out := make([]Auth, 0, len(entries))
	for i, e := range entries {
		at := fmt.Sprintf("webhooks[%d]", i)
		bad := func(format string, args ...any) { problems = append(problems, at+": "+fmt.Sprintf(format, args...)) }
		if e.Name == "" && e.URLPrefix == "" {
			bad("set name or urlPrefix (or both) to say which webhooks it is for")
		}
		if e.URLPrefix != "" {
			if what := redact.Credential(e.URLPrefix); what != "" {
				bad("urlPrefix carries %s; give credentials as headers", what)
			} else if u, err := url.Parse(e.URLPrefix); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("urlPrefix %q is not an http(s) URL with a host", e.URLPrefix)
			}
		}
		r := Auth{Name: e.Name, URLPrefix: e.URLPrefix, Headers: map[string]string{}, Secret: e.Secret}
		for k, v := range e.Headers {
			if msg := checkHeader(k); msg != "" {
				bad("headers: %s", msg)
			}
			r.Headers[http.CanonicalHeaderKey(k)] = v
		}
		for k, env := range e.HeadersFromEnv {
			if msg := checkHeader(k); msg != "" {
				bad("headersFromEnv: %s", msg)
				continue
			}
			if _, dup := e.Headers[k]; dup {
				bad("header %q is in both headers and headersFromEnv", k)
			}
			v := getenv(env)
			if v == "" {
				bad("headersFromEnv: %s names environment variable %s, which is not set", k, env)
			}
			r.Headers[http.CanonicalHeaderKey(k)] = v
		}
		for k, v := range r.Headers {
			if strings.ContainsAny(v, "\r\n\x00") {
				bad("the value of header %s is not a valid header value (a line break?)", k)
			}
		}
		if e.SecretFromEnv != "" {
			if e.Secret != "" {
				bad("set secret or secretFromEnv, not both")
			}
			if r.Secret = getenv(e.SecretFromEnv); r.Secret == "" {
				bad("secretFromEnv names environment variable %s, which is not set", e.SecretFromEnv)
			}
		}
		out = append(out, r)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrConfig, strings.Join(problems, "; "))
	}
	return out, nil
}

func checkHeader(k string) string {
	switch {
	case !validHeaderName(k):
		return fmt.Sprintf("%q is not a valid header name", k)
	case slices.Contains(reserved, http.CanonicalHeaderKey(k)):
		return fmt.Sprintf("%s is set by gitcanary", http.CanonicalHeaderKey(k))
	}
	return ""
}

// auth returns the first entry that matches w, or the zero Auth.
func (c *Client) auth(w release.Webhook) Auth {
	for _, a := range c.Auth {
		if a.Name != "" && a.Name != w.Name {
			continue
		}
		if a.URLPrefix != "" && !strings.HasPrefix(w.URL, a.URLPrefix) {
			continue
		}
		return a
	}
	return Auth{}
}

// Secrets returns every configured value (headers and secrets), for
// callers that must keep them out of what they print.
func (c *Client) Secrets() []string {
	var out []string
	for _, a := range c.Auth {
		out = append(out, a.values()...)
	}
	return out
}

func (a Auth) values() []string {
	var out []string
	for _, v := range a.Headers {
		out = append(out, v)
		// "Bearer xyz": the token alone may be echoed too.
		if _, tok, ok := strings.Cut(v, " "); ok && len(tok) >= 8 {
			out = append(out, tok)
		}
	}
	if a.Secret != "" {
		out = append(out, a.Secret)
	}
	return out
}

// maskText removes the entry's values from text a receiver sent back.
func (a Auth) maskText(s string) string {
	for _, v := range a.values() {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, redact.Mask)
		}
	}
	return s
}

func (a Auth) mask(err error) error {
	if err == nil {
		return nil
	}
	if msg := a.maskText(err.Error()); msg != err.Error() {
		return errors.New(msg)
	}
	return err
}

// validHeaderName: an RFC 9110 token.
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c)) {
			return false
		}
	}
	return true
}
