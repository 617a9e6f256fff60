package wecomtest

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestChatCreateValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret string
		body   any
		want   int
	}{
		{"ok", testSecret, map[string]any{"name": "Incident 42", "owner": "alice", "userlist": []any{"alice", "Bob"}, "chatid": "inc42"}, 0},
		{"one member", testSecret, map[string]any{"userlist": []any{"alice"}}, 86006},
		{"the same member twice", testSecret, map[string]any{"userlist": []any{"alice", "ALICE"}}, 86006},
		{"no userlist", testSecret, map[string]any{"name": "x"}, 86006},
		{"unknown member", testSecret, map[string]any{"userlist": []any{"alice", "ghost"}}, 86007},
		{"disabled member", testSecret, map[string]any{"userlist": []any{"alice", "erin"}}, 86007},
		{"unknown owner", testSecret, map[string]any{"owner": "ghost", "userlist": []any{"alice", "Bob"}}, 86005},
		{"owner not a member", testSecret, map[string]any{"owner": "carol", "userlist": []any{"alice", "Bob"}}, 86207},
		{"chatid with a dash", testSecret, map[string]any{"userlist": []any{"alice", "Bob"}, "chatid": "inc-42"}, 86001},
		{"chatid of 33 characters", testSecret, map[string]any{"userlist": []any{"alice", "Bob"}, "chatid": strings.Repeat("a", 33)}, 86001},
		{"chatid taken", testSecret, map[string]any{"userlist": []any{"alice", "Bob"}, "chatid": "taken"}, 86215},
		{"contacts secret", contactsSec, map[string]any{"userlist": []any{"alice", "Bob"}}, 48002},
		{"app not visible to the root", rdSecret, map[string]any{"userlist": []any{"alice", "carol"}}, 48002},
		{"not json", testSecret, "{", 47001},
	}
	f := newFixture(t)
	if m := f.post(t, "appchat/create", f.token(t, testSecret), map[string]any{"userlist": []any{"alice", "Bob"}, "chatid": "taken"}); errcode(m) != 0 {
		t.Fatal(m)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := f.post(t, "appchat/create", f.token(t, tt.secret), tt.body)
			if errcode(m) != tt.want {
				t.Fatalf("errcode = %d, want %d (%v)", errcode(m), tt.want, m)
			}
		})
	}
	chats := f.sim.Chats(testCorp)
	if len(chats) != 2 || chats[1].ChatID != "inc42" || chats[1].Owner != "alice" || !reflect.DeepEqual(chats[1].Members, []string{"alice", "Bob"}) ||
		chats[1].AgentID != testAgent || !chats[1].CreatedAt.Equal(start) {
		t.Errorf("Chats = %+v", chats)
	}
}

func TestChatCreateDefaults(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(t, testSecret)
	m := f.post(t, "appchat/create", tok, map[string]any{"name": strings.Repeat("群", 60), "userlist": []any{"alice", "bob", "carol"}})
	id, _ := m["chatid"].(string)
	if errcode(m) != 0 || !validChatID(id) {
		t.Fatalf("create = %v", m)
	}
	info := f.get(t, "appchat/get", tok, url.Values{"chatid": {id}})["chat_info"].(map[string]any)
	if info["name"] != strings.Repeat("群", 50) {
		t.Errorf("name %q: WeCom truncates to 50 characters", info["name"])
	}
	if owner := info["owner"].(string); owner != "alice" && owner != "Bob" && owner != "carol" {
		t.Errorf("owner %q: without owner WeCom picks a member", owner)
	}
	if !reflect.DeepEqual(info["userlist"], []any{"alice", "Bob", "carol"}) {
		t.Errorf("userlist = %v (canonical userids)", info["userlist"])
	}
}

func TestChatUpdateAndGet(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok, other := f.token(t, testSecret), f.token(t, noCBSecret)
	f.post(t, "appchat/create", tok, map[string]any{"name": "inc", "owner": "alice", "userlist": []any{"alice", "Bob"}, "chatid": "inc"})
	tests := []struct {
		name string
		tok  string
		body map[string]any
		want int
	}{
		{"no chatid", tok, map[string]any{"name": "x"}, 86201},
		{"unknown chat", tok, map[string]any{"chatid": "nope"}, 86003},
		{"another app's chat", other, map[string]any{"chatid": "inc", "name": "x"}, 86008},
		{"add a stranger", tok, map[string]any{"chatid": "inc", "add_user_list": []any{"ghost"}}, 86216},
		{"delete a non-member", tok, map[string]any{"chatid": "inc", "del_user_list": []any{"carol"}}, 86216},
		{"delete the owner", tok, map[string]any{"chatid": "inc", "del_user_list": []any{"alice"}}, 86207},
		{"owner outside the chat", tok, map[string]any{"chatid": "inc", "owner": "frank"}, 86207},
		{"unknown owner", tok, map[string]any{"chatid": "inc", "owner": "ghost"}, 86005},
		{"rename, add, hand over, remove", tok, map[string]any{"chatid": "inc", "name": "Incident 42", "add_user_list": []any{"carol", "frank"}, "owner": "carol", "del_user_list": []any{"alice"}}, 0},
	}
	for _, tt := range tests {
		if m := f.post(t, "appchat/update", tt.tok, tt.body); errcode(m) != tt.want {
			t.Errorf("%s: errcode %d, want %d (%v)", tt.name, errcode(m), tt.want, m)
		}
	}
	m := f.get(t, "appchat/get", tok, url.Values{"chatid": {"inc"}})
	want := map[string]any{"chatid": "inc", "name": "Incident 42", "owner": "carol", "userlist": []any{"Bob", "carol", "frank"}}
	if errcode(m) != 0 || !reflect.DeepEqual(m["chat_info"], want) {
		t.Errorf("get = %v, want chat_info %v", m, want)
	}
	for _, c := range []struct {
		tok, chatid string
		want        int
	}{{tok, "", 86201}, {tok, "nope", 86003}, {other, "inc", 86008}} {
		if m := f.get(t, "appchat/get", c.tok, url.Values{"chatid": {c.chatid}}); errcode(m) != c.want {
			t.Errorf("get %q: %v, want %d", c.chatid, m, c.want)
		}
	}
}

func TestChatSend(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(t, testSecret)
	f.post(t, "appchat/create", tok, map[string]any{"userlist": []any{"alice", "Bob"}, "chatid": "inc"})
	send := func(tok string, body map[string]any) map[string]any {
		if _, ok := body["chatid"]; !ok {
			body["chatid"] = "inc"
		}
		return f.post(t, "appchat/send", tok, body)
	}
	tests := []struct {
		name string
		tok  string
		body map[string]any
		want int
	}{
		{"text", tok, map[string]any{"msgtype": "text", "text": map[string]any{"content": "服务已恢复"}, "safe": 0}, 0},
		{"markdown", tok, map[string]any{"msgtype": "markdown", "markdown": map[string]any{"content": "**ok**"}}, 0},
		{"textcard", tok, map[string]any{"msgtype": "textcard", "textcard": map[string]any{"title": "t", "description": "d", "url": "https://example.test"}}, 0},
		{"empty text", tok, map[string]any{"msgtype": "text", "text": map[string]any{"content": ""}}, 44004},
		{"news with safe", tok, map[string]any{"msgtype": "news", "safe": 1, "news": map[string]any{"articles": []any{map[string]any{"title": "t", "url": "https://example.test"}}}}, 40074},
		{"unknown image", tok, map[string]any{"msgtype": "image", "image": map[string]any{"media_id": "3nope"}}, 40007},
		{"template_card", tok, buttonCard(testAgent, "", "t1"), 40008},
		{"miniprogram_notice", tok, map[string]any{"msgtype": "miniprogram_notice", "miniprogram_notice": map[string]any{"appid": "wx1", "title": "会议提醒"}}, 40008},
		{"no chatid", tok, map[string]any{"chatid": "", "msgtype": "text", "text": map[string]any{"content": "x"}}, 86201},
		{"unknown chat", tok, map[string]any{"chatid": "nope", "msgtype": "text", "text": map[string]any{"content": "x"}}, 86003},
		{"another app", f.token(t, noCBSecret), map[string]any{"msgtype": "text", "text": map[string]any{"content": "x"}}, 86008},
		{"contacts secret", f.token(t, contactsSec), map[string]any{"msgtype": "text", "text": map[string]any{"content": "x"}}, 48002},
	}
	for _, tt := range tests {
		if m := send(tt.tok, tt.body); errcode(m) != tt.want {
			t.Errorf("%s: errcode %d, want %d (%v)", tt.name, errcode(m), tt.want, m)
		}
	}
	got := f.sim.ChatMessages(testCorp, "inc")
	if len(got) != 3 || got[0].MsgType != "text" || got[0].AgentID != testAgent || contentsOf(got[:1])[0] != "服务已恢复" || got[2].MsgType != "textcard" {
		t.Errorf("ChatMessages = %+v", got)
	}
	f.sim.Reset()
	if n := len(f.sim.ChatMessages(testCorp, "inc")); n != 0 {
		t.Errorf("Reset kept %d chat messages", n)
	}
	if m := send(tok, map[string]any{"msgtype": "text", "text": map[string]any{"content": "chats survive Reset"}}); errcode(m) != 0 {
		t.Errorf("after Reset: %v", m)
	}
}

func TestChatLimits(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(t, testSecret)
	for i := range 1000 {
		if m := f.post(t, "appchat/create", tok, map[string]any{"userlist": []any{"alice", "Bob"}}); errcode(m) != 0 {
			t.Fatalf("create %d: %v", i+1, m)
		}
	}
	if m := f.post(t, "appchat/create", tok, map[string]any{"userlist": []any{"alice", "Bob"}}); errcode(m) != 45009 {
		t.Errorf("1001st chat of the day: %v, want 45009", m)
	}
	chatID := f.sim.Chats(testCorp)[0].ChatID
	for i := range 100 {
		if m := f.post(t, "appchat/update", tok, map[string]any{"chatid": chatID, "name": fmt.Sprint(i)}); errcode(m) != 0 {
			t.Fatalf("update %d: %v", i+1, m)
		}
	}
	if m := f.post(t, "appchat/update", tok, map[string]any{"chatid": chatID, "name": "x"}); errcode(m) != 45009 {
		t.Errorf("101st change in an hour: %v, want 45009", m)
	}
	f.clock.Advance(14 * time.Hour) // past China midnight and the hour
	tok = f.token(t, testSecret)
	if m := f.post(t, "appchat/create", tok, map[string]any{"userlist": []any{"alice", "Bob"}}); errcode(m) != 0 {
		t.Errorf("next day: %v", m)
	}
	if m := f.post(t, "appchat/update", tok, map[string]any{"chatid": chatID, "name": "y"}); errcode(m) != 0 {
		t.Errorf("next hour: %v", m)
	}

	// 20,000 person-sends a minute per corp: ten messages to a chat of 2000.
	big := []any{}
	for i := range 2000 {
		id := fmt.Sprintf("u%04d", i)
		f.sim.AddUser(testCorp, User{UserID: id, Departments: []int{3}})
		big = append(big, id)
	}
	if m := f.post(t, "appchat/create", tok, map[string]any{"userlist": append(big, "alice")}); errcode(m) != 86006 {
		t.Errorf("2001 members: %v, want 86006", m)
	}
	if m := f.post(t, "appchat/create", tok, map[string]any{"userlist": big, "chatid": "all"}); errcode(m) != 0 {
		t.Fatal(m)
	}
	text := func() int {
		return errcode(f.post(t, "appchat/send", tok, map[string]any{"chatid": "all", "msgtype": "text", "text": map[string]any{"content": "x"}}))
	}
	for i := range 10 {
		if got := text(); got != 0 {
			t.Fatalf("send %d: %d", i+1, got)
		}
	}
	if got := text(); got != 45009 {
		t.Errorf("past 20,000 person-sends: %d, want 45009", got)
	}
	f.clock.Advance(time.Minute)
	if got := text(); got != 0 {
		t.Errorf("a minute later: %d", got)
	}
}

// A text_notice card needs card_action (the shadowed error let one through before).
func TestTextNoticeNeedsCardAction(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.post(t, "message/send", f.token(t, testSecret), map[string]any{
		"touser": "alice", "msgtype": "template_card", "agentid": testAgent,
		"template_card": map[string]any{"card_type": "text_notice", "main_title": map[string]any{"title": "t"}},
	})
	if errcode(m) != 40058 {
		t.Errorf("text_notice without card_action: %v, want 40058", m)
	}
}
