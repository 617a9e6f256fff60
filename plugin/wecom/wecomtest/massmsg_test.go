package wecomtest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// massFixture adds the 客户联系 secret and customers: wm1 of alice, wm2 of alice and Bob, wm3 of
// Bob (tagged etVIP), wm4 of carol.
func massFixture(t *testing.T) (*fixture, string) {
	t.Helper()
	f := newFixture(t)
	f.sim.AddApp(testCorp, App{Secret: externalSec, ExternalContactSecret: true})
	f.sim.AddExternalContact(testCorp, "alice", "wm1", "客户一")
	f.sim.AddExternalContact(testCorp, "alice", "wm2", "客户二")
	f.sim.AddExternalContact(testCorp, "bob", "wm2", "客户二")
	f.sim.AddExternalContact(testCorp, "Bob", "wm3", "客户三")
	f.sim.AddExternalContact(testCorp, "carol", "wm4", "客户四")
	f.sim.TagExternalContact(testCorp, "wm3", "etVIP")
	f.sim.TagExternalContact(testCorp, "wm4", "etVIP", "etNew")
	return f, f.token(t, externalSec)
}

func massText(extra map[string]any) map[string]any {
	body := map[string]any{"text": map[string]any{"content": "新品上市"}}
	for k, v := range extra {
		body[k] = v
	}
	return body
}

func TestAddMsgTemplateValidation(t *testing.T) {
	t.Parallel()
	f, tok := massFixture(t)
	link := func(l map[string]any) map[string]any {
		return map[string]any{"sender": "alice", "attachments": []any{map[string]any{"msgtype": "link", "link": l}}}
	}
	tenImages := []any{}
	for range 10 {
		tenImages = append(tenImages, map[string]any{"msgtype": "image", "image": map[string]any{"pic_url": "https://example.test/p.png"}})
	}
	tests := []struct {
		name string
		tok  string
		body any
		want int
	}{
		{"sender's customers", tok, massText(map[string]any{"sender": "alice"}), 0},
		{"link only", tok, link(map[string]any{"title": "t", "url": "https://example.test"}), 0},
		{"app secret", f.token(t, testSecret), massText(map[string]any{"sender": "alice"}), 48002},
		{"contacts secret", f.token(t, contactsSec), massText(map[string]any{"sender": "alice"}), 48002},
		{"not json", tok, "{", 47001},
		{"chat_type bogus", tok, massText(map[string]any{"sender": "alice", "chat_type": "all"}), 86214},
		{"no text, no attachments", tok, map[string]any{"sender": "alice"}, 44004},
		{"text over 4000 bytes", tok, map[string]any{"sender": "alice", "text": map[string]any{"content": strings.Repeat("a", 4001)}}, 45002},
		{"ten attachments", tok, map[string]any{"sender": "alice", "attachments": tenImages}, 40058},
		{"voice attachment", tok, map[string]any{"sender": "alice", "attachments": []any{map[string]any{"msgtype": "voice", "voice": map[string]any{"media_id": "x"}}}}, 41065},
		{"link without url", tok, link(map[string]any{"title": "t"}), 41010},
		{"link title over 128 bytes", tok, link(map[string]any{"title": strings.Repeat("a", 129), "url": "https://example.test"}), 45002},
		{"image with an unknown media_id", tok, map[string]any{"sender": "alice", "attachments": []any{map[string]any{"msgtype": "image", "image": map[string]any{"media_id": "3nope"}}}}, 40007},
		{"group without sender", tok, massText(map[string]any{"chat_type": "group"}), 41009},
		{"neither customers nor sender", tok, massText(nil), 40058},
		{"unknown sender", tok, massText(map[string]any{"sender": "ghost"}), 40003},
		{"only unknown customers", tok, massText(map[string]any{"external_userid": []any{"wmX"}}), 41048},
		{"too many customers", tok, massText(map[string]any{"external_userid": make([]any, 10001)}), 40058},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := f.post(t, "externalcontact/add_msg_template", tt.tok, tt.body)
			if errcode(m) != tt.want {
				t.Fatalf("errcode = %d, want %d (%v)", errcode(m), tt.want, m)
			}
			if tt.want == 0 && (m["msgid"] == "" || m["fail_list"] == nil) {
				t.Errorf("answer %v lacks msgid or fail_list", m)
			}
		})
	}
	if m := f.post(t, "message/send", tok, text(testAgent, "alice", "x")); errcode(m) != 48002 {
		t.Errorf("the 客户联系 secret sending an app message: %v, want 48002", m)
	}
}

// massTasks and massResults call the two read endpoints.
func massTasks(t *testing.T, f *fixture, tok, msgid string) map[string]any {
	t.Helper()
	return f.post(t, "externalcontact/get_groupmsg_task", tok, map[string]any{"msgid": msgid})
}

func massResults(t *testing.T, f *fixture, tok, msgid, userid string) []any {
	t.Helper()
	m := f.post(t, "externalcontact/get_groupmsg_send_result", tok, map[string]any{"msgid": msgid, "userid": userid})
	if errcode(m) != 0 {
		t.Fatalf("send_result: %v", m)
	}
	return m["send_list"].([]any)
}

func TestMassMessageLifecycle(t *testing.T) {
	t.Parallel()
	f, tok := massFixture(t)
	m := f.post(t, "externalcontact/add_msg_template", tok, massText(map[string]any{"sender": "alice", "external_userid": []any{"wm1", "wm2", "wm3", "wmX", "wm1"}}))
	msgid, _ := m["msgid"].(string)
	if errcode(m) != 0 || !reflect.DeepEqual(m["fail_list"], []any{"wm3", "wmX"}) {
		t.Fatalf("create = %v, want fail_list [wm3 wmX] (not alice's customer, unknown)", m)
	}
	want := map[string]any{"errcode": 0.0, "errmsg": "ok", "next_cursor": "", "task_list": []any{map[string]any{"userid": "alice", "status": 0.0}}}
	if got := massTasks(t, f, tok, msgid); !reflect.DeepEqual(got, want) {
		t.Errorf("tasks before the member confirms = %v, want %v", got, want)
	}
	if got := massResults(t, f, tok, msgid, "alice"); len(got) != 2 || got[0].(map[string]any)["status"] != 0.0 {
		t.Errorf("results before confirming = %v", got)
	}
	f.clock.Advance(time.Minute)
	if err := f.sim.ConfirmMassMessage(testCorp, msgid, "alice"); err != nil {
		t.Fatal(err)
	}
	sent := float64(start.Add(time.Minute).Unix())
	want["task_list"] = []any{map[string]any{"userid": "alice", "status": 2.0, "send_time": sent}}
	if got := massTasks(t, f, tok, msgid); !reflect.DeepEqual(got, want) {
		t.Errorf("tasks after confirming = %v, want %v", got, want)
	}
	wantRows := []any{
		map[string]any{"external_userid": "wm1", "userid": "alice", "status": 1.0, "send_time": sent},
		map[string]any{"external_userid": "wm2", "userid": "alice", "status": 1.0, "send_time": sent},
	}
	if got := massResults(t, f, tok, msgid, "alice"); !reflect.DeepEqual(got, wantRows) {
		t.Errorf("results = %v, want %v", got, wantRows)
	}
	if got := massResults(t, f, tok, msgid, "Bob"); len(got) != 0 {
		t.Errorf("a member without a task: %v", got)
	}
	if err := f.sim.ConfirmMassMessage(testCorp, msgid, "alice"); err == nil {
		t.Error("confirming twice succeeded")
	}
	if err := f.sim.ConfirmMassMessage(testCorp, msgid, "Bob"); err == nil {
		t.Error("a member without a task confirmed")
	}
	mms := f.sim.MassMessages(testCorp)
	if len(mms) != 1 || mms[0].MsgID != msgid || mms[0].Sender != "alice" || mms[0].ChatType != "single" || !reflect.DeepEqual(mms[0].Members, []string{"alice"}) {
		t.Errorf("MassMessages = %+v", mms)
	}
}

func TestMassMessageWithoutSender(t *testing.T) {
	t.Parallel()
	f, tok := massFixture(t)
	// wm2 is a customer of alice and Bob: both get a task; the first to send delivers.
	m := f.post(t, "externalcontact/add_msg_template", tok, massText(map[string]any{"external_userid": []any{"wm2", "wm3"}}))
	msgid := m["msgid"].(string)
	tasks := massTasks(t, f, tok, msgid)["task_list"].([]any)
	if len(tasks) != 2 || tasks[0].(map[string]any)["userid"] != "alice" || tasks[1].(map[string]any)["userid"] != "Bob" {
		t.Fatalf("tasks = %v", tasks)
	}
	f.sim.RemoveExternalContact(testCorp, "Bob", "wm3") // wm3 deleted Bob before he sent
	for _, u := range []string{"alice", "Bob"} {
		if err := f.sim.ConfirmMassMessage(testCorp, msgid, u); err != nil {
			t.Fatal(err)
		}
	}
	status := func(userid string) []float64 {
		var out []float64
		for _, r := range massResults(t, f, tok, msgid, userid) {
			out = append(out, r.(map[string]any)["status"].(float64))
		}
		return out
	}
	if got := status("alice"); !reflect.DeepEqual(got, []float64{1}) {
		t.Errorf("alice: %v, want [1]", got)
	}
	if got := status("Bob"); !reflect.DeepEqual(got, []float64{3, 2}) {
		t.Errorf("Bob: %v, want [3 2] (wm2 already received it, wm3 no longer a friend)", got)
	}
}

func TestMassMessageMonthlyCapAndTags(t *testing.T) {
	t.Parallel()
	f, tok := massFixture(t)
	send := func() string {
		m := f.post(t, "externalcontact/add_msg_template", tok, massText(map[string]any{"sender": "alice", "external_userid": []any{"wm1"}}))
		id := m["msgid"].(string)
		if err := f.sim.ConfirmMassMessage(testCorp, id, "alice"); err != nil {
			t.Fatal(err)
		}
		return id
	}
	for i := range 4 {
		if got := massResults(t, f, tok, send(), "alice")[0].(map[string]any)["status"]; got != 1.0 {
			t.Fatalf("message %d: status %v", i+1, got)
		}
	}
	if got := massResults(t, f, tok, send(), "alice")[0].(map[string]any)["status"]; got != 3.0 {
		t.Errorf("fifth this month: status %v, want 3", got)
	}
	f.clock.Set(time.Date(2025, 4, 1, 0, 0, 0, 0, china()))
	tok = f.token(t, externalSec)
	if got := massResults(t, f, tok, send(), "alice")[0].(map[string]any)["status"]; got != 1.0 {
		t.Errorf("next month: status %v, want 1", got)
	}

	// tag_filter: a tag from every group; without sender and customers it picks from all.
	m := f.post(t, "externalcontact/add_msg_template", tok, massText(map[string]any{"tag_filter": map[string]any{"group_list": []any{
		map[string]any{"tag_list": []any{"etVIP"}}, map[string]any{"tag_list": []any{"etNew", "etOld"}},
	}}}))
	tasks := massTasks(t, f, tok, m["msgid"].(string))["task_list"].([]any)
	if len(tasks) != 1 || tasks[0].(map[string]any)["userid"] != "carol" {
		t.Errorf("tag_filter tasks = %v, want carol's (wm4 has etVIP and etNew)", tasks)
	}
}

func TestMassMessagePaging(t *testing.T) {
	t.Parallel()
	f, tok := massFixture(t)
	ids := []any{}
	for i := range 1200 {
		id := fmt.Sprintf("wmP%04d", i)
		f.sim.AddExternalContact(testCorp, "frank", id, id)
		ids = append(ids, id)
	}
	msgid := f.post(t, "externalcontact/add_msg_template", tok, massText(map[string]any{"sender": "frank", "external_userid": ids}))["msgid"].(string)
	page := func(limit int, cursor string) (int, string, int) {
		m := f.post(t, "externalcontact/get_groupmsg_send_result", tok, map[string]any{"msgid": msgid, "userid": "frank", "limit": limit, "cursor": cursor})
		list, _ := m["send_list"].([]any)
		next, _ := m["next_cursor"].(string)
		return errcode(m), next, len(list)
	}
	tests := []struct {
		name   string
		limit  int
		cursor string
		n      int
		more   bool
	}{
		{"limit 1000", 1000, "", 1000, true},
		{"no limit: 500", 0, "", 500, true},
		{"limit over 1000: the default 500", 5000, "", 500, true},
		{"limit 10", 10, "", 10, true},
	}
	for _, tt := range tests {
		code, next, n := page(tt.limit, tt.cursor)
		if code != 0 || n != tt.n || (next != "") != tt.more {
			t.Errorf("%s: errcode %d, %d rows, next %q; want %d rows, more %v", tt.name, code, n, next, tt.n, tt.more)
		}
	}
	_, next, _ := page(1000, "")
	if code, last, n := page(1000, next); code != 0 || n != 200 || last != "" {
		t.Errorf("second page: errcode %d, %d rows, next %q", code, n, last)
	}
	if code, _, _ := page(10, "bogus"); code != 50100 {
		t.Errorf("bad cursor: %d, want 50100", code)
	}
}

func TestMassMessageRemindCancelAndErrors(t *testing.T) {
	t.Parallel()
	f, tok := massFixture(t)
	msgid := f.post(t, "externalcontact/add_msg_template", tok, massText(map[string]any{"sender": "alice"}))["msgid"].(string)
	call := func(endpoint, msgid string) int {
		return errcode(f.post(t, "externalcontact/"+endpoint, tok, map[string]any{"msgid": msgid, "userid": "alice"}))
	}
	for _, endpoint := range []string{"get_groupmsg_task", "get_groupmsg_send_result", "remind_groupmsg_send", "cancel_groupmsg_send"} {
		if got := call(endpoint, ""); got != 41046 {
			t.Errorf("%s without msgid: %d, want 41046", endpoint, got)
		}
		if got := call(endpoint, "msgNope"); got != 41047 {
			t.Errorf("%s of an unknown msgid: %d, want 41047", endpoint, got)
		}
	}
	for i := range 3 {
		if got := call("remind_groupmsg_send", msgid); got != 0 {
			t.Fatalf("reminder %d: %d", i+1, got)
		}
		f.clock.Advance(30 * time.Minute)
	}
	if got := call("remind_groupmsg_send", msgid); got != 45009 {
		t.Errorf("fourth reminder in 24 h: %d, want 45009", got)
	}
	f.clock.Advance(22*time.Hour + 30*time.Minute) // the first reminder is now 24 h old
	tok = f.token(t, externalSec)
	if got := call("remind_groupmsg_send", msgid); got != 0 {
		t.Errorf("a day after the first reminder: %d", got)
	}
	if n := f.sim.MassMessages(testCorp)[0].Reminders; n != 4 {
		t.Errorf("Reminders = %d, want 4", n)
	}
	for i := range 2 {
		if got := call("cancel_groupmsg_send", msgid); got != 0 {
			t.Errorf("cancel %d: %d", i+1, got)
		}
	}
	for _, endpoint := range []string{"get_groupmsg_task", "get_groupmsg_send_result", "remind_groupmsg_send"} {
		if got := call(endpoint, msgid); got != 41093 {
			t.Errorf("%s of a canceled message: %d, want 41093", endpoint, got)
		}
	}
	if err := f.sim.ConfirmMassMessage(testCorp, msgid, "alice"); err == nil {
		t.Error("confirming a canceled message succeeded")
	}
	if got := errcode(f.post(t, "externalcontact/get_groupmsg_send_result", tok, map[string]any{"msgid": msgid})); got != 41093 {
		t.Errorf("send_result without userid of a canceled message: %d", got)
	}
	f.sim.Reset()
	if got := call("get_groupmsg_task", msgid); got != 41047 {
		t.Errorf("after Reset: %d, want 41047", got)
	}
	if m := f.post(t, "externalcontact/add_msg_template", tok, massText(map[string]any{"sender": "alice"})); errcode(m) != 0 {
		t.Errorf("customers survive Reset: %v", m)
	}
	msgid = f.sim.MassMessages(testCorp)[0].MsgID
	if got := errcode(f.post(t, "externalcontact/get_groupmsg_send_result", tok, map[string]any{"msgid": msgid})); got != 41009 {
		t.Errorf("send_result without userid: %d, want 41009", got)
	}
}
