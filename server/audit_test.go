package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// auditEntries reads the audit log through the API with a query.
func (e *env) auditEntries(query string) []map[string]any {
	e.t.Helper()
	var list struct{ Data []map[string]any }
	if err := json.Unmarshal(e.must(200, "GET", "/api/v1/audit?"+query, nil).Body, &list); err != nil {
		e.t.Fatal(err)
	}
	return list.Data
}

func TestAuditRecordsChangesWithoutSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/authenticators", acmeAuthenticator("acme"))
	req := `{"title": "Acme 2", "options": {"secret": "NEW-SECRET-VALUE"}}`
	res := e.rawAs("PATCH", "/api/v1/authenticators/1", req, "ops-console/1.0")
	if res.Status != http.StatusOK {
		t.Fatalf("update: %d %s", res.Status, res.Body)
	}
	got := e.auditEntries("action=authenticator.update")
	if len(got) != 1 {
		t.Fatalf("entries: %v", got)
	}
	entry := got[0]
	raw, _ := json.Marshal(entry)
	if strings.Contains(string(raw), "NEW-SECRET-VALUE") || strings.Contains(string(raw), "SECRET-app") {
		t.Fatalf("a secret's value is in the audit log: %s", raw)
	}
	if ch := entry["changes"].([]any); len(ch) != 2 || ch[0] != "options.secret" || ch[1] != "title" {
		t.Fatalf("changes: %v", ch)
	}
	actor, target := entry["actor"].(map[string]any), entry["target"].(map[string]any)
	if actor["type"] != "token" || actor["id"] != float64(1) || actor["name"] != "bootstrap" ||
		target["type"] != "authenticator" || target["id"] != float64(1) || target["name"] != "acme" ||
		entry["ip"] != "192.0.2.1" || entry["userAgent"] != "ops-console/1.0" {
		t.Fatalf("entry: %s", raw)
	}
	// The create was recorded with every field it set, secrets by name.
	created := e.auditEntries("action=authenticator.create")[0]["changes"].([]any)
	if !containsAll(created, "name", "options.corpId", "options.secret", "options.sync.contactSecret") {
		t.Fatalf("create's changes: %v", created)
	}
}

func (e *env) rawAs(method, path, body, userAgent string) response {
	req, _ := http.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = "192.0.2.1:1234"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("User-Agent", userAgent)
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, req)
	return response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

func containsAll(list []any, want ...string) bool {
	for _, w := range want {
		found := false
		for _, v := range list {
			found = found || v == w
		}
		if !found {
			return false
		}
	}
	return true
}

// An entry is written with its change or not at all: a refused change leaves no line.
func TestAuditWritesNothingForAChangeThatFailed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/authenticators", acmeAuthenticator("acme"))
	e.must(201, "POST", "/api/v1/channels", map[string]any{"name": "ops", "authenticatorId": 1})
	before := len(e.auditEntries("pageSize=200"))
	e.must(409, "DELETE", "/api/v1/authenticators/1", nil)
	e.must(409, "POST", "/api/v1/channels", map[string]any{"name": "ops", "authenticatorId": 1})
	e.must(422, "PATCH", "/api/v1/channels/1", map[string]any{"options": map[string]any{"safe": 7}})
	if after := len(e.auditEntries("pageSize=200")); after != before {
		t.Fatalf("%d entries before the refused changes, %d after", before, after)
	}
}

func TestAuditCoversEveryKindOfChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/authenticators", acmeAuthenticator("acme"))
	e.must(200, "PATCH", "/api/v1/authenticators/1", map[string]any{"enabled": false})
	e.must(201, "POST", "/api/v1/channels", map[string]any{"name": "ops", "authenticatorId": 1})
	e.must(200, "PATCH", "/api/v1/channels/1", map[string]any{"title": "Ops"})
	e.must(204, "DELETE", "/api/v1/channels/1", nil)
	e.must(201, "POST", "/api/v1/users", map[string]any{"userid": "zhangsan"})
	e.must(200, "PATCH", "/api/v1/users/1", map[string]any{"name": "张三"})
	e.must(204, "DELETE", "/api/v1/users/1", nil)
	e.must(200, "POST", "/api/v1/users/bulk", []any{map[string]any{"userid": "a"}, map[string]any{"userid": "b"}, map[string]any{"userid": ""}})
	e.must(201, "POST", "/api/v1/workflows", map[string]any{"key": "w", "title": "W", "trigger": map[string]any{"type": "manual"},
		"nodes": []any{map[string]any{"key": "end", "type": "end", "config": map[string]any{"status": "resolved"}}}})
	e.must(200, "PATCH", "/api/v1/workflows/1", map[string]any{"enabled": false})
	e.must(200, "PATCH", "/api/v1/workflows/1", map[string]any{"title": "W2", "enabled": true})
	e.must(204, "DELETE", "/api/v1/workflows/1", nil)
	e.must(201, "POST", "/api/v1/accounts", map[string]any{"name": "张三", "role": "viewer"})
	e.must(200, "PATCH", "/api/v1/accounts/1", map[string]any{"enabled": false})
	e.must(204, "DELETE", "/api/v1/accounts/1", nil)
	e.must(201, "POST", "/api/v1/tokens", map[string]any{"name": "erp", "role": "viewer"})
	e.must(204, "DELETE", "/api/v1/tokens/2", nil)
	w := e.webLogin()
	w.post("/ui/logout", nil)
	e.webDo("POST", "/login", url.Values{"token": {"wcf_wrong"}}, nil)

	var actions []string
	for _, entry := range e.auditEntries("pageSize=200") {
		actions = append(actions, entry["action"].(string))
	}
	want := []string{"auth.login_failed", "auth.logout", "auth.login", "token.delete", "token.create", "account.delete", "account.disable",
		"account.create", "workflow.delete", "workflow.update", "workflow.disable", "workflow.create", "user.bulk", "user.delete",
		"user.update", "user.create", "channel.delete", "channel.update", "channel.create", "authenticator.disable", "authenticator.create"}
	if strings.Join(actions, " ") != strings.Join(want, " ") {
		t.Fatalf("actions, newest first:\n%v\nwant\n%v", actions, want)
	}
	bulk := e.auditEntries("action=user.bulk")[0]
	if c := bulk["counts"].(map[string]any); c["created"] != float64(2) || c["updated"] != float64(0) || c["failed"] != float64(1) {
		t.Fatalf("bulk counts: %v", bulk)
	}
	// Filters.
	if got := e.auditEntries("targetType=workflow"); len(got) != 4 {
		t.Fatalf("targetType=workflow: %d", len(got))
	}
	if got := e.auditEntries("actor=token:1&action=auth.login"); len(got) != 1 {
		t.Fatalf("actor=token:1&action=auth.login: %d", len(got))
	}
	if got := e.auditEntries("since=2000-01-01T00:00:00Z&until=2001-01-01T00:00:00Z"); len(got) != 0 {
		t.Fatalf("a window in the past: %d", len(got))
	}
	res := e.do("GET", "/api/v1/audit?since=yesterday&actor=root&action=DROP%20TABLE", nil)
	if f := res.Fields(); res.Status != 422 || f["since"] == nil || f["actor"] == nil || f["action"] == nil {
		t.Fatalf("bad filters: %d %s", res.Status, res.Body)
	}
	// The log has no route that changes it.
	for _, m := range []string{"POST", "PATCH", "DELETE"} {
		if res := e.do(m, "/api/v1/audit", nil); res.Status != http.StatusNotFound && res.Status != http.StatusMethodNotAllowed {
			t.Fatalf("%s /api/v1/audit: %d", m, res.Status)
		}
	}
}
