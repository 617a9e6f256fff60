package server

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// Each bad request gets its status, code and the field path, and leaves the data as it was.
func TestBadInputIsRejectedAndChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/authenticators", acmeAuthenticator("acme"))
	e.must(201, "POST", "/api/v1/authenticators", acmeAuthenticator("spare"))
	e.must(201, "POST", "/api/v1/channels", map[string]any{"name": "ops_wecom", "authenticatorId": 1})
	e.must(201, "POST", "/api/v1/users", map[string]any{"userid": "zhangsan", "name": "张三", "bindings": map[string]any{"wechatwk": "zhangsan"}})

	withOption := func(path string, v any) map[string]any {
		b := acmeAuthenticator("beta")
		opts := b["options"].(map[string]any)
		parts := strings.Split(path, ".")
		for _, p := range parts[:len(parts)-1] {
			opts = opts[p].(map[string]any)
		}
		if v == nil {
			delete(opts, parts[len(parts)-1])
		} else {
			opts[parts[len(parts)-1]] = v
		}
		return b
	}
	cases := []struct {
		name, method, path string
		body               any
		status             int
		code, field        string
	}{
		{"malformed JSON", "POST", "/api/v1/authenticators", `{"name": "x",`, 400, "bad_request", ""},
		{"not JSON at all", "POST", "/api/v1/channels", `name=x`, 400, "bad_request", ""},
		{"empty body", "POST", "/api/v1/users", ``, 400, "bad_request", ""},
		{"wrong type of field", "POST", "/api/v1/authenticators", `{"name": 5}`, 422, "validation_failed", "name"},
		{"authenticator name pattern", "POST", "/api/v1/authenticators", map[string]any{"name": "Beta!", "options": acmeAuthenticator("beta")["options"]}, 422, "validation_failed", "name"},
		{"authenticator name required", "POST", "/api/v1/authenticators", map[string]any{"options": acmeAuthenticator("beta")["options"]}, 422, "validation_failed", "name"},
		{"options required", "POST", "/api/v1/authenticators", map[string]any{"name": "beta"}, 422, "validation_failed", "options"},
		{"unknown type", "POST", "/api/v1/authenticators", func() any { b := acmeAuthenticator("beta"); b["type"] = "dingtalk"; return b }(), 422, "validation_failed", "type"},
		{"corpId required", "POST", "/api/v1/authenticators", withOption("corpId", ""), 422, "validation_failed", "options.corpId"},
		{"agentId positive", "POST", "/api/v1/authenticators", withOption("agentId", 0), 422, "validation_failed", "options.agentId"},
		{"agentId integer", "POST", "/api/v1/authenticators", withOption("agentId", "1000002"), 422, "validation_failed", "options.agentId"},
		{"secret required on create", "POST", "/api/v1/authenticators", withOption("secret", nil), 422, "validation_failed", "options.secret"},
		{"apiBaseUrl scheme", "POST", "/api/v1/authenticators", withOption("apiBaseUrl", "ftp://x"), 422, "validation_failed", "options.apiBaseUrl"},
		{"encodingAesKey length", "POST", "/api/v1/authenticators", withOption("callback.encodingAesKey", "short"), 422, "validation_failed", "options.callback.encodingAesKey"},
		{"encodingAesKey charset", "POST", "/api/v1/authenticators", withOption("contactsCallback.encodingAesKey", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2+"), 422, "validation_failed", "options.contactsCallback.encodingAesKey"},
		{"callback token charset", "POST", "/api/v1/authenticators", withOption("callback.token", "has space"), 422, "validation_failed", "options.callback.token"},
		{"callback token length", "POST", "/api/v1/authenticators", withOption("callback.token", strings.Repeat("a", 33)), 422, "validation_failed", "options.callback.token"},
		{"cron spec", "POST", "/api/v1/authenticators", withOption("sync.schedule", "every day"), 422, "validation_failed", "options.sync.schedule"},
		{"cron spec zone only", "POST", "/api/v1/authenticators", withOption("sync.schedule", "CRON_TZ=UTC"), 422, "validation_failed", "options.sync.schedule"},
		{"unknown option", "POST", "/api/v1/authenticators", withOption("agent_id", 5), 422, "validation_failed", "options.agent_id"},
		{"patch to an invalid value", "PATCH", "/api/v1/authenticators/1", map[string]any{"options": map[string]any{"agentId": -3}}, 422, "validation_failed", "options.agentId"},
		{"patch removes the secret", "PATCH", "/api/v1/authenticators/1", map[string]any{"options": map[string]any{"secret": nil}}, 422, "validation_failed", "options.secret"},
		{"patch changes the type", "PATCH", "/api/v1/authenticators/1", map[string]any{"type": "other"}, 422, "validation_failed", "type"},
		{"duplicate authenticator name", "POST", "/api/v1/authenticators", acmeAuthenticator("acme"), 409, "conflict", ""},
		{"rename to a taken name", "PATCH", "/api/v1/authenticators/2", map[string]any{"name": "acme"}, 409, "conflict", ""},
		{"delete an authenticator in use", "DELETE", "/api/v1/authenticators/1", nil, 409, "conflict", ""},
		{"unknown authenticator", "GET", "/api/v1/authenticators/99", nil, 404, "not_found", ""},
		{"non-numeric id", "GET", "/api/v1/authenticators/abc", nil, 404, "not_found", ""},
		{"channel name pattern", "POST", "/api/v1/channels", map[string]any{"name": "9ops", "authenticatorId": 1}, 422, "validation_failed", "name"},
		{"channel authenticator missing", "POST", "/api/v1/channels", map[string]any{"name": "ops2", "authenticatorId": 42}, 422, "validation_failed", "authenticatorId"},
		{"channel authenticator required", "POST", "/api/v1/channels", map[string]any{"name": "ops2"}, 422, "validation_failed", "authenticatorId"},
		{"channel safe", "POST", "/api/v1/channels", map[string]any{"name": "ops2", "authenticatorId": 1, "options": map[string]any{"safe": 2}}, 422, "validation_failed", "options.safe"},
		{"channel duplicate interval", "POST", "/api/v1/channels", map[string]any{"name": "ops2", "authenticatorId": 1, "options": map[string]any{"duplicateCheckInterval": 20000}}, 422, "validation_failed", "options.duplicateCheckInterval"},
		{"duplicate channel name", "POST", "/api/v1/channels", map[string]any{"name": "ops_wecom", "authenticatorId": 1}, 409, "conflict", ""},
		{"user id required", "POST", "/api/v1/users", map[string]any{"name": "x"}, 422, "validation_failed", "userid"},
		{"user email", "POST", "/api/v1/users", map[string]any{"userid": "x", "email": "not-an-email"}, 422, "validation_failed", "email"},
		{"user wecom binding", "POST", "/api/v1/users", map[string]any{"userid": "x", "bindings": map[string]any{"wechatwk": "has space"}}, 422, "validation_failed", "bindings.wechatwk"},
		{"user unknown binding", "POST", "/api/v1/users", map[string]any{"userid": "x", "bindings": map[string]any{"dingtalk": "x"}}, 422, "validation_failed", "bindings.dingtalk"},
		{"duplicate userid", "POST", "/api/v1/users", map[string]any{"userid": "zhangsan"}, 409, "conflict", ""},
		{"bulk body not an array", "POST", "/api/v1/users/bulk", map[string]any{"userid": "x"}, 400, "bad_request", ""},
		{"bulk body malformed", "POST", "/api/v1/users/bulk", `[{"userid": "x"`, 400, "bad_request", ""},
		{"page not a number", "GET", "/api/v1/users?page=abc", nil, 422, "validation_failed", "page"},
		{"source filter", "GET", "/api/v1/users?source=ldap", nil, 422, "validation_failed", "source"},
		{"template format", "GET", "/api/v1/users/import/template?format=pdf", nil, 422, "validation_failed", "format"},
		{"body over 1 MiB", "POST", "/api/v1/authenticators", `{"name": "` + strings.Repeat("a", 1<<20) + `"}`, 413, "too_large", ""},
	}
	before := e.snapshot()
	for _, c := range cases {
		res := e.do(c.method, c.path, c.body)
		if res.Status != c.status || res.Code() != c.code {
			t.Errorf("%s: got %d %q, want %d %q: %s", c.name, res.Status, res.Code(), c.status, c.code, res.Body)
			continue
		}
		if c.field != "" {
			if _, ok := res.Fields()[c.field]; !ok {
				t.Errorf("%s: error does not name %q: %s", c.name, c.field, res.Body)
			}
		}
		if msg, _ := res.JSON()["error"].(map[string]any)["message"].(string); msg == "" {
			t.Errorf("%s: no message: %s", c.name, res.Body)
		}
	}
	if after := e.snapshot(); after != before {
		t.Fatalf("rejected requests changed stored data:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestUploadsOverTenMiBAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := e.snapshot()
	big := bytes.Repeat([]byte("userid,wechatwk_userid\n"), (10<<20)/23+10)
	if res := e.upload("/api/v1/users/import", "users.csv", big); res.Status != http.StatusRequestEntityTooLarge || res.Code() != "too_large" {
		t.Fatalf("import: %d %s", res.Status, res.Body)
	}
	// Without a Content-Length the limit still holds while reading.
	req := e.raw("POST", "/api/v1/users/bulk", "application/json", &chunked{r: bytes.NewReader(append([]byte("["), bytes.Repeat([]byte(`{"userid":"x"},`), 800_000)...))}, e.token)
	if req.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("bulk without length: %d %s", req.Status, req.Body)
	}
	if e.snapshot() != before {
		t.Fatal("a refused upload changed stored data")
	}
}

// chunked hides the length of a body, as a chunked upload would.
type chunked struct{ r *bytes.Reader }

func (c *chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

// A page number whose row offset would overflow is refused on every list, not taken for page 1;
// the pages show an empty page past the end instead of the first rows.
func TestListsRefuseAPageWhoseOffsetOverflows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/users", map[string]any{"userid": "first-user"})
	for _, list := range []string{"/api/v1/users", "/api/v1/authenticators", "/api/v1/channels", "/api/v1/messages",
		"/api/v1/callback-events", "/api/v1/workflows", "/api/v1/executions", "/api/v1/sync-tasks", "/api/v1/directory/members",
		"/api/v1/directory/departments"} {
		res := e.do("GET", list+"?page=46116860184273881&pageSize=200", nil)
		if res.Status != 422 || res.Fields()["page"] == nil {
			t.Errorf("%s: %d %s", list, res.Status, res.Body)
		}
	}
	if res := e.do("GET", "/api/v1/users?page=1000000", nil); res.Status != 200 || len(res.JSON()["data"].([]any)) != 0 {
		t.Errorf("the last page there is: %d %s", res.Status, res.Body)
	}
	if page := e.webLogin().page(200, "/ui/users?page=46116860184273881", "en"); strings.Contains(page, "first-user") {
		t.Error("the users page shows the first rows for a page past the end")
	}
}
