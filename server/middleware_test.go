package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// serve runs one request with the given headers through the whole router.
func (e *env) serve(method, path string, header http.Header) response {
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, req)
	return response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

// Every answer names its request, and so does every log line of it: a caller's sane id is kept
// (a proxy's trace), anything else replaced.
func TestEveryRequestCarriesAnID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	auth := http.Header{"Authorization": {"Bearer " + e.token}}
	if id := e.serve("GET", "/healthz", nil).Header.Get("X-Request-Id"); len(id) != 26 {
		t.Fatalf("a request without an id got %q", id)
	}
	h := auth.Clone()
	h.Set("X-Request-Id", "trace-7.a_B")
	if res := e.serve("POST", "/api/v1/tokens", h); res.Header.Get("X-Request-Id") != "trace-7.a_B" {
		t.Fatalf("the caller's id was not kept: %q", res.Header.Get("X-Request-Id"))
	}
	if !strings.Contains(e.logs.String(), `"request_id":"trace-7.a_B"`) {
		t.Fatalf("the request's log lines lack its id:\n%s", e.logs.String())
	}
	for _, bad := range []string{"a b", strings.Repeat("x", 65), "x\"y", "日志"} {
		h.Set("X-Request-Id", bad)
		if id := e.serve("GET", "/api/v1/tokens", h).Header.Get("X-Request-Id"); id == bad || len(id) != 26 {
			t.Errorf("the id %q came back as %q", bad, id)
		}
	}
}

// /metrics says which build runs, and counts invented methods as one label value.
func TestMetricsNameTheBuildAndBoundTheirLabels(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, m := range []string{"FOO", "BAR", "PROPFIND", "X-Y"} {
		e.serve(m, "/api/v1/users", nil)
	}
	page := string(e.serve("GET", "/metrics", nil).Body)
	if !strings.Contains(page, `wecomflow_build_info{commit="",goversion="go`) || !strings.Contains(page, `version="test"} 1`) {
		t.Errorf("no build info:\n%s", page)
	}
	if strings.Contains(page, "FOO") || strings.Contains(page, "PROPFIND") || !strings.Contains(page, `method="other"`) {
		t.Errorf("invented methods became labels")
	}
}

// A browser on another site cannot change anything, with a session or a token; the same site, a
// trusted public origin and non-browser callers (no Sec-Fetch-Site, no Origin) can.
func TestCrossSiteRequestsAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	auth := http.Header{"Authorization": {"Bearer " + e.token}}
	cross := auth.Clone()
	cross.Set("Sec-Fetch-Site", "cross-site")
	if res := e.serve("POST", "/api/v1/tokens", cross); res.Status != 403 || res.Code() != "forbidden" {
		t.Fatalf("a cross-site API call: %d %s", res.Status, res.Body)
	}
	if res := e.serve("POST", "/ui/logout", http.Header{"Origin": {"https://evil.example"}}); res.Status != 403 ||
		!strings.Contains(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("a cross-site page post: %d %s", res.Status, res.Body)
	}
	if res := e.serve("GET", "/api/v1/tokens", cross); res.Status != 200 {
		t.Fatalf("a cross-site read: %d", res.Status)
	}
	same := auth.Clone()
	same.Set("Sec-Fetch-Site", "same-origin")
	trusted := auth.Clone()
	trusted.Set("Origin", "https://wecomflow.example.com") // the public URL, behind a proxy that rewrote Host
	for name, h := range map[string]http.Header{"same origin": same, "public origin": trusted, "no browser": auth} {
		if res := e.serve("POST", "/api/v1/tokens", h); res.Status == 403 {
			t.Errorf("%s: refused: %s", name, res.Body)
		}
	}
}
