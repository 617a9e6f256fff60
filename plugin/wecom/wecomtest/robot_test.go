package wecomtest

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"mime/multipart"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// robotPost calls a webhook endpoint of the robot with key.
func (f *fixture) robotPost(t *testing.T, endpoint, key string, body any) map[string]any {
	t.Helper()
	return f.do(t, http.MethodPost, endpoint, url.Values{"key": {key}}, body)
}

func robotText(content string) map[string]any {
	return map[string]any{"msgtype": "text", "text": map[string]any{"content": content}}
}

func imageBody(data []byte, sum string) map[string]any {
	if sum == "" {
		h := md5.Sum(data)
		sum = hex.EncodeToString(h[:])
	}
	return map[string]any{"msgtype": "image", "image": map[string]any{"base64": base64.StdEncoding.EncodeToString(data), "md5": sum}}
}

func articles(n int, title string) map[string]any {
	var arts []any
	for range n {
		arts = append(arts, map[string]any{"title": title, "url": "https://example.test/a", "picurl": "https://example.test/p.png"})
	}
	return map[string]any{"msgtype": "news", "news": map[string]any{"articles": arts}}
}

func textNotice(extra map[string]any) map[string]any {
	card := map[string]any{
		"card_type":   "text_notice",
		"main_title":  map[string]any{"title": "发布完成"},
		"card_action": map[string]any{"type": 1, "url": "https://example.test"},
	}
	for k, v := range extra {
		card[k] = v
	}
	return map[string]any{"msgtype": "template_card", "template_card": card}
}

func TestRobotSendValidation(t *testing.T) {
	t.Parallel()
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 32)...)
	jpeg := append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, make([]byte, 32)...)
	gif := []byte("GIF89a..........")
	tests := []struct {
		name string
		body any
		want int
	}{
		{"text", robotText("部署完成"), 0},
		{"text at 2048 bytes", robotText(strings.Repeat("a", 2048)), 0},
		{"text over 2048 bytes", robotText(strings.Repeat("a", 2049)), 40058},
		{"text empty", robotText(""), 44004},
		{"mentioned_list not an array", map[string]any{"msgtype": "text", "text": map[string]any{"content": "x", "mentioned_list": "alice"}}, 40058},
		{"mentioned_mobile_list of numbers", map[string]any{"msgtype": "text", "text": map[string]any{"content": "x", "mentioned_mobile_list": []any{138}}}, 40058},
		{"markdown at 4096 bytes", map[string]any{"msgtype": "markdown", "markdown": map[string]any{"content": strings.Repeat("#", 4096)}}, 0},
		{"markdown over 4096 bytes", map[string]any{"msgtype": "markdown", "markdown": map[string]any{"content": strings.Repeat("#", 4097)}}, 40058},
		{"markdown_v2", map[string]any{"msgtype": "markdown_v2", "markdown_v2": map[string]any{"content": "| a | b |\n|---|---|"}}, 0},
		{"markdown_v2 over 4096 bytes", map[string]any{"msgtype": "markdown_v2", "markdown_v2": map[string]any{"content": strings.Repeat("x", 4097)}}, 40058},
		{"unknown msgtype", map[string]any{"msgtype": "mpnews", "mpnews": map[string]any{}}, 40008},
		{"no msgtype", map[string]any{"text": map[string]any{"content": "x"}}, 40008},
		{"no body object", map[string]any{"msgtype": "text"}, 40058},
		{"not json", "{oops", 47001},
		{"image png", imageBody(png, ""), 0},
		{"image jpeg, upper-case md5", imageBody(jpeg, strings.ToUpper(func() string { h := md5.Sum(jpeg); return hex.EncodeToString(h[:]) }())), 0},
		{"image md5 of other bytes", imageBody(png, strings.Repeat("0", 32)), 301019},
		{"image over 2 MB", imageBody(append(png, make([]byte, 2<<20)...), ""), 40009},
		{"image gif", imageBody(gif, ""), 40123},
		{"image not base64", map[string]any{"msgtype": "image", "image": map[string]any{"base64": "!!", "md5": "x"}}, 40058},
		{"image without md5", map[string]any{"msgtype": "image", "image": map[string]any{"base64": "AAAA"}}, 40058},
		{"news 1 article", articles(1, "标题"), 0},
		{"news 8 articles", articles(8, "标题"), 0},
		{"news 9 articles", articles(9, "标题"), 45008},
		{"news 0 articles", articles(0, "标题"), 45008},
		{"news long title is truncated by WeCom, not refused", articles(1, strings.Repeat("长", 100)), 0},
		{"news without title", articles(1, ""), 41016},
		{"news without url", map[string]any{"msgtype": "news", "news": map[string]any{"articles": []any{map[string]any{"title": "t"}}}}, 41010},
		{"file without media_id", map[string]any{"msgtype": "file", "file": map[string]any{}}, 41006},
		{"voice with an unknown media_id", map[string]any{"msgtype": "voice", "voice": map[string]any{"media_id": "3nope"}}, 40007},
		{"text_notice card", textNotice(nil), 0},
		{"news_notice card", map[string]any{"msgtype": "template_card", "template_card": map[string]any{
			"card_type": "news_notice", "main_title": map[string]any{"title": "t"},
			"card_image": map[string]any{"url": "https://example.test/i.png"}, "card_action": map[string]any{"type": 1, "url": "https://example.test"},
		}}, 0},
		{"card without card_action", map[string]any{"msgtype": "template_card", "template_card": map[string]any{"card_type": "text_notice", "main_title": map[string]any{"title": "t"}}}, 40058},
		{"interactive card", map[string]any{"msgtype": "template_card", "template_card": map[string]any{
			"card_type": "button_interaction", "main_title": map[string]any{"title": "t"}, "task_id": "t1",
			"button_list": []any{map[string]any{"text": "ok", "key": "ok"}},
		}}, 40058},
		{"card with action_menu", textNotice(map[string]any{"task_id": "t2", "action_menu": map[string]any{"desc": "d", "action_list": []any{map[string]any{"text": "a", "key": "a"}}}}), 40058},
	}
	f := newFixture(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key := f.sim.AddRobot(testCorp, "ops "+tt.name, []string{"alice", "carol"})
			m := f.robotPost(t, "webhook/send", key, tt.body)
			if got := errcode(m); got != tt.want {
				t.Fatalf("errcode = %d, want %d (%v)", got, tt.want, m)
			}
			if n := len(f.sim.RobotMessages(key)); (n == 1) != (tt.want == 0) {
				t.Errorf("%d messages shown, want %v", n, tt.want == 0)
			}
		})
	}
}

func TestRobotKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key := f.sim.AddRobot(testCorp, "ops", []string{"alice"})
	if len(key) != 36 || strings.Count(key, "-") != 4 {
		t.Errorf("key %q is not WeCom's 8-4-4-4-12 shape", key)
	}
	if again := New(Options{Seed: 42}); true {
		again.AddCorp(Corp{ID: testCorp})
		if k := again.AddRobot(testCorp, "ops", nil); k != key {
			t.Errorf("same seed, corp and name gave %q and %q", key, k)
		}
	}
	for _, k := range []string{"", "no-such-key"} {
		if m := f.robotPost(t, "webhook/send", k, robotText("x")); errcode(m) != 93000 {
			t.Errorf("key %q: %v, want 93000", k, m)
		}
	}
	f.sim.RemoveRobot(key)
	if m := f.robotPost(t, "webhook/send", key, robotText("x")); errcode(m) != 93000 {
		t.Errorf("removed robot: %v, want 93000", m)
	}
	if m := f.do(t, http.MethodGet, "webhook/send", url.Values{"key": {key}}, nil); errcode(m) != 43002 {
		t.Errorf("GET: %v, want 43002", m)
	}
	if rs := f.sim.Robots(testCorp); len(rs) != 1 || rs[0].ChatName != "ops" || !reflect.DeepEqual(rs[0].Members, []string{"alice"}) {
		t.Errorf("Robots = %+v", rs)
	}
}

func TestRobotMentions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.sim.AddUser(testCorp, User{UserID: "gina", Name: "Gina", Departments: []int{3}, Mobile: "13800000007"})
	key := f.sim.AddRobot(testCorp, "ops", []string{"alice", "Bob", "carol", "gina"})
	m := f.robotPost(t, "webhook/send", key, map[string]any{"msgtype": "text", "text": map[string]any{
		"content":               "告警 <@carol>",
		"mentioned_list":        []any{"BOB", "frank", "bob"},
		"mentioned_mobile_list": []any{"13800000007", "13800000001", "13900000000", "@all"},
	}})
	if errcode(m) != 0 {
		t.Fatal(m)
	}
	md := f.robotPost(t, "webhook/send", key, map[string]any{"msgtype": "markdown", "markdown": map[string]any{"content": "**告警** <@alice> <@nobody>"}})
	v2 := f.robotPost(t, "webhook/send", key, map[string]any{"msgtype": "markdown_v2", "markdown_v2": map[string]any{"content": "<@alice>"}})
	if errcode(md) != 0 || errcode(v2) != 0 {
		t.Fatal(md, v2)
	}
	got := f.sim.RobotMessages(key)
	if len(got) != 3 {
		t.Fatalf("%d messages", len(got))
	}
	// carol (content), Bob (list, case-insensitive, once), gina and alice (mobiles); frank is
	// no member of the group and 13900000000 nobody's mobile.
	want := ChatMessage{Mentions: []string{"carol", "Bob", "gina", "alice"}, MentionAll: true, UnmatchedMentions: []string{"frank", "13900000000"}}
	if g := got[0]; !reflect.DeepEqual(g.Mentions, want.Mentions) || !g.MentionAll || !reflect.DeepEqual(g.UnmatchedMentions, want.UnmatchedMentions) {
		t.Errorf("text mentions = %v all=%v unmatched=%v, want %v all unmatched=%v", g.Mentions, g.MentionAll, g.UnmatchedMentions, want.Mentions, want.UnmatchedMentions)
	}
	if g := got[1]; !reflect.DeepEqual(g.Mentions, []string{"alice"}) || g.MentionAll || !reflect.DeepEqual(g.UnmatchedMentions, []string{"nobody"}) {
		t.Errorf("markdown mentions = %+v", g)
	}
	if g := got[2]; len(g.Mentions)+len(g.UnmatchedMentions) != 0 {
		t.Errorf("markdown_v2 has no <@userid> syntax, got %+v", g)
	}
	if g := got[0]; g.RobotKey != key || g.MsgType != "text" || !g.At.Equal(start) || !strings.Contains(contentsOf(got)[0], "<@carol>") || !strings.Contains(string(g.Request), `"msgtype":"text"`) {
		t.Errorf("message = %+v", g)
	}
}

func TestRobotRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key := f.sim.AddRobot(testCorp, "ops", []string{"alice"})
	other := f.sim.AddRobot(testCorp, "dev", []string{"alice"})
	for i := range 20 {
		if m := f.robotPost(t, "webhook/send", key, robotText("x")); errcode(m) != 0 {
			t.Fatalf("send %d: %v", i+1, m)
		}
		f.clock.Advance(time.Second)
	}
	if m := f.robotPost(t, "webhook/send", key, robotText("21st")); errcode(m) != 45009 {
		t.Fatalf("21st in a minute: %v, want 45009", m)
	}
	if m := f.robotPost(t, "webhook/send", other, robotText("x")); errcode(m) != 0 {
		t.Errorf("another robot is held back: %v", m)
	}
	if n := len(f.sim.RobotMessages(key)); n != 20 {
		t.Errorf("%d shown, want 20: a refused message is not delivered", n)
	}
	// The window slides: 60 s after the first send one more fits, not two.
	f.clock.Advance(40 * time.Second)
	if m := f.robotPost(t, "webhook/send", key, robotText("x")); errcode(m) != 0 {
		t.Errorf("a minute after the first: %v", m)
	}
	if m := f.robotPost(t, "webhook/send", key, robotText("x")); errcode(m) != 45009 {
		t.Errorf("second in the same second: %v, want 45009", m)
	}
	// Invalid messages do not use up the minute.
	f.clock.Advance(time.Hour)
	for range 25 {
		f.robotPost(t, "webhook/send", key, robotText(""))
	}
	if m := f.robotPost(t, "webhook/send", key, robotText("x")); errcode(m) != 0 {
		t.Errorf("after invalid sends: %v", m)
	}
}

// robotUpload posts a multipart upload to a robot.
func (f *fixture) robotUpload(t *testing.T, key, typ, filename string, data []byte) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormFile("media", filename)
	_, _ = w.Write(data)
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/cgi-bin/webhook/upload_media?"+url.Values{"key": {key}, "type": {typ}}.Encode(), &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return decodeAnswer(t, resp)
}

func TestRobotUploadAndMedia(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key := f.sim.AddRobot(testCorp, "ops", []string{"alice"})
	other := f.sim.AddRobot(testCorp, "dev", []string{"alice"})
	amr := append([]byte("#!AMR\n"), make([]byte, 64)...)
	tests := []struct {
		name, key, typ string
		data           []byte
		want           int
	}{
		{"file", key, "file", []byte("%PDF-1.4 report"), 0},
		{"voice", key, "voice", amr, 0},
		{"voice not AMR", key, "voice", []byte("ID3........"), 301017},
		{"5 bytes", key, "file", []byte("12345"), 40006},
		{"file over 20 MB", key, "file", make([]byte, 20<<20+1), 40006},
		{"image is not a robot upload type", key, "image", []byte("\x89PNG\r\n\x1a\n.."), 40004},
		{"unknown key", "nope", "file", []byte("123456"), 93000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := f.robotUpload(t, tt.key, tt.typ, "a.bin", tt.data)
			if errcode(m) != tt.want {
				t.Fatalf("errcode = %d, want %d (%v)", errcode(m), tt.want, m)
			}
			if tt.want == 0 && (m["type"] != tt.typ || m["media_id"] == "" || m["created_at"] != "1740967200") {
				t.Errorf("answer %v", m)
			}
		})
	}
	file := f.robotUpload(t, key, "file", "report.pdf", []byte("%PDF-1.4 report"))["media_id"].(string)
	voice := f.robotUpload(t, key, "voice", "a.amr", amr)["media_id"].(string)
	appImage := f.upload(t, f.token(t, testSecret), "image", "media", "a.png", []byte("\x89PNG....."))["media_id"].(string)
	send := func(key, typ, id string) int {
		return errcode(f.robotPost(t, "webhook/send", key, map[string]any{"msgtype": typ, typ: map[string]any{"media_id": id}}))
	}
	for _, c := range []struct {
		name, key, typ, id string
		want               int
	}{
		{"file", key, "file", file, 0},
		{"voice", key, "voice", voice, 0},
		{"a file as voice", key, "voice", file, 40007},
		{"another robot's media", other, "file", file, 40007},
		{"an app's media", key, "file", appImage, 40007},
	} {
		if got := send(c.key, c.typ, c.id); got != c.want {
			t.Errorf("%s: errcode %d, want %d", c.name, got, c.want)
		}
	}
	appSend := f.post(t, "message/send", f.token(t, testSecret), map[string]any{"touser": "alice", "msgtype": "file", "agentid": testAgent, "file": map[string]any{"media_id": file}})
	if errcode(appSend) != 40007 {
		t.Errorf("an app sending a robot's media: %v, want 40007", appSend)
	}
	f.clock.Advance(72 * time.Hour)
	if got := send(key, "file", file); got != 40007 {
		t.Errorf("after 3 days: %d, want 40007", got)
	}
}

func TestRobotFaultsCallsAndReset(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key := f.sim.AddRobot(testCorp, "ops", []string{"alice"})
	f.sim.Script("webhook/send", Fault{ErrCode: -1}, Fault{AfterProcessing: true, HTTPStatus: 502})
	if m := f.robotPost(t, "webhook/send", key, robotText("lost")); errcode(m) != -1 {
		t.Errorf("scripted fault: %v", m)
	}
	resp, err := f.srv.Client().Post(f.srv.URL+"/cgi-bin/webhook/send?key="+key, "application/json", strings.NewReader(`{"msgtype":"text","text":{"content":"shown, answer lost"}}`))
	if err != nil || resp.StatusCode != 502 {
		t.Fatalf("after-processing fault: %v %v", resp, err)
	}
	resp.Body.Close()
	if got := contentsOf(f.sim.RobotMessages(key)); !reflect.DeepEqual(got, []string{"shown, answer lost"}) {
		t.Errorf("shown = %v", got)
	}
	if n := f.sim.Calls("webhook/send"); n != 2 {
		t.Errorf("Calls = %d, want 2", n)
	}
	for range 19 {
		f.robotPost(t, "webhook/send", key, robotText("x"))
	}
	f.sim.Reset()
	if n := len(f.sim.RobotMessages(key)); n != 0 {
		t.Errorf("Reset kept %d messages", n)
	}
	if m := f.robotPost(t, "webhook/send", key, robotText("after reset")); errcode(m) != 0 {
		t.Errorf("after Reset the key works and the minute starts over: %v", m)
	}
}

func contentsOf(ms []ChatMessage) []string {
	ds := make([]Delivery, len(ms))
	for i, m := range ms {
		ds[i] = Delivery{Body: m.Body}
	}
	return contents(ds)
}
