package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/models"
)

// Every route of the API, the pages and the sandbox is in the role table: a route missing from
// it would be refused to everybody, so a new route must be decided on, not forgotten.
func TestEveryRouteIsInTheRoleTable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, r := range e.srv.engine.Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/") && !strings.HasPrefix(r.Path, "/ui/") {
			continue
		}
		if _, ok := access.RouteRight(r.Method, r.Path); !ok {
			t.Errorf("%s %s is served but not in access.RouteRight", r.Method, r.Path)
		}
	}
}

// openapi.json's x-roles say what the role table does, operation by operation.
func TestOpenAPIRolesMatchTheTable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(e.must(200, "GET", "/api/v1/openapi.json", nil).Body, &doc); err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{(\w+)\}`)
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/api/v1/") {
			continue
		}
		for method, raw := range ops {
			if method == "parameters" {
				continue
			}
			var op struct {
				Roles []access.Role `json:"x-roles"`
			}
			_ = json.Unmarshal(raw, &op)
			need, _ := access.RouteRight(strings.ToUpper(method), param.ReplaceAllString(path, ":$1"))
			var want []access.Role
			for _, r := range access.Roles() {
				if r.May(need) {
					want = append(want, r)
				}
			}
			if !slices.Equal(op.Roles, want) {
				t.Errorf("%s %s: x-roles %v, the table allows %v", strings.ToUpper(method), path, op.Roles, want)
			}
		}
	}
}

// roleEnv is a server with one of everything (authenticator, channel, user, workflow, account)
// and a token of each role below admin.
type roleEnv struct {
	*env
	tokens map[access.Role]string
}

func newRoleEnv(t *testing.T) *roleEnv {
	e := &roleEnv{env: newEnv(t), tokens: map[access.Role]string{}}
	e.must(201, "POST", "/api/v1/authenticators", acmeAuthenticator("acme"))
	e.must(201, "POST", "/api/v1/channels", map[string]any{"name": "ops", "authenticatorId": 1})
	e.must(201, "POST", "/api/v1/channels", map[string]any{"name": "hr", "authenticatorId": 1})
	e.must(201, "POST", "/api/v1/users", map[string]any{"userid": "zhangsan", "name": "张三"})
	e.must(201, "POST", "/api/v1/workflows", map[string]any{"key": "w", "title": "W", "trigger": map[string]any{"type": "manual"},
		"nodes": []any{map[string]any{"key": "end", "type": "end", "config": map[string]any{"status": "resolved"}}}})
	e.must(201, "POST", "/api/v1/accounts", map[string]any{"name": "张三", "role": "admin"})
	for _, r := range []access.Role{access.Viewer, access.Operator, access.Designer} {
		e.tokens[r] = e.must(201, "POST", "/api/v1/tokens", map[string]any{"name": string(r), "role": r}).Data()["token"].(string)
	}
	return e
}

// state is every row the routes could change, and the audit log.
func (e *roleEnv) state() string {
	var b strings.Builder
	for _, table := range []string{"authenticators", "channels", "users", "api_tokens", "accounts", "workflows", "messages",
		"executions", "sync_tasks", "media", "templates", "audit_entries"} {
		cols, rows := e.rows("SELECT * FROM " + table + " ORDER BY 1")
		for _, vals := range rows {
			for i, v := range vals {
				if cols[i] == "secrets" || cols[i] == "webhook_secret" {
					v = "sealed"
				}
				b.WriteString(table + "." + cols[i] + "=" + toString(v) + "\n")
			}
		}
	}
	return b.String()
}

// The acceptance rule of SPEC §8.1: every API route and every page refuses a role below the
// table with 403 forbidden, and changes nothing.
func TestEveryRouteRefusesARoleBelowTheTable(t *testing.T) {
	t.Parallel()
	e := newRoleEnv(t)
	routes := e.srv.engine.Routes()
	sessions := map[access.Role]*webClient{}
	for role, token := range e.tokens {
		sessions[role] = e.webLoginWith(token)
	}
	before := e.state()
	refused := 0
	for _, r := range routes {
		api, page := strings.HasPrefix(r.Path, "/api/v1/"), strings.HasPrefix(r.Path, "/ui/")
		if !api && !page {
			continue
		}
		need, _ := access.RouteRight(r.Method, r.Path)
		path := strings.NewReplacer(":id", "1").Replace(r.Path)
		for role, token := range e.tokens {
			if role.May(need) {
				continue
			}
			refused++
			var res response
			if api {
				res = e.raw(r.Method, path, "application/json", strings.NewReader(`{"name": "x", "role": "admin"}`), token)
				if res.Status != http.StatusForbidden || res.Code() != "forbidden" || !strings.Contains(string(res.Body), "needs the") {
					t.Errorf("%s %s as %s: %d %s", r.Method, path, role, res.Status, res.Body)
				}
				continue
			}
			w := sessions[role]
			if r.Method == http.MethodGet {
				res = w.get(path)
			} else {
				res = w.post(path, url.Values{"name": {"x"}})
			}
			if res.Status != http.StatusForbidden || !strings.Contains(string(res.Body), "may do this") {
				t.Errorf("page %s %s as %s: %d", r.Method, path, role, res.Status)
			}
		}
	}
	if refused < 100 {
		t.Fatalf("only %d refusals tried: the route walk is broken", refused)
	}
	if after := e.state(); after != before {
		t.Fatalf("refused requests changed the database:\n%s\nwas\n%s", after, before)
	}
}

// A role that may use a route gets past the check (whatever the handler then says).
func TestARoleWithinTheTablePasses(t *testing.T) {
	t.Parallel()
	e := newRoleEnv(t)
	for _, c := range []struct {
		role         access.Role
		method, path string
		body         string
		want         int
	}{
		{access.Viewer, "GET", "/api/v1/channels", "", 200},
		{access.Operator, "POST", "/api/v1/users", `{"userid": "lisi"}`, 201},
		{access.Operator, "POST", "/api/v1/executions/x/cancel", ``, 404},
		{access.Designer, "PATCH", "/api/v1/workflows/1", `{"title": "W2"}`, 200},
		{access.Designer, "POST", "/api/v1/workflows/1/trigger", `{}`, 202},
	} {
		res := e.raw(c.method, c.path, "application/json", strings.NewReader(c.body), e.tokens[c.role])
		if res.Status != c.want {
			t.Errorf("%s %s as %s: %d, want %d: %s", c.method, c.path, c.role, res.Status, c.want, res.Body)
		}
	}
}

func TestChannelScopedTokenSendsOnlyThere(t *testing.T) {
	t.Parallel()
	e := newRoleEnv(t)
	scoped := e.must(201, "POST", "/api/v1/tokens", map[string]any{"name": "erp", "role": "operator", "channels": []string{"ops"}}).Data()
	if got := scoped["channels"].([]any); len(got) != 1 || got[0] != "ops" {
		t.Fatalf("channels %v", got)
	}
	token := scoped["token"].(string)
	send := func(channel string) response {
		return e.raw("POST", "/api/v1/messages", "application/json", strings.NewReader(
			`{"channel": "`+channel+`", "to": {"users": ["zhangsan"]}, "msgtype": "text", "text": {"content": "hi"}}`), token)
	}
	if res := send("ops"); res.Status != http.StatusAccepted {
		t.Fatalf("send on its channel: %d %s", res.Status, res.Body)
	}
	before := e.state()
	res := send("hr")
	if res.Status != http.StatusForbidden || !strings.Contains(string(res.Body), `channel \"hr\"`) {
		t.Fatalf("send elsewhere: %d %s", res.Status, res.Body)
	}
	res = e.raw("POST", "/api/v1/channels/2/test", "application/json", strings.NewReader(`{"to": {"users": ["zhangsan"]}}`), token)
	if res.Status != http.StatusForbidden {
		t.Fatalf("test elsewhere: %d %s", res.Status, res.Body)
	}
	if e.state() != before {
		t.Fatal("a refused send changed the database")
	}
	// A scoped token cannot mint a wider one: its tokens inherit or narrow its scope.
	res = e.raw("POST", "/api/v1/tokens", "application/json", strings.NewReader(`{"name": "wider", "channels": ["hr"]}`), token)
	if res.Status != http.StatusUnprocessableEntity || res.Fields()["channels[0]"] == nil {
		t.Fatalf("wider token: %d %s", res.Status, res.Body)
	}
	child := e.raw("POST", "/api/v1/tokens", "application/json", strings.NewReader(`{"name": "child"}`), token).Data()
	if got := child["channels"].([]any); len(got) != 1 || got[0] != "ops" {
		t.Fatalf("a child token's channels: %v", child)
	}
}

func TestTokenRoles(t *testing.T) {
	t.Parallel()
	e := newRoleEnv(t)
	op := e.tokens[access.Operator]
	create := func(token, body string) response {
		return e.raw("POST", "/api/v1/tokens", "application/json", strings.NewReader(body), token)
	}
	if res := create(op, `{"name": "up", "role": "designer"}`); res.Status != http.StatusForbidden || !strings.Contains(string(res.Body), "admin role") {
		t.Fatalf("operator giving designer: %d %s", res.Status, res.Body)
	}
	if res := create(op, `{"name": "up", "role": "admin"}`); res.Status != http.StatusForbidden {
		t.Fatalf("operator giving admin: %d %s", res.Status, res.Body)
	}
	if res := create(op, `{"name": "same"}`); res.Status != http.StatusCreated || res.Data()["role"] != "operator" {
		t.Fatalf("operator's default: %d %s", res.Status, res.Body)
	}
	if res := create(op, `{"name": "down", "role": "viewer"}`); res.Status != http.StatusCreated || res.Data()["role"] != "viewer" {
		t.Fatalf("operator giving viewer: %d %s", res.Status, res.Body)
	}
	if res := create(op, `{"name": "bad", "role": "root"}`); res.Status != http.StatusUnprocessableEntity || res.Fields()["role"] == nil {
		t.Fatalf("unknown role: %d %s", res.Status, res.Body)
	}
	// A token that belongs to no account and is not admin sees itself and the tokens it made.
	var list struct{ Data []map[string]any }
	_ = json.Unmarshal(e.raw("GET", "/api/v1/tokens", "", nil, op).Body, &list)
	var names []string
	for _, t := range list.Data {
		names = append(names, t["name"].(string))
	}
	if strings.Join(names, " ") != "operator same down" {
		t.Fatalf("operator's token list: %v", names)
	}
	if res := e.raw("DELETE", "/api/v1/tokens/1", "", nil, op); res.Status != http.StatusNotFound {
		t.Fatalf("operator revoking the bootstrap token: %d %s", res.Status, res.Body)
	}
	// The admin sees all of them.
	_ = json.Unmarshal(e.must(200, "GET", "/api/v1/tokens", nil).Body, &list)
	if len(list.Data) < 6 {
		t.Fatalf("admin's token list: %d", len(list.Data))
	}
	me := e.must(200, "GET", "/api/v1/accounts/me", nil).Data()
	if tok, _ := me["token"].(map[string]any); tok["role"] != "admin" || tok["name"] != "bootstrap" {
		t.Fatalf("me: %v", me)
	}
}

func TestExpiredTokenGets401(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC))
	e := newEnvWith(t, envOptions{now: clk.Now})
	res := e.must(201, "POST", "/api/v1/tokens", map[string]any{"name": "short", "role": "viewer", "expiresAt": "2026-12-07T09:00:00Z"})
	token := res.Data()["token"].(string)
	if res := e.raw("GET", "/api/v1/channels", "", nil, token); res.Status != http.StatusOK {
		t.Fatalf("before expiry: %d", res.Status)
	}
	if res := e.raw("POST", "/api/v1/tokens", "application/json", strings.NewReader(`{"name": "longer", "expiresAt": "2027-01-01T00:00:00Z"}`), token); res.Data()["expiresAt"] != "2026-12-07T09:00:00Z" {
		t.Fatalf("a child token outlives its maker: %s", res.Body)
	}
	clk.Advance(time.Hour)
	res = e.raw("GET", "/api/v1/channels", "", nil, token)
	if res.Status != http.StatusUnauthorized || !strings.Contains(string(res.Body), "expired") {
		t.Fatalf("after expiry: %d %s", res.Status, res.Body)
	}
	if res := e.do("POST", "/api/v1/tokens", map[string]any{"name": "past", "expiresAt": "2026-12-07T08:00:00Z"}); res.Fields()["expiresAt"] == nil {
		t.Fatalf("an expiry in the past: %d %s", res.Status, res.Body)
	}
}

// accountSession signs an account in the way a WeCom sign-in ends, and returns its page client.
func (e *env) accountSession(id uint64) *webClient {
	e.t.Helper()
	a, err := e.store.GetAccount(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	sess, err := e.srv.Service().OpenAccountSession(context.Background(), a)
	if err != nil {
		e.t.Fatal(err)
	}
	return &webClient{e: e, cookie: &http.Cookie{Name: "wecomflow_session", Value: sess.Cookie}, csrf: sess.CSRF}
}

// apiAs calls the API with a page session's cookie and CSRF header, as the pages' scripts do.
func (w *webClient) apiAs(method, path, body string) response {
	req, _ := http.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", w.csrf)
	req.AddCookie(w.cookie)
	rec := httptest.NewRecorder()
	w.e.srv.Handler().ServeHTTP(rec, req)
	return response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

func TestDisablingAnAccountEndsItsSessionsAndTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := uint64(e.must(201, "POST", "/api/v1/accounts", map[string]any{"name": "李四", "role": "operator"}).Data()["id"].(float64))
	w := e.accountSession(id)
	me := w.apiAs("GET", "/api/v1/accounts/me", "")
	if me.Status != 200 || me.Data()["name"] != "李四" || me.Data()["role"] != "operator" {
		t.Fatalf("me: %d %s", me.Status, me.Body)
	}
	res := w.apiAs("POST", "/api/v1/tokens", `{"name": "mine"}`)
	if res.Status != http.StatusCreated || res.Data()["accountId"] != float64(id) {
		t.Fatalf("account's token: %d %s", res.Status, res.Body)
	}
	token := res.Data()["token"].(string)
	// A demoted account's token acts with the lower role at once.
	e.must(200, "PATCH", "/api/v1/accounts/"+strconv.FormatUint(id, 10), map[string]any{"role": "viewer"})
	if res := e.raw("POST", "/api/v1/users", "application/json", strings.NewReader(`{"userid": "x"}`), token); res.Status != http.StatusForbidden {
		t.Fatalf("demoted account's token: %d %s", res.Status, res.Body)
	}
	e.must(200, "PATCH", "/api/v1/accounts/"+strconv.FormatUint(id, 10), map[string]any{"enabled": false})
	if res := e.raw("GET", "/api/v1/channels", "", nil, token); res.Status != http.StatusUnauthorized {
		t.Fatalf("disabled account's token: %d %s", res.Status, res.Body)
	}
	if res := w.get("/ui/"); res.Status != http.StatusSeeOther {
		t.Fatalf("disabled account's session: %d", res.Status)
	}
	var n int64
	e.store.Read.Model(&models.APIToken{}).Where("account_id = ?", id).Count(&n)
	if n != 0 {
		t.Fatalf("%d tokens of the disabled account remain", n)
	}
	// Enabling it again does not bring them back.
	e.must(200, "PATCH", "/api/v1/accounts/"+strconv.FormatUint(id, 10), map[string]any{"enabled": true})
	if res := e.raw("GET", "/api/v1/channels", "", nil, token); res.Status != http.StatusUnauthorized {
		t.Fatalf("re-enabled account's old token: %d", res.Status)
	}
}

func TestTheLastAdminStays(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := strconv.FormatFloat(e.must(201, "POST", "/api/v1/accounts", map[string]any{"name": "王五", "role": "admin"}).Data()["id"].(float64), 'f', 0, 64)
	// With the bootstrap token there is another admin: the account may go.
	e.must(200, "PATCH", "/api/v1/accounts/"+id, map[string]any{"role": "designer"})
	e.must(200, "PATCH", "/api/v1/accounts/"+id, map[string]any{"role": "admin"})
	// Without it, the account is the last way to administer the server.
	w := e.accountSession(1)
	if err := e.store.DB.Where("bootstrap = ?", true).Delete(&models.APIToken{}).Error; err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, body string }{
		{"PATCH", `{"role": "viewer"}`}, {"PATCH", `{"enabled": false}`}, {"DELETE", ``},
	} {
		res := w.apiAs(c.method, "/api/v1/accounts/"+id, c.body)
		if res.Status != http.StatusConflict || !strings.Contains(string(res.Body), "last enabled admin") {
			t.Fatalf("%s %s: %d %s", c.method, c.body, res.Status, res.Body)
		}
	}
	// A second admin lifts the protection.
	other := w.apiAs("POST", "/api/v1/accounts", `{"name": "赵六", "role": "admin"}`)
	if other.Status != http.StatusCreated {
		t.Fatalf("second admin: %d %s", other.Status, other.Body)
	}
	if res := w.apiAs("PATCH", "/api/v1/accounts/"+id, `{"role": "viewer"}`); res.Status != http.StatusOK {
		t.Fatalf("demotion beside another admin: %d %s", res.Status, res.Body)
	}
}

func TestAccountsValidateAndLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/authenticators", acmeAuthenticator("acme"))
	res := e.do("POST", "/api/v1/accounts", map[string]any{"name": "a\u202eb", "role": "boss", "wecom": map[string]any{"authenticatorId": 9, "userid": "zhang san"}})
	f := res.Fields()
	if res.Status != http.StatusUnprocessableEntity || f["name"] == nil || f["role"] == nil || f["wecom.authenticatorId"] == nil || f["wecom.userid"] == nil {
		t.Fatalf("bad account: %d %s", res.Status, res.Body)
	}
	a := e.must(201, "POST", "/api/v1/accounts", map[string]any{"name": "张三", "role": "viewer", "wecom": map[string]any{"authenticatorId": 1, "userid": "zhangsan"}}).Data()
	if w := a["wecom"].(map[string]any); w["userid"] != "zhangsan" || a["enabled"] != true {
		t.Fatalf("account: %v", a)
	}
	res = e.do("POST", "/api/v1/accounts", map[string]any{"name": "other", "role": "viewer", "wecom": map[string]any{"authenticatorId": 1, "userid": "zhangsan"}})
	if res.Status != http.StatusConflict || res.Fields()["wecom.userid"] == nil {
		t.Fatalf("member linked twice: %d %s", res.Status, res.Body)
	}
	// PATCH without "wecom" keeps the link; "wecom": null removes it.
	id := strconv.FormatFloat(a["id"].(float64), 'f', 0, 64)
	if got := e.must(200, "PATCH", "/api/v1/accounts/"+id, map[string]any{"name": "张三丰"}).Data(); got["wecom"] == nil {
		t.Fatalf("a PATCH without wecom unlinked: %v", got)
	}
	if got := e.must(200, "PATCH", "/api/v1/accounts/"+id, map[string]any{"wecom": nil}).Data(); got["wecom"] != nil {
		t.Fatalf("wecom: null kept the link: %v", got)
	}
	// Deleting the authenticator unlinks its members' accounts; the accounts stay.
	e.must(200, "PATCH", "/api/v1/accounts/"+id, map[string]any{"wecom": map[string]any{"authenticatorId": 1, "userid": "zhangsan"}})
	e.must(204, "DELETE", "/api/v1/authenticators/1", nil)
	if got := e.must(200, "GET", "/api/v1/accounts/"+id, nil).Data(); got["wecom"] != nil {
		t.Fatalf("an account still linked to a deleted authenticator: %v", got)
	}
	var list struct {
		Data  []map[string]any
		Total int
	}
	_ = json.Unmarshal(e.must(200, "GET", "/api/v1/accounts?q=三丰&role=viewer", nil).Body, &list)
	if list.Total != 1 {
		t.Fatalf("filtered list: %+v", list)
	}
	if res := e.do("GET", "/api/v1/accounts?role=root", nil); res.Fields()["role"] == nil {
		t.Fatalf("bad role filter: %d %s", res.Status, res.Body)
	}
}
