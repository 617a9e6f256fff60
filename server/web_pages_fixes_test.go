package server

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The authenticator list shows the AgentId as the number an admin typed, not as a float.
func TestWebAuthenticatorListShowsIntegers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/authenticators", acmeAuthenticator("acme"))
	w := e.webLogin()
	page := w.page(200, "/ui/authenticators", "en")
	mustContain(t, "the authenticator list", page, "<td>1000002</td>")
	if strings.Contains(page, "e+06") {
		t.Errorf("the authenticator list shows a float: %s", page)
	}
}

// An unknown /ui/ path answers the error page in the page's language; an unknown /api/ path keeps
// the JSON error.
func TestWebUnknownPathIsAPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.webLogin()
	for lang, want := range map[string]string{"en": "There is no page at this address.", "zh-CN": "这个地址没有页面。"} {
		res := w.get(inLanguage("/ui/no-such-page", lang))
		if res.Status != 404 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", lang, res.Status, res.Header.Get("Content-Type"))
		}
		mustContain(t, "the "+lang+" 404 page", string(res.Body), want, `id="logout"`)
	}
	if res := e.webDo("GET", "/ui/no-such-page", nil, nil); res.Status != 404 || !strings.Contains(string(res.Body), "<html") {
		t.Errorf("without a session: %d %s", res.Status, res.Body)
	}
	if res := w.get("/api/v1/no-such-thing"); res.Status != 404 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("the API: %d %s", res.Status, res.Header.Get("Content-Type"))
	}
}

// A list searched or filtered to nothing says nothing matches, not that nothing exists yet.
func TestWebEmptySearchSaysNothingMatches(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.webLogin()
	for _, path := range []string{"/ui/authenticators", "/ui/workflows", "/ui/mass-messages", "/ui/sync-tasks"} {
		if page := w.page(200, path, "en"); strings.Contains(page, "Nothing matches") {
			t.Errorf("%s unfiltered says nothing matches", path)
		}
	}
	for _, path := range []string{"/ui/authenticators?q=zzz", "/ui/workflows?q=zzz", "/ui/mass-messages?status=canceled", "/ui/sync-tasks?authenticatorId=9"} {
		mustContain(t, path, w.page(200, path, "en"), "Nothing matches the search or filter.")
		mustContain(t, path, w.page(200, path, "zh-CN"), "没有符合搜索或筛选条件的内容。")
	}
}

// A test send's form sent twice (a double click) sends one message; the page it answers carries a
// new nonce, so sending again on purpose sends again.
func TestWebChannelTestSendsOncePerForm(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{})
	w := e.webLogin()
	nonceRE := regexp.MustCompile(`name="nonce" value="([^"]+)"`)
	linkRE := regexp.MustCompile(`href="/ui/messages/([0-9A-Z]+)" id="test-message-link"`)
	nonce := nonceRE.FindStringSubmatch(w.page(200, "/ui/channels/1", "en"))
	if nonce == nil {
		t.Fatal("the test form has no nonce")
	}
	send := func(nonce string) (id, next string) {
		t.Helper()
		res := w.post("/ui/channels/1/test", url.Values{"to.wecomUsers": {"lisi"}, "text.content": {"once"}, "nonce": {nonce}})
		link, n := linkRE.FindStringSubmatch(string(res.Body)), nonceRE.FindStringSubmatch(string(res.Body))
		if res.Status != 200 || link == nil || n == nil {
			t.Fatalf("test send: %d %s", res.Status, res.Body)
		}
		return link[1], n[1]
	}
	first, next := send(nonce[1])
	if again, _ := send(nonce[1]); again != first {
		t.Errorf("the same form sent twice made two messages: %s and %s", first, again)
	}
	if got := e.inbox("lisi"); len(got) != 1 {
		t.Errorf("lisi received %d messages, want 1", len(got))
	}
	if next == nonce[1] {
		t.Fatal("the answered page reuses the nonce")
	}
	if third, _ := send(next); third == first {
		t.Error("a new form's send returned the first message")
	}
}

// The authenticator form shows the callback URLs before the first save (the name completes them),
// warns when the public URL is the unconfigured default, and says which saved secrets are set.
func TestWebAuthenticatorCallbackURLs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.webLogin()
	page := w.page(200, "/ui/authenticators/new", "en")
	mustContain(t, "the new authenticator form", page,
		`<code id="callback-url" data-callback-base="https://wecomflow.example.com/callback/wecom/" data-callback-suffix="">https://wecomflow.example.com/callback/wecom/</code>`,
		`<code id="contacts-url" data-callback-base="https://wecomflow.example.com/callback/wecom/" data-callback-suffix="/contacts">`)
	if strings.Contains(page, `id="callback-url-warning"`) {
		t.Error("a configured public URL is warned about")
	}
	// A failed first save shows the URL with the name typed.
	res := w.post("/ui/authenticators", url.Values{"name": {"acme"}})
	mustContain(t, "the form after a failed save", string(res.Body), `https://wecomflow.example.com/callback/wecom/acme</code>`)

	a := acmeAuthenticator("acme")
	delete(a["options"].(map[string]any), "contactsCallback")
	e.must(201, "POST", "/api/v1/authenticators", a)
	page = w.page(200, "/ui/authenticators/1", "zh-CN")
	mustContain(t, "a saved authenticator", page,
		`<code id="callback-url">https://wecomflow.example.com/callback/wecom/acme</code>`,
		`<code id="contacts-url">https://wecomflow.example.com/callback/wecom/acme/contacts</code>`,
		`id="f-options-callback-token-help">已设置。`, `id="f-options-contactsCallback-token-help">未设置。`)

	unset := newEnvWith(t, envOptions{publicURLUnset: true}).webLogin()
	mustContain(t, "the form on the default public URL", unset.page(200, "/ui/authenticators/new", "en"),
		`id="callback-url-warning">WECOMFLOW_PUBLIC_URL is not set`)
}

// Times show in the display time zone, the one schedules default to for Chinese pages: Chinese
// pages in Asia/Shanghai unless one is configured; time filters are read in the same zone.
func TestWebTimesInTheDisplayZone(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := func() time.Time { return at }
	w := newEnvWith(t, envOptions{now: now}).webLogin()
	mustContain(t, "the Chinese token list", w.page(200, "/ui/tokens", "zh-CN"), "<td>2026-01-02 11:04:05</td>", "时间为 Asia/Shanghai (UTC&#43;08:00)。")
	// 11:04 in Shanghai is before the log-in at 03:04:05 UTC, 11:05 after it.
	mustContain(t, "the audit log since 11:04", w.page(200, "/ui/audit?since=2026-01-02T11:04", "zh-CN"), "auth.login")
	mustContain(t, "the audit log since 11:05", w.page(200, "/ui/audit?since=2026-01-02T11:05", "zh-CN"), `class="empty"`)

	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Skip("no time zone database")
	}
	w = newEnvWith(t, envOptions{now: now, displayZone: tokyo}).webLogin()
	for _, lang := range []string{"en", "zh-CN"} {
		mustContain(t, "the "+lang+" token list in a configured zone", w.page(200, "/ui/tokens", lang), "<td>2026-01-02 12:04:05</td>", "Asia/Tokyo (UTC&#43;09:00)")
	}
}
