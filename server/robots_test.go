package server

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models/storetest"
)

// robotEnv is a delivery env with the demo corp's robot as the channel "ops_group", its key
// given as the whole webhook URL WeCom shows.
func robotEnv(t *testing.T) *deliveryEnv {
	t.Helper()
	e := newDeliveryEnv(t, deliveryOptions{})
	res := e.must(201, "POST", "/api/v1/channels", map[string]any{"name": "ops_group", "type": "wecom_robot", "authenticatorId": 1,
		"options": map[string]any{"webhookKey": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + e.demo.RobotKey}})
	if set, _ := res.Data()["options"].(map[string]any)["webhookKeySet"].(bool); !set {
		t.Fatalf("the channel does not say its key is set: %v", res.Data())
	}
	return e
}

// robotSend sends to a robot channel and waits for the final status.
func (e *deliveryEnv) robotSend(channel string, body map[string]any) map[string]any {
	e.t.Helper()
	body["channel"] = channel
	return e.waitFinal(e.send(body))
}

// lastRobotMessage is what the robot last posted in its group.
func (e *deliveryEnv) lastRobotMessage(key string) (msgtype string, body map[string]any) {
	e.t.Helper()
	ms := e.sim.RobotMessages(key)
	if len(ms) == 0 {
		e.t.Fatal("the robot posted nothing")
	}
	last := ms[len(ms)-1]
	if err := json.Unmarshal(last.Body, &body); err != nil {
		e.t.Fatal(err)
	}
	return last.MsgType, body
}

// Each robot msgtype reaches webhook/send with the body WeCom documents: mentions as lists or
// <@userid>, an image as base64 + md5 of its bytes, a file and a voice uploaded to the robot.
func TestRobotDeliversEveryMsgType(t *testing.T) {
	e := robotEnv(t)
	key, ops := e.demo.RobotKey, e.demo.UserIDs[0]
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 64)...)
	img := e.uploadFile("/api/v1/media", map[string]string{"channel": "ops_group", "type": "image"}, "chart.png", png).Data()["id"]
	file := e.uploadFile("/api/v1/media", map[string]string{"channel": "ops_group", "type": "file"}, "report.txt", []byte("disk 93% on db-1")).Data()["id"]
	voice := e.uploadFile("/api/v1/media", map[string]string{"channel": "ops_group", "type": "voice"}, "page.amr",
		append([]byte("#!AMR\n"), make([]byte, 32)...)).Data()["id"]
	sum := md5.Sum(png)
	cases := []struct {
		name string
		body map[string]any
		want func(b map[string]any) bool
	}{
		{"text mentions", map[string]any{"msgtype": "text", "text": map[string]any{"content": "db-1 is down"},
			"to": map[string]any{"users": []any{"local-" + ops}, "mobiles": []any{"13800000000"}, "all": true}},
			func(b map[string]any) bool {
				return fmt.Sprint(b["mentioned_list"]) == fmt.Sprintf("[%s @all]", ops) && fmt.Sprint(b["mentioned_mobile_list"]) == "[13800000000]"
			}},
		{"markdown mention", map[string]any{"msgtype": "markdown", "markdown": map[string]any{"content": "**db-1** down"},
			"to": map[string]any{"wecomUsers": []any{ops}}},
			func(b map[string]any) bool { return b["content"] == "**db-1** down\n<@"+ops+">" }},
		{"markdown_v2", map[string]any{"msgtype": "markdown_v2", "markdown_v2": map[string]any{"content": "| a | b |\n|---|---|\n| 1 | 2 |"}},
			func(b map[string]any) bool { return strings.HasPrefix(b["content"].(string), "| a |") }},
		{"image", map[string]any{"msgtype": "image", "image": map[string]any{"media": map[string]any{"id": img}}},
			func(b map[string]any) bool {
				return b["base64"] == base64.StdEncoding.EncodeToString(png) && b["md5"] == hex.EncodeToString(sum[:])
			}},
		{"news", map[string]any{"msgtype": "news", "news": map[string]any{"articles": []any{map[string]any{"title": "Incident 42",
			"url": "https://status.example.com/42"}}}},
			func(b map[string]any) bool { return strings.Contains(fmt.Sprint(b["articles"]), "Incident 42") }},
		{"file", map[string]any{"msgtype": "file", "file": map[string]any{"media": map[string]any{"id": file}}},
			func(b map[string]any) bool { return b["media_id"] != "" }},
		{"voice", map[string]any{"msgtype": "voice", "voice": map[string]any{"media": map[string]any{"id": voice}}},
			func(b map[string]any) bool { return b["media_id"] != "" }},
		{"template_card", map[string]any{"msgtype": "template_card", "template_card": map[string]any{"card_type": "text_notice",
			"main_title": map[string]any{"title": "db-1 down"}, "card_action": map[string]any{"type": 1, "url": "https://status.example.com"}}},
			func(b map[string]any) bool { return b["card_type"] == "text_notice" }},
	}
	for _, c := range cases {
		m := e.robotSend("ops_group", c.body)
		if m["status"] != "sent" {
			t.Fatalf("%s: %v (%v)", c.name, m["status"], m["reason"])
		}
		msgtype, body := e.lastRobotMessage(key)
		if msgtype != c.body["msgtype"] || !c.want(body) {
			t.Errorf("%s: the robot posted %s %v", c.name, msgtype, body)
		}
	}
	if got := len(e.sim.RobotMessages(key)); got != len(cases) {
		t.Errorf("the robot posted %d messages, want %d", got, len(cases))
	}
	if strings.Contains(e.logs.String(), key) {
		t.Error("the webhook key appears in the logs")
	}
	for _, path := range []string{"/api/v1/channels/2", "/api/v1/channels", "/api/v1/audit"} {
		if body := e.must(200, "GET", path, nil).Body; strings.Contains(string(body), key) {
			t.Errorf("GET %s shows the webhook key", path)
		}
	}
}

// 22 messages to one robot: 20 are delivered in the first minute, 2 wait (queued, their next
// attempt a minute on) and none is lost or failed; another robot is not held back.
func TestRobotIsPacedToTwentyAMinuteAndNothingIsDropped(t *testing.T) {
	e := robotEnv(t)
	other := e.sim.AddRobot(e.demo.CorpID, "值班群二", e.demo.UserIDs[:2])
	e.must(201, "POST", "/api/v1/channels", map[string]any{"name": "second_group", "type": "wecom_robot", "options": map[string]any{"webhookKey": other}})
	start := e.clock.Now()
	var ids []string
	for i := 0; i < 22; i++ {
		ids = append(ids, e.send(map[string]any{"channel": "ops_group", "msgtype": "text", "text": map[string]any{"content": fmt.Sprintf("burst %d", i)}}))
	}
	if m := e.robotSend("second_group", map[string]any{"msgtype": "text", "text": map[string]any{"content": "other group"}}); m["status"] != "sent" {
		t.Fatalf("the other robot's message: %v", m)
	}
	var queued []map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for len(e.sim.RobotMessages(e.demo.RobotKey)) < 20 || len(queued) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("after the first minute: %d posted, %d queued", len(e.sim.RobotMessages(e.demo.RobotKey)), len(queued))
		}
		time.Sleep(10 * time.Millisecond)
		queued = queued[:0]
		for _, id := range ids {
			if m := e.message(id); m["status"] == "queued" && m["nextAttemptAt"] != nil {
				queued = append(queued, m)
			}
		}
	}
	if n := len(e.sim.RobotMessages(e.demo.RobotKey)); n != 20 {
		t.Fatalf("%d messages posted in the first minute, want 20", n)
	}
	for _, m := range queued {
		next, _ := time.Parse(time.RFC3339Nano, m["nextAttemptAt"].(string))
		if next.Sub(start) < time.Minute {
			t.Errorf("a paced message's next attempt is %v after the burst, want at least a minute", next.Sub(start))
		}
	}
	e.clock.Advance(63 * time.Second)
	for _, id := range ids {
		if m := e.waitFinal(id); m["status"] != "sent" {
			t.Errorf("message %s: %v %v", id, m["status"], m["reason"])
		}
	}
	if n := len(e.sim.RobotMessages(e.demo.RobotKey)); n != 22 {
		t.Errorf("the robot posted %d messages, want 22", n)
	}
	if n := e.sim.Calls("webhook/send"); n != 23 {
		t.Errorf("%d webhook/send calls, want 23: pacing must keep every send under WeCom's limit", n)
	}
}

// A robot removed from its group (93000) fails the message for good with a readable reason.
func TestRobotRemovedFailsForGood(t *testing.T) {
	e := robotEnv(t)
	e.sim.RemoveRobot(e.demo.RobotKey)
	m := e.robotSend("ops_group", map[string]any{"msgtype": "text", "text": map[string]any{"content": "anyone?"}})
	if m["status"] != "failed" || !strings.Contains(m["reason"].(string), "93000") || m["attempts"].(float64) != 1 {
		t.Fatalf("%v", m)
	}
}

// What a robot cannot send is refused before anything is stored, naming the field.
func TestRobotRefusesWhatItCannotSend(t *testing.T) {
	e := robotEnv(t)
	before := e.snapshot()
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"msgtype": "textcard", "textcard": map[string]any{"title": "x"}}, "msgtype"},
		{map[string]any{"msgtype": "markdown", "markdown": map[string]any{"content": "x"}, "to": map[string]any{"mobiles": []any{"13800000000"}}}, "to.mobiles"},
		{map[string]any{"msgtype": "news", "news": map[string]any{"articles": []any{map[string]any{"title": "x", "url": "https://e.com"}}},
			"to": map[string]any{"all": true}}, "to"},
		{map[string]any{"msgtype": "text", "text": map[string]any{"content": "x"}, "to": map[string]any{"departments": []any{1}}}, "to.departments"},
		{map[string]any{"msgtype": "text", "text": map[string]any{"content": ""}}, "text.content"},
		{map[string]any{"msgtype": "template_card", "template_card": map[string]any{"card_type": "button_interaction"}}, "template_card.card_type"},
	} {
		c.body["channel"] = "ops_group"
		res := e.do("POST", "/api/v1/messages", c.body)
		if res.Status != 422 || res.Fields()[c.field] == nil {
			t.Errorf("%v: %d %s, want 422 naming %s", c.body, res.Status, res.Body, c.field)
		}
	}
	if e.snapshot() != before {
		t.Error("a refused send changed the database")
	}
	for _, bad := range []string{"", "https://example.com/hook?key=abc", "not a key!"} {
		res := e.do("POST", "/api/v1/channels", map[string]any{"name": "bad", "type": "wecom_robot", "options": map[string]any{"webhookKey": bad}})
		if res.Status != 422 || res.Fields()["options.webhookKey"] == nil {
			t.Errorf("key %q: %d %s", bad, res.Status, res.Body)
		}
	}
}

// A sender killed mid robot burst — 20 posted, the 21st claimed but not sent, the 22nd paced —
// loses nothing and duplicates nothing: after restart the robot posted each message once.
func TestRobotBurstSurvivesSIGKILLExactlyOnce(t *testing.T) {
	dsn := storetest.DSN(t)
	e := newDeliveryEnv(t, deliveryOptions{dsn: dsn, noSender: true, start: time.Now()})
	e.must(201, "POST", "/api/v1/channels", map[string]any{"name": "ops_group", "type": "wecom_robot", "options": map[string]any{"webhookKey": e.demo.RobotKey}})
	var ids []string
	for i := 0; i < 22; i++ {
		ids = append(ids, e.send(map[string]any{"channel": "ops_group", "msgtype": "text", "text": map[string]any{"content": fmt.Sprintf("burst %d", i)}}))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashAtEnv+"=after_claims", crashClaimsEnv+"=21", crashDSNEnv+"="+dsn, crashSimEnv+"="+e.simURL)
	out, err := cmd.CombinedOutput()
	if !killedBySIGKILL(err) {
		t.Fatalf("the sender was not SIGKILLed on its 21st claim: %v\n%s", err, out)
	}
	if n := len(e.sim.RobotMessages(e.demo.RobotKey)); n != 20 {
		t.Fatalf("the killed sender posted %d messages, want 20", n)
	}
	// The dead sender's lease lapses and the robot's minute passes; a new sender takes over.
	e.clock.Advance(5 * time.Minute)
	e.startSender()
	for _, id := range ids {
		if m := e.waitFinal(id); m["status"] != "sent" {
			t.Fatalf("message %s: %v", id, m)
		}
	}
	seen := map[string]int{}
	for _, m := range e.sim.RobotMessages(e.demo.RobotKey) {
		var body map[string]any
		_ = json.Unmarshal(m.Body, &body)
		seen[body["content"].(string)]++
	}
	for i := 0; i < 22; i++ {
		if n := seen[fmt.Sprintf("burst %d", i)]; n != 1 {
			t.Errorf("burst %d was posted %d times, want exactly once", i, n)
		}
	}
}

// The channel form makes a robot channel from a pasted webhook URL and never shows the key again;
// an edit that leaves the key empty keeps it.
func TestWebRobotChannelForm(t *testing.T) {
	e := newEnv(t)
	w := e.webLogin()
	key := "693a91f6-7b2c-4bc4-97a0-0ec2f1a5aaaa"
	res := w.post("/ui/channels", url.Values{"name": {"ops_group"}, "type": {"wecom_robot"},
		"options.webhookKey": {"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + key}})
	if res.Status != 303 {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	page := w.get("/ui/channels/1")
	if strings.Contains(string(page.Body), key) || !strings.Contains(string(page.Body), "A key is set") || strings.Contains(string(page.Body), `id="app-options"`) {
		t.Fatalf("the robot channel's page: %s", page.Body)
	}
	if res := w.post("/ui/channels/1", url.Values{"title": {"Ops group"}, "options.webhookKey": {""}}); res.Status != 303 {
		t.Fatalf("edit: %d %s", res.Status, res.Body)
	}
	ch := e.must(200, "GET", "/api/v1/channels/1", nil).Data()
	if ch["title"] != "Ops group" || ch["options"].(map[string]any)["webhookKeySet"] != true {
		t.Fatalf("after the edit: %v", ch)
	}
}

// A workflow's notification node posts through a robot channel (its msgtypes checked at save,
// variables rendered when it runs), and a preview of a robot message fetches and uploads nothing.
func TestRobotInWorkflowsAndPreview(t *testing.T) {
	e := newWorkflowEnv(t, deliveryOptions{})
	e.must(201, "POST", "/api/v1/channels", map[string]any{"name": "ops_group", "type": "wecom_robot", "options": map[string]any{"webhookKey": e.demo.RobotKey}})
	node := map[string]any{"channel": "ops_group", "msgtype": "markdown_v2", "markdown_v2": map[string]any{"content": "**{{$context.data.host}}** is down"}}
	wf := map[string]any{"key": "robot-alert", "title": "Robot alert", "trigger": map[string]any{"type": "manual"},
		"nodes": []any{map[string]any{"key": "tell", "type": "notification", "config": node}}}
	bad := map[string]any{"channel": "ops_group", "msgtype": "textcard", "textcard": map[string]any{"title": "x"}}
	res := e.do("POST", "/api/v1/workflows", map[string]any{"key": "bad", "title": "bad", "trigger": map[string]any{"type": "manual"},
		"nodes": []any{map[string]any{"key": "tell", "type": "notification", "config": bad}}})
	if res.Status != 422 || !strings.Contains(string(res.Body), "msgtype") {
		t.Fatalf("a robot node with an app msgtype: %d %s", res.Status, res.Body)
	}
	id := e.must(201, "POST", "/api/v1/workflows", wf).Data()["id"]
	x := e.must(202, "POST", fmt.Sprintf("/api/v1/workflows/%v/trigger", id), map[string]any{"data": map[string]any{"host": "db-1"}}).Data()
	e.waitExecution(x["id"].(string), "resolved")
	if _, body := e.lastRobotMessage(e.demo.RobotKey); body["content"] != "**db-1** is down" {
		t.Fatalf("the robot posted %v", body)
	}
	preview := e.must(200, "POST", "/api/v1/render", map[string]any{"channel": "ops_group", "msgtype": "image",
		"image": map[string]any{"media": map[string]any{"url": "https://203.0.113.7/chart.png"}}}).Data()
	if b := preview["body"].(map[string]any); b["base64"] != "(uploaded when sent)" || b["md5"] != "(uploaded when sent)" {
		t.Fatalf("preview: %v", preview)
	}
	if n := e.sim.Calls("webhook/upload_media") + e.sim.Calls("webhook/send"); n != 1 {
		t.Fatalf("%d robot calls, want the one post of the workflow", n)
	}
}
