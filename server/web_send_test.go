package server

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// sentMessage is the id of the message a Send page shows as its result, and its status.
var sentMessage = regexp.MustCompile(`(?s)<span class="status (\w+)" id="send-status">.*?<a href="/ui/messages/([0-9A-Z]+)" id="send-message-link">`)

// sendPage posts the Send form and returns the page, the message's id and its status.
func (w *webClient) sendPage(t *testing.T, form url.Values) (page, id, status string) {
	t.Helper()
	res := w.post("/ui/send", form)
	page = string(res.Body)
	m := sentMessage.FindStringSubmatch(page)
	if res.Status != 200 || m == nil {
		t.Fatalf("send %v: %d %s", form, res.Status, page)
	}
	return page, m[2], m[1]
}

// untranslatedSend finds a catalogue key of the Send page shown as it is.
var untranslatedSend = regexp.MustCompile(`>\s*(send|nav|channel|tpl)\.[a-z][A-Za-z0-9.]*\s*<`)

// What the Send page sends reaches WeCom as the API would send it: a textcard to a picked local
// user, a template card to a department, a saved template by name filled with data, a robot's
// markdown with a mention; each result is on the page with a link to the message.
func TestWebSendPageDelivers(t *testing.T) {
	t.Parallel()
	e := robotEnv(t)
	w := e.webLogin()
	for _, lang := range []string{"en", "zh-CN"} {
		page := w.page(200, "/ui/send", lang)
		mustContain(t, "the Send page in "+lang, page, `id="send-form"`, `src="/static/editor.js"`, `src="/static/picker.js"`,
			`<a href="/ui/send" aria-current="page">`, `value="ops" data-type="wecom"`, `value="ops_group" data-type="wecom_robot"`,
			`data-picker="departments"`, `data-picker="members"`, `id="preview"`)
		if k := untranslatedSend.FindString(page); k != "" {
			t.Errorf("the Send page in %s shows a catalogue key: %s", lang, k)
		}
		if !regexp.MustCompile(`name="idempotencyKey" id="f-idempotencyKey" value="ui-\w+"`).MatchString(page) {
			t.Errorf("the Send page in %s has no idempotency key", lang)
		}
	}
	user := e.demo.UserIDs[0]

	page, id, status := w.sendPage(t, url.Values{"channel": {"ops"}, "msgtype": {"textcard"}, "idempotencyKey": {"k-textcard"},
		"body": {`{"title": "Deploy {{$context.data.version}}", "description": "done", "url": "https://ci.example.com/1"}`},
		"data": {`{"version": "1.2.3"}`}, "to.users": {"local-" + user}})
	if status != "sent" {
		t.Fatalf("textcard: %s %s", status, page)
	}
	mustContain(t, "the result", page, `id="send-result"`, "Recipients: 1 requested, 1 found in WeCom.")
	if strings.Contains(page, `value="k-textcard"`) {
		t.Error("the page after a send offers the same idempotency key for the next message")
	}
	inbox := e.inbox(user)
	if card, _ := inbox[len(inbox)-1]["textcard"].(map[string]any); card["title"] != "Deploy 1.2.3" {
		t.Fatalf("delivered: %v", inbox[len(inbox)-1])
	}
	if m := e.message(id); m["triggerFrom"] != "api" || m["channel"] != "ops" {
		t.Fatalf("the message: %v", m)
	}

	// The same key again (a double submit) answers the first message and sends nothing.
	_, again, _ := w.sendPage(t, url.Values{"channel": {"ops"}, "msgtype": {"textcard"}, "idempotencyKey": {"k-textcard"},
		"body": {`{"title": "Deploy", "description": "done", "url": "https://ci.example.com/1"}`}, "to.users": {"local-" + user}})
	if again != id || len(e.inbox(user)) != len(inbox) {
		t.Fatalf("a double submit: message %s (first %s), inbox %d → %d", again, id, len(inbox), len(e.inbox(user)))
	}

	card := `{"card_type": "text_notice", "main_title": {"title": "Maintenance tonight"}, "card_action": {"type": 1, "url": "https://ops.example.com"}}`
	if _, _, status := w.sendPage(t, url.Values{"channel": {"ops"}, "msgtype": {"template_card"}, "body": {card}, "to.departments": {"4"},
		"idempotencyKey": {"k-card"}}); status != "sent" {
		t.Fatalf("a card to a department: %s", status)
	}
	ops := e.inbox("wujiu") // of 运维组, department 4
	if c, _ := ops[len(ops)-1]["template_card"].(map[string]any); c == nil || c["main_title"].(map[string]any)["title"] != "Maintenance tonight" {
		t.Fatalf("wujiu received %v", ops[len(ops)-1])
	}

	e.must(201, "POST", "/api/v1/templates", map[string]any{"name": "order-paid", "msgtype": "textcard",
		"textcard": map[string]any{"title": "Order {{$context.data.id}} paid", "description": "-", "url": "https://shop.example.com"}})
	_, id, status = w.sendPage(t, url.Values{"channel": {"ops"}, "template": {"order-paid"}, "data": {`{"id": 42}`},
		"msgtype": {"text"}, "body": {`{"content": "the unused form"}`}, "to.wecomUsers": {"lisi"}, "idempotencyKey": {"k-template"}})
	if m := e.message(id); status != "sent" || m["template"] != "order-paid" {
		t.Fatalf("a template by name: %s %v", status, m)
	}
	if in := e.inbox("lisi"); in[len(in)-1]["textcard"].(map[string]any)["title"] != "Order 42 paid" {
		t.Fatalf("lisi received %v", in[len(in)-1])
	}

	if _, _, status := w.sendPage(t, url.Values{"channel": {"ops_group"}, "msgtype": {"markdown"}, "body": {`{"content": "**disk** full"}`},
		"to.wecomUsers": {"wujiu"}, "idempotencyKey": {"k-robot"}}); status != "sent" {
		t.Fatalf("a robot markdown: %s", status)
	}
	if _, body := e.lastRobotMessage(e.demo.RobotKey); !strings.Contains(body["content"].(string), "<@wujiu>") {
		t.Fatalf("the robot posted %v", body)
	}
}

// A refused send shows every error on its field in one round, keeps what was typed and its
// idempotency key, and sends nothing.
func TestWebSendPageShowsFieldErrors(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{noSender: true})
	w := e.webLogin()
	form := url.Values{"channel": {"ops"}, "msgtype": {"textcard"}, "body": {`{"description": "no title", "url": "https://x.example.com"}`},
		"to.departments": {"sales"}, "idempotencyKey": {"k-bad"}}
	res := w.post("/ui/send", form)
	page := string(res.Body)
	if res.Status != 422 {
		t.Fatalf("a bad send: %d %s", res.Status, page)
	}
	mustContain(t, "the refused send", page, `id="f-to-departments-error"`, `value="sales"`, `value="k-bad"`, `<li><code>textcard.title</code>:`)
	var errs map[string]string
	embeddedJSON(t, res.Body, "errors", &errs)
	if errs["textcard.title"] == "" || errs["to.departments"] != "" {
		t.Errorf("editor.js gets %v: the body's errors only", errs)
	}

	form = url.Values{"channel": {"ops"}, "msgtype": {"text"}, "body": {`{"content": "hi"}`}, "data": {`{"id": `}}
	mustContain(t, "bad data", string(w.post("/ui/send", form).Body), `id="f-data-error"`, `id="f-to-error"`)
	if n := e.must(200, "GET", "/api/v1/messages", nil).JSON()["total"]; n != float64(0) {
		t.Fatalf("refused sends stored %v messages", n)
	}
}

// Only roles that send may open the Send page: a viewer has no link to it and is refused both
// the page and a post.
func TestWebSendPageFollowsRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	viewer := e.webLoginWith(e.roleToken("viewer"))
	if strings.Contains(string(viewer.get("/ui/").Body), `href="/ui/send"`) {
		t.Error("a viewer's nav links the Send page")
	}
	if res := viewer.get("/ui/send"); res.Status != 403 {
		t.Errorf("a viewer's Send page: %d", res.Status)
	}
	if res := viewer.post("/ui/send", url.Values{"channel": {"ops"}}); res.Status != 403 {
		t.Errorf("a viewer's send: %d", res.Status)
	}
	operator := e.webLoginWith(e.roleToken("operator"))
	mustContain(t, "an operator's nav", string(operator.get("/ui/").Body), `href="/ui/send"`)
	if res := operator.get("/ui/send"); res.Status != 200 {
		t.Errorf("an operator's Send page: %d", res.Status)
	}
}

// The Send page schedules: a sendAt typed as the page's local time is sent with its zone and the
// message waits, scheduled, until then; urgent is passed on; a sendAt too far ahead is refused on
// its field.
func TestWebSendPageSchedules(t *testing.T) {
	t.Parallel()
	e := robotEnv(t)
	w := e.webLogin()
	at := e.clock.Now().Add(2 * time.Hour).Truncate(time.Minute)
	form := url.Values{"channel": {"ops"}, "msgtype": {"text"}, "body": {`{"content": "maintenance in 2 hours"}`},
		"to.users": {"local-" + e.demo.UserIDs[0]}, "sendAt": {at.In(time.Local).Format("2006-01-02T15:04")}, "priority": {"urgent"}}
	page, id, status := w.sendPage(t, form)
	if status != "scheduled" {
		t.Fatalf("a send at %v: %s %s", at, status, page)
	}
	m := e.message(id)
	if next, _ := time.Parse(time.RFC3339, m["nextAttemptAt"].(string)); !next.Equal(at) {
		t.Fatalf("scheduled for %v, want %v", m["nextAttemptAt"], at)
	}
	form.Set("sendAt", e.clock.Now().Add(40*24*time.Hour).In(time.Local).Format("2006-01-02T15:04"))
	form.Set("idempotencyKey", "k-far")
	res := w.post("/ui/send", form)
	if res.Status != 422 || !strings.Contains(string(res.Body), `id="f-sendAt-error"`) {
		t.Fatalf("a sendAt 40 days ahead: %d %s", res.Status, res.Body)
	}
}
