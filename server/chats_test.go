package server

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// simChat is the simulator's chat with chatid, or fails the test.
func (e *deliveryEnv) simChat(chatID string) wecomtest.AppChat {
	e.t.Helper()
	for _, c := range e.sim.Chats(e.demo.CorpID) {
		if c.ChatID == chatID {
			return c
		}
	}
	e.t.Fatalf("WeCom has no chat %q", chatID)
	return wecomtest.AppChat{}
}

// A chat made of local users is created in WeCom with their WeCom userids, listed, read back and
// changed; each change is in the audit log.
func TestChatCreateListGetPatch(t *testing.T) {
	e := newDeliveryEnv(t, deliveryOptions{noSender: true})
	got := e.must(201, "POST", "/api/v1/channels/1/chats", map[string]any{"name": "Incident 42", "owner": "local-zhangsan",
		"users": []any{"local-zhangsan", "local-lisi"}, "chatid": "inc42"}).Data()
	if got["chatid"] != "inc42" || got["name"] != "Incident 42" || got["owner"] != "zhangsan" || fmt.Sprint(got["users"]) != "[zhangsan lisi]" || got["createdAt"] == nil {
		t.Fatalf("created %v", got)
	}
	sim := e.simChat("inc42")
	if sim.Name != "Incident 42" || sim.Owner != "zhangsan" || !slices.Equal(sim.Members, []string{"zhangsan", "lisi"}) || sim.AgentID != e.demo.AgentID {
		t.Fatalf("WeCom holds %+v", sim)
	}

	// Without a chatid WeCom makes one up; without an owner the first member owns the chat.
	made := e.must(201, "POST", "/api/v1/channels/1/chats", map[string]any{"name": "Standup", "wecomUsers": []any{"wangwu", "lisi"}}).Data()
	if id, _ := made["chatid"].(string); id == "" || made["owner"] != "wangwu" || e.simChat(id).Owner != "wangwu" {
		t.Fatalf("created %v", made)
	}

	var list struct {
		Data  []map[string]any `json:"data"`
		Total int              `json:"total"`
	}
	if err := json.Unmarshal(e.must(200, "GET", "/api/v1/channels/1/chats?pageSize=1", nil).Body, &list); err != nil {
		t.Fatal(err)
	}
	if list.Total != 2 || len(list.Data) != 1 || list.Data[0]["chatid"] != "inc42" {
		t.Fatalf("list %+v", list)
	}

	changed := e.must(200, "PATCH", "/api/v1/channels/1/chats/inc42", map[string]any{"name": "Incident 42 (resolved)",
		"addUsers": []any{"local-wangwu"}, "delUsers": []any{"local-zhangsan"}, "wecomOwner": "wangwu"}).Data()
	if changed["name"] != "Incident 42 (resolved)" || changed["owner"] != "wangwu" || fmt.Sprint(changed["users"]) != "[lisi wangwu]" {
		t.Fatalf("changed %v", changed)
	}
	sim = e.simChat("inc42")
	if sim.Name != "Incident 42 (resolved)" || sim.Owner != "wangwu" || !slices.Equal(sim.Members, []string{"lisi", "wangwu"}) {
		t.Fatalf("WeCom holds %+v", sim)
	}
	read := e.must(200, "GET", "/api/v1/channels/1/chats/inc42", nil).Data()
	if read["owner"] != "wangwu" || fmt.Sprint(read["users"]) != "[lisi wangwu]" {
		t.Fatalf("read %v", read)
	}
	e.must(404, "GET", "/api/v1/channels/1/chats/nosuchchat", nil)

	if n := len(e.auditEntries("action=chat.create")); n != 2 {
		t.Errorf("%d chat.create entries, want 2", n)
	}
	upd := e.auditEntries("action=chat.update")
	if len(upd) != 1 || fmt.Sprint(upd[0]["changes"]) != "[name owner users]" || upd[0]["target"].(map[string]any)["name"] != "ops/inc42" {
		t.Errorf("chat.update entries %v", upd)
	}
}

// Bad input is a 422 naming the field and reaches neither WeCom nor the database; a chatid in use
// is a 409; chats are only on app channels; a viewer, or a token scoped to other channels, may not
// create one.
func TestChatRefusals(t *testing.T) {
	e := newDeliveryEnv(t, deliveryOptions{noSender: true})
	e.must(201, "POST", "/api/v1/channels/1/chats", map[string]any{"users": []any{"local-zhangsan", "local-lisi"}, "chatid": "inc42"})
	e.must(200, "POST", "/api/v1/users/bulk", []map[string]any{{"userid": "unbound", "set": map[string]any{"name": "Nobody"}}})
	two := []any{"local-zhangsan", "local-lisi"}
	cases := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"one member", map[string]any{"users": []any{"local-zhangsan", "local-zhangsan"}}, "users"},
		{"an unbound user", map[string]any{"users": []any{"local-zhangsan", "unbound"}}, "users[1]"},
		{"an unknown user", map[string]any{"users": []any{"ghost", "local-lisi"}}, "users[0]"},
		{"a chatid with a dash", map[string]any{"users": two, "chatid": "inc-43"}, "chatid"},
		{"a chatid of 33 characters", map[string]any{"users": two, "chatid": strings.Repeat("a", 33)}, "chatid"},
		{"an owner who is not a member", map[string]any{"users": two, "owner": "local-wangwu"}, "owner"},
		{"two owners", map[string]any{"users": two, "owner": "local-lisi", "wecomOwner": "lisi"}, "owner"},
		{"a name of 51 characters", map[string]any{"users": two, "name": strings.Repeat("群", 51)}, "name"},
		{"a WeCom member WeCom does not know", map[string]any{"users": two, "wecomUsers": []any{"ghost"}}, "users"},
	}
	_, before := e.rows("SELECT * FROM chats")
	for _, tc := range cases {
		res := e.do("POST", "/api/v1/channels/1/chats", tc.body)
		if res.Status != 422 || !strings.Contains(string(res.Body), fmt.Sprintf("%q:", tc.field)) {
			t.Errorf("%s: %d %s, want 422 naming %s", tc.name, res.Status, res.Body, tc.field)
		}
	}
	e.must(422, "PATCH", "/api/v1/channels/1/chats/inc42", map[string]any{"delUsers": []any{"local-wangwu"}})
	e.must(422, "PATCH", "/api/v1/channels/1/chats/inc42", map[string]any{"delUsers": []any{"local-zhangsan"}})

	e.must(409, "POST", "/api/v1/channels/1/chats", map[string]any{"users": two, "chatid": "inc42"})
	// The demo app's own chat: taken in the corp, unknown to this channel.
	e.must(409, "POST", "/api/v1/channels/1/chats", map[string]any{"users": two, "chatid": e.demo.ChatID})

	if _, after := e.rows("SELECT * FROM chats"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the chats table changed: %v, was %v", after, before)
	}
	if n := len(e.sim.Chats(e.demo.CorpID)); n != 2 {
		t.Errorf("WeCom has %d chats, want the demo's and inc42", n)
	}
	if sim := e.simChat("inc42"); !slices.Equal(sim.Members, []string{"zhangsan", "lisi"}) {
		t.Errorf("a refused change reached WeCom: %+v", sim)
	}

	e.must(201, "POST", "/api/v1/channels", map[string]any{"name": "ops_group", "type": "wecom_robot",
		"options": map[string]any{"webhookKey": e.demo.RobotKey}})
	res := e.must(404, "POST", "/api/v1/channels/2/chats", map[string]any{"users": two})
	if !strings.Contains(string(res.Body), "only on wecom (app) channels") {
		t.Errorf("robot channel: %s", res.Body)
	}
	e.must(404, "GET", "/api/v1/channels/2/chats", nil)

	viewer := e.must(201, "POST", "/api/v1/tokens", map[string]any{"name": "viewer", "role": "viewer"}).Data()["token"].(string)
	if res := e.raw("POST", "/api/v1/channels/1/chats", "application/json", strings.NewReader(`{"users": ["local-zhangsan", "local-lisi"]}`), viewer); res.Status != 403 {
		t.Errorf("a viewer creating a chat: %d %s", res.Status, res.Body)
	}
	if res := e.raw("GET", "/api/v1/channels/1/chats", "", nil, viewer); res.Status != 200 {
		t.Errorf("a viewer listing chats: %d %s", res.Status, res.Body)
	}
	// A token scoped to other channels may not make chats on this one.
	scoped := e.must(201, "POST", "/api/v1/tokens", map[string]any{"name": "erp", "role": "operator", "channels": []string{"ops_group"}}).Data()["token"].(string)
	if res := e.raw("POST", "/api/v1/channels/1/chats", "application/json", strings.NewReader(`{"users": ["local-zhangsan", "local-lisi"]}`), scoped); res.Status != 403 {
		t.Errorf("a token scoped to another channel creating a chat: %d %s", res.Status, res.Body)
	}
}

// A send to chats and a person is one message: a message/send for the person and an
// appchat/send per chat, each recorded with its answer; WeCom's chats show the post.
func TestChatSendMixedWithPeople(t *testing.T) {
	e := newDeliveryEnv(t, deliveryOptions{})
	e.must(201, "POST", "/api/v1/channels/1/chats", map[string]any{"users": []any{"local-zhangsan", "local-lisi"}, "chatid": "inc42"})
	m := e.waitFinal(e.send(map[string]any{"msgtype": "markdown", "markdown": map[string]any{"content": "**db-1** is down"},
		"to": map[string]any{"users": []any{"local-wangwu"}, "chats": []any{"inc42", e.demo.ChatID, "inc42"}}}))
	reqs, _ := m["requests"].([]any)
	if m["status"] != "sent" || len(reqs) != 3 {
		t.Fatalf("message %v", m)
	}
	var got []string
	for _, r := range reqs {
		r := r.(map[string]any)
		if r["status"] != "sent" || r["errcode"] != float64(0) || r["errmsg"] != "ok" {
			t.Errorf("request %v", r)
		}
		got = append(got, fmt.Sprint(r["touser"], "/", r["chatid"]))
	}
	if fmt.Sprint(got) != fmt.Sprintf("[wangwu/<nil> <nil>/inc42 <nil>/%s]", e.demo.ChatID) {
		t.Errorf("requests %v", got)
	}
	for _, chat := range []string{"inc42", e.demo.ChatID} {
		posts := e.sim.ChatMessages(e.demo.CorpID, chat)
		if len(posts) != 1 || posts[0].MsgType != "markdown" || !strings.Contains(string(posts[0].Body), "**db-1** is down") {
			t.Errorf("chat %s holds %+v", chat, posts)
		}
	}

	// WeCom's answer for a chat it does not know fails that request, with its errcode.
	m = e.waitFinal(e.send(map[string]any{"msgtype": "text", "text": map[string]any{"content": "hello"},
		"to": map[string]any{"chats": []any{"nosuchchat"}}}))
	if r := m["requests"].([]any)[0].(map[string]any); m["status"] != "failed" || r["errcode"] != float64(86003) {
		t.Errorf("a send to an unknown chat: %v", m)
	}
}

// What appchat/send cannot take is refused before anything is stored.
func TestChatSendRefusals(t *testing.T) {
	e := newDeliveryEnv(t, deliveryOptions{noSender: true})
	card := map[string]any{"card_type": "text_notice", "main_title": map[string]any{"title": "Deploy done"},
		"card_action": map[string]any{"type": 1, "url": "https://example.com"}}
	cases := []map[string]any{
		{"msgtype": "template_card", "template_card": card, "to": map[string]any{"users": []any{"local-lisi"}, "chats": []any{"inc42"}}},
		{"msgtype": "text", "text": map[string]any{"content": "hi"}, "to": map[string]any{"chats": []any{"inc-42"}}},
	}
	for _, body := range cases {
		body["channel"] = "ops"
		res := e.do("POST", "/api/v1/messages", body)
		if res.Status != 422 || !strings.Contains(string(res.Body), `"to.chats":`) {
			t.Errorf("%v: %d %s", body["msgtype"], res.Status, res.Body)
		}
	}
	if _, rows := e.rows("SELECT id FROM messages"); len(rows) != 0 {
		t.Errorf("%d messages stored", len(rows))
	}
}

// A chat node creates the chat from the trigger's data; a later notification sends to it
// through the node's result.
func TestChatNodeThenNotifyTheChat(t *testing.T) {
	e := newWorkflowEnv(t, deliveryOptions{})
	def := wf("incident",
		node("room", "chat", map[string]any{"channel": "ops", "name": "Incident {{$context.data.id}}",
			"users": "{{$context.data.people}}", "chatid": "inc{{$context.data.id}}"}, nil),
		notify("tell", map[string]any{"to": map[string]any{"chats": []any{"{{$jobs.room.chatid}}"}}}))
	w := e.must(201, "POST", "/api/v1/workflows", def).Data()
	trigger := fmt.Sprintf("/api/v1/workflows/%v/trigger", w["id"])
	x := e.must(202, "POST", trigger, map[string]any{"data": map[string]any{"id": 42, "name": "db-1",
		"people": []any{"local-zhangsan", "local-lisi"}}}).Data()
	x = e.waitExecution(x["id"].(string), "resolved", "failed", "error")
	if x["status"] != "resolved" || fmt.Sprint(jobOf(x, "room")["result"]) != "map[chatid:inc42]" {
		t.Fatalf("execution %v", x)
	}
	if sim := e.simChat("inc42"); sim.Name != "Incident 42" || !slices.Equal(sim.Members, []string{"zhangsan", "lisi"}) {
		t.Errorf("WeCom holds %+v", sim)
	}
	if posts := e.sim.ChatMessages(e.demo.CorpID, "inc42"); len(posts) != 1 || !strings.Contains(string(posts[0].Body), "hello db-1") {
		t.Errorf("the chat holds %+v", posts)
	}

	// The same incident again: the chatid is this channel's already, so the node fails with the 409's sentence.
	x = e.must(202, "POST", trigger, map[string]any{"data": map[string]any{"id": 42, "people": []any{"local-zhangsan", "local-lisi"}}}).Data()
	x = e.waitExecution(x["id"].(string), "resolved", "failed", "error")
	if x["status"] != "failed" || !strings.Contains(fmt.Sprint(jobOf(x, "room")["error"]), "already has a chat") {
		t.Errorf("a second execution %v", x)
	}
}
