package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// loopback opens 127.0.0.0/8 to event hook targets, as WECOMFLOW_FETCH_ALLOW would.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// hookCall is one POST a hook receiver got.
type hookCall struct {
	header  http.Header
	body    []byte
	payload map[string]any
}

// hookReceiver is a hook target whose answers the test picks by call number (from 1).
type hookReceiver struct {
	t      testing.TB
	url    string
	mu     sync.Mutex
	calls  []hookCall
	answer func(n int, w http.ResponseWriter)
}

func newHookReceiver(t testing.TB, answer func(n int, w http.ResponseWriter)) *hookReceiver {
	r := &hookReceiver{t: t, answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var p map[string]any
		_ = json.Unmarshal(body, &p)
		r.mu.Lock()
		r.calls = append(r.calls, hookCall{header: req.Header.Clone(), body: body, payload: p})
		n := len(r.calls)
		r.mu.Unlock()
		if r.answer != nil {
			r.answer(n, w)
		}
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL + "/wecom-events"
	return r
}

// wait waits (in real time) until the receiver got n calls and returns them.
func (r *hookReceiver) wait(n int) []hookCall {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		calls := append([]hookCall(nil), r.calls...)
		r.mu.Unlock()
		if len(calls) >= n {
			return calls
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.t.Fatalf("the receiver got %d calls, want %d", len(r.calls), n)
	return nil
}

func (e *deliveryEnv) createHook(url string, events ...string) map[string]any {
	e.t.Helper()
	return e.must(201, "POST", "/api/v1/event-hooks", map[string]any{"url": url, "events": events, "secret": "hook-secret"}).Data()
}

// deliveries lists a hook's attempts, newest first.
func (e *deliveryEnv) deliveries(hook map[string]any) []any {
	e.t.Helper()
	res := e.must(200, "GET", fmt.Sprintf("/api/v1/event-hooks/%v/deliveries", hook["id"]), nil)
	return res.JSON()["data"].([]any)
}

// validSignature checks a call's X-Wecomflow-Signature as a receiver would (docs/event-hooks.md).
func validSignature(c hookCall, secret string) bool {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(c.header.Get("X-Wecomflow-Timestamp") + "." + string(c.body)))
	return hmac.Equal([]byte(c.header.Get("X-Wecomflow-Signature")), []byte("sha256="+hex.EncodeToString(m.Sum(nil))))
}

func TestEventHookGetsMessageSentSignedAndNeverShowsItsSecret(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{fetchAllow: loopback})
	rcv := newHookReceiver(t, nil)
	hook := e.createHook(rcv.url, "message.sent")
	id := e.send(textTo([]string{"local-" + e.demo.UserIDs[0]}, "hook me"))
	e.waitFinal(id)
	c := rcv.wait(1)[0]
	if !validSignature(c, "hook-secret") || c.header.Get("X-Wecomflow-Event") != "message.sent" {
		t.Fatalf("headers %v", c.header)
	}
	data, _ := c.payload["data"].(map[string]any)
	if c.payload["type"] != "message.sent" || c.payload["id"] == "" || c.payload["at"] == nil || data["id"] != id || data["status"] != "sent" {
		t.Fatalf("payload %s", c.body)
	}
	got := e.must(200, "GET", fmt.Sprintf("/api/v1/event-hooks/%v", hook["id"]), nil)
	list := e.must(200, "GET", "/api/v1/event-hooks", nil)
	for _, body := range [][]byte{got.Body, list.Body} {
		if strings.Contains(string(body), "hook-secret") || !strings.Contains(string(body), `"secretSet":true`) {
			t.Fatalf("a read shows the secret or hides that it is set: %s", body)
		}
	}
	if _, rows := e.rows("SELECT secret FROM event_hooks"); strings.Contains(toString(rows[0][0]), "hook-secret") {
		t.Fatal("the secret is stored in the clear")
	}
	if _, rows := e.rows("SELECT action FROM audit_entries WHERE target_type = 'event_hook'"); len(rows) != 1 {
		t.Fatalf("audit: %v", rows)
	}
}

func TestEventHookReceiverThatFailsOnceGetsTheSameEventAgain(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{fetchAllow: loopback})
	rcv := newHookReceiver(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	hook := e.createHook(rcv.url, "message.sent")
	e.waitFinal(e.send(textTo([]string{"local-" + e.demo.UserIDs[0]}, "fail once")))
	rcv.wait(1)
	var failed map[string]any
	for deadline := time.Now().Add(10 * time.Second); failed == nil && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if ds := e.deliveries(hook); len(ds) == 1 {
			failed = ds[0].(map[string]any)
		}
	}
	if failed == nil || failed["statusCode"] != 500.0 || failed["error"] == "" || failed["nextAttemptAt"] == nil {
		t.Fatalf("first attempt: %v", failed)
	}
	e.clock.Advance(6 * time.Second)
	calls := rcv.wait(2)
	if calls[0].payload["id"] != calls[1].payload["id"] || string(calls[0].body) != string(calls[1].body) {
		t.Fatalf("the retry is another event: %s / %s", calls[0].body, calls[1].body)
	}
	var ds []any
	for deadline := time.Now().Add(10 * time.Second); len(ds) < 2 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		ds = e.deliveries(hook)
	}
	if len(ds) != 2 {
		t.Fatalf("deliveries: %v", ds)
	}
	last := ds[0].(map[string]any)
	if last["statusCode"] != 200.0 || last["error"] != "" || last["nextAttemptAt"] != nil || last["attempt"] != 2.0 ||
		last["eventId"] != failed["eventId"] {
		t.Fatalf("second attempt: %v", last)
	}
}

// A message's later event waits for its earlier one, even while that one is being retried.
func TestEventHookDeliversAMessagesEventsInOrder(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{fetchAllow: loopback})
	rcv := newHookReceiver(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	e.createHook(rcv.url, "message.sent", "message.failed")
	user := e.demo.UserIDs[1]
	e.sim.Script("message/send", wecomtest.Fault{ErrCode: 60020, ErrMsg: "from ip: 198.51.100.1"})
	id := e.send(textTo([]string{"local-" + user}, "fail, then retry"))
	if m := e.waitFinal(id); m["status"] != "failed" {
		t.Fatalf("%v", m)
	}
	rcv.wait(1)
	e.must(200, "POST", "/api/v1/messages/"+id+"/retry", nil)
	if m := e.waitFinal(id); m["status"] != "sent" {
		t.Fatalf("after retry: %v", m)
	}
	// Give a deliverer that ignored the order its chance to post message.sent first.
	time.Sleep(100 * time.Millisecond)
	e.clock.Advance(6 * time.Second)
	calls := rcv.wait(3)
	var types []string
	for _, c := range calls {
		types = append(types, c.payload["type"].(string))
	}
	if strings.Join(types, " ") != "message.failed message.failed message.sent" {
		t.Fatalf("order: %v", types)
	}
}

func TestEventHookRedirectIsAFailedAttempt(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{fetchAllow: loopback})
	elsewhere := newHookReceiver(t, nil)
	rcv := newHookReceiver(t, func(_ int, w http.ResponseWriter) {
		w.Header().Set("Location", elsewhere.url)
		w.WriteHeader(http.StatusFound)
	})
	hook := e.createHook(rcv.url, "message.sent")
	e.waitFinal(e.send(textTo([]string{"local-" + e.demo.UserIDs[0]}, "redirected")))
	rcv.wait(1)
	var ds []any
	for deadline := time.Now().Add(10 * time.Second); len(ds) < 1 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		ds = e.deliveries(hook)
	}
	d := ds[0].(map[string]any)
	if d["statusCode"] != 302.0 || !strings.Contains(d["error"].(string), "redirect") || d["nextAttemptAt"] == nil {
		t.Fatalf("attempt: %v", d)
	}
	if len(elsewhere.calls) != 0 {
		t.Fatal("the redirect was followed")
	}
}

func TestEventHookTargetsFollowTheOutboundRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, url := range []string{"http://127.0.0.1:8080/hook", "http://169.254.169.254/latest", "http://[::1]/x", "ftp://erp.example/x", "not a url"} {
		res := e.do("POST", "/api/v1/event-hooks", map[string]any{"url": url, "events": []string{"message.sent"}, "secret": "s"})
		if res.Status != 422 || res.Fields()["url"] == nil {
			t.Errorf("%s: %d %s", url, res.Status, res.Body)
		}
	}
	res := e.do("POST", "/api/v1/event-hooks", map[string]any{"url": "http://127.0.0.1/x", "events": []string{"message.sent", "message.read"}})
	if f := res.Fields(); res.Status != 422 || f["events"] == nil || f["secret"] == nil {
		t.Errorf("events and secret: %d %s", res.Status, res.Body)
	}
	if _, rows := e.rows("SELECT id FROM event_hooks"); len(rows) != 0 {
		t.Fatal("a refused hook was stored")
	}
}

// firstOf waits until the receiver got an event of each type and returns the first of each.
func (r *hookReceiver) firstOf(types ...string) map[string]hookCall {
	r.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		r.mu.Lock()
		got := map[string]hookCall{}
		for _, c := range r.calls {
			if typ, _ := c.payload["type"].(string); got[typ].body == nil {
				got[typ] = c
			}
		}
		r.mu.Unlock()
		missing := 0
		for _, typ := range types {
			if got[typ].body == nil {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("the receiver got %v, want %v", got, types)
		}
	}
}

// The approval-card recipe end to end, told to an event hook: install, a signed call, the card
// in the approver's WeCom, a click through the callback URL, the decision in the job's result —
// and the hook gets message.response with the click and execution.resolved with the jobs.
func TestEventHookApprovalCardRecipeEndToEnd(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{fetchAllow: loopback})
	rcv := newHookReceiver(t, nil)
	e.createHook(rcv.url, "message.response", "execution.resolved")
	approver := e.demo.UserIDs[0]
	out, secret := e.install("approval-card", map[string]any{"key": "deploy", "channel": "ops", "to": map[string]any{"users": []any{"local-" + approver}}})
	if out["credential"].(map[string]any)["type"] != "hmac" || !strings.Contains(out["setup"].(string), secret) {
		t.Fatalf("install: %v", out)
	}
	status, id := e.hook("deploy", map[string]any{"title": "Deploy api v2.3?", "description": "Requested by zhangsan", "url": "https://ci.example.com/runs/42"}, secret)
	if status != 202 || id == "" {
		t.Fatalf("webhook: %d %q", status, id)
	}
	in := e.waitInbox(approver, 1)
	card := cardOf(in[0].Body)
	if in[0].MsgType != "template_card" || card.title != "Deploy api v2.3?" {
		t.Fatalf("card: %s %s", in[0].MsgType, in[0].Body)
	}
	e.waitExecution(id, "waiting")
	xml, err := e.sim.ClickCard(e.demo.CorpID, approver, card.taskID, "approve")
	if err != nil {
		t.Fatal(err)
	}
	if status, body, err := e.caller.Post(context.Background(), xml); err != nil || status != 200 {
		t.Fatalf("click: %d %q %v", status, body, err)
	}
	x := e.waitExecution(id, "resolved")
	resp, _ := jobOf(x, "ask")["result"].(map[string]any)["response"].(map[string]any)
	if resp["eventKey"] != "approve" || resp["userid"] != approver {
		t.Fatalf("the decision: %v", jobOf(x, "ask"))
	}

	got := rcv.firstOf("message.response", "execution.resolved")
	msg, _ := got["message.response"].payload["data"].(map[string]any)
	rs, _ := msg["responses"].([]any)
	if msg["executionId"] != id || len(rs) != 1 {
		t.Fatalf("message.response: %s", got["message.response"].body)
	}
	if r := rs[0].(map[string]any); r["userid"] != approver || r["eventKey"] != "approve" || r["at"] == nil {
		t.Fatalf("the click in message.response: %v", r)
	}
	done, _ := got["execution.resolved"].payload["data"].(map[string]any)
	if done["id"] != id || done["status"] != "resolved" || jobOf(done, "ask")["status"] != "resolved" {
		t.Fatalf("execution.resolved: %s", got["execution.resolved"].body)
	}
	for typ, c := range got {
		if !validSignature(c, "hook-secret") || c.header.Get("X-Wecomflow-Event") != typ {
			t.Errorf("%s: headers %v", typ, c.header)
		}
	}
}

// An execution that ends failed is told as execution.failed, with the execution as its data.
func TestEventHookGetsExecutionFailed(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{fetchAllow: loopback})
	rcv := newHookReceiver(t, nil)
	e.createHook(rcv.url, "execution.resolved", "execution.failed")
	wf := e.must(201, "POST", "/api/v1/workflows", map[string]any{"key": "doomed", "title": "Doomed", "trigger": map[string]any{"type": "manual"},
		"nodes": []any{map[string]any{"key": "stop", "type": "end", "config": map[string]any{"status": "failed"}}}}).Data()
	x := e.must(202, "POST", fmt.Sprintf("/api/v1/workflows/%v/trigger", wf["id"]), map[string]any{"data": map[string]any{"n": 1}}).Data()
	e.waitExecution(x["id"].(string), "failed")
	c := rcv.firstOf("execution.failed")["execution.failed"]
	data, _ := c.payload["data"].(map[string]any)
	if data["id"] != x["id"] || data["status"] != "failed" || jobOf(data, "stop") == nil {
		t.Fatalf("execution.failed: %s", c.body)
	}
}
