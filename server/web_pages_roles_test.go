package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/web"
)

// roleToken makes a token of role with the bootstrap token and returns its value.
func (e *env) roleToken(role string) string {
	e.t.Helper()
	return e.must(201, "POST", "/api/v1/tokens", map[string]any{"name": role + "-token", "role": role}).Data()["token"].(string)
}

// navLinks are the links of a page's header nav.
func navLinks(t *testing.T, page string) []string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<nav aria-label="[^"]*">(.*?)</nav>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no nav in the page: %s", page)
	}
	var out []string
	for _, l := range regexp.MustCompile(`href="([^"]+)"`).FindAllStringSubmatch(m[1], -1) {
		out = append(out, l[1])
	}
	return out
}

// A viewer, an operator and a designer (each logged in with a token of that role) see in the nav
// exactly the pages their role may open, and on the pages only the buttons and forms they may
// use; a page or a change outside the role answers 403 with the error page, in English and in
// Chinese, and changes nothing. The header says who is signed in.
func TestWebRolesSeeOnlyWhatTheyMayUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/authenticators", acmeAuthenticator("acme"))
	e.must(201, "POST", "/api/v1/channels", map[string]any{"name": "ops", "authenticatorId": 1})
	e.must(201, "POST", "/api/v1/users", map[string]any{"userid": "lisi", "name": "李四"})
	e.createManualWorkflow("daily", "Daily")
	e.must(202, "POST", "/api/v1/authenticators/1/sync", nil) // queued: no runner takes it here

	readable := []string{"/ui/authenticators", "/ui/channels", "/ui/users", "/ui/directory", "/ui/workflows", "/ui/templates", "/ui/recipes",
		"/ui/executions", "/ui/messages", "/ui/mass-messages", "/ui/callback-events", "/ui/event-hooks", "/ui/sync-tasks", "/ui/tokens"}
	// The roles that send have the Send page besides, before the message log.
	sending := slices.Insert(slices.Clone(readable), slices.Index(readable, "/ui/messages"), "/ui/send")
	navOf := map[string][]string{"viewer": readable, "operator": sending, "designer": sending}
	// What each role may use, by the page and the element that offers it.
	offers := []struct {
		path, marker string
		roles        []string
	}{
		{"/ui/authenticators", `id="new-authenticator"`, nil},
		{"/ui/authenticators/1", `id="save-authenticator"`, nil},
		{"/ui/authenticators/1", `id="check-connection"`, nil},
		{"/ui/authenticators/1", `id="delete-authenticator"`, nil},
		{"/ui/authenticators/1", `id="sync-now"`, []string{"operator"}},
		{"/ui/channels", `id="new-channel"`, nil},
		{"/ui/channels/1", `id="save-channel"`, nil},
		{"/ui/channels/1", `id="delete-channel"`, nil},
		{"/ui/channels/1", `id="test-send"`, []string{"operator", "designer"}},
		{"/ui/users", `id="new-user"`, []string{"operator"}},
		{"/ui/users", `id="import-users"`, []string{"operator"}},
		{"/ui/users/1", `id="save-user"`, []string{"operator"}},
		{"/ui/users/1", `id="delete-user"`, []string{"operator"}},
		{"/ui/directory", `id="directory-sync-now"`, []string{"operator"}},
		{"/ui/sync-tasks/1", `id="sync-retry-form"`, []string{"operator"}},
		{"/ui/workflows", `id="new-workflow"`, []string{"designer"}},
		{"/ui/workflows", `id="new-from-recipe"`, []string{"designer"}},
		{"/ui/recipes/alertmanager", `id="recipe-form"`, []string{"designer"}},
		{"/ui/workflows", `id="toggle-1"`, []string{"designer"}},
		{"/ui/workflows", `href="/ui/workflows/1#trigger"`, []string{"operator", "designer"}},
		{"/ui/workflows/1", `id="trigger-form"`, []string{"operator", "designer"}},
		{"/ui/workflows/1", `id="delete-workflow"`, []string{"designer"}},
		{"/ui/", `href="/ui/workflows/new"`, []string{"designer"}},
		{"/ui/tokens", `id="token-form"`, []string{"viewer", "operator", "designer"}},
		{"/ui/send", `id="send-form"`, []string{"operator", "designer"}},
	}
	// Pages that show a stored thing read-only to a role that may not change it.
	readOnly := []struct {
		path  string
		roles []string
	}{
		{"/ui/authenticators/1", []string{"viewer", "operator", "designer"}},
		{"/ui/channels/1", []string{"viewer", "operator", "designer"}},
		{"/ui/users/1", []string{"viewer", "designer"}},
		{"/ui/workflows/1", []string{"viewer", "operator"}},
	}
	refusals := map[string]struct {
		// page is a page the role may not open, need what the refusal says in en and zh-CN.
		page string
		need [2]string
		// posts are changes the role may not make, each sent with a valid CSRF token.
		posts map[string]url.Values
	}{
		"viewer": {"/ui/users/new", [2]string{"Only an admin or an operator may do this.", "只有管理员或操作员可以执行此操作。"}, map[string]url.Values{
			"/ui/channels/1/delete": nil, "/ui/channels/1/test": {"text.content": {"hi"}}, "/ui/users/1/delete": nil,
			"/ui/authenticators/1/sync": nil, "/ui/workflows/1/trigger": {"data": {"{}"}}}},
		"operator": {"/ui/workflows/new", [2]string{"Only an admin or a designer may do this.", "只有管理员或设计者可以执行此操作。"}, map[string]url.Values{
			"/ui/channels/1": {"title": {"Renamed"}, "authenticatorId": {"1"}}, "/ui/workflows/1/delete": nil, "/ui/authenticators/1/check": nil}},
		"designer": {"/ui/users/import", [2]string{"Only an admin or an operator may do this.", "只有管理员或操作员可以执行此操作。"}, map[string]url.Values{
			"/ui/users/1/delete": nil, "/ui/users": {"userid": {"wangwu"}}, "/ui/channels/1/delete": nil}},
	}

	for _, role := range []string{"viewer", "operator", "designer"} {
		w := e.webLoginWith(e.roleToken(role))
		start := string(w.get("/ui/").Body)
		if got := navLinks(t, start); !slices.Equal(got, navOf[role]) {
			t.Errorf("%s: the nav links %v, want %v", role, got, navOf[role])
		}
		title := strings.ToUpper(role[:1]) + role[1:]
		mustContain(t, role+"'s header", start, `<span class="who" id="who">Token `+role+`-token · <span id="who-role">`+title+`</span>`)

		for _, o := range offers {
			body := string(w.get(o.path).Body)
			if want := slices.Contains(o.roles, role); strings.Contains(body, o.marker) != want {
				t.Errorf("%s on %s: %s shown %v, want %v", role, o.path, o.marker, !want, want)
			}
		}
		for _, r := range readOnly {
			body := string(w.get(r.path).Body)
			want := slices.Contains(r.roles, role)
			if strings.Contains(body, `id="read-only"`) != want || (r.path != "/ui/workflows/1" && strings.Contains(body, "<fieldset disabled>") != want) {
				t.Errorf("%s on %s: read-only %v, want %v", role, r.path, !want, want)
			}
		}
		if body := string(w.get("/ui/workflows/1").Body); strings.Contains(body, "data-read-only") == (role == "designer") {
			t.Errorf("%s: the workflow editor's read-only mode is wrong", role)
		}

		ref := refusals[role]
		for _, page := range []string{"/ui/accounts", "/ui/audit", "/ui/channels/new", "/ui/authenticators/new", ref.page} {
			for i, lang := range []string{"en", "zh-CN"} {
				res := w.get(inLanguage(page, lang))
				body := string(res.Body)
				if res.Status != http.StatusForbidden {
					t.Errorf("%s GET %s (%s): %d, want 403", role, page, lang, res.Status)
					continue
				}
				need := ref.need[i]
				if page != ref.page {
					need = [2]string{"Only an admin may do this.", "只有管理员可以执行此操作。"}[i]
				}
				signedIn := [2]string{"may do this. You are signed in with the " + title + " role.", "执行此操作。你当前的角色是"}[i]
				mustContain(t, role+" refused "+page+" in "+lang, body, `<html lang="`+lang+`">`, [2]string{"Something is not right", "出了点问题"}[i],
					need, signedIn, `id="who"`)
			}
		}
		before := e.snapshot()
		for path, form := range ref.posts {
			if res := w.post(path, form); res.Status != http.StatusForbidden {
				t.Errorf("%s POST %s: %d, want 403", role, path, res.Status)
			}
		}
		if res := w.post("/ui/accounts", url.Values{"name": {"Sneaky"}, "role": {"admin"}, "enabled": {"on"}}); res.Status != http.StatusForbidden {
			t.Errorf("%s POST /ui/accounts: %d, want 403", role, res.Status)
		}
		if after := e.snapshot(); after != before {
			t.Errorf("%s's refused changes changed something:\n%s\nbecame\n%s", role, before, after)
		}
		if _, rows := e.rows("SELECT id FROM accounts"); len(rows) != 0 {
			t.Errorf("%s created an account", role)
		}
		e.must(200, "GET", "/api/v1/workflows/1", nil)
	}

	// The admin's nav has the accounts and the audit log besides, and the admin may use all of it.
	admin := e.webLogin()
	if got := navLinks(t, string(admin.get("/ui/").Body)); !slices.Equal(got, append(sending, "/ui/accounts", "/ui/audit")) {
		t.Errorf("admin: the nav links %v", got)
	}
	for _, o := range offers {
		if !strings.Contains(string(admin.get(o.path).Body), o.marker) {
			t.Errorf("admin on %s: no %s", o.path, o.marker)
		}
	}
	for _, r := range readOnly {
		// A stored channel's type select is disabled for everybody (the type is fixed): only a
		// disabled fieldset means read-only.
		if body := string(admin.get(r.path).Body); strings.Contains(body, `id="read-only"`) || strings.Contains(body, "<fieldset disabled") {
			t.Errorf("admin on %s: read-only", r.path)
		}
	}
}

// An admin creates an account, links it to a member picked from the synced directory, finds it
// in the list; the last admin account cannot be demoted, disabled or deleted while no bootstrap
// token exists, which the form says in the page's language; disabling an account ends its
// sessions.
func TestWebAccountsPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	e.must(201, "POST", "/api/v1/authenticators", acmeAuthenticator("acme"))
	members := []models.MemberUpdate{{WeComUserID: "zhangsan", Name: "张三", Fields: models.MemberAll}, {WeComUserID: "lisi", Name: "李四", Fields: models.MemberAll}}
	if _, err := e.store.SyncMembers(ctx, 1, members, models.MemberSyncOptions{}); err != nil {
		t.Fatal(err)
	}
	// An admin token of no account: unlike the bootstrap token, it does not keep an admin around.
	adminToken := e.roleToken("admin")
	w := e.webLoginWith(adminToken)

	for _, lang := range []string{"en", "zh-CN"} {
		body := w.page(200, "/ui/accounts/new", lang)
		mustContain(t, "the new account form in "+lang, body, `data-picker="members"`, `data-single data-scope="f-wecom-authenticatorId" data-scope-clears`,
			`<option value="1" data-authenticator="1">Acme WeCom</option>`, `<option value="viewer" selected>`,
			[2]string{"Not linked", "未关联"}[slices.Index([]string{"en", "zh-CN"}, lang)], `src="/static/picker.js"`)
	}
	res := w.post("/ui/accounts", url.Values{"name": {"张三"}, "role": {"admin"}, "enabled": {"on"}, "wecom.authenticatorId": {"1"}, "wecom.userid": {"zhangsan"}})
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/ui/accounts/1" {
		t.Fatalf("create: %d %v %s", res.Status, res.Header, res.Body)
	}
	acc := e.raw("GET", "/api/v1/accounts/1", "", nil, adminToken).Data()
	if acc["role"] != "admin" || acc["enabled"] != true || acc["wecom"].(map[string]any)["userid"] != "zhangsan" {
		t.Fatalf("the created account: %v", acc)
	}
	list := w.page(200, "/ui/accounts", "en")
	mustContain(t, "the account list", list, `<a href="/ui/accounts/1">张三</a>`, `Acme WeCom / <code>zhangsan</code>`, "<td>Admin</td>", "Never")
	mustContain(t, "a search", w.page(200, "/ui/accounts?q=zhang&role=admin", "zh-CN"), `<a href="/ui/accounts/1">张三</a>`, "<td>管理员</td>")
	mustContain(t, "another role", w.page(200, "/ui/accounts?role=viewer", "en"), "No account matches the search.")
	if res := w.get("/ui/accounts?role=boss"); res.Status != 422 || !strings.Contains(string(res.Body), `id="role-error"`) {
		t.Errorf("a bad role filter: %d", res.Status)
	}
	edit := w.page(200, "/ui/accounts/1", "en")
	mustContain(t, "the edit form", edit, `value="张三"`, `<option value="admin" selected>`, `id="f-enabled" name="enabled" type="checkbox" checked`,
		`<option value="1" data-authenticator="1" selected>Acme WeCom</option>`, `id="f-wecom-userid" name="wecom.userid" type="text" value="zhangsan"`)

	// A member links to one account only.
	res = w.post("/ui/accounts", url.Values{"name": {"Twin"}, "role": {"viewer"}, "wecom.authenticatorId": {"1"}, "wecom.userid": {"zhangsan"}})
	if res.Status != http.StatusConflict || !strings.Contains(string(res.Body), `id="f-wecom-userid-error"`) {
		t.Errorf("a member linked twice: %d", res.Status)
	}

	// Without the bootstrap token, 张三 is the last admin.
	if err := e.store.DB.Where("bootstrap = ?", true).Delete(&models.APIToken{}).Error; err != nil {
		t.Fatal(err)
	}
	keep := url.Values{"name": {"张三"}, "role": {"admin"}, "enabled": {"on"}, "wecom.authenticatorId": {"1"}, "wecom.userid": {"zhangsan"}}
	for _, tc := range []struct {
		what, lang, want string
		change           func(url.Values)
	}{
		{"demote", "en", "This is the last enabled admin account", func(f url.Values) { f.Set("role", "viewer") }},
		{"disable", "zh-CN", "这是最后一个启用的管理员账号", func(f url.Values) { f.Del("enabled") }},
	} {
		form := url.Values{}
		for k, v := range keep {
			form[k] = slices.Clone(v)
		}
		tc.change(form)
		res := w.post("/ui/accounts/1?lang="+tc.lang, form)
		if res.Status != http.StatusConflict || !regexp.MustCompile(`<p class="field-error" role="alert">`+tc.want).Match(res.Body) {
			t.Errorf("%s the last admin: %d %s", tc.what, res.Status, res.Body)
		}
	}
	res = w.post("/ui/accounts/1/delete", nil)
	if body := string(res.Body); res.Status != http.StatusConflict || !strings.Contains(body, "This is the last enabled admin account") || !strings.Contains(body, `value="张三"`) {
		t.Errorf("delete the last admin: %d %s", res.Status, body)
	}
	if acc := e.raw("GET", "/api/v1/accounts/1", "", nil, adminToken).Data(); acc["role"] != "admin" || acc["enabled"] != true {
		t.Fatalf("the refused changes changed the account: %v", acc)
	}

	// With a second admin, 张三 can be disabled, and its signed-in session ends.
	if res := w.post("/ui/accounts", url.Values{"name": {"王五"}, "role": {"admin"}, "enabled": {"on"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("a second admin: %d %s", res.Status, res.Body)
	}
	stored, err := e.store.GetAccount(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := e.srv.Service().OpenAccountSession(ctx, stored)
	if err != nil {
		t.Fatal(err)
	}
	cookie := &http.Cookie{Name: web.SessionCookie, Value: sess.Cookie}
	if res := e.webDo("GET", "/ui/", nil, cookie); res.Status != 200 || !strings.Contains(string(res.Body), `<span class="who" id="who">张三 · <span id="who-role">Admin`) {
		t.Fatalf("张三's session before: %d", res.Status)
	}
	form := url.Values{"name": {"张三"}, "role": {"admin"}, "wecom.authenticatorId": {"1"}, "wecom.userid": {"zhangsan"}}
	if res := w.post("/ui/accounts/1", form); res.Status != http.StatusSeeOther {
		t.Fatalf("disable: %d %s", res.Status, res.Body)
	}
	if res := e.webDo("GET", "/ui/", nil, cookie); res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Errorf("张三's session after it was disabled: %d %v", res.Status, res.Header)
	}
	mustContain(t, "the list after", w.page(200, "/ui/accounts", "en"), `<span class="status failed">No</span>`)

	// "Not linked" unlinks; then the account can go.
	form.Set("wecom.authenticatorId", "")
	if res := w.post("/ui/accounts/1", form); res.Status != http.StatusSeeOther {
		t.Fatalf("unlink: %d %s", res.Status, res.Body)
	}
	if acc := e.raw("GET", "/api/v1/accounts/1", "", nil, adminToken).Data(); acc["wecom"] != nil {
		t.Errorf("unlinked account: %v", acc)
	}
	if res := w.post("/ui/accounts/1/delete", nil); res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/ui/accounts" {
		t.Errorf("delete: %d %s", res.Status, res.Body)
	}
	if res := w.get("/ui/accounts/1"); res.Status != http.StatusNotFound {
		t.Errorf("the deleted account's page: %d", res.Status)
	}
}

// A new token's value is shown once, on the page that answers the form, and never again; the
// list shows its hint, role, channels and expiry; it can be revoked. A non-admin may give only
// its own role or viewer and sees only its own tokens.
func TestWebTokensPage(t *testing.T) {
	t.Parallel()
	// The expiry is typed and shown in UTC, whatever the machine's TZ.
	e := newEnvWith(t, envOptions{displayZone: time.UTC})
	e.must(201, "POST", "/api/v1/authenticators", acmeAuthenticator("acme"))
	e.must(201, "POST", "/api/v1/channels", map[string]any{"name": "ops", "authenticatorId": 1})
	e.must(201, "POST", "/api/v1/channels", map[string]any{"name": "alerts", "authenticatorId": 1})
	w := e.webLogin()

	for _, lang := range []string{"en", "zh-CN"} {
		body := w.page(200, "/ui/tokens", lang)
		mustContain(t, "the token page in "+lang, body, `<option value="viewer" selected>`, `<option value="admin">`, `<option value="ops">ops</option>`,
			`<span class="status" id="current-token">`, [2]string{"Bootstrap token", "引导令牌"}[slices.Index([]string{"en", "zh-CN"}, lang)])
	}
	res := w.post("/ui/tokens", url.Values{"name": {"erp"}, "role": {"operator"}, "channels": {"ops"}, "expiresAt": {"2030-01-02T03:04"}})
	body := string(res.Body)
	m := regexp.MustCompile(`<code id="new-token-value">(wcf_[A-Za-z0-9_-]{32})</code>`).FindStringSubmatch(body)
	if res.Status != http.StatusCreated || m == nil {
		t.Fatalf("create: %d %s", res.Status, body)
	}
	value := m[1]
	if strings.Count(body, value) != 1 || res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Location") != "" ||
		strings.Contains(strings.Join(res.Header.Values("Set-Cookie"), ";"), value) {
		t.Errorf("the value is shown more than once, cached, or sent elsewhere: %v", res.Header)
	}
	if me := e.raw("GET", "/api/v1/accounts/me", "", nil, value).Data(); me["token"].(map[string]any)["role"] != "operator" {
		t.Errorf("the new token acts as %v", me)
	}
	var made map[string]any
	for _, tok := range e.must(200, "GET", "/api/v1/tokens", nil).JSON()["data"].([]any) {
		if tok.(map[string]any)["name"] == "erp" {
			made = tok.(map[string]any)
		}
	}
	if made["expiresAt"] != "2030-01-02T03:04:00Z" || len(made["channels"].([]any)) != 1 || made["channels"].([]any)[0] != "ops" {
		t.Fatalf("the stored token: %v", made)
	}
	list := w.page(200, "/ui/tokens", "en")
	row := list[strings.Index(list, `<tr id="token-2">`):]
	row = row[:strings.Index(row, "</tr>")]
	if strings.Contains(list, value) {
		t.Error("the list shows the value again")
	}
	mustContain(t, "the new token's row", row, "erp", "<code>"+value[:8]+"…</code>", "Operator", "<code>ops</code>", "2030-01-02 03:04:00", `id="revoke-2"`)

	// A form the service refuses comes back with the errors on its fields and the choices kept.
	for _, tc := range []struct {
		form  url.Values
		field string
	}{
		{url.Values{"name": {"soon"}, "expiresAt": {"soon"}}, "expiresAt"},
		{url.Values{"name": {"past"}, "expiresAt": {"2001-01-01T00:00"}}, "expiresAt"},
		{url.Values{"name": {""}, "channels": {"ops"}}, "name"},
		{url.Values{"name": {"ghost"}, "channels": {"ops", "nope"}}, "channels"},
	} {
		res := w.post("/ui/tokens", tc.form)
		if body := string(res.Body); res.Status != 422 || !strings.Contains(body, `id="f-`+tc.field+`-error"`) || strings.Contains(body, "new-token-value") {
			t.Errorf("%v: %d, want the error on %s", tc.form, res.Status, tc.field)
		} else if tc.form.Has("channels") && !strings.Contains(body, `<option value="ops" selected>`) {
			t.Errorf("%v: the chosen channels are lost", tc.form)
		}
	}

	res = w.post("/ui/tokens/2/revoke", nil)
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/ui/tokens" || !strings.Contains(res.Header.Get("Set-Cookie"), "token.flash.revoked") {
		t.Fatalf("revoke: %d %v %s", res.Status, res.Header, res.Body)
	}
	if res := e.raw("GET", "/api/v1/users", "", nil, value); res.Status != http.StatusUnauthorized {
		t.Errorf("the revoked token still works: %d", res.Status)
	}
	if strings.Contains(w.page(200, "/ui/tokens", "en"), `<tr id="token-2">`) {
		t.Error("the revoked token is still listed")
	}
	// The last token stays, so somebody can still log in; the page says why.
	if res := w.post("/ui/tokens/1/revoke", nil); res.Status != http.StatusConflict || !strings.Contains(string(res.Body), "The last API token cannot be revoked") {
		t.Errorf("revoke the last token: %d %s", res.Status, res.Body)
	}

	// An operator gives operator or viewer, and lists only its own token.
	op := e.webLoginWith(e.roleToken("operator"))
	page := op.page(200, "/ui/tokens", "en")
	mustContain(t, "the operator's token page", page, `<option value="operator">`, `<option value="viewer" selected>`, "Your API tokens.")
	if strings.Contains(page, `value="admin"`) || strings.Contains(page, `value="designer"`) || strings.Count(page, `<tr id="token-`) != 1 {
		t.Errorf("the operator's token page offers too much: %s", page)
	}
	if res := op.post("/ui/tokens", url.Values{"name": {"escalate"}, "role": {"admin"}}); res.Status != http.StatusForbidden {
		t.Errorf("an operator making an admin token: %d", res.Status)
	}
}

// The audit log lists who changed what, newest first; its filters narrow it, and a filter the
// service refuses is marked on its field.
func TestWebAuditPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/authenticators", acmeAuthenticator("acme"))
	e.must(200, "POST", "/api/v1/users/bulk", `[{"userid": "a", "set": {"name": "A"}}, {"userid": "b", "set": {"name": "B"}}]`)
	const ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
	req := httptest.NewRequest("POST", "/api/v1/users", strings.NewReader(`{"userid": "c", "name": "C"}`))
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", ua)
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != 201 {
		t.Fatalf("create a user: %d", rec.Code)
	}
	w := e.webLogin()
	if res := w.post("/ui/accounts", url.Values{"name": {"赵六"}, "role": {"viewer"}, "enabled": {"on"}}); res.Status != http.StatusSeeOther {
		t.Fatalf("create an account: %d", res.Status)
	}

	for _, lang := range []string{"en", "zh-CN"} {
		body := w.page(200, "/ui/audit", lang)
		mustContain(t, "the audit log in "+lang, body, [2]string{"<h1>Audit log</h1>", "<h1>审计日志</h1>"}[slices.Index([]string{"en", "zh-CN"}, lang)],
			"<code>authenticator.create</code>", "<code>user.bulk</code>", "<code>auth.login</code>", "<code>account.create</code>",
			[2]string{"created 2", "新建 2"}[slices.Index([]string{"en", "zh-CN"}, lang)], `href="?actor=token:1"`, "account #1 赵六",
			`title="`+ua+`">`+ua[:40]+"…</td>", "192.0.2.1")
		if regexp.MustCompile(`\baudit\.[a-z]`).MatchString(body) {
			t.Errorf("the audit log in %s shows a catalogue key", lang)
		}
	}
	first := w.page(200, "/ui/audit", "en")
	if strings.Index(first, "<code>account.create</code>") > strings.Index(first, "<code>authenticator.create</code>") {
		t.Error("the log is not newest first")
	}
	for _, tc := range []struct {
		query      string
		want, lack []string
	}{
		{"action=account.create", []string{"<code>account.create</code>"}, []string{"<code>authenticator.create</code>", "<code>auth.login</code>"}},
		{"actor=token:1&targetType=user", []string{"<code>user.create</code>"}, []string{"<code>account.create</code>", "<code>authenticator.create</code>"}},
		{"since=2099-01-01T00:00", []string{"No entry matches."}, []string{"<code>account.create</code>"}},
		{"until=2001-01-01T00:00:00Z", []string{"No entry matches."}, []string{"<code>account.create</code>"}},
	} {
		body := w.page(200, "/ui/audit?"+tc.query, "en")
		mustContain(t, tc.query, body, tc.want...)
		for _, l := range tc.lack {
			if strings.Contains(body, l) {
				t.Errorf("%s shows %s", tc.query, l)
			}
		}
	}
	for _, tc := range []struct{ query, field, value string }{
		{"since=yesterday", "since", `value="yesterday"`},
		{"actor=robot", "actor", `value="robot"`},
		{"until=2026-13-01T00:00", "until", `value="2026-13-01T00:00"`},
	} {
		res := w.get("/ui/audit?" + tc.query)
		body := string(res.Body)
		if res.Status != 422 || !strings.Contains(body, `id="f-`+tc.field+`-error"`) || !strings.Contains(body, tc.value) {
			t.Errorf("%s: %d, want the error next to %s", tc.query, res.Status, tc.field)
		}
	}
}
