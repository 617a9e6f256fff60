package wecomtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSendTextPartialDelivery(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(t, testSecret)
	m := f.post(t, "message/send", tok, text(testAgent, "alice|Ghost|dave|BOB|erin", "部署完成"))
	if errcode(m) != 0 || m["errmsg"] != "ok" {
		t.Fatalf("partial send = %v, want errcode 0", m)
	}
	if m["invaliduser"] != "ghost|erin" {
		t.Errorf("invaliduser = %q, want lower-cased %q (unknown and disabled)", m["invaliduser"], "ghost|erin")
	}
	if m["unlicenseduser"] != "dave" {
		t.Errorf("unlicenseduser = %q, want dave", m["unlicenseduser"])
	}
	if m["invalidparty"] != "" || m["invalidtag"] != "" {
		t.Errorf("empty lists must be empty strings: %v", m)
	}
	msgid, _ := m["msgid"].(string)
	if msgid == "" {
		t.Fatal("no msgid")
	}
	if _, ok := m["response_code"]; ok {
		t.Error("a text message got a response_code")
	}
	for _, tc := range []struct {
		user string
		want int
	}{{"alice", 1}, {"bob", 1}, {"Bob", 1}, {"dave", 0}, {"erin", 0}, {"ghost", 0}} {
		got := f.sim.Inbox(testCorp, tc.user)
		if len(got) != tc.want {
			t.Errorf("Inbox(%s) has %d, want %d", tc.user, len(got), tc.want)
			continue
		}
		if tc.want == 1 {
			d := got[0]
			if d.MsgID != msgid || d.MsgType != "text" || d.AgentID != testAgent || !d.At.Equal(start) ||
				string(d.Body) != `{"content":"部署完成"}` || !strings.Contains(string(d.Request), `"touser":"alice|Ghost|dave|BOB|erin"`) {
				t.Errorf("Inbox(%s) = %+v", tc.user, d)
			}
		}
	}
	if boxes := f.sim.Inboxes(testCorp); len(boxes) != 2 || boxes["Bob"] == nil {
		t.Errorf("Inboxes keys = %v, want alice and Bob", reflect.ValueOf(boxes).MapKeys())
	}
}

func TestSendRecipientExpansion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                      string
		secret                    string
		agent                     int64
		touser, party, tag        string
		want                      []string // inboxes that receive
		invalidParty, invalidUser string
	}{
		{name: "@all skips disabled and unlicensed", secret: testSecret, agent: testAgent, touser: "@all",
			want: []string{"alice", "Bob", "carol", "frank"}},
		{name: "party is recursive", secret: testSecret, agent: testAgent, party: "2|99",
			want: []string{"alice", "carol", "frank"}, invalidParty: "99"},
		{name: "tag members and parties", secret: testSecret, agent: testAgent, tag: "7",
			want: []string{"Bob", "carol", "frank"}},
		{name: "visible range limits @all", secret: rdSecret, agent: rdAgent, touser: "@all",
			want: []string{"alice", "carol", "frank"}},
		{name: "outside the visible range is invalid", secret: rdSecret, agent: rdAgent, touser: "alice|bob", party: "3",
			want: []string{"alice"}, invalidUser: "bob", invalidParty: "3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			tok := f.token(t, tt.secret)
			body := text(tt.agent, tt.touser, "x")
			body["toparty"], body["totag"] = tt.party, tt.tag
			m := f.post(t, "message/send", tok, body)
			if errcode(m) != 0 {
				t.Fatalf("send = %v", m)
			}
			if m["invalidparty"] != tt.invalidParty || m["invaliduser"] != tt.invalidUser {
				t.Errorf("invalid lists = %q / %q, want %q / %q", m["invaliduser"], m["invalidparty"], tt.invalidUser, tt.invalidParty)
			}
			var got []string
			for u := range f.sim.Inboxes(testCorp) {
				got = append(got, u)
			}
			if !sameSet(got, tt.want) {
				t.Errorf("delivered to %v, want %v", got, tt.want)
			}
		})
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestSendErrors(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 2049)
	tooMany := strings.TrimSuffix(strings.Repeat("u|", 1001), "|")
	parties := strings.TrimSuffix(strings.Repeat("2|", 101), "|")
	tests := []struct {
		name   string
		secret string
		body   any
		want   int
		msg    string
	}{
		{"not json", testSecret, `{"touser":`, 47001, "data format error"},
		{"no recipients", testSecret, text(testAgent, "", "x"), 82001, ""},
		{"nobody valid", testSecret, text(testAgent, "ghost|erin", "x"), 81013, ""},
		{"agentid as string", testSecret, map[string]any{"touser": "alice", "msgtype": "text", "agentid": "1000002", "text": map[string]any{"content": "x"}}, 40058, "agentid"},
		{"agentid missing", testSecret, map[string]any{"touser": "alice", "msgtype": "text", "text": map[string]any{"content": "x"}}, 41011, ""},
		{"unknown agentid", testSecret, text(999, "alice", "x"), 40056, ""},
		{"another app's agentid", testSecret, text(noCBAgent, "alice", "x"), 301002, ""},
		{"contacts secret cannot send", contactsSec, text(testAgent, "alice", "x"), 48002, ""},
		{"unknown msgtype", testSecret, map[string]any{"touser": "alice", "msgtype": "sms", "agentid": testAgent}, 40008, ""},
		{"empty text", testSecret, text(testAgent, "alice", ""), 44004, ""},
		{"text over 2048 bytes", testSecret, text(testAgent, "alice", long), 45002, "content size out of limit"},
		{"textcard without title", testSecret, map[string]any{"touser": "alice", "msgtype": "textcard", "agentid": testAgent,
			"textcard": map[string]any{"description": "d", "url": "https://x.test"}}, 41016, ""},
		{"textcard without url", testSecret, map[string]any{"touser": "alice", "msgtype": "textcard", "agentid": testAgent,
			"textcard": map[string]any{"title": "t", "description": "d"}}, 41010, ""},
		{"textcard url without scheme", testSecret, map[string]any{"touser": "alice", "msgtype": "textcard", "agentid": testAgent,
			"textcard": map[string]any{"title": "t", "description": "d", "url": "x.test/a"}}, 45034, ""},
		{"news with 9 articles", testSecret, map[string]any{"touser": "alice", "msgtype": "news", "agentid": testAgent,
			"news": map[string]any{"articles": make([]map[string]any, 9)}}, 45008, ""},
		{"news is never safe", testSecret, map[string]any{"touser": "alice", "msgtype": "news", "agentid": testAgent, "safe": 1,
			"news": map[string]any{"articles": []any{map[string]any{"title": "t", "url": "https://x.test"}}}}, 40074, ""},
		{"image with unknown media", testSecret, map[string]any{"touser": "alice", "msgtype": "image", "agentid": testAgent,
			"image": map[string]any{"media_id": "nope"}}, 40007, ""},
		{"miniprogram_notice to @all", testSecret, map[string]any{"touser": "@all", "msgtype": "miniprogram_notice", "agentid": testAgent,
			"miniprogram_notice": map[string]any{"appid": "wx123", "title": "会议室预订成功"}}, 40058, "@all"},
		{"button card without callback", noCBSecret, buttonCard(noCBAgent, "alice", "t1"), 43012, ""},
		{"notice card with action_menu without callback", noCBSecret, map[string]any{"touser": "alice", "msgtype": "template_card", "agentid": noCBAgent,
			"template_card": map[string]any{"card_type": "text_notice", "main_title": map[string]any{"title": "t"}, "task_id": "m1",
				"card_action": map[string]any{"type": 1, "url": "https://x.test"},
				"action_menu": map[string]any{"desc": "more", "action_list": []any{map[string]any{"text": "不再提醒", "key": "mute"}}}}}, 43012, ""},
		{"bad card_type", testSecret, map[string]any{"touser": "alice", "msgtype": "template_card", "agentid": testAgent,
			"template_card": map[string]any{"card_type": "poll"}}, 40058, "card_type"},
		{"task_id charset", testSecret, buttonCard(testAgent, "alice", "任务 1"), 40058, "task_id"},
		{"too many users", testSecret, text(testAgent, tooMany, "x"), 40032, ""},
		{"too many parties", testSecret, map[string]any{"toparty": parties, "msgtype": "text", "agentid": testAgent, "text": map[string]any{"content": "x"}}, 82002, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			m := f.post(t, "message/send", f.token(t, tt.secret), tt.body)
			if got := errcode(m); got != tt.want {
				t.Fatalf("errcode = %d, want %d (%v)", got, tt.want, m)
			}
			if msg := m["errmsg"].(string); !strings.Contains(msg, tt.msg) || !strings.Contains(msg, fmt.Sprintf("?e=%d", tt.want)) {
				t.Errorf("errmsg %q, want it to contain %q and the errcode link", msg, tt.msg)
			}
			if len(f.sim.Inboxes(testCorp)) != 0 {
				t.Error("a refused send delivered something")
			}
			if f.sim.Calls("message/send") != 1 {
				t.Errorf("Calls = %d", f.sim.Calls("message/send"))
			}
		})
	}
}

func TestSendAllInvalidListsThem(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	body := text(testAgent, "Ghost|dave", "x")
	body["toparty"], body["totag"] = "99", "98"
	m := f.post(t, "message/send", f.token(t, testSecret), body)
	if errcode(m) != 81013 || m["invaliduser"] != "ghost" || m["invalidparty"] != "99" || m["invalidtag"] != "98" || m["unlicenseduser"] != "dave" {
		t.Fatalf("answer = %v", m)
	}
	if _, ok := m["msgid"]; ok {
		t.Error("81013 carries a msgid")
	}
}

func TestTaskIDUniquePerApp(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(t, testSecret)
	if m := f.post(t, "message/send", tok, buttonCard(testAgent, "alice", "order-1")); errcode(m) != 0 {
		t.Fatalf("first card: %v", m)
	}
	m := f.post(t, "message/send", tok, buttonCard(testAgent, "bob", "order-1"))
	if errcode(m) != 40058 || !strings.HasPrefix(m["errmsg"].(string), "task_id exist") {
		t.Fatalf("reused task_id = %v, want 40058 task_id exist", m)
	}
	// Another app may use the same task_id.
	if m := f.post(t, "message/send", f.token(t, rdSecret), buttonCard(rdAgent, "alice", "order-1")); errcode(m) != 0 {
		t.Fatalf("same task_id in another app: %v", m)
	}
}

func TestDuplicateCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(t, testSecret)
	body := text(testAgent, "alice", "订单 42 已支付")
	body["enable_duplicate_check"], body["duplicate_check_interval"] = 1, 600
	raw, _ := json.Marshal(body)

	first := f.post(t, "message/send", tok, raw)
	// Surrounding whitespace does not make a request different.
	second := f.post(t, "message/send", tok, "\n  "+string(raw)+"\n")
	if errcode(first) != 0 || errcode(second) != 0 || first["msgid"] != second["msgid"] {
		t.Fatalf("duplicate answers %v then %v, want errcode 0 with the first msgid", first, second)
	}
	if n := len(f.sim.Inbox(testCorp, "alice")); n != 1 || f.sim.DuplicatesDropped() != 1 {
		t.Fatalf("inbox %d, DuplicatesDropped %d, want 1 and 1", n, f.sim.DuplicatesDropped())
	}
	// A byte-different body (key order) is a different request.
	reordered := `{"agentid":1000002,"msgtype":"text","touser":"alice","text":{"content":"订单 42 已支付"},"enable_duplicate_check":1,"duplicate_check_interval":600}`
	if m := f.post(t, "message/send", tok, reordered); errcode(m) != 0 || m["msgid"] == first["msgid"] {
		t.Fatalf("reordered body = %v, want a new msgid", m)
	}
	// After the interval the same body is delivered again.
	f.clock.Advance(600 * time.Second)
	if m := f.post(t, "message/send", tok, raw); errcode(m) != 0 || m["msgid"] == first["msgid"] {
		t.Fatalf("after the interval = %v, want a new msgid", m)
	}
	if n := len(f.sim.Inbox(testCorp, "alice")); n != 3 || f.sim.DuplicatesDropped() != 1 {
		t.Errorf("inbox %d, DuplicatesDropped %d, want 3 and 1", n, f.sim.DuplicatesDropped())
	}
	// Without enable_duplicate_check identical bodies are all delivered.
	plain, _ := json.Marshal(text(testAgent, "bob", "same"))
	f.post(t, "message/send", tok, plain)
	f.post(t, "message/send", tok, plain)
	if n := len(f.sim.Inbox(testCorp, "bob")); n != 2 {
		t.Errorf("without the flag bob got %d, want 2", n)
	}
}

func TestDuplicateCheckDedupsRetriedCard(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(t, testSecret)
	body := buttonCard(testAgent, "alice", "retry-1")
	body["enable_duplicate_check"] = 1
	first, again := f.post(t, "message/send", tok, body), f.post(t, "message/send", tok, body)
	if errcode(again) != 0 || again["msgid"] != first["msgid"] || again["response_code"] != first["response_code"] {
		t.Fatalf("retried card = %v, want the first answer %v (not task_id exist)", again, first)
	}
}

func TestPerMemberRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(t, testSecret)
	for i := range 31 {
		m := f.post(t, "message/send", tok, text(testAgent, "alice", fmt.Sprintf("m%d", i)))
		if errcode(m) != 0 || m["invaliduser"] != "" {
			t.Fatalf("send %d = %v: drops must be silent", i, m)
		}
	}
	if m := f.post(t, "message/send", tok, text(testAgent, "alice|bob", "m31")); errcode(m) != 0 || m["invaliduser"] != "" {
		t.Fatalf("mixed send = %v", m)
	}
	if got := contents(f.sim.Inbox(testCorp, "alice")); len(got) != 30 || got[29] != "m29" {
		t.Fatalf("alice got %d messages (last %q), want m0..m29", len(got), got[len(got)-1])
	}
	if got := contents(f.sim.Inbox(testCorp, "bob")); !reflect.DeepEqual(got, []string{"m31"}) {
		t.Errorf("bob got %v, want [m31]", got)
	}
	if f.sim.Drops(testCorp, "alice") != 2 || f.sim.Drops(testCorp, "bob") != 0 || f.sim.TotalDrops() != 2 {
		t.Errorf("drops alice %d bob %d total %d, want 2 0 2", f.sim.Drops(testCorp, "alice"), f.sim.Drops(testCorp, "bob"), f.sim.TotalDrops())
	}
	// Another app has its own window.
	if m := f.post(t, "message/send", f.token(t, rdSecret), text(rdAgent, "alice", "other app")); errcode(m) != 0 {
		t.Fatal(m)
	}
	if n := len(f.sim.Inbox(testCorp, "alice")); n != 31 {
		t.Errorf("another app's message: alice has %d, want 31", n)
	}

	f.clock.Advance(59 * time.Second)
	f.post(t, "message/send", tok, text(testAgent, "alice", "still blocked"))
	f.clock.Advance(time.Second)
	f.post(t, "message/send", tok, text(testAgent, "alice", "after a minute"))
	got := contents(f.sim.Inbox(testCorp, "alice"))
	if got[len(got)-1] != "after a minute" || len(got) != 32 || f.sim.Drops(testCorp, "alice") != 3 {
		t.Errorf("after 60 s alice has %d (last %q), drops %d; want 32, %q, 3", len(got), got[len(got)-1], f.sim.Drops(testCorp, "alice"), "after a minute")
	}
}

func TestHourlyRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(t, testSecret)
	// 30 a minute for 34 minutes is 1020 attempts: the hour's 1000 are delivered, then drops.
	for minute := range 34 {
		for i := range 30 {
			f.post(t, "message/send", tok, text(testAgent, "alice", fmt.Sprintf("%d-%d", minute, i)))
		}
		f.clock.Advance(time.Minute)
	}
	if n, d := len(f.sim.Inbox(testCorp, "alice")), f.sim.Drops(testCorp, "alice"); n != 1000 || d != 20 {
		t.Fatalf("alice got %d with %d drops, want 1000 and 20", n, d)
	}
}

func TestDailyQuota(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.sim.AddCorp(Corp{ID: testCorp, Name: "Test", Seats: 1}) // 200 person-sends a day
	tok := f.token(t, testSecret)
	for i := range 100 {
		if i%30 == 29 {
			f.clock.Advance(time.Minute) // stay under the per-member rate
		}
		if m := f.post(t, "message/send", tok, text(testAgent, "alice|bob", fmt.Sprint(i))); errcode(m) != 0 {
			t.Fatalf("send %d: %v", i, m)
		}
	}
	m := f.post(t, "message/send", tok, text(testAgent, "carol", "201st"))
	if errcode(m) != 45009 || !strings.Contains(m["errmsg"].(string), "api freq out of limit") {
		t.Fatalf("over quota = %v, want 45009", m)
	}
	if len(f.sim.Inbox(testCorp, "carol")) != 0 {
		t.Fatal("45009 delivered")
	}
	// The quota resets at midnight China time.
	f.clock.Set(time.Date(2025, 3, 4, 0, 0, 0, 0, time.FixedZone("CST", 8*3600)))
	if m := f.post(t, "message/send", f.token(t, testSecret), text(testAgent, "carol", "next day")); errcode(m) != 0 {
		t.Fatalf("next day = %v", m)
	}
}

func TestLinkedCorpSend(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const linked = "wwlinked00000001"
	f.sim.AddCorp(Corp{ID: linked, Name: "Partner"})
	f.sim.AddDepartment(linked, Department{ID: 1, Name: "Partner"})
	f.sim.AddDepartment(linked, Department{ID: 5, ParentID: 1, Name: "Sales"})
	f.sim.AddUser(linked, User{UserID: "zoe", Name: "Zoe", Departments: []int{1}})
	f.sim.AddUser(linked, User{UserID: "yan", Name: "Yan", Departments: []int{5}})
	f.sim.LinkCorp(testCorp, linked)
	tok := f.token(t, testSecret)

	m := f.post(t, "linkedcorp/message/send", tok, map[string]any{
		"touser":  []string{"alice", linked + "/zoe", linked + "/nobody", "wwstranger/x"},
		"toparty": []string{linked + "/5", "42"},
		"totag":   []string{"77"},
		"msgtype": "text", "agentid": testAgent, "text": map[string]any{"content": "联合通知"},
	})
	if errcode(m) != 0 {
		t.Fatalf("linked send = %v", m)
	}
	want := map[string]any{"invaliduser": []any{linked + "/nobody", "wwstranger/x"}, "invalidparty": []any{"42"}, "invalidtag": []any{"77"}}
	for k, v := range want {
		if !reflect.DeepEqual(m[k], v) {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if _, ok := m["msgid"]; ok {
		t.Error("linkedcorp answers carry no msgid")
	}
	for _, tc := range []struct{ corp, user string }{{testCorp, "alice"}, {linked, "zoe"}, {linked, "yan"}} {
		if ds := f.sim.Inbox(tc.corp, tc.user); len(ds) != 1 || ds[0].FromCorpID != testCorp {
			t.Errorf("Inbox(%s, %s) = %+v", tc.corp, tc.user, ds)
		}
	}

	// Empty lists are arrays, not missing.
	m = f.post(t, "linkedcorp/message/send", tok, map[string]any{"touser": []string{"alice"}, "msgtype": "text", "agentid": testAgent, "text": map[string]any{"content": "x"}})
	if !reflect.DeepEqual(m["invaliduser"], []any{}) {
		t.Errorf("invaliduser = %#v, want []", m["invaliduser"])
	}

	errs := []struct {
		name string
		body map[string]any
		want int
	}{
		{"template_card", buttonCard(testAgent, "alice", "lc"), 40008},
		{"touser as a string", text(testAgent, "alice", "x"), 40058},
		{"nobody", map[string]any{"msgtype": "text", "agentid": testAgent, "text": map[string]any{"content": "x"}}, 82001},
		{"all invalid", map[string]any{"touser": []string{linked + "/ghost"}, "msgtype": "text", "agentid": testAgent, "text": map[string]any{"content": "x"}}, 81013},
	}
	for _, tc := range errs {
		if tc.name == "template_card" {
			tc.body["touser"] = []string{"alice"}
		}
		if got := errcode(f.post(t, "linkedcorp/message/send", tok, tc.body)); got != tc.want {
			t.Errorf("%s: errcode %d, want %d", tc.name, got, tc.want)
		}
	}
	if n := f.sim.Calls("linkedcorp/message/send"); n != 6 {
		t.Errorf("Calls = %d, want 6", n)
	}
}

func TestConcurrentSends(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tok := f.token(t, testSecret)
	users := []string{"alice", "bob", "carol", "frank"}
	var wg sync.WaitGroup
	for g := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				m := f.post(t, "message/send", tok, text(testAgent, users[g%4], fmt.Sprintf("%d/%d", g, i)))
				if errcode(m) != 0 {
					t.Errorf("send: %v", m)
					return
				}
			}
		}()
	}
	wg.Wait()
	// 125 sends per member within one minute of simulated time: 30 delivered, 95 dropped each.
	total := 0
	for _, ds := range f.sim.Inboxes(testCorp) {
		total += len(ds)
	}
	if total != 120 || f.sim.TotalDrops() != 380 || f.sim.Calls("message/send") != 500 {
		t.Errorf("delivered %d, dropped %d, calls %d; want 120, 380, 500", total, f.sim.TotalDrops(), f.sim.Calls("message/send"))
	}
}

// BenchmarkSendText measures one message/send through HTTP, the simulator's hot path.
func BenchmarkSendText(b *testing.B) {
	clock := NewManualClock(start)
	sim := New(Options{Now: clock.Now, Seed: 1})
	demo := SeedDemo(sim)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/cgi-bin/gettoken?corpid=" + demo.CorpID + "&corpsecret=" + demo.Secret)
	if err != nil {
		b.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	bodies := make([][]byte, len(demo.UserIDs))
	for i, u := range demo.UserIDs {
		bodies[i], _ = json.Marshal(text(demo.AgentID, u, "bench"))
	}
	sendURL := srv.URL + "/cgi-bin/message/send?access_token=" + tok.AccessToken
	b.ResetTimer()
	for i := range b.N {
		if i%500 == 499 {
			clock.Advance(time.Hour) // keep every member under 30/min and 1000/h
		}
		resp, err := srv.Client().Post(sendURL, "application/json", bytes.NewReader(bodies[i%len(bodies)]))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
