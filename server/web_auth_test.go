package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// Pages need a session; a change needs the session's CSRF token; a bad token does not log in;
// logging out ends the session; every page forbids inline scripts.
func TestWebSessionAndCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if res := e.webDo("GET", "/ui/authenticators", nil, nil); res.Status != 303 || !strings.HasPrefix(res.Header.Get("Location"), "/login?next=") {
		t.Fatalf("without a session: %d %v", res.Status, res.Header)
	}
	if res := e.webDo("POST", "/login", url.Values{"token": {"wcf_wrong"}}, nil); res.Status != 401 || !strings.Contains(string(res.Body), "not valid") {
		t.Fatalf("a wrong token: %d", res.Status)
	}
	w := e.webLogin()
	page := w.get("/ui/authenticators")
	if page.Status != 200 || !strings.Contains(page.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("authenticators page: %d %v", page.Status, page.Header)
	}
	if c := w.cookie; !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie %+v: want HttpOnly and SameSite=Lax", c)
	}
	form := url.Values{"name": {"x"}, "title": {"X"}, "csrf": {"forged"}}
	if res := e.webDo("POST", "/ui/authenticators", form, w.cookie); res.Status != 403 {
		t.Fatalf("a forged CSRF token: %d", res.Status)
	}
	// The API takes the cookie too, but a change needs the CSRF header.
	if res := e.webDo("POST", "/api/v1/channels", url.Values{}, w.cookie); res.Status != 403 {
		t.Fatalf("API change with the cookie and no CSRF header: %d", res.Status)
	}
	if res := e.webDo("GET", "/api/v1/channels", nil, w.cookie); res.Status != 200 {
		t.Fatalf("API read with the cookie: %d", res.Status)
	}
	if res := w.post("/ui/logout", nil); res.Status != 303 {
		t.Fatalf("logout: %d", res.Status)
	}
	if res := w.get("/ui/authenticators"); res.Status != 303 {
		t.Fatalf("after logout: %d", res.Status)
	}
}

// The authenticator form shows the service's validation errors next to the fields.
func TestWebAuthenticatorFormShowsFieldErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.webLogin()
	res := w.post("/ui/authenticators", url.Values{"name": {"Bad Name"}, "title": {"T"}, "options.corpId": {""}, "options.agentId": {"-3"},
		"options.callback.encodingAesKey": {"short"}})
	if res.Status != 422 {
		t.Fatalf("status %d", res.Status)
	}
	body := string(res.Body)
	for _, id := range []string{`id="f-name-error"`, `id="f-options-corpId-error"`, `id="f-options-agentId-error"`, `id="f-options-secret-error"`} {
		if !strings.Contains(body, id) {
			t.Errorf("no %s in the page", id)
		}
	}
	if !strings.Contains(body, `value="Bad Name"`) {
		t.Error("the submitted name is not shown again")
	}
}

// An upload over the limit on a page answers with a page, not the API's JSON.
func TestWebTooLargeIsAPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.webLogin()
	req := httptest.NewRequest("POST", "/ui/users/import", strings.NewReader("x"))
	req.ContentLength = 11 << 20
	req.AddCookie(w.cookie)
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != 413 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || !strings.Contains(rec.Body.String(), "larger than the limit") {
		t.Fatalf("%d %s %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
}
