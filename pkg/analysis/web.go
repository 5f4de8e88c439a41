package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"k8s.io/client-go/util/jsonpath"

	"github.com/gitcanary/gitcanary/pkg/release"
)

// WebClient reads web metrics as Argo Rollouts' web provider does: one
// request (GET by default; POST or PUT with a body), a 2xx answer, the
// JSONPath's first result as the value, or the whole body as text when
// it is not JSON. Headers come from gitcanary's configuration for the
// URL (Headers), only those the metric names, and are never recorded.
type WebClient struct {
	// HTTP defaults to a client without a timeout of its own: each
	// request is bounded by its metric's timeout.
	HTTP    *http.Client
	Headers HeaderSource
}

var _ Fetcher = (*WebClient)(nil)

// maxBody bounds a web answer.
const maxBody = 1 << 20

// Fetch reads a web metric now. Errors of the endpoint (unreachable, a
// timeout, a non-2xx answer) wrap ErrUnreachable; others are the
// metric's (a header the configuration lacks, a JSONPath without result).
func (c *WebClient) Fetch(ctx context.Context, w release.ResolvedWeb) (*Reading, error) {
	ctx, cancel := context.WithTimeout(ctx, w.Timeout.Duration)
	defer cancel()
	var body io.Reader
	if w.Body != "" {
		body = strings.NewReader(w.Body)
	}
	req, err := http.NewRequestWithContext(ctx, w.Method, w.URL, body)
	if err != nil {
		return nil, fmt.Errorf("request %s %s: %v", w.Method, w.URL, err)
	}
	if len(w.Headers) > 0 {
		var have http.Header
		if c.Headers != nil {
			have = c.Headers.Header(w.URL)
		}
		for _, h := range w.Headers {
			v := have.Get(h)
			if v == "" {
				return nil, fmt.Errorf("header %s for %s is not in gitcanary's configuration (webHeaders)", h, w.URL)
			}
			req.Header.Set(h, v)
		}
	}
	if w.Body != "" && json.Valid([]byte(w.Body)) {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %v", ErrUnreachable, w.Method, w.URL, unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: read the answer: %v", ErrUnreachable, w.Method, w.URL, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%w: %s %s answered HTTP %d: %s", ErrUnreachable, w.Method, w.URL, resp.StatusCode, snippet(data))
	}
	return readWeb(data, w.JSONPath)
}

// readWeb selects a web answer's value: the JSONPath's first result as
// JSON, or the text of an answer that is not JSON.
func readWeb(data []byte, path string) (*Reading, error) {
	v, err := decodeJSON(data)
	if err != nil {
		text := string(data)
		if len(text) > maxText {
			text = text[:maxText]
		}
		return &Reading{Text: text}, nil
	}
	jp := jsonpath.New("web")
	if err := jp.Parse(path); err != nil {
		return nil, fmt.Errorf("jsonPath %q: %v", path, err)
	}
	results, err := jp.FindResults(v)
	if err != nil {
		return nil, fmt.Errorf("jsonPath %q finds nothing in the answer %s: %v", path, snippet(data), err)
	}
	for _, rs := range results {
		for _, r := range rs {
			out, err := json.Marshal(r.Interface())
			if err != nil {
				return nil, fmt.Errorf("jsonPath %q: %v", path, err)
			}
			return &Reading{JSON: string(out)}, nil
		}
	}
	return nil, fmt.Errorf("jsonPath %q finds no value in the answer %s", path, snippet(data))
}

func decodeJSON(data []byte) (any, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// unwrapURLError drops the method and URL net/http repeats in its errors.
func unwrapURLError(err error) error {
	if ue, ok := err.(interface{ Unwrap() error }); ok && strings.Contains(err.Error(), "\"") {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}
