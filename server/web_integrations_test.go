package server

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// untranslatedIntegrations finds a catalogue key of the event hook and recipe pages shown as it is.
var untranslatedIntegrations = regexp.MustCompile(`\b(hook|recipe|nav)\.[a-z][A-Za-z0-9.]*[a-z]\b`)

// pageIn loads a page in both languages and fails on a catalogue key shown as it is; it returns the
// English one.
func (w *webClient) pageIn(path string, wants ...string) string {
	w.e.t.Helper()
	var en string
	for _, lang := range []string{"zh-CN", "en"} {
		en = w.page(200, path, lang)
		for _, want := range wants {
			if !strings.Contains(en, want) {
				w.e.t.Errorf("%s in %s lacks %s", path, lang, want)
			}
		}
		// Event types (message.sent) are shown as they are; the catalogue's keys are not.
		if k := untranslatedIntegrations.FindString(en); k != "" {
			w.e.t.Errorf("%s in %s shows the catalogue key %s", path, lang, k)
		}
	}
	return en
}

// A hook made on the page gets the next message's event, and its page shows the attempt in its
// delivery log; the secret is write-only; a refused form shows its fields and stores nothing.
func TestWebEventHookPages(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{fetchAllow: loopback})
	rcv := newHookReceiver(t, nil)
	w := e.webLogin()
	w.pageIn("/ui/event-hooks/new", `id="event-hook-form"`, `value="message.response"`, `id="save-event-hook"`)

	res := w.post("/ui/event-hooks", url.Values{"url": {"http://169.254.169.254/latest"}, "secret": {"s"}, "enabled": {"on"}})
	mustContain(t, "a refused hook", string(res.Body), `id="f-url-error"`, `id="f-events-error"`)
	if res.Status != 422 || e.must(200, "GET", "/api/v1/event-hooks", nil).JSON()["total"] != 0.0 {
		t.Fatalf("a refused hook: %d", res.Status)
	}

	res = w.post("/ui/event-hooks", url.Values{"url": {rcv.url}, "events": {"message.sent", "message.failed"}, "secret": {"page-secret"}, "enabled": {"on"}})
	if res.Status != 303 || res.Header.Get("Location") != "/ui/event-hooks/1" {
		t.Fatalf("create: %d %v %s", res.Status, res.Header, res.Body)
	}
	id := e.waitFinal(e.send(textTo([]string{"local-" + e.demo.UserIDs[0]}, "told to the hook")))["id"].(string)
	c := rcv.wait(1)[0]
	if !validSignature(c, "page-secret") {
		t.Fatalf("the page's secret does not sign: %v", c.header)
	}
	var page string
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(page, `id="attempt-1"`); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the log shows no attempt:\n%s", page)
		}
		page = w.page(200, "/ui/event-hooks/1", "en")
	}
	page = w.pageIn("/ui/event-hooks/1", `<span class="status sent">200</span>`, `href="/ui/messages/`+id+`"`, c.payload["id"].(string),
		`value="message.sent" id="f-events-message.sent" checked`, `id="delete-event-hook"`)
	mustContain(t, "the hook's page", page, "A secret is set and is never shown.")
	if strings.Contains(page, "page-secret") || strings.Contains(page, `value="message.response" id="f-events-message.response" checked`) {
		t.Fatal("the page shows the secret, or an event the hook does not take")
	}
	w.pageIn("/ui/event-hooks", `href="/ui/event-hooks/1"`, "<code>message.failed</code>", `id="new-event-hook"`)

	// Saved with the secret left empty: the secret stays, the events and enabled change.
	res = w.post("/ui/event-hooks/1", url.Values{"url": {rcv.url}, "events": {"message.failed"}, "secret": {""}})
	if res.Status != 303 {
		t.Fatalf("update: %d %s", res.Status, res.Body)
	}
	h := e.must(200, "GET", "/api/v1/event-hooks/1", nil).Data()
	if h["secretSet"] != true || h["enabled"] != false || len(h["events"].([]any)) != 1 {
		t.Fatalf("after the update: %v", h)
	}
	if res := w.post("/ui/event-hooks/1/delete", nil); res.Status != 303 || e.do("GET", "/api/v1/event-hooks/1", nil).Status != 404 {
		t.Fatalf("delete: %d", res.Status)
	}
}

// A recipe installed on the page answers with the webhook URL, the credential and the tool's
// set-up, once: the credential works, and no later page shows it.
func TestWebRecipeInstallShowsTheCredentialOnce(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	w := e.webLogin()
	w.pageIn("/ui/recipes", `href="/ui/recipes/alertmanager"`, `href="/ui/recipes/approval-card"`)
	w.pageIn("/ui/workflows", `id="new-from-recipe"`)
	w.pageIn("/ui/recipes/alertmanager", `id="recipe-form"`, `<option value="ops">`, "http_config")

	res := w.post("/ui/recipes/alertmanager", url.Values{"key": {"am"}, "channel": {"nope"}})
	if res.Status != 422 || !strings.Contains(string(res.Body), `id="f-channel-error"`) {
		t.Fatalf("an unknown channel: %d %s", res.Status, res.Body)
	}
	user := e.demo.UserIDs[0]
	res = w.post("/ui/recipes/alertmanager", url.Values{"key": {"am"}, "channel": {"ops"}, "to": {"local-" + user}})
	body := string(res.Body)
	m := regexp.MustCompile(`<code id="installed-credential">([^<]+)</code>`).FindStringSubmatch(body)
	if res.Status != 201 || m == nil || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("install: %d %v %s", res.Status, res.Header, body)
	}
	credential := m[1]
	mustContain(t, "the install's answer", body, `id="installed-url">https://wecomflow.example.com/hooks/am</code>`,
		"Copy it now", "credentials: "+credential)
	md := e.deliveredMarkdown("alertmanager", "am", credential, fixture(t, "alertmanager.json"), user)
	if !strings.Contains(md, "ProbeFailure") {
		t.Fatalf("delivered: %s", md)
	}
	for _, path := range []string{"/ui/recipes/alertmanager", "/ui/workflows", "/ui/workflows/1"} {
		if strings.Contains(string(w.get(path).Body), credential) {
			t.Errorf("%s shows the credential again", path)
		}
	}
	if res := w.post("/ui/recipes/alertmanager", url.Values{"key": {"am"}, "channel": {"ops"}, "to": {"local-" + user}}); res.Status != 409 {
		t.Fatalf("a key in use: %d", res.Status)
	}
}

// A viewer reads the event hook and recipe pages without their forms, and posting them by hand
// answers 403 and changes nothing.
func TestWebIntegrationPagesForAViewer(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{fetchAllow: loopback})
	e.createHook(newHookReceiver(t, nil).url, "message.sent")
	w := e.webLoginWith(e.roleToken("viewer"))
	nav := strings.Join(navLinks(t, w.page(200, "/ui/", "en")), " ")
	mustContain(t, "the viewer's nav", nav, "/ui/event-hooks", "/ui/recipes")
	for path, hidden := range map[string][]string{
		"/ui/event-hooks":          {`id="new-event-hook"`},
		"/ui/event-hooks/1":        {`id="save-event-hook"`, `id="delete-event-hook"`},
		"/ui/recipes/alertmanager": {`id="recipe-form"`},
		"/ui/workflows":            {`id="new-from-recipe"`},
	} {
		page := w.pageIn(path)
		for _, h := range hidden {
			if strings.Contains(page, h) {
				t.Errorf("a viewer sees %s on %s", h, path)
			}
		}
	}
	if page := w.pageIn("/ui/event-hooks/1"); !strings.Contains(page, "<fieldset disabled>") {
		t.Error("the viewer's hook form is not greyed out")
	}
	for path, form := range map[string]url.Values{
		"/ui/event-hooks":          {"url": {"https://erp.example.com/x"}, "events": {"message.sent"}, "secret": {"s"}},
		"/ui/event-hooks/1":        {"url": {"https://erp.example.com/x"}, "events": {"message.sent"}},
		"/ui/event-hooks/1/delete": nil,
		"/ui/recipes/alertmanager": {"key": {"am"}, "channel": {"ops"}},
	} {
		if res := w.post(path, form); res.Status != 403 {
			t.Errorf("a viewer posting %s: %d", path, res.Status)
		}
	}
	if h := e.must(200, "GET", "/api/v1/event-hooks/1", nil).Data(); h["url"] == "https://erp.example.com/x" {
		t.Fatal("a viewer changed the hook")
	}
	if n := e.must(200, "GET", "/api/v1/workflows", nil).JSON()["total"]; n != 0.0 {
		t.Fatalf("a viewer installed a recipe: %v workflows", n)
	}
}
