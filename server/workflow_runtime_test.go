package server

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// delayThenText is a manual workflow that waits, then texts the user.
func delayThenText(key, user, text, timeout string) map[string]any {
	w := map[string]any{"key": key, "title": key, "trigger": map[string]any{"type": "manual"},
		"nodes": []any{
			map[string]any{"key": "pause", "type": "delay", "config": map[string]any{"duration": "{{$context.data.wait}}"}},
			map[string]any{"key": "tell", "type": "notification", "config": map[string]any{"channel": "ops", "msgtype": "text",
				"to": map[string]any{"users": []any{"local-" + user}}, "text": map[string]any{"content": text}}}}}
	if timeout != "" {
		w["timeout"] = timeout
	}
	return w
}

// An execution runs the version it started with, even when the workflow is edited while it
// waits; a workflow with an unfinished execution cannot be deleted.
func TestExecutionRunsItsOwnVersion(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	user := e.demo.UserIDs[0]
	wf := e.must(201, "POST", "/api/v1/workflows", delayThenText("versioned", user, "from version 1", "")).Data()
	path := fmt.Sprintf("/api/v1/workflows/%v", wf["id"])
	x := e.must(202, "POST", path+"/trigger", map[string]any{"data": map[string]any{"wait": "10m"}}).Data()
	e.waitExecution(x["id"].(string), "waiting")
	v2 := e.must(200, "PATCH", path, map[string]any{"nodes": delayThenText("versioned", user, "from version 2", "")["nodes"]}).Data()
	if v2["version"] != float64(2) {
		t.Fatalf("version after the edit: %v", v2["version"])
	}
	if res := e.do("DELETE", path, nil); res.Status != 409 {
		t.Fatalf("deleting a workflow with a waiting execution: %d %s", res.Status, res.Body)
	}
	e.clock.Advance(11 * time.Minute)
	e.srv.Workflows().Wake()
	done := e.waitExecution(x["id"].(string), "resolved")
	if done["version"] != float64(1) {
		t.Fatalf("execution version %v", done["version"])
	}
	if in := e.waitInbox(user, 1); !strings.Contains(string(in[0].Body), "from version 1") {
		t.Fatalf("sent %s", in[0].Body)
	}
	e.must(204, "DELETE", path, nil)
}

// Cancel stops a waiting execution and its pending job; a timeout aborts one; ?wait= answers with
// the final state.
func TestCancelTimeoutAndWait(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	user := e.demo.UserIDs[0]
	wf := e.must(201, "POST", "/api/v1/workflows", delayThenText("limited", user, "late", "1h")).Data()
	trigger := fmt.Sprintf("/api/v1/workflows/%v/trigger", wf["id"])

	x := e.must(202, "POST", trigger, map[string]any{"data": map[string]any{"wait": "30m"}}).Data()
	e.waitExecution(x["id"].(string), "waiting")
	c := e.must(200, "POST", "/api/v1/executions/"+x["id"].(string)+"/cancel", nil).Data()
	if c["status"] != "canceled" || jobOf(c, "pause")["status"] != "canceled" {
		t.Fatalf("canceled execution: %v", c)
	}
	if res := e.do("POST", "/api/v1/executions/"+x["id"].(string)+"/cancel", nil); res.Status != 409 {
		t.Fatalf("canceling twice: %d", res.Status)
	}

	x = e.must(202, "POST", trigger, map[string]any{"data": map[string]any{"wait": "2h"}}).Data()
	e.waitExecution(x["id"].(string), "waiting")
	e.clock.Advance(61 * time.Minute)
	e.srv.Workflows().Wake()
	a := e.waitExecution(x["id"].(string), "aborted")
	if jobOf(a, "pause")["status"] != "aborted" || !strings.Contains(a["error"].(string), "timeout (1h)") {
		t.Fatalf("aborted execution: %v", a)
	}

	w := e.must(202, "POST", trigger+"?wait=10s", map[string]any{"data": map[string]any{"wait": "0s"}}).Data()
	if w["status"] != "resolved" || jobOf(w, "tell")["result"].(map[string]any)["status"] != "sent" {
		t.Fatalf("?wait= answered %v", w)
	}
	if n := len(e.sim.Inbox(e.demo.CorpID, user)); n != 1 {
		t.Fatalf("%d messages, want only the one of the execution that ran", n)
	}
	list := e.must(200, "GET", fmt.Sprintf("/api/v1/executions?workflowId=%v&status=aborted", wf["id"]), nil).JSON()
	if list["total"] != float64(1) {
		t.Fatalf("aborted executions: %v", list["total"])
	}
}

// A notification that cannot be rendered into a valid message fails its job with the reason; a
// delay given as a bad variable fails too.
func TestRuntimeProblemsFailTheJobWithAReason(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	wf := e.must(201, "POST", "/api/v1/workflows", delayThenText("broken", e.demo.UserIDs[0], "x", "")).Data()
	x := e.must(202, "POST", fmt.Sprintf("/api/v1/workflows/%v/trigger?wait=10s", wf["id"]), map[string]any{"data": map[string]any{"wait": "soon"}}).Data()
	if x["status"] != "failed" || !strings.Contains(jobOf(x, "pause")["error"].(string), `"soon" is not a duration`) {
		t.Fatalf("execution: %v", x)
	}
	nobody := map[string]any{"key": "nobody", "title": "nobody", "trigger": map[string]any{"type": "manual"},
		"nodes": []any{map[string]any{"key": "tell", "type": "notification", "config": map[string]any{"channel": "ops", "msgtype": "text",
			"to": map[string]any{"users": []any{"{{$context.data.who}}"}}, "text": map[string]any{"content": "hi"}}}}}
	wf = e.must(201, "POST", "/api/v1/workflows", nobody).Data()
	x = e.must(202, "POST", fmt.Sprintf("/api/v1/workflows/%v/trigger?wait=10s", wf["id"]), map[string]any{"data": map[string]any{}}).Data()
	if x["status"] != "failed" || !strings.Contains(jobOf(x, "tell")["error"].(string), "names nobody") {
		t.Fatalf("execution: %v", x)
	}
}

// The editor's preview renders a notification node's config with sample data and jobs, without
// sending anything.
func TestRenderPreviewsANotificationNode(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	cfg := approvalWorkflow("x", "24h", false)["nodes"].([]any)[0].(map[string]any)["branches"].(map[string]any)["true"].([]any)[0].(map[string]any)["config"].(map[string]any)
	cfg["data"] = map[string]any{"id": 42, "approver": "local-" + e.demo.UserIDs[0]}
	out := e.must(200, "POST", "/api/v1/render", cfg).Data()
	if !strings.Contains(fmt.Sprint(out["body"]), "Approve order 42?") {
		t.Fatalf("preview: %v", out)
	}
	done := approvalWorkflow("x", "24h", false)["nodes"].([]any)[1].(map[string]any)["config"].(map[string]any)
	done["jobs"] = map[string]any{"ask": map[string]any{"response": map[string]any{"eventKey": "approve"}}}
	done["data"] = map[string]any{"id": 42, "owner": "local-" + e.demo.UserIDs[1]}
	out = e.must(200, "POST", "/api/v1/render", done).Data()
	if !strings.Contains(fmt.Sprint(out["body"]), "Order **42**: approve") {
		t.Fatalf("preview: %v", out)
	}
	if e.sim.Calls("message/send") != 0 {
		t.Fatal("a preview sent a message")
	}
}

// A trigger's ?wait= answers when this process ends the execution, woken by the step that ends it
// (the re-read that would find it is an hour away); canceling wakes it too.
func TestTriggerWaitIsWokenByTheEnd(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{waitPoll: time.Hour})
	wf := e.must(201, "POST", "/api/v1/workflows", delayThenText("woken", e.demo.UserIDs[1], "done", "")).Data()
	trigger := fmt.Sprintf("/api/v1/workflows/%v/trigger", wf["id"])
	wait := func(path string, body any) chan response {
		answer := make(chan response, 1)
		go func() { answer <- e.do("POST", path, body) }()
		return answer
	}
	get := func(answer chan response) map[string]any {
		t.Helper()
		select {
		case res := <-answer:
			return res.Data()
		case <-time.After(30 * time.Second): // a guard against a hang, not a measure
			t.Fatal("?wait= was not woken by the end of the execution")
			return nil
		}
	}
	if x := get(wait(trigger+"?wait=60s", map[string]any{"data": map[string]any{"wait": "0s"}})); x["status"] != "resolved" {
		t.Fatalf("?wait= answered %v", x)
	}
	answer := wait(trigger+"?wait=60s", map[string]any{"data": map[string]any{"wait": "30m"}})
	var waiting []any
	for len(waiting) == 0 {
		waiting, _ = e.must(200, "GET", fmt.Sprintf("/api/v1/executions?workflowId=%v&status=waiting", wf["id"]), nil).JSON()["data"].([]any)
	}
	e.must(200, "POST", "/api/v1/executions/"+waiting[0].(map[string]any)["id"].(string)+"/cancel", nil)
	if x := get(answer); x["status"] != "canceled" {
		t.Fatalf("woken by the cancel: %v", x)
	}
}
