package wecomtest

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func updateBody(code, replace string, userids ...string) map[string]any {
	b := map[string]any{"agentid": testAgent, "response_code": code, "button": map[string]any{"replace_name": replace}}
	if len(userids) > 0 {
		b["userids"] = userids
	}
	return b
}

func TestUpdateTemplateCardOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(t, testSecret)
	m := f.post(t, "message/send", tok, buttonCard(testAgent, "alice|bob", "approve-7"))
	code, _ := m["response_code"].(string)
	if errcode(m) != 0 || code == "" {
		t.Fatalf("card send = %v, want a response_code", m)
	}
	alice := f.sim.Inbox(testCorp, "alice")[0]
	if alice.TaskID != "approve-7" || alice.ResponseCode == "" || alice.ResponseCode == code {
		t.Fatalf("alice's card = %+v, want her own response code", alice)
	}

	up := f.post(t, "message/update_template_card", tok, updateBody(code, "已同意"))
	if errcode(up) != 0 {
		t.Fatalf("update = %v", up)
	}
	for _, u := range []string{"alice", "bob"} {
		if got := f.sim.Inbox(testCorp, u)[0].ReplacedWith; got != "已同意" {
			t.Errorf("%s's card ReplacedWith = %q", u, got)
		}
	}
	ups := f.sim.CardUpdates()
	if len(ups) != 1 || ups[0].ResponseCode != code || ups[0].ReplaceName != "已同意" || !sameSet(ups[0].UserIDs, []string{"alice", "Bob"}) || !ups[0].At.Equal(start) {
		t.Errorf("CardUpdates = %+v", ups)
	}

	again := f.post(t, "message/update_template_card", tok, updateBody(code, "again"))
	if errcode(again) != 60140 || !strings.HasPrefix(again["errmsg"].(string), "response_code invalid") {
		t.Fatalf("second update = %v, want 60140", again)
	}
	if len(f.sim.CardUpdates()) != 1 {
		t.Error("a refused update was recorded")
	}
}

func TestUpdateTemplateCardErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		advance time.Duration
		secret  string
		body    func(code string) map[string]any
		want    int
	}{
		{"unknown code", 0, testSecret, func(string) map[string]any { return updateBody("nope", "x") }, 60140},
		{"expired after 72 h", 72 * time.Hour, testSecret, func(c string) map[string]any { return updateBody(c, "x") }, 60140},
		{"just before 72 h", 72*time.Hour - time.Second, testSecret, func(c string) map[string]any { return updateBody(c, "x") }, 0},
		{"another app", 0, noCBSecret, func(c string) map[string]any { b := updateBody(c, "x"); b["agentid"] = noCBAgent; return b }, 42015},
		{"nothing to change", 0, testSecret, func(c string) map[string]any { return map[string]any{"agentid": testAgent, "response_code": c} }, 40058},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			code := f.post(t, "message/send", f.token(t, testSecret), buttonCard(testAgent, "alice", "c1"))["response_code"].(string)
			f.clock.Advance(tt.advance)
			if got := errcode(f.post(t, "message/update_template_card", f.token(t, tt.secret), tt.body(code))); got != tt.want {
				t.Errorf("errcode = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestClickCardFlow(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(t, testSecret)
	f.post(t, "message/send", tok, buttonCard(testAgent, "alice|bob", "flow-1"))
	f.clock.Advance(time.Minute)

	plain, err := f.sim.ClickCard(testCorp, "Bob", "flow-1", "approve")
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		ToUserName, FromUserName, MsgType, Event, EventKey, TaskId, CardType, ResponseCode string
		CreateTime, AgentID                                                                int64
	}
	if err := xml.Unmarshal([]byte(plain), &ev); err != nil {
		t.Fatalf("%v in %s", err, plain)
	}
	bob := f.sim.Inbox(testCorp, "bob")[0]
	if ev.ToUserName != testCorp || ev.FromUserName != "Bob" || ev.Event != "template_card_event" || ev.EventKey != "approve" ||
		ev.TaskId != "flow-1" || ev.CardType != "button_interaction" || ev.ResponseCode != bob.ResponseCode ||
		ev.AgentID != testAgent || ev.CreateTime != start.Add(time.Minute).Unix() {
		t.Fatalf("event = %+v", ev)
	}

	// Bob's code updates Bob's card only, once.
	if m := f.post(t, "message/update_template_card", tok, updateBody(ev.ResponseCode, "已同意")); errcode(m) != 0 {
		t.Fatalf("update with the click's code = %v", m)
	}
	if f.sim.Inbox(testCorp, "bob")[0].ReplacedWith != "已同意" || f.sim.Inbox(testCorp, "alice")[0].ReplacedWith != "" {
		t.Error("the clicker's code changed the wrong cards")
	}
	if errcode(f.post(t, "message/update_template_card", tok, updateBody(ev.ResponseCode, "x"))) != 60140 {
		t.Error("a click's code worked twice")
	}
	if _, err := f.sim.ClickCard(testCorp, "bob", "flow-1", "approve"); err == nil {
		t.Error("clicking an updated card succeeded")
	}
	for _, tc := range []struct{ user, task, key string }{{"alice", "flow-1", "nokey"}, {"carol", "flow-1", "approve"}, {"alice", "nope", "approve"}} {
		if _, err := f.sim.ClickCard(testCorp, tc.user, tc.task, tc.key); err == nil {
			t.Errorf("ClickCard(%v) succeeded", tc)
		}
	}
}

func TestClickCardMenuAndVote(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(t, testSecret)
	vote := map[string]any{"touser": "alice", "msgtype": "template_card", "agentid": testAgent, "template_card": map[string]any{
		"card_type": "vote_interaction", "task_id": "vote-1", "main_title": map[string]any{"title": "午饭"},
		"checkbox": map[string]any{"question_key": "lunch", "mode": 1, "option_list": []any{
			map[string]any{"id": "noodle", "text": "面"}, map[string]any{"id": "rice", "text": "饭"}}},
		"submit_button": map[string]any{"text": "提交", "key": "submit"},
	}}
	notice := map[string]any{"touser": "alice", "msgtype": "template_card", "agentid": testAgent, "template_card": map[string]any{
		"card_type": "text_notice", "task_id": "menu-1", "main_title": map[string]any{"title": "告警"},
		"card_action": map[string]any{"type": 1, "url": "https://x.test"},
		"action_menu": map[string]any{"desc": "更多", "action_list": []any{map[string]any{"text": "静默", "key": "mute"}}},
	}}
	for _, b := range []map[string]any{vote, notice} {
		if m := f.post(t, "message/send", tok, b); errcode(m) != 0 || m["response_code"] == nil {
			t.Fatalf("send = %v", m)
		}
	}
	plain, err := f.sim.ClickCard(testCorp, "alice", "vote-1", "submit", SelectedItem{QuestionKey: "lunch", OptionIDs: []string{"noodle", "rice"}})
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		SelectedItems struct {
			SelectedItem []struct {
				QuestionKey string
				OptionIds   struct{ OptionId []string }
			}
		}
	}
	if err := xml.Unmarshal([]byte(plain), &ev); err != nil || len(ev.SelectedItems.SelectedItem) != 1 ||
		strings.Join(ev.SelectedItems.SelectedItem[0].OptionIds.OptionId, ",") != "noodle,rice" {
		t.Errorf("vote event %s (%v)", plain, err)
	}
	menu, err := f.sim.ClickCard(testCorp, "alice", "menu-1", "mute")
	if err != nil || !strings.Contains(menu, "<Event><![CDATA[template_card_menu_event]]></Event>") || strings.Contains(menu, "SelectedItems") {
		t.Errorf("menu event %s (%v)", menu, err)
	}
}

func TestRecall(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(t, testSecret)
	id := f.post(t, "message/send", tok, text(testAgent, "alice|bob", "oops"))["msgid"].(string)
	if m := f.post(t, "message/recall", tok, map[string]any{"msgid": id}); errcode(m) != 0 {
		t.Fatalf("recall = %v", m)
	}
	for _, u := range []string{"alice", "bob"} {
		if !f.sim.Inbox(testCorp, u)[0].Recalled {
			t.Errorf("%s's copy not recalled", u)
		}
	}
	if m := f.post(t, "message/recall", tok, map[string]any{"msgid": "nope"}); errcode(m) != 40058 {
		t.Errorf("unknown msgid = %v, want 40058", m)
	}
	if m := f.post(t, "message/recall", f.token(t, noCBSecret), map[string]any{"msgid": id}); errcode(m) != 40058 {
		t.Errorf("another app's msgid = %v, want 40058", m)
	}

	late := f.post(t, "message/send", tok, text(testAgent, "carol", "old news"))["msgid"].(string)
	f.clock.Advance(24*time.Hour + time.Second)
	m := f.post(t, "message/recall", f.token(t, testSecret), map[string]any{"msgid": late})
	if errcode(m) != 42052 {
		t.Fatalf("recall after 24 h = %v, want 42052", m)
	}
	if f.sim.Inbox(testCorp, "carol")[0].Recalled {
		t.Error("a refused recall recalled")
	}
}
