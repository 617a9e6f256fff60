package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
	"github.com/wecomflow/wecomflow/workflow"
)

const hookSecret = "a-webhook-secret-of-32-characters"

// approvalWorkflow is SPEC §4.1's example: a big order asks its approver with a button card and
// tells the owner the decision.
func approvalWorkflow(key, timeout string, ignoreFail bool) map[string]any {
	return map[string]any{"key": key, "title": "Notify on paid order",
		"trigger": map[string]any{"type": "webhook", "config": map[string]any{"secret": hookSecret}},
		"nodes": []any{
			map[string]any{"key": "big", "type": "condition", "config": map[string]any{"expression": "$context.data.amount > 1000"},
				"branches": map[string]any{"true": []any{
					map[string]any{"key": "ask", "type": "notification", "config": map[string]any{
						"channel": "ops", "to": map[string]any{"users": []any{"{{$context.data.approver}}"}},
						"msgtype": "template_card",
						"template_card": map[string]any{"card_type": "button_interaction",
							"main_title":  map[string]any{"title": "Approve order {{$context.data.id}}?"},
							"button_list": []any{map[string]any{"text": "Approve", "key": "approve"}, map[string]any{"text": "Reject", "key": "reject", "style": 2}}},
						"waitForResponse": map[string]any{"timeout": timeout, "replaceName": "已处理"}, "ignoreFail": ignoreFail}}},
					"false": []any{}}},
			map[string]any{"key": "done", "type": "notification", "config": map[string]any{"channel": "ops",
				"to":      map[string]any{"users": []any{"{{$context.data.owner}}"}},
				"msgtype": "markdown", "markdown": map[string]any{"content": "Order **{{$context.data.id}}**: {{$jobs.ask.response.eventKey | default \"auto\"}}"}}},
		}}
}

// workflowEnv is a delivery env with the workflow engine running, its HTTP server (webhooks and
// callback URL) and WeCom's callback caller.
type workflowEnv struct {
	*deliveryEnv
	caller *wecomtest.CallbackCaller
	url    string
}

func newWorkflowEnv(t testing.TB, o deliveryOptions) *workflowEnv {
	e := newDeliveryEnv(t, o)
	hs := httptest.NewServer(e.srv.Handler())
	t.Cleanup(hs.Close)
	return &workflowEnv{deliveryEnv: e, url: hs.URL, caller: &wecomtest.CallbackCaller{URL: hs.URL + "/callback/wecom/acme", Token: "cbtoken",
		EncodingAESKey: strings.Repeat("a", 43), CorpID: e.demo.CorpID, Now: e.clock.Now}}
}

// hook posts a signed webhook and returns the execution id.
func (e *workflowEnv) hook(key string, data any, secret string) (int, string) {
	status, id, _ := e.hookWith(key, data, secret, nil)
	return status, id
}

// hookWith is hook with more request headers; it also returns the error's message.
func (e *workflowEnv) hookWith(key string, data any, secret string, header http.Header) (int, string, string) {
	e.t.Helper()
	body, _ := json.Marshal(data)
	req, _ := http.NewRequest("POST", e.url+"/hooks/"+key, bytes.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		signWebhook(req.Header, body, secret, e.clock.Now())
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out.Data.ID, out.Error.Message
}

// signWebhook sets the timestamp and signature headers of an hmac webhook call sent at t.
func signWebhook(h http.Header, body []byte, secret string, t time.Time) {
	ts, sig := workflow.Sign(secret, t, body)
	h.Set(workflow.TimestampHeader, ts)
	h.Set(workflow.SignatureHeader, sig)
}

// execution reads an execution with its jobs.
func (e *workflowEnv) execution(id string) map[string]any {
	return e.must(200, "GET", "/api/v1/executions/"+id, nil).Data()
}

// waitExecution polls until the execution's status is one of want.
func (e *workflowEnv) waitExecution(id string, want ...string) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		x := e.execution(id)
		for _, w := range want {
			if x["status"] == w {
				return x
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("execution %s is %v, want %v: %v", id, x["status"], want, x)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitInbox polls until the member's inbox holds n messages and returns them.
func (e *workflowEnv) waitInbox(user string, n int) []wecomtest.Delivery {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		in := e.sim.Inbox(e.demo.CorpID, user)
		if len(in) >= n || time.Now().After(deadline) {
			if len(in) != n {
				e.t.Fatalf("inbox of %s holds %d messages, want %d", user, len(in), n)
			}
			return in
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func jobOf(x map[string]any, key string) map[string]any {
	jobs, _ := x["jobs"].([]any)
	for _, j := range jobs {
		if j := j.(map[string]any); j["nodeKey"] == key {
			return j
		}
	}
	return nil
}

// The end-to-end bar: webhook → condition → button card → click through the real
// callback URL → card updated → the decision delivered; for approve, reject, the false branch
// and a timeout.
func TestApprovalWorkflowEndToEnd(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	approver, owner := e.demo.UserIDs[0], e.demo.UserIDs[1]
	e.must(201, "POST", "/api/v1/workflows", approvalWorkflow("order-paid", "24h", false))

	if status, _ := e.hook("order-paid", map[string]any{"id": 1}, "wrong-secret-of-some-length"); status != 401 {
		t.Fatalf("a wrong signature: %d, want 401", status)
	}
	if status, _ := e.hook("order-paid", map[string]any{"id": 1}, ""); status != 401 {
		t.Fatalf("no signature: %d, want 401", status)
	}

	cards, decisions := 0, 0
	for i, click := range []string{"approve", "reject"} {
		status, id := e.hook("order-paid", map[string]any{"id": 40 + i, "amount": 5000, "approver": "local-" + approver, "owner": "local-" + owner}, hookSecret)
		if status != 202 || id == "" {
			t.Fatalf("webhook: %d %q", status, id)
		}
		cards++
		in := e.waitInbox(approver, cards)
		e.waitExecution(id, "waiting")
		card := cardOf(in[cards-1].Body)
		if card.title != "Approve order "+strconv.Itoa(40+i)+"?" {
			t.Fatalf("card title %q", card.title)
		}
		xml, err := e.sim.ClickCard(e.demo.CorpID, approver, card.taskID, click)
		if err != nil {
			t.Fatal(err)
		}
		if status, body, err := e.caller.Post(context.Background(), xml); err != nil || status != 200 {
			t.Fatalf("click: %d %q %v", status, body, err)
		}
		x := e.waitExecution(id, "resolved")
		ask := jobOf(x, "ask")
		resp, _ := ask["result"].(map[string]any)["response"].(map[string]any)
		if ask["status"] != "resolved" || resp["eventKey"] != click || resp["userid"] != approver {
			t.Fatalf("job ask: %v", ask)
		}
		updates := e.sim.CardUpdates()
		if len(updates) != i+1 || updates[i].ReplaceName != "已处理" {
			t.Fatalf("card updates: %+v", updates)
		}
		decisions++
		out := e.waitInbox(owner, decisions)
		if got := string(out[decisions-1].Body); !strings.Contains(got, "Order **"+strconv.Itoa(40+i)+"**: "+click) {
			t.Fatalf("decision message: %s", got)
		}
		if done := jobOf(x, "done"); done["status"] != "resolved" || done["result"].(map[string]any)["status"] != "sent" {
			t.Fatalf("job done: %v", done)
		}
	}

	// A small order takes the false branch: no card, the owner hears at once.
	status, id := e.hook("order-paid", map[string]any{"id": 50, "amount": 10, "approver": "local-" + approver, "owner": "local-" + owner}, hookSecret)
	if status != 202 {
		t.Fatalf("webhook: %d", status)
	}
	x := e.waitExecution(id, "resolved")
	if big := jobOf(x, "big"); big["result"].(map[string]any)["value"] != false || jobOf(x, "ask") != nil {
		t.Fatalf("false branch: %v", x["jobs"])
	}
	decisions++
	if out := e.waitInbox(owner, decisions); !strings.Contains(string(out[decisions-1].Body), "Order **50**: auto") {
		t.Fatalf("decision message: %s", out[decisions-1].Body)
	}
	if n := len(e.sim.Inbox(e.demo.CorpID, approver)); n != cards {
		t.Fatalf("the approver got %d cards, want %d", n, cards)
	}

	// Nobody clicks: after the timeout the job fails and so does the execution; nothing else is sent.
	status, id = e.hook("order-paid", map[string]any{"id": 60, "amount": 5000, "approver": "local-" + approver, "owner": "local-" + owner}, hookSecret)
	if status != 202 {
		t.Fatalf("webhook: %d", status)
	}
	cards++
	e.waitInbox(approver, cards)
	e.waitExecution(id, "waiting")
	e.clock.Advance(25 * time.Hour)
	e.srv.Workflows().Wake()
	x = e.waitExecution(id, "failed")
	if ask := jobOf(x, "ask"); ask["status"] != "failed" || !strings.Contains(ask["error"].(string), "no response within 24h") {
		t.Fatalf("job ask after the timeout: %v", ask)
	}
	if jobOf(x, "done") != nil || len(e.sim.Inbox(e.demo.CorpID, owner)) != decisions {
		t.Fatalf("a timed-out approval went on: %v", x["jobs"])
	}
}

// With ignoreFail, a timed-out approval goes on to the next node.
func TestApprovalTimeoutWithIgnoreFailContinues(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	approver, owner := e.demo.UserIDs[0], e.demo.UserIDs[1]
	e.must(201, "POST", "/api/v1/workflows", approvalWorkflow("order-lenient", "1h", true))
	status, id := e.hook("order-lenient", map[string]any{"id": 7, "amount": 5000, "approver": "local-" + approver, "owner": "local-" + owner}, hookSecret)
	if status != 202 {
		t.Fatalf("webhook: %d", status)
	}
	e.waitInbox(approver, 1)
	e.waitExecution(id, "waiting")
	e.clock.Advance(2 * time.Hour)
	e.srv.Workflows().Wake()
	x := e.waitExecution(id, "resolved")
	if ask := jobOf(x, "ask"); ask["status"] != "failed" {
		t.Fatalf("job ask: %v", ask)
	}
	if out := e.waitInbox(owner, 1); !strings.Contains(string(out[0].Body), "Order **7**: auto") {
		t.Fatalf("decision message: %s", out[0].Body)
	}
}

// A webhook call repeated with the same Idempotency-Key — one after the other or at the same
// moment — starts one execution and answers each repeat with it; the decision reaches the owner
// once. A bad key is a 400 that names the header and stores nothing. (A bearer workflow: an hmac
// one dedups by its signature.)
func TestWebhookIdempotencyKeyStartsOneExecution(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	owner := e.demo.UserIDs[1]
	def := approvalWorkflow("order-paid", "24h", false)
	def["trigger"] = map[string]any{"type": "webhook", "config": map[string]any{"auth": map[string]any{"type": "bearer", "token": hookSecret}}}
	wf := e.must(201, "POST", "/api/v1/workflows", def).Data()
	small := map[string]any{"id": 50, "amount": 10, "approver": "local-" + e.demo.UserIDs[0], "owner": "local-" + owner}
	keyed := func(key ...string) http.Header {
		return http.Header{workflow.IdempotencyHeader: key, "Authorization": {"Bearer " + hookSecret}}
	}
	executions := func() float64 {
		return e.must(200, "GET", fmt.Sprintf("/api/v1/executions?workflowId=%v", wf["id"]), nil).JSON()["total"].(float64)
	}

	status, first, _ := e.hookWith("order-paid", small, "", keyed("order-50-paid"))
	if status != 202 || first == "" {
		t.Fatalf("first call: %d %q", status, first)
	}
	var wg sync.WaitGroup
	ids := make([]string, 6)
	statuses := make([]int, 6)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], ids[i], _ = e.hookWith("order-paid", small, "", keyed("order-50-paid"))
		}()
	}
	wg.Wait()
	for i := range ids {
		if statuses[i] != 202 || ids[i] != first {
			t.Fatalf("repeat %d: %d %q, want 202 with the first execution %q", i, statuses[i], ids[i], first)
		}
	}
	e.waitExecution(first, "resolved")
	if n := executions(); n != 1 {
		t.Fatalf("%v executions after 7 calls with one key, want 1", n)
	}
	if out := e.waitInbox(owner, 1); !strings.Contains(string(out[0].Body), "Order **50**: auto") {
		t.Fatalf("decision message: %s", out[0].Body)
	}

	// Another key is another execution.
	other := map[string]any{"id": 51, "amount": 10, "approver": small["approver"], "owner": small["owner"]}
	if status, id, _ := e.hookWith("order-paid", other, "", keyed("order-51-paid")); status != 202 || id == first {
		t.Fatalf("another key: %d %q", status, id)
	}
	for name, h := range map[string]http.Header{
		"empty":     keyed(""),
		"too long":  keyed(strings.Repeat("k", 121)),
		"two given": keyed("a", "b"),
	} {
		status, id, msg := e.hookWith("order-paid", small, "", h)
		if status != 400 || id != "" || !strings.Contains(msg, "Idempotency-Key") {
			t.Fatalf("%s key: %d %q %q, want 400 naming the header", name, status, id, msg)
		}
	}
	if n := executions(); n != 2 {
		t.Fatalf("%v executions, want 2: a rejected call stored one", n)
	}
	e.waitInbox(owner, 2)
}

// inboxCard is what the tests read of a template card a member received.
type inboxCard struct{ taskID, title string }

// cardOf reads a received template card's task_id and main title.
func cardOf(body []byte) inboxCard {
	var card struct {
		TaskID    string `json:"task_id"`
		MainTitle struct {
			Title string `json:"title"`
		} `json:"main_title"`
	}
	_ = json.Unmarshal(body, &card)
	return inboxCard{card.TaskID, card.MainTitle.Title}
}
