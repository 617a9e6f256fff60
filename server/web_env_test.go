package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
)

// webClient is a browser-less user of the web UI: logged in with the env's token, it keeps the
// session cookie and the page's CSRF token.
type webClient struct {
	e      *env
	cookie *http.Cookie
	csrf   string
}

// webLogin logs in with the env's (bootstrap) token.
func (e *env) webLogin() *webClient {
	e.t.Helper()
	return e.webLoginWith(e.token)
}

// webLoginWith logs in through POST /login with token and reads the CSRF token off the start page.
func (e *env) webLoginWith(token string) *webClient {
	e.t.Helper()
	res := e.webDo("POST", "/login", url.Values{"token": {token}, "next": {"/ui/"}}, nil)
	if res.Status != http.StatusSeeOther {
		e.t.Fatalf("login: %d %s", res.Status, res.Body)
	}
	w := &webClient{e: e}
	for _, c := range (&http.Response{Header: res.Header}).Cookies() {
		if c.Name == "wecomflow_session" {
			w.cookie = c
		}
	}
	if w.cookie == nil {
		e.t.Fatal("login set no session cookie")
	}
	page := w.get("/ui/")
	m := regexp.MustCompile(`<meta name="csrf-token" content="([0-9a-f]+)">`).FindStringSubmatch(string(page.Body))
	if m == nil {
		e.t.Fatalf("no CSRF token on the start page: %s", page.Body)
	}
	w.csrf = m[1]
	return w
}

// webDo sends a form (or nothing) with an optional session cookie, without following redirects.
func (e *env) webDo(method, path string, form url.Values, cookie *http.Cookie) response {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, req)
	return response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

// get loads a page.
func (w *webClient) get(path string) response { return w.e.webDo("GET", path, nil, w.cookie) }

// post submits a form with the session's CSRF token.
func (w *webClient) post(path string, form url.Values) response {
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", w.csrf)
	return w.e.webDo("POST", path, form, w.cookie)
}
