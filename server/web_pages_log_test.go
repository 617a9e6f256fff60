package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models/storetest"
	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
	"github.com/wecomflow/wecomflow/web"
)

// unresolvedKeyRE finds a catalogue key the pages build at run time (a status, a trigger, a
// kind, a role) that was shown as the key because the catalogue lacks it.
var unresolvedKeyRE = regexp.MustCompile(`\b(?:exec\.status|exec\.job\.status|exec\.trigger|msg\.status|msg\.req\.status|msg\.from|event\.kind|event\.status|role|audit\.kind|audit\.count)\.[a-z_]+`)

// page loads a page in a language and fails the test unless it answers want.
func (w *webClient) page(want int, path, lang string) string {
	w.e.t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	res := w.get(path + sep + "lang=" + lang)
	if res.Status != want {
		w.e.t.Fatalf("GET %s (%s): %d, want %d:\n%s", path, lang, res.Status, want, res.Body)
	}
	body := string(res.Body)
	if k := unresolvedKeyRE.FindString(body); k != "" {
		w.e.t.Errorf("GET %s (%s) shows the catalogue key %s", path, lang, k)
	}
	return body
}

// mustContain fails the test for each of wants the page lacks.
func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(body, want) {
			t.Errorf("%s lacks %s", what, want)
		}
	}
}

// The execution, message and callback event pages render for a logged-in user in English and
// Chinese, with what happened: a waiting approval, a resolved run, a message, a member's reply.
func TestWebLogPagesRenderInEnglishAndChinese(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	approver, owner := e.demo.UserIDs[0], e.demo.UserIDs[1]
	e.must(201, "POST", "/api/v1/workflows", approvalWorkflow("order-paid", "24h", false))
	_, waiting := e.hook("order-paid", map[string]any{"id": 41, "amount": 5000, "approver": "local-" + approver, "owner": "local-" + owner}, hookSecret)
	_, resolved := e.hook("order-paid", map[string]any{"id": 42, "amount": 10, "approver": "local-" + approver, "owner": "local-" + owner}, hookSecret)
	e.waitExecution(waiting, "waiting")
	done := jobOf(e.waitExecution(resolved, "resolved"), "done")
	messageID := done["result"].(map[string]any)["messageId"].(string)
	xml := wecomtest.TextMessageXML(e.demo.CorpID, e.demo.AgentID, approver, "hello", 1, e.clock.Now().Unix())
	if status, body, err := e.caller.Post(context.Background(), xml); err != nil || status != 200 {
		t.Fatalf("callback: %d %q %v", status, body, err)
	}
	events := e.must(200, "GET", "/api/v1/callback-events", nil).JSON()["data"].([]any)
	eventID := fmt.Sprint(events[0].(map[string]any)["id"])

	w := e.webLogin()
	for _, lang := range []string{"en", "zh-CN"} {
		zh := lang == "zh-CN"
		text := func(en, cn string) string {
			if zh {
				return cn
			}
			return en
		}
		body := w.page(200, "/ui/executions", lang)
		mustContain(t, "executions "+lang, body, `id="execution-`+waiting+`"`, `id="execution-`+resolved+`"`, `id="f-workflowId"`,
			"Notify on paid order (order-paid)", text("Waiting", "等待中"), text("Resolved", "已完成"), text("Webhook", "Webhook"))
		body = w.page(200, "/ui/executions?status=waiting", lang)
		if !strings.Contains(body, waiting) || strings.Contains(body, resolved) {
			t.Errorf("executions filtered by status (%s) show the wrong ones", lang)
		}
		body = w.page(200, "/ui/executions/"+waiting, lang)
		mustContain(t, "waiting execution "+lang, body, `id="execution-status"`, `data-live="/api/v1/executions/`+waiting+`"`,
			`src="/static/live.js"`, `id="cancel-execution"`, `id="job-big"`, `id="job-ask"`, `id="job-ask-message"`, text("Jobs", "步骤"))
		body = w.page(200, "/ui/executions/"+resolved, lang)
		mustContain(t, "resolved execution "+lang, body, `href="/ui/messages/`+messageID+`"`, `id="job-done"`)
		if strings.Contains(body, "data-live") || strings.Contains(body, `id="cancel-execution"`) {
			t.Errorf("a resolved execution (%s) refreshes itself or offers cancel", lang)
		}

		body = w.page(200, "/ui/messages", lang)
		mustContain(t, "messages "+lang, body, `id="message-`+messageID+`"`, `id="message-link-`+messageID+`"`, "markdown",
			text("Sent", "已发送"), text("Messages", "消息"), `id="f-since"`)
		body = w.page(200, "/ui/messages?executionId="+resolved, lang)
		if !strings.Contains(body, messageID) || strings.Count(body, `<tr id="message-`) != 1 {
			t.Errorf("messages of one execution (%s): want just %s", lang, messageID)
		}
		body = w.page(422, "/ui/messages?since=yesterday", lang)
		mustContain(t, "a bad time filter "+lang, body, `id="f-since-error"`, `value="yesterday"`)
		body = w.page(200, "/ui/messages/"+messageID, lang)
		mustContain(t, "message "+lang, body, `id="message-status"`, `data-status="sent"`, `id="message-requests"`,
			"Order **42**: auto", `href="/ui/executions/`+resolved+`"`, text("Requests to WeCom", "企业微信请求"))
		if strings.Contains(body, `id="retry-message"`) || strings.Contains(body, `id="cancel-message"`) {
			t.Errorf("a sent message (%s) offers retry or cancel", lang)
		}

		body = w.page(200, "/ui/callback-events", lang)
		mustContain(t, "callback events "+lang, body, `id="event-`+eventID+`"`, text("App messages", "应用消息"))
		body = w.page(200, "/ui/callback-events?kind=contacts", lang)
		if strings.Contains(body, `id="event-`+eventID+`"`) {
			t.Errorf("the contacts filter (%s) shows an app event", lang)
		}
		w.page(422, "/ui/callback-events?status=lost", lang)
		body = w.page(200, "/ui/callback-events/"+eventID, lang)
		mustContain(t, "callback event "+lang, body, `id="event-status"`, `id="event-payload"`, `&#34;Content&#34;: &#34;hello&#34;`, `id="event-deliveries">1<`)

		w.page(404, "/ui/executions/01NOPE", lang)
		w.page(404, "/ui/messages/01NOPE", lang)
	}
	if res := w.get("/ui/inbox"); res.Status != 404 {
		t.Errorf("the inbox page outside the sandbox: %d", res.Status)
	}
}

// A message body is shown as text: markup in it never becomes markup on the page.
func TestWebMessageBodyRendersAsText(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{})
	evil := `<script>alert(1)</script> "><img src=x onerror=alert(1)>`
	id := e.send(textTo([]string{"local-" + e.demo.UserIDs[0]}, evil))
	e.waitFinal(id)
	w := e.webLogin()
	for _, lang := range []string{"en", "zh-CN"} {
		body := w.page(200, "/ui/messages/"+id, lang)
		for _, raw := range []string{"<script>alert(1)", "<img src=x", `"><img`} {
			if strings.Contains(body, raw) {
				t.Errorf("the page (%s) carries the body's markup %s", lang, raw)
			}
		}
		// The body's text reads as it was written, quote and all.
		mustContain(t, "message "+lang, body, `<dd class="text">&lt;script&gt;alert(1)&lt;/script&gt; &#34;&gt;&lt;img src=x onerror=alert(1)&gt;</dd>`,
			`id="message-body-json"`)
	}
}

// Retry, cancel and recall act through the page's forms; a wrong state shows the service's
// sentence on the message's page.
func TestWebMessageActions(t *testing.T) {
	t.Parallel()
	// The clock starts now: whether recall is offered depends on the 24 h since sending.
	e := newDeliveryEnv(t, deliveryOptions{start: time.Now().UTC()})
	user := e.demo.UserIDs[4]
	w := e.webLogin()

	e.sim.Script("message/send", wecomtest.Fault{ErrCode: 60020, ErrMsg: "from ip: 198.51.100.1"})
	failed := e.send(textTo([]string{"local-" + user}, "retry me"))
	e.waitFinal(failed)
	page := w.page(200, "/ui/messages/"+failed, "en")
	mustContain(t, "a failed message", page, `id="retry-message"`, `data-status="failed"`, `id="message-reason"`, "60020")
	res := w.post("/ui/messages/"+failed+"/cancel", nil)
	if res.Status != 409 || !strings.Contains(string(res.Body), `id="action-error"`) || !strings.Contains(string(res.Body), "Only a scheduled, queued or retrying message") {
		t.Fatalf("cancel of a failed message: %d %s", res.Status, res.Body)
	}
	if res := w.post("/ui/messages/"+failed+"/retry", nil); res.Status != 303 || res.Header.Get("Location") != "/ui/messages/"+failed {
		t.Fatalf("retry: %d %v", res.Status, res.Header)
	}
	if m := e.waitFinal(failed); m["status"] != "sent" {
		t.Fatalf("after retry: %v", m)
	}
	res = w.post("/ui/messages/"+failed+"/retry", nil)
	if res.Status != 409 || !strings.Contains(string(res.Body), "Only a failed or partial message") {
		t.Fatalf("retry of a sent message: %d %s", res.Status, res.Body)
	}
	page = w.page(200, "/ui/messages/"+failed, "zh-CN")
	mustContain(t, "a sent message", page, `id="recall-message"`, "撤回")
	if res := w.post("/ui/messages/"+failed+"/recall", nil); res.Status != 303 {
		t.Fatalf("recall: %d %s", res.Status, res.Body)
	}
	if !e.sim.Inbox(e.demo.CorpID, user)[0].Recalled {
		t.Fatal("not recalled in WeCom")
	}
	page = w.page(200, "/ui/messages/"+failed, "en")
	mustContain(t, "a recalled message", page, `id="message-recalled"`)
	if strings.Contains(page, `id="recall-message"`) {
		t.Error("a recalled message offers recall again")
	}

	e.sim.Script("message/send", wecomtest.Fault{ErrCode: -1})
	retrying := e.send(textTo([]string{"local-" + user}, "cancel me"))
	e.waitStatus(retrying, "retrying")
	page = w.page(200, "/ui/messages/"+retrying, "en")
	mustContain(t, "a retrying message", page, `id="cancel-message"`, `data-live="/api/v1/messages/`+retrying+`"`)
	if res := w.post("/ui/messages/"+retrying+"/cancel", nil); res.Status != 303 {
		t.Fatalf("cancel: %d %s", res.Status, res.Body)
	}
	if m := e.message(retrying); m["status"] != "canceled" {
		t.Fatalf("after cancel: %v", m)
	}
	res = w.post("/ui/messages/"+retrying+"/recall", nil)
	if res.Status != 409 || !strings.Contains(string(res.Body), `id="action-error"`) {
		t.Fatalf("recall of a canceled message: %d %s", res.Status, res.Body)
	}
	if res := e.webDo("POST", "/ui/messages/"+retrying+"/retry", url.Values{"csrf": {"forged"}}, w.cookie); res.Status != 403 {
		t.Fatalf("a forged CSRF token: %d", res.Status)
	}
}

// The page offers what the API takes, by one clock: recall within WeCom's 24 hours of the store's
// clock (the fake clock here is a year behind the wall clock), retry only with a failed request.
func TestWebMessageActionsAgreeWithTheAPI(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{start: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)})
	sent := e.send(textTo([]string{"local-" + e.demo.UserIDs[0]}, "recall me in time"))
	e.waitFinal(sent)
	e.clock.Advance(23 * time.Hour)
	w := e.webLogin() // a session lasts 12 hours of the same clock
	mustContain(t, "a message sent 23 hours ago", w.page(200, "/ui/messages/"+sent, "en"), `id="recall-message"`)
	late := e.send(textTo([]string{"local-" + e.demo.UserIDs[1]}, "too late to recall"))
	e.waitFinal(late)
	e.clock.Advance(24*time.Hour + time.Minute)
	w = e.webLogin()
	if page := w.page(200, "/ui/messages/"+late, "en"); strings.Contains(page, `id="recall-message"`) {
		t.Error("the page offers to recall a message sent more than 24 hours ago")
	}
	if res := e.do("POST", "/api/v1/messages/"+late+"/recall", nil); res.Status != 409 {
		t.Fatalf("the API recalled a message sent more than 24 hours ago: %d %s", res.Status, res.Body)
	}

	// Nobody could be resolved: the message failed without a request, so there is nothing to retry.
	none := e.send(textTo([]string{"nobody-bound"}, "to no one"))
	if m := e.waitFinal(none); m["status"] != "failed" {
		t.Fatalf("a message to nobody: %v", m)
	}
	if page := w.page(200, "/ui/messages/"+none, "en"); strings.Contains(page, `id="retry-message"`) {
		t.Error("the page offers to retry a message with no failed request")
	}
	if res := e.do("POST", "/api/v1/messages/"+none+"/retry", nil); res.Status != 409 {
		t.Fatalf("the API retried a message with no failed request: %d %s", res.Status, res.Body)
	}
}

// The execution page shows the jobs in order and cancels a waiting execution.
func TestWebExecutionDetailShowsJobsAndCancels(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	approver, owner := e.demo.UserIDs[0], e.demo.UserIDs[1]
	e.must(201, "POST", "/api/v1/workflows", approvalWorkflow("order-paid", "24h", false))
	_, id := e.hook("order-paid", map[string]any{"id": 7, "amount": 5000, "approver": "local-" + approver, "owner": "local-" + owner}, hookSecret)
	x := e.waitExecution(id, "waiting")
	ask := jobOf(x, "ask")["result"].(map[string]any)["messageId"].(string)
	w := e.webLogin()
	page := w.page(200, "/ui/executions/"+id, "en")
	if big, askAt := strings.Index(page, `id="job-big"`), strings.Index(page, `id="job-ask"`); big < 0 || askAt < big {
		t.Errorf("the jobs are not in order: big at %d, ask at %d", big, askAt)
	}
	mustContain(t, "a waiting execution", page, `href="/ui/messages/`+ask+`"`, `&#34;amount&#34;: 5000`, "Notify on paid order", `data-live-key="waiting|`)
	if res := w.post("/ui/executions/"+id+"/cancel", nil); res.Status != 303 || res.Header.Get("Location") != "/ui/executions/"+id {
		t.Fatalf("cancel: %d %s", res.Status, res.Body)
	}
	page = w.page(200, "/ui/executions/"+id, "zh-CN")
	mustContain(t, "a canceled execution", page, `data-status="canceled"`, "已取消")
	res := w.post("/ui/executions/"+id+"/cancel", nil)
	if res.Status != 409 || !strings.Contains(string(res.Body), `id="action-error"`) || !strings.Contains(string(res.Body), "Only a queued, running or waiting") {
		t.Fatalf("cancel of a canceled execution: %d %s", res.Status, res.Body)
	}
}

// fakeInbox is an InboxSource that remembers the clicks.
type fakeInbox struct {
	mu     sync.Mutex
	clicks []string
	fail   error
}

func (f *fakeInbox) Inboxes() map[string][]web.InboxMessage {
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	return map[string][]web.InboxMessage{
		"lisi": {
			{MsgType: "text", Body: json.RawMessage(`{"content":"the older one"}`), At: at},
			{MsgType: "template_card", At: at.Add(time.Minute), Body: json.RawMessage(`{"card_type":"button_interaction","task_id":"task-1",` +
				`"main_title":{"title":"<script>alert(1)</script>"},"button_list":[{"text":"Approve","key":"approve"}]}`)},
		},
		"zhangsan": {{MsgType: "text", Body: json.RawMessage(`{"content":"gone"}`), At: at, Recalled: true}},
	}
}

func (f *fakeInbox) Click(ctx context.Context, userid, taskID, key string, _ map[string][]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.clicks = append(f.clicks, userid+" "+taskID+" "+key)
	return nil
}

// The sandbox inbox page embeds every member's messages, newest first, for inbox.js to draw, and
// its click form plays the member's click.
func TestWebInboxPage(t *testing.T) {
	t.Parallel()
	store := storetest.Open(t)
	logs := &lockedBuffer{}
	inbox := &fakeInbox{}
	srv := New(Config{PublicURL: "https://wecomflow.example.com", Version: "test", Inbox: inbox}, store, slog.New(slog.NewJSONHandler(logs, nil)))
	token, err := srv.Service().Bootstrap(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, store: store, token: token, logs: logs}
	w := e.webLogin()
	for _, lang := range []string{"en", "zh-CN"} {
		page := w.page(200, "/ui/inbox", lang)
		mustContain(t, "the inbox "+lang, page, `id="inbox-lisi"`, `id="inbox-zhangsan"`, `id="inbox-data"`, `id="inbox-click"`,
			`href="/ui/inbox"`, `src="/static/cards.js"`, `src="/static/inbox.js"`, `href="/static/cards.css"`, `"task_id":"task-1"`, `"recalled":true`)
		if strings.Contains(page, "<script>alert(1)") {
			t.Errorf("the inbox page (%s) carries a card's markup", lang)
		}
		if newer, older := strings.Index(page, "task-1"), strings.Index(page, "the older one"); newer < 0 || older < newer {
			t.Errorf("lisi's messages are not newest first (%s)", lang)
		}
		m := regexp.MustCompile(`(?s)<script type="application/json" id="inbox-data">(.*?)</script>`).FindStringSubmatch(page)
		var members []struct {
			UserID   string `json:"userid"`
			Messages []struct {
				MsgType string          `json:"msgtype"`
				Body    json.RawMessage `json:"body"`
			} `json:"messages"`
		}
		if m == nil || json.Unmarshal([]byte(m[1]), &members) != nil || len(members) != 2 || members[0].UserID != "lisi" {
			t.Fatalf("the embedded inbox (%s) does not parse as JSON: %v", lang, m)
		}
		card := cardOf(members[0].Messages[0].Body)
		if card.title != "<script>alert(1)</script>" {
			t.Errorf("the card's title reads %q after the round trip", card.title)
		}
	}

	res := w.post("/ui/inbox/click", url.Values{"user": {"lisi"}, "task": {"task-1"}, "key": {"approve"}})
	if res.Status != 303 || res.Header.Get("Location") != "/ui/inbox#inbox-lisi" {
		t.Fatalf("click: %d %v %s", res.Status, res.Header, res.Body)
	}
	if len(inbox.clicks) != 1 || inbox.clicks[0] != "lisi task-1 approve" {
		t.Fatalf("clicks: %v", inbox.clicks)
	}
	if res := w.post("/ui/inbox/click", url.Values{"user": {"lisi"}}); res.Status != 400 || !strings.Contains(string(res.Body), `id="action-error"`) {
		t.Fatalf("a click without task and key: %d", res.Status)
	}
	inbox.fail = errors.New("wecomtest: card task-1 of lisi was already updated")
	res = w.post("/ui/inbox/click", url.Values{"user": {"lisi"}, "task": {"task-1"}, "key": {"approve"}})
	if res.Status != 400 || !strings.Contains(string(res.Body), "already updated") {
		t.Fatalf("a refused click: %d %s", res.Status, res.Body)
	}
	if res := e.webDo("POST", "/ui/inbox/click", url.Values{"user": {"lisi"}, "task": {"task-1"}, "key": {"x"}, "csrf": {"forged"}}, w.cookie); res.Status != 403 {
		t.Fatalf("a forged CSRF token: %d", res.Status)
	}
}
