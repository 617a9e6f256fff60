package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/workflow"
)

// hookAddr is the client address of the webhook calls here: one address for all, as behind a
// shared proxy.
const hookAddr = "198.51.100.7:4100"

// hookWorkflow is a webhook workflow with the trigger config given.
func hookWorkflow(key string, config map[string]any) map[string]any {
	return with(wf(key), map[string]any{"trigger": map[string]any{"type": "webhook", "config": config}})
}

// postHook posts body to /hooks/key with the headers h, from hookAddr.
func (e *env) postHook(key string, body []byte, h http.Header) response {
	req := httptest.NewRequest("POST", "/hooks/"+key, bytes.NewReader(body))
	req.RemoteAddr = hookAddr
	req.Header.Set("Content-Type", "application/json")
	for k, v := range h {
		req.Header[k] = v
	}
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, req)
	return response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

// errMessage is error.message of an error body.
func (r response) errMessage() string {
	e, _ := r.JSON()["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// hexMAC is hex HMAC-SHA256 of the parts, as the senders compute it.
func hexMAC(secret string, parts ...string) string {
	m := hmac.New(sha256.New, []byte(secret))
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return hex.EncodeToString(m.Sum(nil))
}

// refusedCase is a call that must be refused with a 401 whose message says mention.
type refusedCase struct {
	name    string
	header  http.Header
	mention string
}

func (e *deliveryEnv) expectRefused(t *testing.T, key string, body []byte, cases []refusedCase) {
	t.Helper()
	for _, c := range cases {
		res := e.postHook(key, body, c.header)
		if res.Status != 401 || res.Code() != "unauthorized" || !strings.Contains(res.errMessage(), c.mention) {
			t.Errorf("%s: %d %s, want 401 saying %q", c.name, res.Status, res.Body, c.mention)
		}
	}
}

func (e *deliveryEnv) executionCount(workflowID any) float64 {
	return e.must(200, "GET", fmt.Sprintf("/api/v1/executions?workflowId=%v", workflowID), nil).JSON()["total"].(float64)
}

// refusals reads the refused-webhook counter of a workflow and header from /metrics.
func (e *env) refusals(workflowID any, header string) string {
	page := string(e.raw("GET", "/metrics", "", nil, "").Body)
	prefix := fmt.Sprintf(`wecomflow_webhook_refusals_total{header=%q,workflow_id="%v"} `, header, workflowID)
	for _, line := range strings.Split(page, "\n") {
		if n, ok := strings.CutPrefix(line, prefix); ok {
			return n
		}
	}
	return "0"
}

// An hmac webhook signs timestamp + "." + body; a repeat of the same signed call within the window
// starts nothing and answers the first execution; a stale, missing or wrong header is a 401 that
// names it, counted per workflow in /metrics.
func TestWebhookHMAC(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{noSender: true})
	w := e.must(201, "POST", "/api/v1/workflows", hookWorkflow("paid", map[string]any{"auth": map[string]any{"type": "hmac", "secret": hookSecret}})).Data()
	body := []byte(`{"name": "order 7"}`)
	signed := func(at time.Time, secret string) http.Header {
		h := http.Header{}
		signWebhook(h, body, secret, at)
		return h
	}
	now := e.clock.Now()
	first := e.postHook("paid", body, signed(now, hookSecret))
	if first.Status != 202 {
		t.Fatalf("a signed call: %d %s", first.Status, first.Body)
	}
	again := e.postHook("paid", body, signed(now, hookSecret))
	if again.Status != 202 || again.Data()["id"] != first.Data()["id"] {
		t.Fatalf("the same signed call again: %d %s, want 202 with execution %v", again.Status, again.Body, first.Data()["id"])
	}
	if n := e.executionCount(w["id"]); n != 1 {
		t.Fatalf("%v executions after a replay, want 1", n)
	}
	if next := e.postHook("paid", body, signed(now.Add(time.Second), hookSecret)); next.Status != 202 || next.Data()["id"] == first.Data()["id"] {
		t.Fatalf("the same body signed a second later is a new call: %d %s", next.Status, next.Body)
	}

	stale := signed(now.Add(-412*time.Second), hookSecret)
	noTimestamp := signed(now, hookSecret)
	noTimestamp.Del(workflow.TimestampHeader)
	noSignature := signed(now, hookSecret)
	noSignature.Del(workflow.SignatureHeader)
	badTimestamp := signed(now, hookSecret)
	badTimestamp.Set(workflow.TimestampHeader, "yesterday")
	bodyOnly := http.Header{workflow.SignatureHeader: {"sha256=" + hexMAC(hookSecret, string(body))}}
	e.expectRefused(t, "paid", body, []refusedCase{
		{"stale", stale, "X-Wecomflow-Timestamp header is 412 s from now; at most 300"},
		{"from the future", signed(now.Add(301*time.Second), hookSecret), "301 s from now"},
		{"no timestamp", noTimestamp, "X-Wecomflow-Timestamp header is missing"},
		{"timestamp not a number", badTimestamp, "X-Wecomflow-Timestamp header must be the unix time"},
		{"no signature", noSignature, "X-Wecomflow-Signature header is missing"},
		{"wrong secret", signed(now, "another-secret-of-enough-length"), "X-Wecomflow-Signature header is wrong"},
		{"body-only signature on a new workflow", bodyOnly, "X-Wecomflow-Timestamp header is missing"},
	})
	// The replay after the window is stale, not a new execution.
	e.clock.Advance(301 * time.Second)
	e.expectRefused(t, "paid", body, []refusedCase{{"the first call after the window", signed(now, hookSecret), "301 s from now"}})
	if n := e.executionCount(w["id"]); n != 2 {
		t.Fatalf("%v executions, want 2: a refused call started one", n)
	}
	if ts, sig := e.refusals(w["id"], workflow.TimestampHeader), e.refusals(w["id"], workflow.SignatureHeader); ts != "6" || sig != "2" {
		t.Fatalf("refusals in /metrics: timestamp %s, signature %s; want 6 and 2", ts, sig)
	}
}

// Alertmanager's http_config.authorization sends Authorization: Bearer <token>.
func TestWebhookBearerAsAlertmanagerSends(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{noSender: true})
	e.must(201, "POST", "/api/v1/workflows", hookWorkflow("alerts", map[string]any{"auth": map[string]any{"type": "bearer", "token": hookSecret}}))
	body := []byte(`{"version": "4", "status": "firing", "receiver": "wecom", "groupKey": "{}:{alertname=\"HighLoad\"}",
		"alerts": [{"status": "firing", "labels": {"alertname": "HighLoad"}, "annotations": {"summary": "load is high"}}]}`)
	if res := e.postHook("alerts", body, http.Header{"Authorization": {"Bearer " + hookSecret}}); res.Status != 202 {
		t.Fatalf("Alertmanager's call: %d %s", res.Status, res.Body)
	}
	e.expectRefused(t, "alerts", body, []refusedCase{
		{"no Authorization", nil, "Authorization header is missing"},
		{"another scheme", http.Header{"Authorization": {"Token " + hookSecret}}, "Authorization header must be Bearer"},
		{"wrong token", http.Header{"Authorization": {"Bearer not-" + hookSecret}}, "Authorization header carries a wrong token"},
		{"an hmac signature instead", func() http.Header { h := http.Header{}; signWebhook(h, body, hookSecret, e.clock.Now()); return h }(), "Authorization header is missing"},
	})
}

func TestWebhookBasic(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{noSender: true})
	e.must(201, "POST", "/api/v1/workflows", hookWorkflow("kuma", map[string]any{"auth": map[string]any{"type": "basic", "username": "kuma", "password": hookSecret}}))
	basic := func(user, pass string) http.Header {
		r, _ := http.NewRequest("POST", "/", nil)
		r.SetBasicAuth(user, pass)
		return r.Header
	}
	body := []byte(`{"msg": "down"}`)
	if res := e.postHook("kuma", body, basic("kuma", hookSecret)); res.Status != 202 {
		t.Fatalf("basic: %d %s", res.Status, res.Body)
	}
	e.expectRefused(t, "kuma", body, []refusedCase{
		{"no Authorization", nil, "Authorization header is missing"},
		{"bearer", http.Header{"Authorization": {"Bearer " + hookSecret}}, "Authorization header must be Basic"},
		{"wrong password", basic("kuma", "not-"+hookSecret), "wrong username or password"},
		{"wrong username", basic("other", hookSecret), "wrong username or password"},
	})
}

// Grafana signs the body, or timestamp:body when it sends a timestamp, under either header name.
func TestWebhookGrafana(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{noSender: true})
	e.must(201, "POST", "/api/v1/workflows", hookWorkflow("grafana", map[string]any{"auth": map[string]any{"type": "grafana", "secret": hookSecret}}))
	ts := strconv.FormatInt(e.clock.Now().Unix(), 10)
	for i, c := range []struct{ sigHeader, tsHeader string }{
		{"X-Grafana-Alert-Signature", ""},
		{"X-Grafana-Alerting-Signature", ""},
		{"X-Grafana-Alert-Signature", "X-Grafana-Alert-Signature-Timestamp"},
		{"X-Grafana-Alerting-Signature", "X-Grafana-Alerting-Signature-Timestamp"},
	} {
		body := []byte(fmt.Sprintf(`{"receiver": "wecom", "status": "firing", "n": %d}`, i))
		h := http.Header{c.sigHeader: {hexMAC(hookSecret, string(body))}}
		if c.tsHeader != "" {
			h = http.Header{c.sigHeader: {hexMAC(hookSecret, ts, ":", string(body))}, c.tsHeader: {ts}}
		}
		if res := e.postHook("grafana", body, h); res.Status != 202 {
			t.Errorf("%s %s: %d %s", c.sigHeader, c.tsHeader, res.Status, res.Body)
		}
	}
	body := []byte(`{"receiver": "wecom"}`)
	e.expectRefused(t, "grafana", body, []refusedCase{
		{"no signature", nil, "X-Grafana-Alert-Signature header is missing"},
		{"wrong secret", http.Header{"X-Grafana-Alerting-Signature": {hexMAC("another-secret-of-length", string(body))}}, "X-Grafana-Alerting-Signature header is wrong"},
		{"body-only with a timestamp", http.Header{"X-Grafana-Alert-Signature": {hexMAC(hookSecret, string(body))}, "X-Grafana-Alert-Signature-Timestamp": {ts}},
			"X-Grafana-Alert-Signature header is wrong: it must be the hex HMAC-SHA256 of X-Grafana-Alert-Signature-Timestamp"},
	})
}

// format: form turns an urlencoded body into $context.data.
func TestWebhookFormFormat(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{noSender: true})
	e.must(201, "POST", "/api/v1/workflows", hookWorkflow("form", map[string]any{"format": "form", "auth": map[string]any{"type": "bearer", "token": hookSecret}}))
	res := e.postHook("form", []byte("name=%E5%BC%A0%E4%B8%89&tag=a&tag=b"),
		http.Header{"Authorization": {"Bearer " + hookSecret}, "Content-Type": {"application/x-www-form-urlencoded"}})
	if res.Status != 202 {
		t.Fatalf("form: %d %s", res.Status, res.Body)
	}
	x := e.must(200, "GET", "/api/v1/executions/"+res.Data()["id"].(string), nil).Data()
	if data := x["context"].(map[string]any)["data"]; !equalJSON(data, map[string]any{"name": "张三", "tag": []any{"a", "b"}}) {
		t.Fatalf("$context.data of a form: %v", data)
	}
}

// A workflow saved before timestamped signatures keeps the body-only one, through the
// migration's legacySignature: true, until someone sets it to false; no other workflow may set it.
func TestWebhookLegacySignatureMigration(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{noSender: true})
	old := e.must(201, "POST", "/api/v1/workflows", hookWorkflow("old", map[string]any{"secret": hookSecret})).Data()
	// The database as it was before migration 14: that workflow is one saved before it.
	if err := e.store.DB.Exec("DELETE FROM schema_migrations WHERE version = 14").Error; err != nil {
		t.Fatal(err)
	}
	if err := e.store.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	cfg := e.must(200, "GET", "/api/v1/workflows/1", nil).Data()["trigger"].(map[string]any)["config"]
	if !equalJSON(cfg, map[string]any{"auth": map[string]any{"type": "hmac", "secretSet": true}, "legacySignature": true}) {
		t.Fatalf("old workflow's trigger config after the migration: %v", cfg)
	}
	body := []byte(`{"id": 1}`)
	bodyOnly := http.Header{workflow.SignatureHeader: {"sha256=" + hexMAC(hookSecret, string(body))}}
	if res := e.postHook("old", body, bodyOnly); res.Status != 202 {
		t.Fatalf("body-only signature on a legacy workflow: %d %s", res.Status, res.Body)
	}
	timed := http.Header{}
	signWebhook(timed, body, hookSecret, e.clock.Now())
	if res := e.postHook("old", body, timed); res.Status != 202 {
		t.Fatalf("timestamped signature on a legacy workflow: %d %s", res.Status, res.Body)
	}

	// A new workflow may not claim the flag; the old one may keep it through a save, or drop it.
	res := e.do("POST", "/api/v1/workflows", hookWorkflow("new", map[string]any{"secret": hookSecret, "legacySignature": true}))
	if res.Status != 422 || res.Fields()["trigger.config.legacySignature"] == nil {
		t.Fatalf("legacySignature on a new workflow: %d %s", res.Status, res.Body)
	}
	e.must(200, "PATCH", "/api/v1/workflows/1", map[string]any{"title": "Still old", "trigger": map[string]any{"type": "webhook", "config": cfg}})
	e.must(200, "PATCH", "/api/v1/workflows/1", map[string]any{"trigger": map[string]any{"type": "webhook", "config": map[string]any{"legacySignature": false}}})
	e.expectRefused(t, "old", body, []refusedCase{{"body-only after the flag was dropped", bodyOnly, "X-Wecomflow-Timestamp header is missing"}})
	res = e.do("PATCH", "/api/v1/workflows/1", map[string]any{"trigger": map[string]any{"type": "webhook", "config": map[string]any{"legacySignature": true}}})
	if res.Status != 422 || res.Fields()["trigger.config.legacySignature"] == nil {
		t.Fatalf("legacySignature back to true: %d %s", res.Status, res.Body)
	}
	if n := e.executionCount(old["id"]); n != 2 {
		t.Fatalf("%v executions, want 2", n)
	}
}

// A misconfigured tool behind a shared address must not lock the people there out of the API.
func TestWebhookRefusalsDoNotLockOutTheAddress(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{noSender: true})
	e.must(201, "POST", "/api/v1/workflows", hookWorkflow("alerts", map[string]any{"auth": map[string]any{"type": "bearer", "token": hookSecret}}))
	for i := 0; i < 40; i++ {
		if res := e.postHook("alerts", []byte(`{}`), http.Header{"Authorization": {"Bearer wrong"}}); res.Status != 401 {
			t.Fatalf("call %d: %d %s", i, res.Status, res.Body)
		}
	}
	if res := e.rawFrom(hookAddr, "GET", "/api/v1/workflows", "", nil, e.token); res.Status != 200 {
		t.Fatalf("the API from the same address after 40 refused webhooks: %d %s", res.Status, res.Body)
	}
}

// Every credential is write-only: GET shows that it is set, the database holds it sealed, the
// log never has it; changing the auth type needs a new credential.
func TestWebhookCredentialsAreWriteOnly(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{noSender: true})
	creds := map[string]map[string]any{
		"hmac":    {"type": "hmac", "secret": "HMAC-secret-0123456789"},
		"bearer":  {"type": "bearer", "token": "BEARER-token-0123456789"},
		"basic":   {"type": "basic", "username": "kuma", "password": "BASIC-password-0123456789"},
		"grafana": {"type": "grafana", "secret": "GRAFANA-secret-0123456789"},
	}
	want := map[string]map[string]any{
		"hmac": {"type": "hmac", "secretSet": true}, "bearer": {"type": "bearer", "tokenSet": true},
		"basic": {"type": "basic", "username": "kuma", "passwordSet": true}, "grafana": {"type": "grafana", "secretSet": true},
	}
	var plain []string
	// In name order: workflow 1 is "basic", which the PATCH below turns into bearer.
	for _, name := range slices.Sorted(maps.Keys(creds)) {
		auth := creds[name]
		for k, v := range auth {
			if k != "type" && k != "username" {
				plain = append(plain, v.(string))
			}
		}
		created := e.must(201, "POST", "/api/v1/workflows", hookWorkflow(name, map[string]any{"auth": auth})).Data()
		got := e.must(200, "GET", fmt.Sprintf("/api/v1/workflows/%v", created["id"]), nil).Data()["trigger"].(map[string]any)["config"].(map[string]any)["auth"]
		if !equalJSON(got, want[name]) {
			t.Errorf("%s: auth as GET shows it: %v, want %v", name, got, want[name])
		}
	}
	// A call refused and one let in, so the log has both.
	e.postHook("bearer", []byte(`{}`), http.Header{"Authorization": {"Bearer " + plain[0]}})
	e.postHook("bearer", []byte(`{}`), http.Header{"Authorization": {"Bearer BEARER-token-0123456789"}})
	list := string(e.must(200, "GET", "/api/v1/workflows", nil).Body)
	_, rows := e.rows("SELECT definition, webhook_secret FROM workflows")
	_, versions := e.rows("SELECT definition FROM workflow_versions")
	stored, _ := json.Marshal([]any{rows, versions})
	for _, s := range plain {
		for where, text := range map[string]string{"the list": list, "the log": e.logs.String(), "the database": string(stored)} {
			if strings.Contains(text, s) {
				t.Errorf("%s shows %q", where, s)
			}
		}
	}

	res := e.do("PATCH", "/api/v1/workflows/1", map[string]any{"trigger": map[string]any{"type": "webhook", "config": map[string]any{"auth": map[string]any{"type": "bearer"}}}})
	if res.Status != 422 || res.Fields()["trigger.config.auth.token"] == nil {
		t.Fatalf("a new auth type without its credential: %d %s", res.Status, res.Body)
	}
}

func TestWebhookAuthValidation(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{noSender: true})
	for _, c := range []struct {
		name   string
		config map[string]any
		field  string
	}{
		{"unknown type", map[string]any{"auth": map[string]any{"type": "apikey", "token": hookSecret}}, "trigger.config.auth.type"},
		{"short token", map[string]any{"auth": map[string]any{"type": "bearer", "token": "short"}}, "trigger.config.auth.token"},
		{"basic without username", map[string]any{"auth": map[string]any{"type": "basic", "password": hookSecret}}, "trigger.config.auth.username"},
		{"username on bearer", map[string]any{"auth": map[string]any{"type": "bearer", "token": hookSecret, "username": "x"}}, "trigger.config.auth.username"},
		{"config.secret with bearer", map[string]any{"secret": hookSecret, "auth": map[string]any{"type": "bearer", "token": hookSecret}}, "trigger.config.secret"},
		{"unknown format", map[string]any{"secret": hookSecret, "format": "xml"}, "trigger.config.format"},
		{"auth not an object", map[string]any{"secret": hookSecret, "auth": "bearer"}, "trigger.config.auth"},
	} {
		res := e.do("POST", "/api/v1/workflows", hookWorkflow("v", c.config))
		if res.Status != 422 || res.Fields()[c.field] == nil {
			t.Errorf("%s: %d %s, want 422 naming %s", c.name, res.Status, res.Body, c.field)
		}
	}
}
