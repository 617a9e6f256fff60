package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// attempt is one request as a client at remote (host:port) sends it.
type attempt struct {
	remote, method, path string
	token                string // sent as a Bearer token when set
	cookie               *http.Cookie
	form                 url.Values
	header               http.Header
}

func (e *env) send(a attempt) response {
	var req *http.Request
	if a.form != nil {
		req = httptest.NewRequest(a.method, a.path, strings.NewReader(a.form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(a.method, a.path, nil)
	}
	req.RemoteAddr = a.remote
	for k, v := range a.header {
		req.Header[k] = v
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	if a.cookie != nil {
		req.AddCookie(a.cookie)
	}
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, req)
	return response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

// wantShutOut checks a 429 with the seconds left of the minute in Retry-After; json tells the
// API's error shape from a page.
func wantShutOut(t *testing.T, what string, res response, retryAfter string, json bool) {
	t.Helper()
	if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") != retryAfter {
		body := res.Body
		if json {
			body = body[:min(len(body), 300)]
		} else {
			body = nil // a whole page says nothing a status does not
		}
		t.Fatalf("%s: %d Retry-After %q, want 429 with Retry-After %s %s", what, res.Status, res.Header.Get("Retry-After"), retryAfter, body)
	}
	if json && res.Code() != "rate_limited" {
		t.Fatalf("%s: code %q, want rate_limited: %s", what, res.Code(), res.Body)
	}
	if !json && !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("%s: %s, want a page", what, res.Header.Get("Content-Type"))
	}
}

// Twenty wrong tokens from one address in a minute shut it out: the next request gets 429 even
// with the valid token (a block that still checked tokens would answer the guesser), other
// addresses go on as before, and once the minute has passed the address is admitted again.
func TestWrongTokensShutTheAddressOutForTheMinute(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Time{})
	e := newEnvWith(t, envOptions{now: clk.Now})
	guesser, other := "203.0.113.7:5000", "198.51.100.20:5000"
	for i := range 20 {
		res := e.send(attempt{remote: guesser, method: "GET", path: "/api/v1/users", token: fmt.Sprintf("wcf_guess%02d", i)})
		if res.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %s, want 401", i+1, res.Status, res.Body)
		}
		clk.Advance(time.Second)
	}
	// The minute began with the first failure, 20 seconds ago.
	wantShutOut(t, "the valid token from the guesser's address", e.send(attempt{remote: guesser, method: "GET", path: "/api/v1/users", token: e.token}), "40", true)
	wantShutOut(t, "no token from the guesser's address", e.send(attempt{remote: guesser, method: "GET", path: "/api/v1/users"}), "40", true)
	wantShutOut(t, "a guess from the guesser's address", e.send(attempt{remote: guesser, method: "GET", path: "/api/v1/users", token: "wcf_guess21"}), "40", true)
	if res := e.send(attempt{remote: other, method: "GET", path: "/api/v1/users", token: e.token}); res.Status != http.StatusOK {
		t.Fatalf("another address: %d %s", res.Status, res.Body)
	}
	if logs := e.logs.String(); strings.Count(logs, `"msg":"address shut out after failed authentications"`) != 1 || !strings.Contains(logs, `"remote":"203.0.113.7","failures":20`) {
		t.Fatalf("the shut-out is not logged once:\n%s", logs)
	}
	// The pages share the count: the log-in form from that address is refused too.
	form := url.Values{"token": {e.token}, "next": {"/ui/"}}
	wantShutOut(t, "the log-in form from the guesser's address", e.send(attempt{remote: guesser, method: "POST", path: "/login", form: form}), "40", false)

	clk.Advance(39 * time.Second)
	wantShutOut(t, "a second before the minute ends", e.send(attempt{remote: guesser, method: "GET", path: "/api/v1/users", token: e.token}), "1", true)
	clk.Advance(time.Second)
	if res := e.send(attempt{remote: guesser, method: "GET", path: "/api/v1/users", token: e.token}); res.Status != http.StatusOK {
		t.Fatalf("after the minute: %d %s", res.Status, res.Body)
	}
	// A new minute, a new count: one more failure is a plain 401.
	if res := e.send(attempt{remote: guesser, method: "GET", path: "/api/v1/users", token: "wcf_guess22"}); res.Status != http.StatusUnauthorized {
		t.Fatalf("a failure in the next minute: %d %s", res.Status, res.Body)
	}
}

// Wrong tokens typed into the log-in page count the same way; the refusal is the log-in page,
// in the page's language, with Retry-After.
func TestWrongTokensOnTheLogInPageShutTheAddressOut(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Time{})
	e := newEnvWith(t, envOptions{now: clk.Now})
	guesser := "203.0.113.8:5000"
	for i := range 20 {
		res := e.send(attempt{remote: guesser, method: "POST", path: "/login", form: url.Values{"token": {fmt.Sprintf("wcf_guess%02d", i)}}})
		if res.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want the log-in page with 401", i+1, res.Status)
		}
	}
	chinese := &http.Cookie{Name: "wecomflow_lang", Value: "zh-CN"}
	right := url.Values{"token": {e.token}, "next": {"/ui/"}}
	res := e.send(attempt{remote: guesser, method: "POST", path: "/login", form: right, cookie: chinese})
	wantShutOut(t, "the right token on the log-in page", res, "60", false)
	if body := string(res.Body); !strings.Contains(body, `action="/login"`) || !strings.Contains(body, "60 秒后再试") {
		t.Fatalf("the refusal is not the log-in page saying when to try again, in Chinese:\n%s", body)
	}
	if strings.Contains(res.Header.Get("Set-Cookie"), "wecomflow_session=") {
		t.Fatal("a refused log-in got a session")
	}
	// The API from that address is refused as well; another address logs in.
	wantShutOut(t, "the API from the guesser's address", e.send(attempt{remote: guesser, method: "GET", path: "/api/v1/users", token: e.token}), "60", true)
	if res := e.send(attempt{remote: "198.51.100.21:5000", method: "POST", path: "/login", form: right}); res.Status != http.StatusSeeOther {
		t.Fatalf("another address: %d", res.Status)
	}
	clk.Advance(time.Minute)
	if res := e.send(attempt{remote: guesser, method: "POST", path: "/login", form: right}); res.Status != http.StatusSeeOther {
		t.Fatalf("after the minute: %d", res.Status)
	}
}

// Made-up session cookies count too, on the pages and on the API alike: a shut-out address gets
// the refusal even with a live session, as a page on /ui and as JSON on the API.
func TestBadSessionCookiesShutTheAddressOut(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Time{})
	e := newEnvWith(t, envOptions{now: clk.Now})
	live := e.webLogin().cookie // logged in from httptest's own address
	guesser := "203.0.113.9:5000"
	for i := range 20 {
		bogus := &http.Cookie{Name: "wecomflow_session", Value: fmt.Sprintf("%064x", i)}
		var res response
		if i%2 == 0 {
			res = e.send(attempt{remote: guesser, method: "GET", path: "/ui/channels", cookie: bogus})
			if res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
				t.Fatalf("page with a made-up session %d: %d %v", i+1, res.Status, res.Header)
			}
			// The browser is told to forget the dead cookie, so a person is not counted again
			// on every page.
			if !strings.Contains(res.Header.Get("Set-Cookie"), "wecomflow_session=; Path=/; Max-Age=0") {
				t.Fatalf("the dead session cookie is kept: %q", res.Header.Get("Set-Cookie"))
			}
		} else if res = e.send(attempt{remote: guesser, method: "GET", path: "/api/v1/channels", cookie: bogus}); res.Status != http.StatusUnauthorized {
			t.Fatalf("API with a made-up session %d: %d %s", i+1, res.Status, res.Body)
		}
	}
	wantShutOut(t, "a page with a live session", e.send(attempt{remote: guesser, method: "GET", path: "/ui/channels", cookie: live}), "60", false)
	wantShutOut(t, "the API with a live session", e.send(attempt{remote: guesser, method: "GET", path: "/api/v1/channels", cookie: live}), "60", true)
	wantShutOut(t, "the API with the token", e.send(attempt{remote: guesser, method: "GET", path: "/api/v1/channels", token: e.token}), "60", true)
	if res := e.send(attempt{remote: "198.51.100.22:5000", method: "GET", path: "/ui/channels", cookie: live}); res.Status != http.StatusOK {
		t.Fatalf("the live session from another address: %d", res.Status)
	}
	clk.Advance(time.Minute)
	if res := e.send(attempt{remote: guesser, method: "GET", path: "/ui/channels", cookie: live}); res.Status != http.StatusOK {
		t.Fatalf("after the minute: %d", res.Status)
	}
}

// Guesses sent all at once cannot outrun the count: of 60 parallel wrong tokens from one address,
// 20 are checked (401) and the other 40 refused unchecked (429).
func TestParallelGuessesGetNoMoreThanTwentyChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			res := e.send(attempt{remote: "203.0.113.10:5000", method: "GET", path: "/api/v1/users", token: fmt.Sprintf("wcf_guess%02d", i)})
			mu.Lock()
			statuses[res.Status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[http.StatusUnauthorized] != 20 || statuses[http.StatusTooManyRequests] != 40 {
		t.Fatalf("answers by status: %v, want 20 × 401 and 40 × 429", statuses)
	}
}

// X-Forwarded-For is believed only from a configured proxy: a guesser that names a new address
// on every request is still one address, and the log's remote is the real peer. Behind a trusted
// proxy each client counts apart, by the address the proxy appended.
func TestForwardedForIsBelievedOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	guesser := "203.0.113.11:5000"
	for i := range 20 {
		fake := http.Header{"X-Forwarded-For": {fmt.Sprintf("100.64.0.%d", i+1)}, "X-Real-Ip": {fmt.Sprintf("100.64.1.%d", i+1)}}
		if res := e.send(attempt{remote: guesser, method: "GET", path: "/api/v1/users", token: "wcf_guess", header: fake}); res.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i+1, res.Status)
		}
	}
	wantShutOut(t, "the 21st with yet another forwarded address", e.send(attempt{remote: guesser, method: "GET", path: "/api/v1/users", token: e.token,
		header: http.Header{"X-Forwarded-For": {"100.64.0.99"}}}), "60", true)
	if logs := e.logs.String(); !strings.Contains(logs, `"remote":"203.0.113.11"`) || strings.Contains(logs, `"remote":"100.64.`) {
		t.Fatalf("the log's remote is not the peer:\n%s", logs)
	}

	p := newEnvWith(t, envOptions{trustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	proxy := "10.1.2.3:40000"
	via := func(xff, token string) response {
		return p.send(attempt{remote: proxy, method: "GET", path: "/api/v1/users", token: token, header: http.Header{"X-Forwarded-For": {xff}}})
	}
	for i := range 20 {
		// What the client claimed comes first; the proxy appends the address it saw.
		if res := via(fmt.Sprintf("100.64.0.%d, 198.51.100.30", i+1), "wcf_guess"); res.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d through the proxy: %d", i+1, res.Status)
		}
	}
	wantShutOut(t, "the guesser behind the proxy", via("198.51.100.30", p.token), "60", true)
	if res := via("198.51.100.31", p.token); res.Status != http.StatusOK {
		t.Fatalf("another client behind the same proxy: %d %s", res.Status, res.Body)
	}
	if !strings.Contains(p.logs.String(), `"remote":"198.51.100.30"`) {
		t.Fatalf("the log's remote is not the client the proxy named:\n%s", p.logs.String())
	}
}

// A token's hint shows at most 4 characters of its secret: "wcf_" and 4 for a generated token,
// the first 4 of a configured one. Hints stored by earlier releases (8 characters) are cut to
// that by the migration.
func TestTokenHintsRevealAtMostFourCharacters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	created := e.must(201, "POST", "/api/v1/tokens", map[string]any{"name": "ci"}).Data()
	value := created["token"].(string)
	if want := value[:8] + "…"; created["hint"] != want {
		t.Fatalf("created token's hint %v, want %q", created["hint"], want)
	}
	const configured = "configured-admin-token-0123456789"
	if _, err := e.srv.Service().Bootstrap(ctx, configured); err != nil {
		t.Fatal(err)
	}
	// An old database: a token whose hint showed 8 characters of a configured value.
	if err := e.store.DB.Exec("INSERT INTO api_tokens (name, hash, hint, bootstrap, created_at) VALUES ('old', 'x', 'first-ad…', false, ?)", time.Now()).Error; err != nil {
		t.Fatal(err)
	}
	if err := e.store.DB.Exec("DELETE FROM schema_migrations WHERE version = 8").Error; err != nil {
		t.Fatal(err)
	}
	if err := e.store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	hints := map[string]any{}
	for _, tok := range e.raw("GET", "/api/v1/tokens", "", nil, configured).JSON()["data"].([]any) {
		tok := tok.(map[string]any)
		hints[tok["name"].(string)] = tok["hint"]
	}
	want := map[string]any{"ci": value[:8] + "…", "bootstrap": "conf…", "old": "firs…"}
	if fmt.Sprint(hints) != fmt.Sprint(want) {
		t.Fatalf("hints %v, want %v", hints, want)
	}
}
