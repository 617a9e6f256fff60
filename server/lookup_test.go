package server

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// newLookupEnv is a delivery env whose authenticator knows the corp's seats (the lookups' failure
// budget is 20% of them), with "gina", a member known by her personal email only.
func newLookupEnv(t *testing.T, seats int) *deliveryEnv {
	t.Helper()
	e := newDeliveryEnv(t, deliveryOptions{})
	e.sim.AddCorp(wecomtest.Corp{ID: e.demo.CorpID, Name: e.demo.CorpName, Seats: seats})
	e.sim.AddUser(e.demo.CorpID, wecomtest.User{UserID: "gina", Name: "Gina", Mobile: "13900000007", Email: "gina@home.example", Departments: []int{1}, Status: 1})
	e.must(200, "PATCH", "/api/v1/authenticators/1", map[string]any{"options": map[string]any{"seats": seats}})
	return e
}

// lookups counts the simulator's lookup calls.
func (e *deliveryEnv) lookups() int {
	return e.sim.Calls("user/getuserid") + e.sim.Calls("user/get_userid_by_email")
}

func textToContacts(mobiles, emails []any, content string) map[string]any {
	return map[string]any{"to": map[string]any{"mobiles": mobiles, "emails": emails}, "msgtype": "text", "text": map[string]any{"content": content}}
}

// A mobile and an email reach their members; the userids found are remembered — as the binding
// of the local user with that mobile, else in the cache — so the next send asks WeCom nothing.
func TestMobileAndEmailResolveAndAreRemembered(t *testing.T) {
	t.Parallel()
	e := newLookupEnv(t, 500)
	// lisi's mobile belongs to a local user without a binding.
	e.must(201, "POST", "/api/v1/users", map[string]any{"userid": "li.si", "name": "李四", "mobile": "13800000002"})
	mobiles := []any{"13800000001", "13800000002"} // zhangsan, lisi
	emails := []any{"WangWu@ACME.example", "gina@home.example"}
	m := e.waitFinal(e.send(textToContacts(mobiles, emails, "first")))
	r := m["recipients"].(map[string]any)
	if m["status"] != "sent" || r["requested"] != 4.0 || r["resolved"] != 4.0 {
		t.Fatalf("message %v", m)
	}
	for _, u := range []string{"zhangsan", "lisi", "wangwu", "gina"} {
		if got := len(e.inbox(u)); got != 1 {
			t.Errorf("%s received %d messages, want 1", u, got)
		}
	}
	// Two mobiles, wangwu's enterprise email, gina's email as enterprise (not found) then personal.
	if n := e.lookups(); n != 5 {
		t.Errorf("%d lookups, want 5", n)
	}
	users := e.must(200, "GET", "/api/v1/users?q=li.si", nil).JSON()["data"].([]any)
	if b := users[0].(map[string]any)["bindings"].(map[string]any); b["wechatwk"] != "lisi" {
		t.Errorf("the local user with lisi's mobile is bound to %v", b)
	}

	m = e.waitFinal(e.send(textToContacts(mobiles, emails, "second")))
	if m["status"] != "sent" || e.lookups() != 5 {
		t.Fatalf("second send: status %v after %d lookups (want no new one)", m["status"], e.lookups())
	}
	if got := len(e.inbox("gina")); got != 2 {
		t.Errorf("gina received %d messages, want 2", got)
	}
}

// A mobile or email WeCom knows nobody by is listed as given in recipients.unbound; the others
// still receive the message. "Nobody" is remembered too: asking again would count towards
// WeCom's block.
func TestUnknownMobileOrEmailIsUnboundAndTheRestDelivered(t *testing.T) {
	t.Parallel()
	e := newLookupEnv(t, 500)
	body := func() map[string]any {
		return textToContacts([]any{"13800000001", "+86 13999999999"}, []any{"nobody@acme.example"}, "hi")
	}
	m := e.waitFinal(e.send(body()))
	r := m["recipients"].(map[string]any)
	if m["status"] != "partial" || r["requested"] != 3.0 || r["resolved"] != 1.0 {
		t.Fatalf("message %v", m)
	}
	if fmt.Sprint(r["unbound"]) != "[+86 13999999999 nobody@acme.example]" {
		t.Errorf("unbound %v", r["unbound"])
	}
	if len(e.inbox("zhangsan")) != 1 {
		t.Error("zhangsan did not receive it")
	}
	asked := e.lookups()
	if m := e.waitFinal(e.send(body())); m["status"] != "partial" || e.lookups() != asked {
		t.Errorf("second send: status %v, %d lookups after %d", m["status"], e.lookups(), asked)
	}
	// Nobody at all: failed at once, saying why.
	m = e.message(e.send(textToContacts([]any{"+86 13999999999"}, nil, "nobody")))
	if m["status"] != "failed" || !strings.Contains(m["reason"].(string), "13999999999") {
		t.Errorf("all unknown: %v", m)
	}
}

// WeCom blocks a corp's lookups for the day once failures pass 20% of its seats. The server
// counts failures per corp and day in the database and stops asking at that line, saying why;
// the next China day it asks again.
func TestLookupBudgetStopsBeforeWeComBlocks(t *testing.T) {
	t.Parallel()
	e := newLookupEnv(t, 10) // 20% of 10 seats: 2 failures are tolerated
	unknown := []any{"13999999991", "13999999992", "13999999993", "13999999994"}
	m := e.waitFinal(e.send(textToContacts(append([]any{"13800000001"}, unknown...), nil, "budget")))
	r := m["recipients"].(map[string]any)
	if m["status"] != "partial" || fmt.Sprint(r["unbound"]) != fmt.Sprint(unknown) || len(e.inbox("zhangsan")) != 1 {
		t.Fatalf("message %v", m)
	}
	if got := e.sim.LookupFailures(e.demo.CorpID); got != 2 {
		t.Errorf("WeCom counted %d failed lookups, want exactly the 2 it tolerates", got)
	}
	if n := e.lookups(); n != 3 {
		t.Errorf("%d lookups, want 3 (one found, two not)", n)
	}
	warnings := fmt.Sprint(m["warnings"])
	if !strings.Contains(warnings, "2 of to.mobiles and to.emails could not be looked up") || !strings.Contains(warnings, "20% of 10 seats") {
		t.Errorf("warnings %v", warnings)
	}
	// The budget is spent for today: even a known mobile is not asked, and the reason says so.
	m = e.message(e.send(textToContacts([]any{"13800000002"}, nil, "spent")))
	if m["status"] != "failed" || !strings.Contains(m["reason"].(string), "failed lookups today") || e.lookups() != 3 {
		t.Fatalf("after the budget: %v (%d lookups)", m, e.lookups())
	}
	// 09:00 UTC is 17:00 in China; at China's midnight the count starts again.
	e.clock.Advance(7 * time.Hour)
	m = e.waitFinal(e.send(textToContacts([]any{"13800000002"}, nil, "next day")))
	if m["status"] != "sent" || len(e.inbox("lisi")) != 1 {
		t.Errorf("next day: %v", m)
	}
}

// WeCom answering 45009 to a lookup (a block this server did not cause: other software of the
// corp shares WeCom's count) stops lookups for the rest of the day, not only for that message.
func TestLookupBlockedByWeComStopsForTheDay(t *testing.T) {
	t.Parallel()
	e := newLookupEnv(t, 500)
	e.sim.Script("user/getuserid", wecomtest.Fault{ErrCode: 45009, ErrMsg: "api freq out of limit"})
	m := e.message(e.send(textToContacts([]any{"13800000001", "13800000002"}, nil, "blocked")))
	if m["status"] != "failed" || !strings.Contains(m["reason"].(string), "45009") || e.lookups() != 1 {
		t.Fatalf("message %v after %d lookups", m, e.lookups())
	}
	m = e.message(e.send(textToContacts(nil, []any{"wangwu@acme.example"}, "still blocked")))
	if m["status"] != "failed" || !strings.Contains(m["reason"].(string), "failed lookups today") || e.lookups() != 1 {
		t.Errorf("later the same day: %v after %d lookups", m, e.lookups())
	}
}

// Without options.seats and without a synced directory the budget is unknown: nothing is looked
// up, and the warning says what to set.
func TestLookupWithoutSeatsAsksNothing(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{})
	id := e.send(map[string]any{"to": map[string]any{"users": []any{"local-zhangsan"}, "mobiles": []any{"13800000002"}},
		"msgtype": "text", "text": map[string]any{"content": "x"}})
	m := e.waitFinal(id)
	if m["status"] != "partial" || e.lookups() != 0 || !strings.Contains(fmt.Sprint(m["warnings"]), "options.seats") {
		t.Errorf("message %v after %d lookups", m, e.lookups())
	}
}

// A malformed mobile or email is a 422 naming it, before anything is stored or looked up.
func TestBadMobileOrEmailIsRejected(t *testing.T) {
	t.Parallel()
	e := newLookupEnv(t, 500)
	before := e.snapshot()
	cases := []struct {
		name  string
		to    map[string]any
		field string
	}{
		{"letters in a mobile", map[string]any{"mobiles": []any{"13800000001", "1380000abcd"}}, "to.mobiles[1]"},
		{"too short a mobile", map[string]any{"mobiles": []any{"1380"}}, "to.mobiles[0]"},
		{"plus in the middle", map[string]any{"mobiles": []any{"138+00000001"}}, "to.mobiles[0]"},
		{"email without @", map[string]any{"emails": []any{"zhangsan.acme.example"}}, "to.emails[0]"},
		{"email with two @", map[string]any{"emails": []any{"a@b@acme.example"}}, "to.emails[0]"},
		{"email without a name", map[string]any{"emails": []any{"@acme.example"}}, "to.emails[0]"},
		{"a mobile not a string", map[string]any{"mobiles": []any{true}}, "to"},
		{"empty lists name nobody", map[string]any{"mobiles": []any{}, "emails": []any{}}, "to"},
		{"all with mobiles", map[string]any{"all": true, "mobiles": []any{"13800000001"}}, "to.all"},
	}
	for _, c := range cases {
		res := e.do("POST", "/api/v1/messages", map[string]any{"channel": "ops", "to": c.to, "msgtype": "text", "text": map[string]any{"content": "x"}})
		if res.Status != 422 || !namesField(res.Fields(), c.field) {
			t.Errorf("%s: %d, fields %v, want 422 naming %s", c.name, res.Status, res.Fields(), c.field)
		}
	}
	if e.snapshot() != before || e.lookups() != 0 {
		t.Error("a rejected send changed the users or looked someone up")
	}
	if total := e.must(200, "GET", "/api/v1/messages", nil).JSON()["total"]; total != 0.0 {
		t.Errorf("rejected sends stored %v messages", total)
	}
}

// A workflow's notification node takes mobiles and emails, variables included: checked when the
// workflow is saved, resolved when the node runs.
func TestWorkflowNotifiesByMobileAndEmail(t *testing.T) {
	t.Parallel()
	e := newLookupEnv(t, 500)
	bad := wf("bad", notify("n", map[string]any{"to": map[string]any{"mobiles": []any{"{{$context.data.mobile}}", "12ab"}}}))
	if res := e.do("POST", "/api/v1/workflows", bad); res.Status != 422 || !namesField(res.Fields(), "nodes.n.config.to.mobiles[1]") || len(res.Fields()) != 1 {
		t.Fatalf("a literal bad mobile: %d %v", res.Status, res.Fields())
	}
	good := wf("contacts", notify("n", map[string]any{"to": map[string]any{"mobiles": "{{$context.data.mobiles}}", "emails": []any{"{{$context.data.email}}"}}}))
	res := e.must(201, "POST", "/api/v1/workflows", good)
	id := res.Data()["id"]
	x := e.must(202, "POST", fmt.Sprintf("/api/v1/workflows/%v/trigger", id), map[string]any{"data": map[string]any{
		"name": "team", "mobiles": []any{"13800000001"}, "email": "wangwu@acme.example"}}).Data()
	deadline := time.Now().Add(15 * time.Second)
	for len(e.inbox("zhangsan")) == 0 || len(e.inbox("wangwu")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not delivered: execution %v", e.must(200, "GET", fmt.Sprintf("/api/v1/executions/%v", x["id"]), nil).Data())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// namesField reports whether fields has field or a path inside it.
func namesField(fields map[string]any, field string) bool {
	for f := range fields {
		if f == field || strings.HasPrefix(f, field+".") || strings.HasPrefix(f, field+"[") {
			return true
		}
	}
	return false
}
