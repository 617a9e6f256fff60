package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// A text message sent to the app through the callback URL starts the wecom_event workflow whose
// filter it passes, once, even when WeCom delivers it again; the workflow answers the sender.
func TestWeComEventTriggerStartsOncePerCallback(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	user := e.demo.UserIDs[0]
	wf := e.must(201, "POST", "/api/v1/workflows", map[string]any{"key": "echo", "title": "Echo",
		"trigger": map[string]any{"type": "wecom_event", "config": map[string]any{"authenticator": "acme", "events": []any{"text"},
			"expression": `$context.data.Content startsWith "hello"`}},
		"nodes": []any{map[string]any{"key": "reply", "type": "notification", "config": map[string]any{"channel": "ops",
			"to": map[string]any{"wecomUsers": []any{"{{$context.data.FromUserName}}"}}, "msgtype": "text",
			"text": map[string]any{"content": "you said: {{$context.data.Content}}"}}}}}).Data()

	now := e.clock.Now().Unix()
	hello := wecomtest.TextMessageXML(e.demo.CorpID, e.demo.AgentID, user, "hello there", 7001, now)
	for _, xml := range []string{hello, hello, wecomtest.TextMessageXML(e.demo.CorpID, e.demo.AgentID, user, "bye", 7002, now)} {
		if status, body, err := e.caller.Post(context.Background(), xml); err != nil || status != 200 {
			t.Fatalf("callback: %d %q %v", status, body, err)
		}
	}
	in := e.waitInbox(user, 1)
	if !strings.Contains(string(in[0].Body), "you said: hello there") {
		t.Fatalf("reply: %s", in[0].Body)
	}
	// Both events are processed before the executions are counted.
	for _, ev := range e.waitEvents(2) {
		if ev["status"] != "processed" {
			t.Fatalf("event: %v", ev)
		}
	}
	list := e.must(200, "GET", fmt.Sprintf("/api/v1/executions?workflowId=%v", wf["id"]), nil).JSON()
	if list["total"] != float64(1) {
		t.Fatalf("%v executions, want 1", list["total"])
	}
	x := e.waitExecution(list["data"].([]any)[0].(map[string]any)["id"].(string), "resolved")
	if x["trigger"] != "wecom_event" {
		t.Fatalf("execution: %v", x)
	}
}

// waitEvents polls until n callback events are stored and processed (or failed), and returns them.
func (e *workflowEnv) waitEvents(n int) []map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var out []map[string]any
		done := 0
		for _, ev := range e.must(200, "GET", "/api/v1/callback-events?pageSize=200", nil).JSON()["data"].([]any) {
			m := ev.(map[string]any)
			out = append(out, m)
			if m["status"] != "received" {
				done++
			}
		}
		if done >= n || time.Now().After(deadline) {
			if done != n {
				e.t.Fatalf("%d callback events done, want %d", done, n)
			}
			return out
		}
		time.Sleep(5 * time.Millisecond)
	}
}
