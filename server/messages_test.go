package server

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// Each message type reaches WeCom as exactly the JSON WeCom expects: the body as given (rendered),
// agentid an integer, recipients resolved through the wechatwk binding, duplicate check on.
func TestEveryMessageTypeReachesWeComAsItExpects(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{})
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 64)...)
	up := e.uploadFile("/api/v1/media", map[string]string{"channel": "ops", "type": "image"}, "logo.png", png)
	if up.Status != 201 {
		t.Fatalf("media upload: %d %s", up.Status, up.Body)
	}
	mediaID := up.Data()["mediaId"].(string)
	stored := up.Data()["id"].(string)
	fileID := e.uploadFile("/api/v1/media", map[string]string{"channel": "ops", "type": "file"}, "report.pdf", []byte("%PDF-1.4 report")).Data()["mediaId"].(string)
	videoID := e.uploadFile("/api/v1/media", map[string]string{"channel": "ops", "type": "video"}, "demo.mp4", append([]byte("\x00\x00\x00\x18ftypmp42"), make([]byte, 32)...)).Data()["mediaId"].(string)
	cases := []struct {
		msgtype string
		body    string
		want    string // the WeCom object, after rendering; "" means same as body
	}{
		{"text", `{"content": "订单 {{$context.data.id}} 已支付"}`, `{"content": "订单 42 已支付"}`},
		// A lone variable holding a number, in a text field, is sent as text; big ids stay exact.
		{"text", `{"content": "{{$context.data.big}}"}`, `{"content": "1234567890123456789"}`},
		{"markdown", `{"content": "**{{$context.data.id}}** <font color=\"info\">ok</font>"}`, `{"content": "**42** <font color=\"info\">ok</font>"}`},
		{"textcard", `{"title": "Order {{$context.data.id}}", "description": "<div class=\"gray\">2026</div>", "url": "https://example.com/o/42", "btntxt": "详情"}`,
			`{"title": "Order 42", "description": "<div class=\"gray\">2026</div>", "url": "https://example.com/o/42", "btntxt": "详情"}`},
		{"news", `{"articles": [{"title": "Launch", "description": "d", "url": "https://example.com/n", "picurl": "https://example.com/p.png"}]}`, ""},
		{"mpnews", `{"articles": [{"title": "Report", "thumb_media_id": "` + mediaID + `", "content": "<p>hi</p>", "digest": "d"}]}`, ""},
		{"image", `{"media_id": "` + mediaID + `"}`, ""},
		{"image", `{"media": {"id": "` + stored + `"}}`, `{"media_id": "` + mediaID + `"}`},
		{"file", `{"media_id": "` + fileID + `"}`, ""},
		{"video", `{"media_id": "` + videoID + `", "title": "Demo", "description": "d"}`, ""},
		{"miniprogram_notice", `{"appid": "wx123", "page": "pages/index", "title": "会议室预订成功", "content_item": [{"key": "会议室", "value": "402"}]}`, ""},
		{"template_card", `{"card_type": "text_notice", "main_title": {"title": "Deploy done"}, "card_action": {"type": 1, "url": "https://example.com"}}`, ""},
		{"template_card", `{"card_type": "news_notice", "main_title": {"title": "News"}, "card_image": {"url": "https://example.com/c.png"}, "card_action": {"type": 1, "url": "https://example.com"}}`, ""},
		{"template_card", `{"card_type": "button_interaction", "task_id": "task_btn_1", "main_title": {"title": "Approve?"}, "button_list": [{"text": "Approve", "key": "approve"}, {"text": "Reject", "key": "reject", "style": 2}]}`, ""},
		{"template_card", `{"card_type": "vote_interaction", "task_id": "task_vote_1", "main_title": {"title": "Lunch?"}, "checkbox": {"question_key": "q1", "mode": 1, "option_list": [{"id": "a", "text": "Noodles"}, {"id": "b", "text": "Rice"}]}, "submit_button": {"text": "Vote", "key": "vote"}}`, ""},
		{"template_card", `{"card_type": "multiple_interaction", "task_id": "task_multi_1", "main_title": {"title": "Choose"}, "select_list": [{"question_key": "q1", "option_list": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]}], "submit_button": {"text": "OK", "key": "ok"}}`, ""},
	}
	for i, c := range cases {
		var body any
		if err := json.Unmarshal([]byte(c.body), &body); err != nil {
			t.Fatalf("%s: %v", c.msgtype, err)
		}
		user := e.demo.UserIDs[i%len(e.demo.UserIDs)]
		id := e.send(map[string]any{"to": map[string]any{"users": []any{"local-" + user}, "wecomUsers": []any{user}}, "msgtype": c.msgtype,
			c.msgtype: body, "data": map[string]any{"id": 42, "big": json.Number("1234567890123456789")}})
		m := e.waitFinal(id)
		if m["status"] != "sent" {
			t.Errorf("%s: %v", c.msgtype, m)
			continue
		}
		inbox := e.inbox(user)
		got := inbox[len(inbox)-1]
		want := c.want
		if want == "" {
			want = c.body
		}
		var wantObj any
		_ = json.Unmarshal([]byte(want), &wantObj)
		if !reflect.DeepEqual(got[c.msgtype], wantObj) {
			t.Errorf("%s body:\n got %v\nwant %v", c.msgtype, got[c.msgtype], wantObj)
		}
		if _, isInt := got["agentid"].(float64); !isInt || got["agentid"] != float64(e.demo.AgentID) {
			t.Errorf("%s: agentid %#v is not the integer %d", c.msgtype, got["agentid"], e.demo.AgentID)
		}
		// The local user and the raw WeCom userid are the same person: sent once.
		if got["touser"] != user || got["msgtype"] != c.msgtype || got["enable_duplicate_check"] != 1.0 {
			t.Errorf("%s: request %v", c.msgtype, got)
		}
	}
}

// Each class of WeCom error ends in the right status, attempt count and a readable reason.
func TestErrcodeClassesEndInTheRightStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		faults     []wecomtest.Fault
		status     string
		attempts   float64
		reason     string
		delivered  int
		advanceFor time.Duration
	}{
		{"system busy thrice gives up after 3", []wecomtest.Fault{{ErrCode: -1}, {ErrCode: -1}, {ErrCode: -1}}, "failed", 3, "errcode -1", 0, 0},
		{"concurrency limit then ok", []wecomtest.Fault{{ErrCode: 45033}}, "sent", 2, "", 1, 0},
		{"HTTP 503 then ok", []wecomtest.Fault{{HTTPStatus: 503}}, "sent", 2, "", 1, 0},
		{"connection reset before answering then ok", []wecomtest.Fault{{Reset: true}}, "sent", 2, "", 1, 0},
		{"answer lost after delivery: resent, WeCom drops the twin", []wecomtest.Fault{{Reset: true, AfterProcessing: true}}, "sent", 2, "", 1, 0},
		{"frequency block waits its window", []wecomtest.Fault{{ErrCode: 45009}}, "sent", 2, "", 1, 0},
		{"IP not trusted is permanent and names the IP", []wecomtest.Fault{{ErrCode: 60020, ErrMsg: "not allow to access from your ip, hint: [x], from ip: 203.0.113.7"}}, "failed", 1, "203.0.113.7", 0, 0},
		{"agentid of another app is permanent", []wecomtest.Fault{{ErrCode: 301002, ErrMsg: "agentid not match"}}, "failed", 1, "AgentId does not match", 0, 0},
		{"interactive card without callback is permanent", []wecomtest.Fault{{ErrCode: 43012, ErrMsg: "require callback url"}}, "failed", 1, "接收消息", 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newDeliveryEnv(t, deliveryOptions{})
			user := e.demo.UserIDs[0]
			e.sim.Script("message/send", c.faults...)
			id := e.send(textTo([]string{"local-" + user}, "errcode test "+c.name))
			m := e.finishWithClock(id)
			if m["status"] != c.status || m["attempts"] != c.attempts {
				t.Fatalf("status %v attempts %v, want %s %v: %v", m["status"], m["attempts"], c.status, c.attempts, m)
			}
			if c.reason != "" && !strings.Contains(m["reason"].(string), c.reason) {
				t.Errorf("reason %q lacks %q", m["reason"], c.reason)
			}
			if got := len(e.inbox(user)); got != c.delivered {
				t.Errorf("inbox holds %d, want %d", got, c.delivered)
			}
		})
	}
}

func TestInvalidAndUnboundRecipientsMakeAPartialNamingThem(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{})
	e.must(201, "POST", "/api/v1/users", map[string]any{"userid": "nobinding", "name": "No Binding"})
	id := e.send(map[string]any{"to": map[string]any{"users": []any{"local-" + e.demo.UserIDs[0], "nobinding", "ghost"}, "wecomUsers": []any{"NotInCorp"}},
		"msgtype": "text", "text": map[string]any{"content": "hi"}})
	m := e.waitFinal(id)
	r := m["recipients"].(map[string]any)
	if m["status"] != "partial" || r["requested"] != 4.0 || r["resolved"] != 2.0 {
		t.Fatalf("message %v", m)
	}
	if fmt.Sprint(r["unbound"]) != "[nobinding ghost]" || fmt.Sprint(r["invalid"]) != "[notincorp]" {
		t.Errorf("unbound %v invalid %v", r["unbound"], r["invalid"])
	}
	if len(e.inbox(e.demo.UserIDs[0])) != 1 {
		t.Error("the valid member did not receive it")
	}
	// Nobody resolvable: failed at once, with the reason.
	id = e.send(textTo([]string{"ghost"}, "nobody"))
	if m := e.message(id); m["status"] != "failed" || !strings.Contains(m["reason"].(string), "ghost") {
		t.Errorf("all unbound: %v", m)
	}
}

// WeCom invalidating the token while messages flow costs exactly one more gettoken.
func TestTokenInvalidatedMidStreamCostsOneGettoken(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{})
	user := e.demo.UserIDs[1]
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, e.send(textTo([]string{"local-" + user}, fmt.Sprintf("before %d", i))))
	}
	for _, id := range ids {
		e.waitFinal(id)
	}
	if got := e.sim.Calls("gettoken"); got != 1 {
		t.Fatalf("gettoken calls before invalidation: %d", got)
	}
	e.sim.InvalidateTokens(e.demo.CorpID)
	ids = ids[:0]
	for i := 0; i < 20; i++ {
		ids = append(ids, e.send(textTo([]string{"local-" + e.demo.UserIDs[i%len(e.demo.UserIDs)]}, fmt.Sprintf("after %d", i))))
	}
	for _, id := range ids {
		if m := e.waitFinal(id); m["status"] != "sent" || m["attempts"] != 1.0 {
			t.Fatalf("after invalidation: %v", m)
		}
	}
	if got := e.sim.Calls("gettoken"); got != 2 {
		t.Fatalf("gettoken calls: %d, want 2", got)
	}
}

// 100 messages to one member: none dropped by WeCom's 30/min limit, all arrive, paced; messages
// to another member are not held back meanwhile.
func TestOneBusyMemberIsPacedAndHoldsNobodyBack(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{})
	busy, other := e.demo.UserIDs[2], e.demo.UserIDs[3]
	var busyIDs, otherIDs []string
	for i := 0; i < 100; i++ {
		busyIDs = append(busyIDs, e.send(map[string]any{"to": map[string]any{"users": []any{"local-" + busy}, "wecomUsers": []any{}},
			"msgtype": "text", "text": map[string]any{"content": fmt.Sprintf("alert %d", i)}}))
		if i%10 == 0 {
			otherIDs = append(otherIDs, e.send(textTo([]string{"local-" + other}, fmt.Sprintf("other %d", i))))
		}
	}
	// Without moving the clock: the other member gets all 10, the busy one exactly 30.
	for _, id := range otherIDs {
		if m := e.waitFinal(id); m["status"] != "sent" {
			t.Fatalf("other member's message: %v", m)
		}
	}
	e.waitInbox(busy, 30)
	time.Sleep(50 * time.Millisecond)
	if got := len(e.inbox(busy)); got != 30 {
		t.Fatalf("busy member got %d in the first minute, want 30", got)
	}
	for minute := 1; len(e.inbox(busy)) < 100 && minute < 10; minute++ {
		e.clock.Advance(62 * time.Second)
		e.waitInbox(busy, min(100, 30*(minute+1)))
	}
	for _, id := range busyIDs {
		if m := e.waitFinal(id); m["status"] != "sent" {
			t.Fatalf("busy message: %v", m)
		}
	}
	if got, drops := len(e.inbox(busy)), e.sim.TotalDrops(); got != 100 || drops != 0 {
		t.Fatalf("busy member got %d, WeCom dropped %d", got, drops)
	}
}

func (e *deliveryEnv) waitInbox(user string, n int) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(e.sim.Inbox(e.demo.CorpID, user)) < n {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s has %d messages, want %d", user, len(e.sim.Inbox(e.demo.CorpID, user)), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// One message to 10,000 bound users is 10 message/send calls and 1 gettoken.
func TestTenThousandRecipientsAreTenRequests(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{members: 10000})
	users := make([]any, 10000)
	for i := range users {
		users[i] = "local-" + memberID(i)
	}
	id := e.send(map[string]any{"to": map[string]any{"users": users}, "msgtype": "text", "text": map[string]any{"content": "all hands"}})
	m := e.waitFinal(id)
	if m["status"] != "sent" || len(m["requests"].([]any)) != 10 {
		t.Fatalf("message %v with %d requests", m["status"], len(m["requests"].([]any)))
	}
	if sends, tokens := e.sim.Calls("message/send"), e.sim.Calls("gettoken"); sends != 10 || tokens != 1 {
		t.Fatalf("message/send %d, gettoken %d", sends, tokens)
	}
	if len(e.inbox(memberID(9999))) != 1 || len(e.inbox(memberID(0))) != 1 {
		t.Fatal("first or last member missed it")
	}
}

func TestIdempotencyKeyReturnsTheFirstMessage(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{})
	body := textTo([]string{"local-" + e.demo.UserIDs[0]}, "once")
	body["idempotencyKey"] = "order-42-paid"
	first := e.send(body)
	second := e.send(body)
	if first != second {
		t.Fatalf("second send made %s, want %s", second, first)
	}
	e.waitFinal(first)
	if n := len(e.inbox(e.demo.UserIDs[0])); n != 1 {
		t.Fatalf("delivered %d times", n)
	}
	// After 24 h the key is free again.
	e.clock.Advance(25 * time.Hour)
	body["text"] = map[string]any{"content": "again"}
	if third := e.send(body); third == first {
		t.Fatal("the key still returned the old message after 24 h")
	}
}

// POST /messages?wait= answers with the message as the sender recorded it, delivered or failed,
// woken by the record itself: the poll that would find it is an hour away and the wait 60 s.
func TestSendWaitAnswersWithTheRecordedOutcome(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{waitPoll: time.Hour})
	send := func(content string) map[string]any {
		t.Helper()
		body := textTo([]string{"local-" + e.demo.UserIDs[3]}, content)
		body["channel"] = "ops"
		answer := make(chan response, 1)
		go func() { answer <- e.do("POST", "/api/v1/messages?wait=60s", body) }()
		select {
		case res := <-answer:
			if res.Status != 202 {
				t.Fatalf("?wait=: %d %s", res.Status, res.Body)
			}
			return res.Data()
		case <-time.After(30 * time.Second): // a guard against a hang, not a measure
			t.Fatal("?wait= was not woken by the recorded outcome")
			return nil
		}
	}
	if m := send("wait for me"); m["status"] != "sent" || m["sentAt"] == nil {
		t.Fatalf("delivered: %v", m)
	}
	e.sim.Script("message/send", wecomtest.Fault{ErrCode: 301002, ErrMsg: "agentid not match"})
	if m := send("and for me"); m["status"] != "failed" || !strings.Contains(m["reason"].(string), "AgentId") {
		t.Fatalf("refused by WeCom: %v", m)
	}
}

func TestRetryCancelRecall(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{})
	user := e.demo.UserIDs[4]
	// A permanent failure, then retry once the cause is gone.
	e.sim.Script("message/send", wecomtest.Fault{ErrCode: 60020, ErrMsg: "from ip: 198.51.100.1"})
	id := e.send(textTo([]string{"local-" + user}, "retry me"))
	if m := e.waitFinal(id); m["status"] != "failed" {
		t.Fatalf("%v", m)
	}
	e.must(200, "POST", "/api/v1/messages/"+id+"/retry", nil)
	if m := e.waitFinal(id); m["status"] != "sent" || len(e.inbox(user)) != 1 {
		t.Fatalf("after retry: %v", m)
	}
	if res := e.do("POST", "/api/v1/messages/"+id+"/retry", nil); res.Status != 409 {
		t.Fatalf("retrying a sent message: %d", res.Status)
	}
	// Recall within 24 h.
	e.must(200, "POST", "/api/v1/messages/"+id+"/recall", nil)
	if !e.sim.Inbox(e.demo.CorpID, user)[0].Recalled {
		t.Fatal("not recalled in WeCom")
	}
	// Cancel while retrying.
	e.sim.Script("message/send", wecomtest.Fault{ErrCode: -1})
	id = e.send(textTo([]string{"local-" + user}, "cancel me"))
	e.waitStatus(id, "retrying")
	if m := e.must(200, "POST", "/api/v1/messages/"+id+"/cancel", nil).Data(); m["status"] != "canceled" {
		t.Fatalf("cancel: %v", m)
	}
	e.clock.Advance(time.Hour)
	time.Sleep(50 * time.Millisecond)
	if len(e.inbox(user)) != 1 {
		t.Fatal("a canceled message was delivered")
	}
}

func TestCheckAndChannelTestGiveActionableHints(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{})
	if res := e.must(200, "POST", "/api/v1/authenticators/1/check", nil).Data(); res["ok"] != true {
		t.Fatalf("check: %v", res)
	}
	e.sim.Script("gettoken", wecomtest.Fault{ErrCode: 60020, ErrMsg: "not allow to access from your ip, hint: [1], from ip: 203.0.113.9, more info at https://open.work.weixin.qq.com/devtool/query?e=60020"})
	res := e.must(200, "POST", "/api/v1/authenticators/1/check", nil).Data()
	if res["ok"] != false || res["errcode"] != 60020.0 || !strings.Contains(res["hint"].(string), "203.0.113.9") || !strings.Contains(res["hint"].(string), "企业可信IP") {
		t.Fatalf("60020 check: %v", res)
	}
	e.must(200, "PATCH", "/api/v1/authenticators/1", map[string]any{"options": map[string]any{"secret": "wrong-secret"}})
	res = e.must(200, "POST", "/api/v1/authenticators/1/check", nil).Data()
	if res["errcode"] != 40001.0 || !strings.Contains(res["hint"].(string), "secret") {
		t.Fatalf("40001 check: %v", res)
	}
	e.must(200, "PATCH", "/api/v1/authenticators/1", map[string]any{"options": map[string]any{"secret": e.demo.Secret}})
	msg := e.must(200, "POST", "/api/v1/channels/1/test", textTo([]string{"local-" + e.demo.UserIDs[5]}, "test")).Data()
	if msg["status"] != "sent" || msg["triggerFrom"] != "test" {
		t.Fatalf("channel test: %v", msg)
	}
	e.sim.Script("message/send", wecomtest.Fault{ErrCode: 301002, ErrMsg: "agentid not match"})
	msg = e.must(200, "POST", "/api/v1/channels/1/test", textTo([]string{"local-" + e.demo.UserIDs[5]}, "test 2")).Data()
	if msg["status"] != "failed" || !strings.Contains(msg["reason"].(string), "AgentId") {
		t.Fatalf("301002 test: %v", msg)
	}
}

// Bad sends are 422 at POST, naming the field, and store nothing.
func TestBadSendsAreRejectedWithTheFieldPath(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{noSender: true})
	e.must(201, "POST", "/api/v1/authenticators", map[string]any{"name": "nocb", "options": map[string]any{"corpId": e.demo.CorpID, "agentId": e.demo.AgentID, "secret": e.demo.Secret}})
	e.must(201, "POST", "/api/v1/channels", map[string]any{"name": "nocb", "authenticatorId": 2})
	to := map[string]any{"users": []any{"local-" + e.demo.UserIDs[0]}}
	cases := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"no channel", map[string]any{"to": to, "msgtype": "text", "text": map[string]any{"content": "x"}}, "channel"},
		{"unknown channel", map[string]any{"channel": "nope", "to": to, "msgtype": "text", "text": map[string]any{"content": "x"}}, "channel"},
		{"no recipients", map[string]any{"channel": "ops", "to": map[string]any{}, "msgtype": "text", "text": map[string]any{"content": "x"}}, "to"},
		{"bad department", map[string]any{"channel": "ops", "to": map[string]any{"departments": []any{"two"}}, "msgtype": "text", "text": map[string]any{"content": "x"}}, "to.departments"},
		{"unknown msgtype", map[string]any{"channel": "ops", "to": to, "msgtype": "fax", "fax": map[string]any{}}, "msgtype"},
		{"textcard without url", map[string]any{"channel": "ops", "to": to, "msgtype": "textcard", "textcard": map[string]any{"title": "t", "description": "d"}}, "textcard.url"},
		{"textcard url scheme", map[string]any{"channel": "ops", "to": to, "msgtype": "textcard", "textcard": map[string]any{"title": "t", "description": "d", "url": "javascript:alert(1)"}}, "textcard.url"},
		{"template error with position", map[string]any{"channel": "ops", "to": to, "msgtype": "text", "text": map[string]any{"content": "hi {{#if $context.data.x}}"}}, "text.content"},
		{"text_notice without card_action", map[string]any{"channel": "ops", "to": to, "msgtype": "template_card", "template_card": map[string]any{"card_type": "text_notice", "main_title": map[string]any{"title": "t"}}}, "template_card.card_action"},
		{"bad task_id", map[string]any{"channel": "ops", "to": to, "msgtype": "template_card", "template_card": map[string]any{"card_type": "button_interaction", "task_id": "bad id!", "main_title": map[string]any{"title": "t"}, "button_list": []any{map[string]any{"text": "ok", "key": "ok"}}}}, "template_card.task_id"},
		{"interactive card without callback", map[string]any{"channel": "nocb", "to": to, "msgtype": "template_card", "template_card": map[string]any{"card_type": "button_interaction", "main_title": map[string]any{"title": "t"}, "button_list": []any{map[string]any{"text": "ok", "key": "ok"}}}}, "template_card"},
		{"template card to connected enterprise", map[string]any{"channel": "ops", "to": map[string]any{"linked": map[string]any{"users": []any{"wwx/u"}}}, "msgtype": "template_card", "template_card": map[string]any{"card_type": "text_notice", "main_title": map[string]any{"title": "t"}, "card_action": map[string]any{"type": 1, "url": "https://e.com"}}}, "msgtype"},
		{"image without media", map[string]any{"channel": "ops", "to": to, "msgtype": "image", "image": map[string]any{}}, "image"},
		{"idempotency key type", map[string]any{"channel": "ops", "idempotencyKey": 5, "to": to, "msgtype": "text", "text": map[string]any{"content": "x"}}, "idempotencyKey"},
	}
	for _, c := range cases {
		res := e.do("POST", "/api/v1/messages", c.body)
		if res.Status != 422 {
			t.Errorf("%s: %d %s", c.name, res.Status, res.Body)
			continue
		}
		found := false
		for f := range res.Fields() {
			if f == c.field || strings.HasPrefix(f, c.field+".") || strings.HasPrefix(f, c.field+"[") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: fields %v do not name %s", c.name, res.Fields(), c.field)
		}
	}
	if total := e.must(200, "GET", "/api/v1/messages", nil).JSON()["total"]; total != 0.0 {
		t.Fatalf("rejected sends stored %v messages", total)
	}
}
