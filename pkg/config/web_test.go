package config

import (
	"strings"
	"testing"
)

// TestWebHeaders: headers by URL prefix, at a boundary, the longest
// prefix winning; values from the environment; mistakes named.
func TestWebHeaders(t *testing.T) {
	t.Setenv("TESTER_TOKEN", "Bearer s3cret")
	f, err := Parse([]byte(`webHeaders:
  - urlPrefix: https://tester.example.com
    headers: [{name: Authorization, valueFromEnv: TESTER_TOKEN}]
  - urlPrefix: https://tester.example.com/admin/
    headers: [{name: X-Api-Key, value: k1}]
`), "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for u, want := range map[string]string{
		"https://tester.example.com/run?v=v2":  "Authorization=Bearer s3cret",
		"https://tester.example.com":           "Authorization=Bearer s3cret",
		"https://tester.example.com/admin/ok":  "X-Api-Key=k1",
		"https://tester.example.com.evil/run":  "",
		"http://tester.example.com/run":        "",
		"https://tester.example.comrade/x?y=1": "",
	} {
		var got []string
		for k, v := range f.Header(u) {
			got = append(got, k+"="+strings.Join(v, ","))
		}
		if strings.Join(got, ";") != want {
			t.Errorf("%s: %v, want %s", u, got, want)
		}
	}
	for _, tt := range []struct{ doc, want string }{
		{"webHeaders: [{urlPrefix: tester, headers: [{name: A, value: b}]}]", `webHeaders[0].urlPrefix: "tester" is not an http(s) URL with a host`},
		{"webHeaders: [{urlPrefix: 'http://u:p@tester', headers: [{name: A, value: b}]}]", "webHeaders[0].urlPrefix: give credentials as headers, not in the URL"},
		{"webHeaders: [{urlPrefix: 'http://tester', headers: [{name: A}]}]", "webHeaders[0].headers[0]: set one of value and valueFromEnv"},
		{"webHeaders: [{urlPrefix: 'http://tester', headers: [{name: 'A B', value: b}]}]", `webHeaders[0].headers[0].name: "A B" is not an HTTP header name`},
		{"webHeaders: [{urlPrefix: 'http://tester', headers: [{name: A, valueFromEnv: GITCANARY_NOT_SET_ANYWHERE}]}]", "webHeaders[0].headers[0].valueFromEnv: the environment variable GITCANARY_NOT_SET_ANYWHERE is not set"},
		{"webHeaders: [{urlPrefix: 'http://tester'}]", "webHeaders[0].headers: is required"},
	} {
		_, err := Parse([]byte(tt.doc), "config.yaml")
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s:\n%v\nwant %s", tt.doc, err, tt.want)
		}
	}
}
