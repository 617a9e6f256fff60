package server

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// untranslatedTemplates finds a catalogue key of the template pages shown as it is.
var untranslatedTemplates = regexp.MustCompile(`\b(tpl|nav)\.[a-z][A-Za-z0-9.]*`)

// orderPaidForm is the template form for an app textcard that reads the send's data.
func orderPaidForm() url.Values {
	return url.Values{"name": {"order-paid"}, "title": {"Order paid"}, "channelType": {"wecom"}, "msgtype": {"textcard"},
		"body": {`{"title": "Order {{$context.data.id}} paid", "description": "{{$context.data.amount}} CNY",
			"url": "https://shop.example.com/orders/{{$context.data.id}}", "btntxt": "详情"}`}}
}

// A template made on the page is usable by a send at once, and the message's page names it; a
// body that is not JSON, or that breaks WeCom's rules, is shown on the form and stores nothing;
// the pages speak both languages; a template an enabled workflow uses is not deleted, and the
// page says which workflow uses it.
func TestWebTemplatePages(t *testing.T) {
	t.Parallel()
	e := robotEnv(t)
	w := e.webLogin()
	for _, lang := range []string{"en", "zh-CN"} {
		body := w.page(200, "/ui/templates/new", lang)
		mustContain(t, "the new template page in "+lang, body, `id="template-form"`, `src="/static/editor.js"`, `id="preview"`,
			`<option value="wecom_robot">`, `"ops_group"`, `"wecom_robot"`, `"markdown_v2"`)
		if k := untranslatedTemplates.FindString(body); k != "" {
			t.Errorf("the new template page in %s shows the catalogue key %s", lang, k)
		}
	}

	// A body that is not JSON and a bad name: both errors come back from the one submit.
	bad := orderPaidForm()
	bad.Set("body", `{"title": "x",`)
	bad.Set("name", "Order Paid")
	bad.Set("title", strings.Repeat("长", 256))
	res := w.post("/ui/templates", bad)
	mustContain(t, "a body that is not JSON", string(res.Body), `id="f-body-error"`, "This is not a JSON object.", `{&#34;title&#34;: &#34;x&#34;,</textarea>`,
		`id="f-name-error"`, "lower-case letters", `id="f-title-error"`, "at most 255 characters")
	bad.Set("name", "order-paid")
	bad.Set("title", "Order paid")
	bad.Set("body", `{"description": "d", "url": "https://shop.example.com"}`)
	res = w.post("/ui/templates", bad)
	if res.Status != 422 {
		t.Fatalf("a textcard without a title: %d %s", res.Status, res.Body)
	}
	mustContain(t, "a textcard without a title", string(res.Body), `<li><code>textcard.title</code>:`)
	var errs map[string]string
	embeddedJSON(t, res.Body, "errors", &errs)
	if errs["textcard.title"] == "" {
		t.Errorf("editor.js gets no error for textcard.title: %v", errs)
	}
	if n := e.must(200, "GET", "/api/v1/templates", nil).JSON()["total"]; n != float64(0) {
		t.Fatalf("refused templates were stored: %v", n)
	}

	res = w.post("/ui/templates", orderPaidForm())
	if res.Status != 303 || res.Header.Get("Location") != "/ui/templates/1" {
		t.Fatalf("create: %d %v %s", res.Status, res.Header, res.Body)
	}
	// Changing it: the same one round.
	bad.Set("name", "Order Paid")
	bad.Set("body", "{")
	res = w.post("/ui/templates/1", bad)
	mustContain(t, "a change with a body that is not JSON", string(res.Body), `id="f-body-error"`, `id="f-name-error"`)
	user := e.demo.UserIDs[0]
	m := e.waitFinal(e.send(map[string]any{"template": "order-paid", "to": map[string]any{"users": []any{"local-" + user}},
		"data": map[string]any{"id": 42, "amount": "99.50"}}))
	if m["status"] != "sent" || m["template"] != "order-paid" {
		t.Fatalf("a send by the page's template: %v", m)
	}
	inbox := e.inbox(user)
	if card, _ := inbox[len(inbox)-1]["textcard"].(map[string]any); card["title"] != "Order 42 paid" {
		t.Fatalf("delivered: %v", inbox[len(inbox)-1])
	}
	msgPage := w.page(200, "/ui/messages/"+m["id"].(string), "en")
	mustContain(t, "the message page", msgPage, `id="message-template"><a href="/ui/templates?q=order-paid">order-paid</a>`)

	for lang, want := range map[string][2]string{"en": {"Templates", "Template order-paid"}, "zh-CN": {"模板", "模板 order-paid"}} {
		mustContain(t, "the list in "+lang, w.page(200, "/ui/templates", lang), "<h1>"+want[0]+"</h1>", `href="/ui/templates/1"`,
			"Order paid", `<code>textcard</code>`, `href="/ui/templates/new"`)
		page := w.page(200, "/ui/templates/1", lang)
		mustContain(t, "the template page in "+lang, page, want[1], `id="delete-template"`, `data-value="wecom"`,
			`value="textcard"`, "Order {{$context.data.id}} paid")
		if k := untranslatedTemplates.FindString(page); k != "" {
			t.Errorf("the template page in %s shows the catalogue key %s", lang, k)
		}
	}

	edit := orderPaidForm()
	edit.Del("channelType")
	edit.Set("title", "Order paid (v2)")
	if res := w.post("/ui/templates/1", edit); res.Status != 303 {
		t.Fatalf("update: %d %s", res.Status, res.Body)
	}
	if got := e.must(200, "GET", "/api/v1/templates/1", nil).Data()["title"]; got != "Order paid (v2)" {
		t.Fatalf("title after the update: %v", got)
	}

	e.must(201, "POST", "/api/v1/workflows", wf("uses-it", map[string]any{"key": "notify", "type": "notification",
		"config": map[string]any{"channel": "ops", "template": "order-paid", "to": map[string]any{"users": []any{"local-" + user}}}}))
	res = w.post("/ui/templates/1/delete", nil)
	if res.Status != 409 {
		t.Fatalf("delete of a template in use: %d %s", res.Status, res.Body)
	}
	mustContain(t, "the refused delete", string(res.Body), "uses-it", `value="order-paid"`)
	e.must(204, "DELETE", "/api/v1/workflows/1", nil)
	if res := w.post("/ui/templates/1/delete", nil); res.Status != 303 || res.Header.Get("Location") != "/ui/templates" {
		t.Fatalf("delete: %d %s", res.Status, res.Body)
	}
	e.must(404, "GET", "/api/v1/templates/1", nil)
}

// A designer makes and changes templates on the pages; a viewer and an operator read them with no
// form, and are refused the form's page and every change.
func TestWebTemplatePagesFollowRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/templates", map[string]any{"name": "hello", "msgtype": "text", "text": map[string]any{"content": "hi"}})

	designer := e.webLoginWith(e.roleToken("designer"))
	mustContain(t, "the designer's list", string(designer.get("/ui/templates").Body), `id="new-template"`, `href="/ui/templates"`)
	mustContain(t, "the designer's template", string(designer.get("/ui/templates/1").Body), `id="template-form"`, `id="delete-template"`)
	form := url.Values{"name": {"bye"}, "channelType": {"wecom"}, "msgtype": {"text"}, "body": {`{"content": "bye"}`}}
	if res := designer.post("/ui/templates", form); res.Status != 303 {
		t.Fatalf("designer create: %d %s", res.Status, res.Body)
	}

	for _, role := range []string{"viewer", "operator"} {
		w := e.webLoginWith(e.roleToken(role))
		list := string(w.get("/ui/templates").Body)
		mustContain(t, role+"'s list", list, `href="/ui/templates/1"`, `href="/ui/templates"`)
		if strings.Contains(list, `id="new-template"`) {
			t.Errorf("%s: the list offers a new template", role)
		}
		page := string(w.get("/ui/templates/1").Body)
		mustContain(t, role+"'s template", page, `id="read-only"`, `id="template-body-json"`, "hi")
		if strings.Contains(page, `id="template-form"`) || strings.Contains(page, `id="delete-template"`) {
			t.Errorf("%s: the template page offers a change: %s", role, page)
		}
		if res := w.get("/ui/templates/new"); res.Status != 403 {
			t.Errorf("%s: new template page: %d", role, res.Status)
		}
		for path, f := range map[string]url.Values{"/ui/templates": form, "/ui/templates/1": {"title": {"mine"}, "msgtype": {"text"}, "body": {`{"content": "x"}`}},
			"/ui/templates/1/delete": nil} {
			if res := w.post(path, f); res.Status != 403 {
				t.Errorf("%s: POST %s: %d", role, path, res.Status)
			}
		}
	}
	got := e.must(200, "GET", "/api/v1/templates", nil).JSON()
	if got["total"] != float64(2) || strings.Contains(mustJSON(t, got), "mine") {
		t.Fatalf("templates after the refusals: %v", got)
	}
}

// The workflow page gives editor.js a webhook's auth mode, whether its credential is set (never
// the credential), its format and the legacy signature flag.
func TestWebWorkflowPageShowsWebhookAuth(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{noSender: true})
	const token = "alertmanager-token-0123456789"
	e.must(201, "POST", "/api/v1/workflows", hookWorkflow("old", map[string]any{"secret": hookSecret}))
	// The database as it was before migration 14: "old" is a workflow saved before it.
	if err := e.store.DB.Exec("DELETE FROM schema_migrations WHERE version = 14").Error; err != nil {
		t.Fatal(err)
	}
	if err := e.store.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.must(201, "POST", "/api/v1/workflows", hookWorkflow("alerts", map[string]any{"auth": map[string]any{"type": "bearer", "token": token}, "format": "form"}))
	w := e.webLogin()
	type trigger struct {
		Trigger struct {
			Config map[string]any `json:"config"`
		} `json:"trigger"`
	}
	for path, want := range map[string]map[string]any{
		"/ui/workflows/1": {"auth": map[string]any{"type": "hmac", "secretSet": true}, "legacySignature": true},
		"/ui/workflows/2": {"auth": map[string]any{"type": "bearer", "tokenSet": true}, "format": "form"},
	} {
		for _, lang := range []string{"en", "zh-CN"} {
			page := w.page(200, path, lang)
			if strings.Contains(page, token) || strings.Contains(page, hookSecret) {
				t.Fatalf("%s shows the credential", path)
			}
			var def trigger
			embeddedJSON(t, []byte(page), "definition", &def)
			if !equalJSON(def.Trigger.Config, want) {
				t.Errorf("%s: the trigger's config is %v, want %v", path, def.Trigger.Config, want)
			}
			var strs map[string]string
			embeddedJSON(t, []byte(page), "strings", &strs)
			for _, k := range []string{"wf.auth.bearer", "wf.auth.grafana", "wf.auth.help.hmac", "wf.trigger.legacySignature", "wf.format.form", "wf.trigger.credential.keep"} {
				if strs[k] == "" || strs[k] == k {
					t.Errorf("%s in %s: no text for %s", path, lang, k)
				}
			}
		}
	}
}
