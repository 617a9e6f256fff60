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
		_ = json.Unmarshal(e.waitInbox(p, 1)[0].Body, &card)
		taskID = card.TaskID
	}
	e.waitExecution(id, "waiting")

	e.clock.Advance(30 * time.Minute)
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

	e.clock.Advance(30 * time.Minute)
	for _, p := range others {
		checkReminder(t, e.waitInbox(p, 3)[2], "42")
	}
	// The second round was the last: its reminder is gone with it, so nothing more can come.
	if n := e.reminders(); n != 0 {
		t.Fatalf("%d reminders after the last round, want 0", n)
	}
	e.clock.Advance(2 * time.Hour)
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
	e.must(201, "POST", "/api/v1/workflows", remindWorkflow("remind", "50m", "20m", 5, p))
	status, id := e.hook("remind", map[string]any{"id": 7}, hookSecret)
	if status != 202 {
		t.Fatalf("webhook: %d", status)
	}
	e.waitInbox(p, 1)
	e.waitExecution(id, "waiting")
	for round := 1; round <= 2; round++ {
		e.clock.Advance(20 * time.Minute)
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
	e.clock.Advance(time.Hour)
	e.srv.Workflows().Wake()
	if ask := jobOf(e.waitExecution(id, "failed"), "ask"); !strings.Contains(ask["error"].(string), "no response within 50m") {
		t.Fatalf("job ask: %v", ask)
	}
	e.waitInbox(p, 3)
}
