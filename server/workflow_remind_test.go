package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// remindWorkflow asks people with a button card that reminds them every `every`, at most times
// times, until timeout.
func remindWorkflow(key, timeout, every string, times int, people ...string) map[string]any {
	var users []any
	for _, p := range people {
		users = append(users, "local-"+p)
	}
	return map[string]any{"key": key, "title": "Ask and remind",
		"trigger": map[string]any{"type": "webhook", "config": map[string]any{"secret": hookSecret}},
		"nodes": []any{map[string]any{"key": "ask", "type": "notification", "config": map[string]any{
			"channel": "ops", "to": map[string]any{"users": users}, "msgtype": "template_card",
			"template_card": map[string]any{"card_type": "button_interaction", "main_title": map[string]any{"title": "Approve order {{$context.data.id}}?"},
				"button_list": []any{map[string]any{"text": "Approve", "key": "approve"}}},
			"waitForResponse": map[string]any{"timeout": timeout, "remind": map[string]any{"every": every, "times": times,
				"text": map[string]any{"content": "Order {{$context.data.id}} still waits for your answer"}}}}}}}
}

// askAndRemind saves a remindWorkflow, triggers it for order id and waits until the card reached
// each person and the execution waits for a click; it returns the execution's id.
func (e *workflowEnv) askAndRemind(key, timeout, every string, times, id int, people ...string) string {
	e.t.Helper()
	e.must(201, "POST", "/api/v1/workflows", remindWorkflow(key, timeout, every, times, people...))
	status, x := e.hook(key, map[string]any{"id": id}, hookSecret)
	if status != 202 {
		e.t.Fatalf("webhook: %d", status)
	}
	for _, p := range people {
		e.waitInbox(p, 1)
	}
	e.waitExecution(x, "waiting")
	return x
}

// advance moves the fake clock once every message of the execution is final: a send still in
// flight when the clock jumps past its lease looks abandoned and is sent again, and a reminder,
// sent without WeCom's duplicate check, would then arrive twice.
func (e *workflowEnv) advance(executionID string, d time.Duration) {
	e.t.Helper()
	msgs := e.must(200, "GET", "/api/v1/messages?executionId="+executionID, nil).JSON()
	for _, m := range msgs["data"].([]any) {
		e.waitFinal(m.(map[string]any)["id"].(string))
	}
	e.clock.Advance(d)
}

// waitReminders polls until n reminders are stored.
func (e *workflowEnv) waitReminders(n int64) {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for e.reminders() != n {
		if time.Now().After(deadline) {
			e.t.Fatalf("%d reminders stored, want %d", e.reminders(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// reminders counts the stored reminders.
func (e *workflowEnv) reminders() int64 {
	e.t.Helper()
	var n int64
	if err := e.store.DB.Model(&models.Reminder{}).Count(&n).Error; err != nil {
		e.t.Fatal(err)
	}
	return n
}

// checkReminder fails unless d is the reminder of order id, sent without WeCom's duplicate check.
func checkReminder(t *testing.T, d wecomtest.Delivery, id string) {
	t.Helper()
	var text struct {
		Content string `json:"content"`
	}
	_ = json.Unmarshal(d.Body, &text)
	if d.MsgType != "text" || text.Content != "Order "+id+" still waits for your answer" {
		t.Fatalf("reminder %s %s, want the rendered text", d.MsgType, d.Body)
	}
	var req struct {
		Check *int `json:"enable_duplicate_check"`
	}
	if _ = json.Unmarshal(d.Request, &req); req.Check == nil || *req.Check != 0 {
		t.Fatalf("reminder sent as %s, want enable_duplicate_check 0", d.Request)
	}
}

// A card to three people reminds every 30 minutes, at most twice: all three first; then one
// clicks (the job resolves at once) and only the two others hear again; then nothing more.
func TestRemindUntilEachResponds(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	people := e.demo.UserIDs[:3]
	e.must(201, "POST", "/api/v1/workflows", remindWorkflow("remind", "24h", "30m", 2, people...))
	status, id := e.hook("remind", map[string]any{"id": 42}, hookSecret)
	if status != 202 {
		t.Fatalf("webhook: %d", status)
	}
	var taskID string
	for _, p := range people {
		var card struct {
			TaskID string `json:"task_id"`
		}
		in := e.waitInbox(p, 1)[0]
		_ = json.Unmarshal(in.Body, &card)
		taskID = card.TaskID
		// Only reminders go without the duplicate check.
		if !strings.Contains(string(in.Request), `"enable_duplicate_check":1`) {
			t.Fatalf("the card was sent as %s", in.Request)
		}
	}
	e.waitExecution(id, "waiting")

	e.advance(id, 30*time.Minute)
	for _, p := range people {
		checkReminder(t, e.waitInbox(p, 2)[1], "42")
	}

	clicker, others := people[0], people[1:]
	xml, err := e.sim.ClickCard(e.demo.CorpID, clicker, taskID, "approve")
	if err != nil {
		t.Fatal(err)
	}
	if status, body, err := e.caller.Post(context.Background(), xml); err != nil || status != 200 {
		t.Fatalf("click: %d %q %v", status, body, err)
	}
	if ask := jobOf(e.waitExecution(id, "resolved"), "ask"); ask["result"].(map[string]any)["response"].(map[string]any)["userid"] != clicker {
		t.Fatalf("job ask: %v", ask)
	}

	e.advance(id, 30*time.Minute)
	for _, p := range others {
		checkReminder(t, e.waitInbox(p, 3)[2], "42")
	}
	// The second round was the last: its reminder is gone with it, so nothing more can come.
	if n := e.reminders(); n != 0 {
		t.Fatalf("%d reminders after the last round, want 0", n)
	}
	e.advance(id, 2*time.Hour)
	e.waitInbox(clicker, 2)
	for _, p := range others {
		e.waitInbox(p, 3)
	}
}

// Nobody clicks: the same reminder reaches the same person twice (WeCom's duplicate check would
// drop the second), and the card's timeout ends the reminding before its third round.
func TestRemindEndsAtTheTimeout(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	p := e.demo.UserIDs[1]
	id := e.askAndRemind("remind", "50m", "20m", 5, 7, p)
	for round := 1; round <= 2; round++ {
		e.advance(id, 20*time.Minute)
		checkReminder(t, e.waitInbox(p, 1+round)[round], "7")
	}
	in := e.sim.Inbox(e.demo.CorpID, p)
	if string(in[1].Request) != string(in[2].Request) || e.sim.DuplicatesDropped() != 0 {
		t.Fatalf("the two reminders differ or one was dropped as a duplicate:\n%s\n%s", in[1].Request, in[2].Request)
	}
	// The third round (at 60m) would come after the timeout (50m): the reminding ended with the second.
	if n := e.reminders(); n != 0 {
		t.Fatalf("%d reminders left, want 0", n)
	}
	e.advance(id, time.Hour)
	e.srv.Workflows().Wake()
	if ask := jobOf(e.waitExecution(id, "failed"), "ask"); !strings.Contains(ask["error"].(string), "no response within 50m") {
		t.Fatalf("job ask: %v", ask)
	}
	e.waitInbox(p, 3)
}

// Canceling the execution ends the reminding: the next round finds the job canceled and sends
// nothing.
func TestRemindEndsWhenTheExecutionIsCanceled(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	p := e.demo.UserIDs[2]
	id := e.askAndRemind("remind", "24h", "10m", 3, 9, p)
	e.must(200, "POST", "/api/v1/executions/"+id+"/cancel", nil)
	e.waitReminders(1)
	e.advance(id, 10*time.Minute)
	e.waitReminders(0)
	if msgs := e.must(200, "GET", "/api/v1/messages?executionId="+id, nil).JSON(); msgs["total"] != float64(1) {
		t.Fatalf("the execution has %v messages after the cancel, want only the card", msgs["total"])
	}
}

// A reminder round that falls in the channel's quiet hours waits for their end, and the next
// round counts from there: the night's rounds do not all arrive when the window ends.
func TestRemindRoundsSkipQuietHours(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{}) // 09:00 UTC: 17:00 in Shanghai
	e.must(200, "PATCH", "/api/v1/channels/1", map[string]any{"options": map[string]any{
		"quietHours": map[string]any{"start": "17:20", "end": "18:40", "timezone": "Asia/Shanghai"}}})
	person := e.demo.UserIDs[0]
	id := e.askAndRemind("quiet", "24h", "30m", 3, 7, person)
	messages := func() int {
		return len(e.must(200, "GET", "/api/v1/messages?executionId="+id, nil).JSON()["data"].([]any))
	}
	waitMessages := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); messages() != n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d messages of the execution, want %d", messages(), n)
			}
		}
	}
	e.clock.Advance(30 * time.Minute) // 17:30: the first round, held back until 18:40
	waitMessages(2)
	e.clock.Advance(40 * time.Minute) // 18:10: no round piles up behind it
	time.Sleep(100 * time.Millisecond)
	if n := messages(); n != 2 {
		t.Fatalf("%d messages at 18:10, want the card and one held-back round", n)
	}
	e.clock.Advance(35 * time.Minute) // 18:45: the window is over, the round goes out
	checkReminder(t, e.waitInbox(person, 2)[1], "7")
	e.clock.Advance(30 * time.Minute) // 19:15: the next round, 30 minutes after the release
	checkReminder(t, e.waitInbox(person, 3)[2], "7")
	if n := len(e.inbox(person)); n != 3 {
		t.Fatalf("%d messages reached %s, want the card and two reminders", n, person)
	}
}
