package config

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// WebHeaders are headers sent with the web metrics whose URL starts with
// URLPrefix: tokens and API keys stay in gitcanary's configuration,
// never in git. A web metric names the headers it needs (web.headers);
// only those are sent, with the values of the longest matching prefix.
type WebHeaders struct {
	// URLPrefix is a URL's scheme, host and optionally a path, such as
	// https://tester.example.com/api/. It matches at a boundary: the URL
	// equals it, or continues it after "/", "?" or "#".
	URLPrefix string   `json:"urlPrefix"`
	Headers   []Header `json:"headers"`
}

// Header is one header: its value, or the environment variable holding it.
type Header struct {
	Name         string `json:"name"`
	Value        string `json:"value,omitempty"`
	ValueFromEnv string `json:"valueFromEnv,omitempty"`
}

// checkWebHeaders checks webHeaders and resolves values from the
// environment once, at load.
func (f *File) checkWebHeaders(source string, lookup func(string) (string, bool)) error {
	var problems []string
	for i := range f.WebHeaders {
		w := &f.WebHeaders[i]
		at := fmt.Sprintf("webHeaders[%d]", i)
		u, err := url.Parse(w.URLPrefix)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			problems = append(problems, fmt.Sprintf("%s.urlPrefix: %q is not an http(s) URL with a host", at, w.URLPrefix))
		case u.User != nil:
			problems = append(problems, fmt.Sprintf("%s.urlPrefix: give credentials as headers, not in the URL", at))
		}
		if len(w.Headers) == 0 {
			problems = append(problems, at+".headers: is required")
		}
		for j := range w.Headers {
			h := &w.Headers[j]
			hp := fmt.Sprintf("%s.headers[%d]", at, j)
			if !httpguts.ValidHeaderFieldName(h.Name) {
				problems = append(problems, fmt.Sprintf("%s.name: %q is not an HTTP header name", hp, h.Name))
			}
			switch {
			case (h.Value == "") == (h.ValueFromEnv == ""):
				problems = append(problems, hp+": set one of value and valueFromEnv")
			case h.ValueFromEnv != "":
				v, ok := lookup(h.ValueFromEnv)
				if !ok || v == "" {
					problems = append(problems, fmt.Sprintf("%s.valueFromEnv: the environment variable %s is not set", hp, h.ValueFromEnv))
				}
				h.Value = v
			}
			if !httpguts.ValidHeaderFieldValue(h.Value) {
				problems = append(problems, hp+": the value holds characters a header cannot carry")
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %s", source, strings.Join(problems, "\n  "))
	}
	return nil
}

// Header returns the headers configured for a web metric's URL: those of
// the longest matching URLPrefix. It implements analysis.HeaderSource.
func (f *File) Header(rawURL string) http.Header {
	best := -1
	for i, w := range f.WebHeaders {
		if prefixMatches(w.URLPrefix, rawURL) && (best < 0 || len(w.URLPrefix) > len(f.WebHeaders[best].URLPrefix)) {
			best = i
		}
	}
	h := http.Header{}
	if best >= 0 {
		for _, kv := range f.WebHeaders[best].Headers {
			h.Set(kv.Name, kv.Value)
		}
	}
	return h
}

// prefixMatches: u starts with prefix at a boundary, so that
// https://tester matches https://tester/run but not https://tester.evil.
func prefixMatches(prefix, u string) bool {
	rest, ok := strings.CutPrefix(u, prefix)
	if !ok {
		return false
	}
	return rest == "" || strings.HasSuffix(prefix, "/") || strings.ContainsAny(rest[:1], "/?#")
}
