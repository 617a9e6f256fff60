package server

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models/storetest"
)

// assertScheduled checks, after giving the sender time to (wrongly) act, that the message still
// waits with nextAttemptAt = at and that nobody received anything.
func (e *deliveryEnv) assertScheduled(id string, at time.Time, inboxOf string) map[string]any {
	e.t.Helper()
	time.Sleep(50 * time.Millisecond) // the sender polls every 5 ms
	m := e.message(id)
	if m["status"] != "scheduled" || m["nextAttemptAt"] != at.UTC().Format(time.RFC3339) {
		e.t.Fatalf("want scheduled until %s: %v %v", at.UTC().Format(time.RFC3339), m["status"], m["nextAttemptAt"])
	}
	if inboxOf != "" && len(e.inbox(inboxOf)) > 0 {
		e.t.Fatalf("%s received a scheduled message early", inboxOf)
	}
	return m
}

// A message with sendAt waits, scheduled and listed as such, until the clock passes it; one that
// is canceled meanwhile is never sent; a past sendAt sends now.
func TestScheduledSendAtWaitsThenSendsOnce(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{})
	ops, dev := e.demo.UserIDs[0], e.demo.UserIDs[1]
	at := e.clock.Now().Add(time.Hour)
	later := textTo([]string{"local-" + ops}, "at ten")
	later["sendAt"] = at.In(time.FixedZone("CST", 8*3600)).Format(time.RFC3339)
	id := e.send(later)
	e.assertScheduled(id, at, ops)
	// A message for later is no backlog: the outbox gauge counts it apart.
	if metrics := string(e.raw("GET", "/metrics", "", nil, "").Body); !strings.Contains(metrics, `wecomflow_outbox_requests{status="waiting"} 1`) ||
		!strings.Contains(metrics, `wecomflow_outbox_requests{status="pending"} 0`) {
		t.Fatalf("the outbox gauge does not count the scheduled message as waiting:\n%s", metrics)
	}

	dropped := textTo([]string{"local-" + dev}, "never")
	dropped["sendAt"] = at.Format(time.RFC3339)
	canceled := e.send(dropped)
	list := e.must(200, "GET", "/api/v1/messages?status=scheduled", nil).JSON()
	if list["total"] != float64(2) {
		t.Fatalf("?status=scheduled lists %v messages, want 2", list["total"])
	}
	page := string(e.webLogin().get("/ui/messages?status=scheduled").Body)
	if !strings.Contains(page, id) || !strings.Contains(page, `<option value="scheduled" selected`) {
		t.Fatalf("the message log page does not list the scheduled messages: %s", page)
	}
	if m := e.must(200, "POST", "/api/v1/messages/"+canceled+"/cancel", nil).Data(); m["status"] != "canceled" {
		t.Fatalf("cancel: %v", m)
	}

	past := textTo([]string{"local-" + dev}, "now")
	past["sendAt"] = e.clock.Now().Add(-time.Hour).Format(time.RFC3339)
	if m := e.waitFinal(e.send(past)); m["status"] != "sent" {
		t.Fatalf("a past sendAt: %v", m)
	}

	e.clock.Advance(time.Hour)
	if m := e.waitFinal(id); m["status"] != "sent" {
		t.Fatalf("after its sendAt: %v", m)
	}
	if n := len(e.inbox(ops)); n != 1 {
		t.Fatalf("%s received %d messages, want 1", ops, n)
	}
	time.Sleep(50 * time.Millisecond)
	if got := e.inbox(dev); len(got) != 1 {
		t.Fatalf("%s received %d messages, want only the past sendAt's", dev, len(got))
	}
	if m := e.message(canceled); m["status"] != "canceled" {
		t.Fatalf("the canceled message: %v", m)
	}
}

// sendAt that is not a time, or is more than 30 days ahead, and an unknown priority are 422s
// naming the field, and nothing is stored.
func TestSendAtAndPriorityRefused(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{noSender: true})
	for _, c := range []struct {
		field string
		value any
	}{
		{"sendAt", e.clock.Now().Add(31 * 24 * time.Hour).Format(time.RFC3339)},
		{"sendAt", "tomorrow at ten"},
		{"sendAt", "2026-11-02 10:00:00"},
		{"sendAt", 1767225600},
		{"priority", "high"},
	} {
		body := textTo([]string{"local-" + e.demo.UserIDs[0]}, "x")
		body["channel"], body[c.field] = "ops", c.value
		res := e.do("POST", "/api/v1/messages", body)
		if res.Status != 422 || res.Fields()[c.field] == nil {
			t.Errorf("%s %v: %d %s", c.field, c.value, res.Status, res.Body)
		}
	}
	if list := e.must(200, "GET", "/api/v1/messages", nil).JSON(); list["total"] != float64(0) {
		t.Fatalf("refused sends stored %v messages", list["total"])
	}
}

// Quiet hours of 22:00–08:00 in Asia/Shanghai, on a host clock in UTC: a message due at 23:00
// there waits until 08:00 the next morning there (00:00 UTC) and says why; an urgent one goes
// through; one whose sendAt falls outside the window keeps its sendAt.
func TestQuietHoursCrossingMidnightInShanghai(t *testing.T) {
	t.Parallel()
	// 15:00 UTC is 23:00 in Shanghai.
	e := newDeliveryEnv(t, deliveryOptions{start: time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)})
	for field, quiet := range map[string]map[string]any{
		"options.quietHours.start":    {"start": "22", "end": "08:00", "timezone": "Asia/Shanghai"},
		"options.quietHours.end":      {"start": "22:00", "end": "22:00", "timezone": "Asia/Shanghai"},
		"options.quietHours.timezone": {"start": "22:00", "end": "08:00", "timezone": "Mars/Olympus"},
	} {
		res := e.do("PATCH", "/api/v1/channels/1", map[string]any{"options": map[string]any{"quietHours": quiet}})
		if res.Status != 422 || res.Fields()[field] == nil {
			t.Errorf("%v: %d %s", quiet, res.Status, res.Body)
		}
	}
	e.must(200, "PATCH", "/api/v1/channels/1", map[string]any{"options": map[string]any{
		"quietHours": map[string]any{"start": "22:00", "end": "08:00", "timezone": "Asia/Shanghai"}}})
	ops, dev := e.demo.UserIDs[0], e.demo.UserIDs[1]

	id := e.send(textTo([]string{"local-" + ops}, "night"))
	morning := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	m := e.assertScheduled(id, morning, ops)
	if w := fmt.Sprint(m["warnings"]); !strings.Contains(w, "quiet hours") || !strings.Contains(w, "2026-11-03 08:00 Asia/Shanghai") {
		t.Fatalf("the deferred message does not say why and until when: %v", w)
	}

	urgent := textTo([]string{"local-" + dev}, "db down")
	urgent["priority"] = "urgent"
	if m := e.waitFinal(e.send(urgent)); m["status"] != "sent" {
		t.Fatalf("urgent: %v", m)
	}

	// 10:00 UTC tomorrow is 18:00 in Shanghai: outside the window.
	evening := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	planned := textTo([]string{"local-" + dev}, "evening")
	planned["sendAt"] = evening.Format(time.RFC3339)
	planned["priority"] = "normal"
	eveningID := e.send(planned)
	e.assertScheduled(eveningID, evening, "")

	e.clock.Advance(9 * time.Hour)
	if m := e.waitFinal(id); m["status"] != "sent" {
		t.Fatalf("after the quiet hours: %v", m)
	}
	if m := e.message(eveningID); m["status"] != "scheduled" {
		t.Fatalf("the evening message left early: %v", m["status"])
	}
	e.clock.Advance(10 * time.Hour)
	if m := e.waitFinal(eveningID); m["status"] != "sent" {
		t.Fatalf("the evening message: %v", m)
	}
}

// A robot channel's quiet hours defer its posts the same way.
func TestQuietHoursOnARobot(t *testing.T) {
	t.Parallel()
	e := robotEnv(t)
	e.must(200, "PATCH", "/api/v1/channels/2", map[string]any{"options": map[string]any{
		"quietHours": map[string]any{"start": "08:00", "end": "18:00", "timezone": "Asia/Shanghai"}}})
	// The env's clock starts at 09:00 UTC, 17:00 in Shanghai: inside the window until 10:00 UTC.
	id := e.send(map[string]any{"channel": "ops_group", "msgtype": "text", "text": map[string]any{"content": "later"}})
	e.assertScheduled(id, e.clock.Now().Add(time.Hour), "")
	if n := len(e.sim.RobotMessages(e.demo.RobotKey)); n != 0 {
		t.Fatalf("the robot posted %d messages in its quiet hours", n)
	}
	e.clock.Advance(time.Hour)
	if m := e.waitFinal(id); m["status"] != "sent" {
		t.Fatalf("after the quiet hours: %v", m)
	}
	if n := len(e.sim.RobotMessages(e.demo.RobotKey)); n != 1 {
		t.Fatalf("the robot posted %d messages, want 1", n)
	}
}

// A notification node's sendAt renders from the event's data; the execution waits for the
// scheduled message and goes on once it is sent. A literal that is no time is refused at save.
func TestScheduledNotificationNode(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	ops := e.demo.UserIDs[0]
	node := map[string]any{"channel": "ops", "sendAt": "{{$context.data.at}}", "priority": "normal",
		"to": map[string]any{"users": []any{"local-" + ops}}, "msgtype": "text", "text": map[string]any{"content": "reminder"}}
	wf := func(cfg map[string]any) map[string]any {
		return map[string]any{"key": "later", "title": "Later", "trigger": map[string]any{"type": "manual"},
			"nodes": []any{map[string]any{"key": "tell", "type": "notification", "config": cfg}}}
	}
	for field, bad := range map[string]string{"sendAt": "soon", "priority": "high"} {
		cfg := map[string]any{}
		for k, v := range node {
			cfg[k] = v
		}
		cfg[field] = bad
		res := e.do("POST", "/api/v1/workflows", wf(cfg))
		if res.Status != 422 || !strings.Contains(string(res.Body), field) {
			t.Errorf("a node with %s %q: %d %s", field, bad, res.Status, res.Body)
		}
	}
	id := e.must(201, "POST", "/api/v1/workflows", wf(node)).Data()["id"]
	at := e.clock.Now().Add(2 * time.Hour)
	x := e.must(202, "POST", fmt.Sprintf("/api/v1/workflows/%v/trigger", id),
		map[string]any{"data": map[string]any{"at": at.Format(time.RFC3339)}}).Data()
	e.waitExecution(x["id"].(string), "waiting")
	msgs := e.must(200, "GET", "/api/v1/messages?status=scheduled&executionId="+x["id"].(string), nil).JSON()
	if msgs["total"] != float64(1) {
		t.Fatalf("the execution has %v scheduled messages, want 1", msgs["total"])
	}
	mid := msgs["data"].([]any)[0].(map[string]any)["id"].(string)
	e.assertScheduled(mid, at, ops)
	e.clock.Advance(2 * time.Hour)
	e.waitExecution(x["id"].(string), "resolved")
	if n := len(e.inbox(ops)); n != 1 {
		t.Fatalf("%s received %d messages, want 1", ops, n)
	}
	// An event without a time: the variable renders empty and the message goes now.
	now := e.must(202, "POST", fmt.Sprintf("/api/v1/workflows/%v/trigger", id), map[string]any{"data": map[string]any{}}).Data()
	e.waitExecution(now["id"].(string), "resolved")
}

// A scheduled message survives the process that accepted it, and a sender killed after sending it
// but before recording the send loses nothing and duplicates nothing: after a restart the member
// holds it exactly once.
func TestScheduledSurvivesRestartAndIsSentOnce(t *testing.T) {
	t.Parallel()
	dsn := storetest.DSN(t)
	e := newDeliveryEnv(t, deliveryOptions{dsn: dsn, noSender: true, start: time.Now()})
	ops := e.demo.UserIDs[0]
	body := textTo([]string{"local-" + ops}, "scheduled across a crash")
	body["sendAt"] = e.clock.Now().Add(time.Second).Format(time.RFC3339Nano)
	id := e.send(body)
	if m := e.message(id); m["status"] != "scheduled" {
		t.Fatalf("accepted as %v", m["status"])
	}
	// Another process (real clock) releases it when due, sends it and dies before recording.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashAtEnv+"=after_send", crashDSNEnv+"="+dsn, crashSimEnv+"="+e.simURL)
	out, err := cmd.CombinedOutput()
	if !killedBySIGKILL(err) {
		t.Fatalf("the sender did not die after sending: %v\n%s", err, out)
	}
	if n := len(e.inbox(ops)); n != 1 {
		t.Fatalf("the killed sender delivered %d messages, want 1", n)
	}
	// The dead sender's lease lapses; a new sender resends byte for byte and WeCom drops the twin.
	e.clock.Advance(5 * time.Minute)
	e.startSender()
	if m := e.waitFinal(id); m["status"] != "sent" {
		t.Fatalf("after the restart: %v", m)
	}
	if n := len(e.inbox(ops)); n != 1 {
		t.Fatalf("%s received %d messages, want exactly 1", ops, n)
	}
}

// The channel form sets a robot's quiet hours, names a bad part on its field, shows them again
// and removes them when all three are left empty.
func TestWebChannelFormQuietHours(t *testing.T) {
	e := newEnv(t)
	w := e.webLogin()
	quiet := func(start, end, tz string) url.Values {
		return url.Values{"options.quietHours.start": {start}, "options.quietHours.end": {end}, "options.quietHours.timezone": {tz}}
	}
	create := quiet("22:00", "08:00", "Asia/Shanghai")
	create.Set("name", "ops_group")
	create.Set("type", "wecom_robot")
	create.Set("options.webhookKey", "693a91f6-7b2c-4bc4-97a0-0ec2f1a5aaaa")
	if res := w.post("/ui/channels", create); res.Status != 303 {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	opts := func() map[string]any {
		return e.must(200, "GET", "/api/v1/channels/1", nil).Data()["options"].(map[string]any)
	}
	if q, _ := opts()["quietHours"].(map[string]any); q["start"] != "22:00" || q["timezone"] != "Asia/Shanghai" {
		t.Fatalf("stored options: %v", opts())
	}
	if page := string(w.get("/ui/channels/1").Body); !strings.Contains(page, `value="Asia/Shanghai"`) {
		t.Fatalf("the form does not show the quiet hours: %s", page)
	}
	res := w.post("/ui/channels/1", quiet("22:00", "", "Asia/Shanghai"))
	if res.Status != 422 || !strings.Contains(string(res.Body), `id="f-options-quietHours-end-error"`) {
		t.Fatalf("an empty end: %d %s", res.Status, res.Body)
	}
	if res := w.post("/ui/channels/1", quiet("", "", "")); res.Status != 303 {
		t.Fatalf("clearing: %d %s", res.Status, res.Body)
	}
	if q, ok := opts()["quietHours"]; ok || opts()["webhookKeySet"] != true {
		t.Fatalf("after clearing: quietHours %v, options %v", q, opts())
	}
}
