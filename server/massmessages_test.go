package server

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// massEnv is the demo corp (customers 0001 and 0002 of gaofei, 0003 of luoyu) behind a server
// whose acme authenticator has the 客户联系 secret; nothing runs in the background.
type massEnv struct {
	*deliveryEnv
	customers []string
}

func newMassEnv(t testing.TB, o deliveryOptions) *massEnv {
	t.Helper()
	o.noSender = true
	e := &massEnv{deliveryEnv: newDeliveryEnv(t, o)}
	e.customers = e.demo.ExternalUserIDs
	e.must(200, "PATCH", "/api/v1/authenticators/1", map[string]any{"options": map[string]any{
		"externalContact": map[string]any{"secret": e.demo.ExternalContactSecret}}})
	return e
}

// create posts a mass message and returns its id and msgid.
func (e *massEnv) create(body map[string]any) (string, string) {
	e.t.Helper()
	if body["authenticatorId"] == nil {
		body["authenticatorId"] = 1
	}
	d := e.must(201, "POST", "/api/v1/mass-messages", body).Data()
	return fmt.Sprint(d["id"]), d["msgid"].(string)
}

func (e *massEnv) refresh(id string) map[string]any {
	e.t.Helper()
	return e.must(200, "POST", "/api/v1/mass-messages/"+id+"/refresh", nil).Data()
}

func (e *massEnv) confirm(msgid, userid string) {
	e.t.Helper()
	if err := e.sim.ConfirmMassMessage(e.demo.CorpID, msgid, userid); err != nil {
		e.t.Fatal(err)
	}
}

func results(m map[string]any) string {
	r := m["results"].(map[string]any)
	return fmt.Sprintf("sent %v unsent %v notFriend %v alreadyReceived %v", r["sent"], r["unsent"], r["notFriend"], r["alreadyReceived"])
}

func members(m map[string]any) string {
	var out []string
	for _, x := range m["members"].([]any) {
		mm := x.(map[string]any)
		out = append(out, fmt.Sprintf("%v:%v", mm["userid"], mm["status"]))
	}
	return strings.Join(out, " ")
}

// A mass message from one member reaches WeCom as add_msg_template with the member's WeCom
// userid; customers not the sender's come back in failList. The refresh shows the member's task
// and customers unsent until the member confirms in the app, then sent and the message finished.
func TestMassMessageFromOneMemberToFinished(t *testing.T) {
	t.Parallel()
	e := newMassEnv(t, deliveryOptions{})
	created := e.must(201, "POST", "/api/v1/mass-messages", map[string]any{"authenticatorId": 1, "sender": "local-gaofei",
		"externalUserIds": []string{e.customers[0], e.customers[1], e.customers[2], "wmNobody"},
		"text":            map[string]any{"content": "新品上市"},
		"attachments":     []any{map[string]any{"msgtype": "link", "link": map[string]any{"title": "新品", "url": "https://acme.example/new"}}},
	}).Data()
	msgid, _ := created["msgid"].(string)
	if created["status"] != "created" || msgid == "" || fmt.Sprint(created["failList"]) != fmt.Sprintf("[%s wmNobody]", e.customers[2]) {
		t.Fatalf("created: %v", created)
	}
	sim := e.sim.MassMessages(e.demo.CorpID)
	if len(sim) != 1 || sim[0].MsgID != msgid || sim[0].Sender != "gaofei" || sim[0].ChatType != "single" ||
		!bytes.Contains(sim[0].Request, []byte(`"attachments":[{"msgtype":"link"`)) {
		t.Fatalf("WeCom holds %+v", sim)
	}
	id := fmt.Sprint(created["id"])
	m := e.refresh(id)
	if m["status"] != "created" || members(m) != "gaofei:unsent" || results(m) != "sent 0 unsent 2 notFriend 0 alreadyReceived 0" {
		t.Fatalf("before the member confirms: %v %s %s", m["status"], members(m), results(m))
	}
	e.clock.Advance(time.Minute)
	e.confirm(msgid, "gaofei")
	m = e.refresh(id)
	if m["status"] != "finished" || members(m) != "gaofei:sent" || results(m) != "sent 2 unsent 0 notFriend 0 alreadyReceived 0" ||
		m["nextRefreshAt"] != nil || m["refreshError"] != nil {
		t.Fatalf("after: %v %s %s next %v error %v", m["status"], members(m), results(m), m["nextRefreshAt"], m["refreshError"])
	}
	if got := e.must(200, "GET", "/api/v1/mass-messages/"+id, nil).Data(); results(got) != results(m) || members(got) != members(m) {
		t.Fatalf("GET differs from the refresh: %v", got)
	}
	list := e.must(200, "GET", "/api/v1/mass-messages?status=finished&authenticatorId=1", nil).JSON()
	if list["total"] != 1.0 {
		t.Fatalf("list: %v", list)
	}
	if res := e.do("POST", "/api/v1/mass-messages/"+id+"/remind", nil); res.Status != 409 {
		t.Fatalf("remind of a finished message: %d %s", res.Status, res.Body)
	}
}

// Without a sender every member who added a listed customer gets a task: one confirming makes
// the message sending; a reminder and a cancel reach WeCom and are audited, and a canceled
// message is refreshed no more.
func TestMassMessageRemindAndCancel(t *testing.T) {
	t.Parallel()
	e := newMassEnv(t, deliveryOptions{})
	id, msgid := e.create(map[string]any{"externalUserIds": []string{e.customers[0], e.customers[2]}, "text": map[string]any{"content": "hi"}})
	e.confirm(msgid, "gaofei")
	m := e.refresh(id)
	if m["status"] != "sending" || members(m) != "gaofei:sent luoyu:unsent" || results(m) != "sent 1 unsent 1 notFriend 0 alreadyReceived 0" {
		t.Fatalf("one of two sent: %v %s %s", m["status"], members(m), results(m))
	}
	if m = e.must(200, "POST", "/api/v1/mass-messages/"+id+"/remind", nil).Data(); m["reminders"] != 1.0 {
		t.Fatalf("remind: %v", m)
	}
	e.sim.Script("externalcontact/remind_groupmsg_send", wecomtest.Fault{ErrCode: 45009})
	if res := e.do("POST", "/api/v1/mass-messages/"+id+"/remind", nil); res.Status != 409 || !strings.Contains(res.Code(), "conflict") {
		t.Fatalf("a reminder WeCom refused: %d %s", res.Status, res.Body)
	}
	m = e.must(200, "POST", "/api/v1/mass-messages/"+id+"/cancel", nil).Data()
	if m["status"] != "canceled" || m["nextRefreshAt"] != nil {
		t.Fatalf("cancel: %v", m)
	}
	sim := e.sim.MassMessages(e.demo.CorpID)[0]
	if sim.Reminders != 1 || !sim.Canceled {
		t.Fatalf("WeCom: reminders %d canceled %v", sim.Reminders, sim.Canceled)
	}
	if m = e.refresh(id); m["status"] != "canceled" || results(m) != "sent 1 unsent 1 notFriend 0 alreadyReceived 0" {
		t.Fatalf("refresh of a canceled message: %v", m)
	}
	for _, action := range []string{"mass_message.create", "mass_message.remind", "mass_message.cancel"} {
		entries := e.auditEntries("action=" + action)
		if len(entries) != 1 || entries[0]["target"].(map[string]any)["name"] != msgid {
			t.Errorf("audit %s: %v", action, entries)
		}
	}
}

// The leader's refresh takes what is due every 5 minutes, and stops 3 days after the creation.
// A message canceled in WeCom's admin console (41093) is canceled here too.
func TestMassMessageRefreshSchedule(t *testing.T) {
	t.Parallel()
	e := newMassEnv(t, deliveryOptions{})
	id, msgid := e.create(map[string]any{"wecomSender": "gaofei", "text": map[string]any{"content": "hi"}})
	refreshDue := func() map[string]any {
		e.srv.Service().RefreshDueMassMessages(t.Context())
		return e.must(200, "GET", "/api/v1/mass-messages/"+id, nil).Data()
	}
	if m := refreshDue(); members(m) != "gaofei:unsent" || results(m) != "sent 0 unsent 2 notFriend 0 alreadyReceived 0" {
		t.Fatalf("the first refresh, due at once: %v", m)
	}
	e.confirm(msgid, "gaofei")
	if m := refreshDue(); results(m) != "sent 0 unsent 2 notFriend 0 alreadyReceived 0" {
		t.Fatalf("refreshed before it was due: %v", m)
	}
	e.clock.Advance(5 * time.Minute)
	if m := refreshDue(); m["status"] != "finished" || results(m) != "sent 2 unsent 0 notFriend 0 alreadyReceived 0" {
		t.Fatalf("5 minutes on: %v", m)
	}

	id2, _ := e.create(map[string]any{"wecomSender": "luoyu", "text": map[string]any{"content": "hi"}})
	e.clock.Advance(3 * 24 * time.Hour)
	e.srv.Service().RefreshDueMassMessages(t.Context())
	if m := e.must(200, "GET", "/api/v1/mass-messages/"+id2, nil).Data(); m["status"] != "created" || m["nextRefreshAt"] != nil {
		t.Fatalf("3 days on: %v", m)
	}

	id3, _ := e.create(map[string]any{"wecomSender": "luoyu", "text": map[string]any{"content": "hi"}})
	e.sim.Script("externalcontact/get_groupmsg_task", wecomtest.Fault{ErrCode: 41093, ErrMsg: "group message canceled"})
	if m := e.refresh(id3); m["status"] != "canceled" || m["nextRefreshAt"] != nil {
		t.Fatalf("canceled in WeCom: %v", m)
	}
}

// A refresh WeCom fails keeps the results of the last complete one and says why; the next one
// completes it.
func TestMassMessageRefreshFailureIsRecorded(t *testing.T) {
	t.Parallel()
	e := newMassEnv(t, deliveryOptions{})
	id, msgid := e.create(map[string]any{"externalUserIds": []string{e.customers[0], e.customers[2]}, "text": map[string]any{"content": "hi"}})
	e.confirm(msgid, "luoyu")
	e.sim.Script("externalcontact/get_groupmsg_send_result", wecomtest.Fault{ErrCode: -1})
	if res := e.do("POST", "/api/v1/mass-messages/"+id+"/refresh", nil); res.Status != 409 || !strings.Contains(string(res.Body), "errcode -1") {
		t.Fatalf("a refresh WeCom failed: %d %s", res.Status, res.Body)
	}
	m := e.must(200, "GET", "/api/v1/mass-messages/"+id, nil).Data()
	if m["status"] != "created" || m["refreshError"] == nil || m["refreshedAt"] != nil || m["nextRefreshAt"] == nil ||
		results(m) != "sent 0 unsent 0 notFriend 0 alreadyReceived 0" {
		t.Fatalf("after the failure: %v", m)
	}
	if m = e.refresh(id); m["status"] != "sending" || m["refreshError"] != nil || members(m) != "gaofei:unsent luoyu:sent" ||
		results(m) != "sent 1 unsent 1 notFriend 0 alreadyReceived 0" {
		t.Fatalf("the next refresh: %v", m)
	}
}

// Bad input is a 422 naming the field, and neither WeCom nor the database sees anything.
func TestMassMessageBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	e := newMassEnv(t, deliveryOptions{})
	e.must(201, "POST", "/api/v1/authenticators", map[string]any{"name": "plain", "options": map[string]any{
		"corpId": e.demo.CorpID, "agentId": e.demo.AgentID, "secret": e.demo.Secret}})
	text := map[string]any{"content": "hi"}
	att := func(a map[string]any) []any { return []any{a} }
	tenImages := make([]any, 10)
	for i := range tenImages {
		tenImages[i] = map[string]any{"msgtype": "image", "image": map[string]any{"pic_url": "https://acme.example/p.png"}}
	}
	tests := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"no authenticator", map[string]any{"authenticatorId": 0, "wecomSender": "gaofei", "text": text}, "authenticatorId"},
		{"unknown authenticator", map[string]any{"authenticatorId": 99, "wecomSender": "gaofei", "text": text}, "authenticatorId"},
		{"authenticator without the 客户联系 secret", map[string]any{"authenticatorId": 2, "wecomSender": "gaofei", "text": text}, "authenticatorId"},
		{"chatType", map[string]any{"chatType": "all", "wecomSender": "gaofei", "text": text}, "chatType"},
		{"group without sender", map[string]any{"chatType": "group", "text": text}, "sender"},
		{"neither customers nor sender", map[string]any{"text": text}, "externalUserIds"},
		{"unbound local sender", map[string]any{"sender": "nobody", "text": text}, "sender"},
		{"both senders", map[string]any{"sender": "local-gaofei", "wecomSender": "gaofei", "text": text}, "wecomSender"},
		{"no content", map[string]any{"wecomSender": "gaofei"}, "text.content"},
		{"text over 4000 bytes", map[string]any{"wecomSender": "gaofei", "text": map[string]any{"content": strings.Repeat("字", 1334)}}, "text.content"},
		{"ten attachments", map[string]any{"wecomSender": "gaofei", "attachments": tenImages}, "attachments"},
		{"voice attachment", map[string]any{"wecomSender": "gaofei", "attachments": att(map[string]any{"msgtype": "voice"})}, "attachments[0].msgtype"},
		{"link without url", map[string]any{"wecomSender": "gaofei", "attachments": att(map[string]any{"msgtype": "link", "link": map[string]any{"title": "t"}})}, "attachments[0].link.url"},
		{"misspelt key", map[string]any{"wecomSender": "gaofei", "attachments": att(map[string]any{"msgtype": "link", "link": map[string]any{"titel": "t", "url": "https://a.example"}})}, "attachments[0].link.titel"},
		{"too many customers", map[string]any{"externalUserIds": make([]string, 10001), "text": text}, "externalUserIds"},
		{"sender WeCom does not know", map[string]any{"wecomSender": "ghost", "text": text}, "sender"},
		{"no customer WeCom can send to", map[string]any{"externalUserIds": []string{"wmNobody"}, "text": text}, "externalUserIds"},
	}
	before := e.snapshot()
	for _, tt := range tests {
		if _, set := tt.body["authenticatorId"]; !set {
			tt.body["authenticatorId"] = 1
		}
		res := e.do("POST", "/api/v1/mass-messages", tt.body)
		if res.Status != 422 || res.Fields()[tt.field] == nil {
			t.Errorf("%s: %d %s, want 422 on %s", tt.name, res.Status, res.Body, tt.field)
		}
	}
	if n := len(e.sim.MassMessages(e.demo.CorpID)); n != 0 {
		t.Errorf("WeCom holds %d mass messages", n)
	}
	if _, rows := e.rows("SELECT id FROM mass_messages"); len(rows) != 0 || e.snapshot() != before {
		t.Error("a refused mass message changed the database")
	}
	if got := e.auditEntries("action=mass_message.create"); len(got) != 0 {
		t.Errorf("audit: %v", got)
	}
}

// The 客户联系 secret is write-only: set shows as secretSet, and it appears in no answer, stored
// WeCom answer, log line or database byte; WeCom's answers are stored masked; repointing the API
// base needs it entered again.
func TestMassMessageSecretNeverLeaks(t *testing.T) {
	t.Parallel()
	e := newMassEnv(t, deliveryOptions{})
	secret := e.demo.ExternalContactSecret
	var answers bytes.Buffer
	keep := func(r response) response { answers.Write(r.Body); return r }
	opts := keep(e.must(200, "GET", "/api/v1/authenticators/1", nil)).Data()["options"].(map[string]any)
	if ec := opts["externalContact"].(map[string]any); ec["secretSet"] != true || ec["secret"] != nil {
		t.Fatalf("externalContact reads %v", ec)
	}
	keep(e.must(200, "GET", "/api/v1/authenticators", nil))
	id, _ := e.create(map[string]any{"wecomSender": "gaofei", "text": map[string]any{"content": "hi"}})
	e.sim.Script("externalcontact/get_groupmsg_task", wecomtest.Fault{ErrCode: -1, ErrMsg: "system busy, hint: [access_token=LEAKED-token-value]"})
	res := keep(e.do("POST", "/api/v1/mass-messages/"+id+"/refresh", nil))
	if res.Status != 409 {
		t.Fatalf("a refresh WeCom failed: %d %s", res.Status, res.Body)
	}
	m := keep(e.must(200, "GET", "/api/v1/mass-messages/"+id, nil)).Data()
	if msg, _ := m["refreshError"].(string); !strings.Contains(msg, "access_token=***") {
		t.Fatalf("refreshError %q", msg)
	}
	keep(e.must(200, "GET", "/api/v1/mass-messages", nil))
	if strings.Contains(answers.String(), secret) || strings.Contains(answers.String(), "LEAKED-token-value") {
		t.Fatal("an answer holds the secret or the token")
	}
	if strings.Contains(e.logs.String(), secret) || strings.Contains(e.logs.String(), "LEAKED-token-value") {
		t.Fatal("the log holds the secret or the token")
	}
	if db := e.databaseText(t); strings.Contains(db, secret) || strings.Contains(db, "LEAKED-token-value") {
		t.Fatal("the database holds the secret or the token in plain bytes")
	}
	res = e.do("PATCH", "/api/v1/authenticators/1", map[string]any{"options": map[string]any{"apiBaseUrl": "https://proxy.example", "secret": "x"}})
	if res.Status != 422 || res.Fields()["options.externalContact.secret"] == nil {
		t.Fatalf("repointed without the 客户联系 secret: %d %s", res.Status, res.Body)
	}
}

// A viewer reads mass messages but may not create, refresh, remind or cancel them; an operator may.
func TestMassMessageRoles(t *testing.T) {
	t.Parallel()
	e := newMassEnv(t, deliveryOptions{})
	id, _ := e.create(map[string]any{"wecomSender": "gaofei", "text": map[string]any{"content": "hi"}})
	viewer, operator := e.roleToken("viewer"), e.roleToken("operator")
	body := `{"authenticatorId": 1, "wecomSender": "gaofei", "text": {"content": "hi"}}`
	for _, path := range []string{"/api/v1/mass-messages", "/api/v1/mass-messages/" + id + "/refresh",
		"/api/v1/mass-messages/" + id + "/remind", "/api/v1/mass-messages/" + id + "/cancel"} {
		if res := e.raw("POST", path, "application/json", strings.NewReader(body), viewer); res.Status != http.StatusForbidden {
			t.Errorf("viewer POST %s: %d", path, res.Status)
		}
	}
	if n := len(e.sim.MassMessages(e.demo.CorpID)); n != 1 || e.sim.MassMessages(e.demo.CorpID)[0].Canceled {
		t.Fatalf("a refused request reached WeCom: %d", n)
	}
	for _, path := range []string{"/api/v1/mass-messages", "/api/v1/mass-messages/" + id} {
		if res := e.raw("GET", path, "", nil, viewer); res.Status != 200 {
			t.Errorf("viewer GET %s: %d", path, res.Status)
		}
	}
	if res := e.raw("POST", "/api/v1/mass-messages", "application/json", strings.NewReader(body), operator); res.Status != 201 {
		t.Errorf("operator create: %d %s", res.Status, res.Body)
	}
}
