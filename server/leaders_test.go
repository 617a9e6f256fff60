package server

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// leadersEnv is the demo corp (张三 leads Acme, 李四 研发部, 吴九 its 运维组) synced into the
// directory, with the sender running.
func leadersEnv(t *testing.T) *directoryEnv {
	t.Helper()
	e := newDirectoryEnv(t, deliveryOptions{})
	e.runDirectory("a")
	if task := e.sync(); task["status"] != "success" {
		t.Fatalf("sync: %v", task)
	}
	e.startSender()
	return e
}

// sendToLeaders sends a text to the leaders of people and waits for its final state.
func (e *directoryEnv) sendToLeaders(content string, people ...any) map[string]any {
	e.t.Helper()
	return e.waitFinal(e.send(map[string]any{"to": map[string]any{"leadersOf": people}, "msgtype": "text",
		"text": map[string]any{"content": content}}))
}

// received reports whether the member's inbox holds a text with content.
func (e *directoryEnv) received(userid, content string) bool {
	for _, m := range e.inbox(userid) {
		if text, _ := m["text"].(map[string]any); text["content"] == content {
			return true
		}
	}
	return false
}

// After a full sync, leadersOf reaches the leaders of the person's own departments, not of parent
// departments; a leader is not sent their own escalation; who has no leader, is unbound or
// unknown is named in recipients.unbound. The directory API shows who leads what.
func TestLeadersOfAfterAFullSync(t *testing.T) {
	t.Parallel()
	e := leadersEnv(t)
	if m := e.member("lisi"); toString(m["leaderOf"]) != "[2]" {
		t.Fatalf("lisi: %v", m)
	}
	if m := e.member("wangwu"); toString(m["leaderOf"]) != "[]" {
		t.Fatalf("wangwu: %v", m)
	}
	if d := departmentOf(e.deliveryEnv, 4); toString(d["leaders"]) != `["wujiu"]` {
		t.Fatalf("department 4: %v", d)
	}

	m := e.sendToLeaders("dengli needs help", "local-dengli")
	if m["status"] != "sent" || !e.received("wujiu", "dengli needs help") || e.received("lisi", "dengli needs help") {
		t.Fatalf("to the leader of 运维组 only: %v; wujiu %v, lisi %v", m, e.inbox("wujiu"), e.inbox("lisi"))
	}
	// zhouba is in 研发部 and 市场部: both leaders.
	e.sendToLeaders("zhouba needs help", "local-zhouba")
	if !e.received("lisi", "zhouba needs help") || !e.received("huangmei", "zhouba needs help") {
		t.Fatal("zhouba's two leaders were not both told")
	}

	m = e.sendToLeaders("wujiu and others", "local-wujiu", "local-wangwu", "ghost")
	rec := m["recipients"].(map[string]any)
	if m["status"] != "partial" || toString(rec["unbound"]) != `["leadersOf:local-wujiu","leadersOf:ghost"]` || rec["requested"] != 3.0 || rec["resolved"] != 1.0 {
		t.Fatalf("wujiu leads his only department, ghost is nobody: %v", m)
	}
	if e.received("wujiu", "wujiu and others") || !e.received("lisi", "wujiu and others") {
		t.Fatal("wujiu was sent his own escalation, or wangwu's leader was not")
	}
	if w := toString(m["warnings"]); !strings.Contains(w, "local-wujiu have no department leader") || !strings.Contains(w, "ghost are unknown") {
		t.Fatalf("warnings: %s", w)
	}

	// Only app channels resolve leaders: a robot mentions, and leadersOf is refused there.
	e.must(201, "POST", "/api/v1/channels", map[string]any{"name": "grp", "type": "wecom_robot", "authenticatorId": 1,
		"options": map[string]any{"webhookKey": e.demo.RobotKey}})
	res := e.do("POST", "/api/v1/messages", map[string]any{"channel": "grp", "to": map[string]any{"leadersOf": []any{"local-dengli"}},
		"msgtype": "text", "text": map[string]any{"content": "x"}})
	if res.Status != 422 || res.Fields()["to.leadersOf"] == nil {
		t.Fatalf("robot: %d %s", res.Status, res.Body)
	}
}

// A change_contact update_user that makes someone a leader (IsLeaderInDept), or moves a leader
// out of the department, takes effect on the next send.
func TestLeadersFollowChangeContact(t *testing.T) {
	t.Parallel()
	e := leadersEnv(t)
	hs := httptest.NewServer(e.srv.Handler())
	t.Cleanup(hs.Close)
	e.must(200, "PATCH", "/api/v1/authenticators/1", map[string]any{"options": map[string]any{
		"contactsCallback": map[string]any{"token": "contactsToken", "encodingAesKey": strings.Repeat("c", 43)}}})
	contacts := &wecomtest.CallbackCaller{URL: hs.URL + "/callback/wecom/acme/contacts", Token: "contactsToken",
		EncodingAESKey: strings.Repeat("c", 43), CorpID: e.demo.CorpID, Now: e.clock.Now}
	sent := 0
	// WeCom changes its directory, then tells: the simulator has the member as the event says.
	change := func(u wecomtest.User, fields map[string]string) {
		t.Helper()
		e.sim.AddUser(e.demo.CorpID, u)
		e.clock.Advance(time.Second)
		xml := wecomtest.ChangeContactXML(e.demo.CorpID, "update_user", fields, e.clock.Now().Unix())
		if status, body, err := contacts.Post(context.Background(), xml); err != nil || status != 200 {
			t.Fatalf("update_user: %d %q %v", status, body, err)
		}
		sent++
		deadline := time.Now().Add(10 * time.Second)
		for e.must(200, "GET", "/api/v1/callback-events?kind=contacts&status=processed", nil).JSON()["total"] != float64(sent) {
			if time.Now().After(deadline) {
				t.Fatal("update_user was not processed")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	change(wecomtest.User{UserID: "zhengshi", Name: "郑十", Departments: []int{4}, LeaderOf: []int{4}},
		map[string]string{"UserID": "zhengshi", "Name": "郑十", "Department": "4", "IsLeaderInDept": "1"})
	if m := e.member("zhengshi"); toString(m["leaderOf"]) != "[4]" {
		t.Fatalf("zhengshi: %v", m)
	}
	e.sendToLeaders("two leaders", "local-dengli")
	if !e.received("wujiu", "two leaders") || !e.received("zhengshi", "two leaders") {
		t.Fatal("the new leader was not told")
	}
	// wujiu moves to 研发部 (the event says nothing of leading): he no longer leads 运维组.
	change(wecomtest.User{UserID: "wujiu", Name: "吴九", Departments: []int{2}},
		map[string]string{"UserID": "wujiu", "Name": "吴九", "Department": "2"})
	if m := e.member("wujiu"); toString(m["leaderOf"]) != "[]" {
		t.Fatalf("wujiu after the move: %v", m)
	}
	e.sendToLeaders("one leader", "local-dengli")
	if e.received("wujiu", "one leader") || !e.received("zhengshi", "one leader") {
		t.Fatal("the leader who left was told, or the remaining one was not")
	}
	// An id-only event (URLs configured after 2022-08): is_leader_in_dept is read with user/get.
	change(wecomtest.User{UserID: "chenyi", Name: "陈一", Departments: []int{4}, LeaderOf: []int{4}}, map[string]string{"UserID": "chenyi"})
	if m := e.member("chenyi"); toString(m["leaderOf"]) != "[4]" {
		t.Fatalf("chenyi: %v", m)
	}
}

// escalationWorkflow is docs/workflows.md's "approve or escalate": the owner is asked to
// acknowledge; without an "ack" within the hour, the leaders of the owner's departments are told.
func escalationWorkflow() map[string]any {
	return map[string]any{"key": "escalate", "title": "Acknowledge or escalate",
		"trigger": map[string]any{"type": "webhook", "config": map[string]any{"secret": hookSecret}},
		"nodes": []any{
			map[string]any{"key": "ask", "type": "notification", "config": map[string]any{
				"channel": "ops", "to": map[string]any{"users": []any{"{{$context.data.owner}}"}},
				"msgtype": "template_card",
				"template_card": map[string]any{"card_type": "button_interaction", "task_id": "alert_{{$context.data.id}}",
					"main_title":  map[string]any{"title": "Alert {{$context.data.id}}: acknowledge?"},
					"button_list": []any{map[string]any{"text": "Ack", "key": "ack"}, map[string]any{"text": "Not mine", "key": "pass", "style": 2}}},
				"waitForResponse": map[string]any{"timeout": "1h"}, "ignoreFail": true}},
			map[string]any{"key": "unanswered", "type": "condition",
				"config": map[string]any{"expression": `$jobs.ask.response == nil || $jobs.ask.response.eventKey != "ack"`},
				"branches": map[string]any{"true": []any{
					map[string]any{"key": "escalate", "type": "notification", "config": map[string]any{
						"channel": "ops", "to": map[string]any{"leadersOf": []any{"{{$context.data.owner}}"}},
						"msgtype": "text", "text": map[string]any{"content": "Alert {{$context.data.id}} was not acknowledged by {{$context.data.owner}}"}}},
				}, "false": []any{}}},
		}}
}

// The escalation end to end: a card nobody answers times out and the owner's leader is told; an
// "ack" escalates nothing; "pass" escalates at once.
func TestEscalationToLeadersWhenACardTimesOut(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	dir := &directoryEnv{deliveryEnv: e.deliveryEnv}
	if task, _ := dir.waitTask(dir.startSync()["id"]); task["status"] != "success" {
		t.Fatalf("sync: %v", task)
	}
	e.must(201, "POST", "/api/v1/workflows", escalationWorkflow())
	start := func(id int, owner string) string {
		t.Helper()
		status, x := e.hook("escalate", map[string]any{"id": id, "owner": "local-" + owner}, hookSecret)
		if status != 202 {
			t.Fatalf("webhook: %d", status)
		}
		return x
	}

	// dengli (运维组) does not answer: after the hour, wujiu (its leader) is told, lisi (研发部, the
	// parent) is not.
	timedOut := start(1, "dengli")
	e.waitInbox("dengli", 1)
	e.waitExecution(timedOut, "waiting")
	e.clock.Advance(2 * time.Hour)
	e.srv.Workflows().Wake()
	x := e.waitExecution(timedOut, "resolved")
	if jobOf(x, "ask")["status"] != "failed" || jobOf(x, "escalate")["status"] != "resolved" {
		t.Fatalf("jobs: %v", x["jobs"])
	}
	if in := e.waitInbox("wujiu", 1); !strings.Contains(string(in[0].Body), "Alert 1 was not acknowledged by local-dengli") {
		t.Fatalf("escalation: %s", in[0].Body)
	}
	if n := len(e.sim.Inbox(e.demo.CorpID, "lisi")); n != 0 {
		t.Fatalf("the parent department's leader got %d messages", n)
	}

	// wangwu (研发部) acknowledges: nothing escalates; fengyi passes: lisi is told at once.
	for _, c := range []struct {
		id       int
		owner    string
		key      string
		escalate bool
	}{{2, "wangwu", "ack", false}, {3, "fengyi", "pass", true}} {
		x := start(c.id, c.owner)
		e.waitInbox(c.owner, 1)
		e.waitExecution(x, "waiting")
		xml, err := e.sim.ClickCard(e.demo.CorpID, c.owner, "alert_"+strconv.Itoa(c.id), c.key)
		if err != nil {
			t.Fatal(err)
		}
		if status, body, err := e.caller.Post(context.Background(), xml); err != nil || status != 200 {
			t.Fatalf("click: %d %q %v", status, body, err)
		}
		done := e.waitExecution(x, "resolved")
		if got := jobOf(done, "escalate") != nil; got != c.escalate {
			t.Fatalf("%s: escalated %v, want %v: %v", c.key, got, c.escalate, done["jobs"])
		}
	}
	if in := e.waitInbox("lisi", 1); !strings.Contains(string(in[0].Body), "Alert 3 was not acknowledged by local-fengyi") {
		t.Fatalf("lisi: %s", in[0].Body)
	}
}
