package server

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// adminUpload submits a multipart form with the session's CSRF token and content as the field
// "file", as the import page's form does.
func (w *webClient) adminUpload(path, filename string, content []byte) response {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("csrf", w.csrf)
	fw, _ := mw.CreateFormFile("file", filename)
	_, _ = fw.Write(content)
	_ = mw.Close()
	req := httptest.NewRequest("POST", path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.AddCookie(w.cookie)
	rec := httptest.NewRecorder()
	w.e.srv.Handler().ServeHTTP(rec, req)
	return response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// inLanguage adds ?lang= to a page path.
func inLanguage(path, lang string) string {
	if strings.Contains(path, "?") {
		return path + "&lang=" + lang
	}
	return path + "?lang=" + lang
}

// untranslated finds catalogue keys of the admin pages shown as they are: a key missing from
// both catalogues.
var untranslated = regexp.MustCompile(`\b(channel|user|dir|sync)\.[a-z][A-Za-z0-9.]*`)

// The channel, user, directory and sync task pages render for a logged-in admin in English and
// Chinese, with every string from the catalogues; the directory shows the synced tree and its
// members; "Sync now" leads to the task page, which a failed task offers to retry.
func TestWebAdminPagesRender(t *testing.T) {
	t.Parallel()
	e := newDirectoryEnv(t, deliveryOptions{})
	// The first sync fails as WeCom refuses the server's IP; the retry succeeds.
	e.sim.Script("department/list", wecomtest.Fault{ErrCode: 60020,
		ErrMsg: "not allow to access from your ip, hint: [1751234567], from ip: 203.0.113.9, more info at https://open.work.weixin.qq.com/devtool/query?e=60020"})
	e.runDirectory("web")
	w := e.webLogin()
	res := w.post("/ui/authenticators/1/sync", nil)
	if res.Status != 303 || !strings.HasPrefix(res.Header.Get("Location"), "/ui/sync-tasks/") {
		t.Fatalf("sync now: %d %v", res.Status, res.Header)
	}
	taskPath := res.Header.Get("Location")
	taskID := strings.TrimPrefix(taskPath, "/ui/sync-tasks/")
	if task, _ := e.waitTask(taskID); task["status"] != "failed" {
		t.Fatalf("the first sync: %v", task)
	}
	page := string(w.get(taskPath).Body)
	if !strings.Contains(page, `id="sync-retry-form">`) || !strings.Contains(page, "203.0.113.9") {
		t.Fatalf("a failed task's page has no retry button or no reason: %s", page)
	}
	if res := w.post(taskPath+"/retry", nil); res.Status != 303 || res.Header.Get("Location") != taskPath {
		t.Fatalf("retry: %d %v", res.Status, res.Header)
	}
	if task, _ := e.waitTask(taskID); task["status"] != "success" {
		t.Fatalf("the retried sync: %v", task)
	}
	page = string(w.get(taskPath).Body)
	if !strings.Contains(page, `id="sync-retry-form" hidden`) || !strings.Contains(page, `data-sync-task="`+taskID+`"`) ||
		!strings.Contains(page, `<dd id="sync-members" data-field="members">20</dd>`) {
		t.Fatalf("a successful task's page: %s", page)
	}
	if res := w.post(taskPath+"/retry", nil); res.Status != 409 {
		t.Fatalf("retry of a successful task: %d", res.Status)
	}

	pages := []struct {
		path string
		want map[string]string // by language: text the page shows
	}{
		{"/ui/channels", map[string]string{"en": "New channel", "zh-CN": "新建通道"}},
		{"/ui/channels?q=op", map[string]string{"en": ">ops</a>", "zh-CN": ">ops</a>"}},
		{"/ui/channels/new", map[string]string{"en": "Duplicate check interval", "zh-CN": "重复消息检查间隔"}},
		{"/ui/channels/1", map[string]string{"en": "Send a test message", "zh-CN": "发送测试消息"}},
		{"/ui/users", map[string]string{"en": "local-zhangsan", "zh-CN": "手动添加"}},
		{"/ui/users?q=lisi&source=manual", map[string]string{"en": "<code>lisi</code>", "zh-CN": "<code>lisi</code>"}},
		{"/ui/users/new", map[string]string{"en": "WeCom userid", "zh-CN": "企业微信 userid"}},
		{"/ui/users/1", map[string]string{"en": "Delete", "zh-CN": "删除"}},
		{"/ui/users/import", map[string]string{"en": "/ui/users/import/template?format=xlsx", "zh-CN": "下载模板"}},
		{"/ui/directory", map[string]string{"en": "研发部", "zh-CN": "全部部门"}},
		{"/ui/directory?authenticatorId=1&departmentId=4&q=", map[string]string{"en": "Members of 运维组", "zh-CN": "运维组的成员"}},
		{"/ui/sync-tasks", map[string]string{"en": "Succeeded", "zh-CN": "成功"}},
		{"/ui/sync-tasks?authenticatorId=1", map[string]string{"en": "Started by hand", "zh-CN": "手动发起"}},
		{taskPath, map[string]string{"en": "Sync task #" + taskID, "zh-CN": "同步任务 #" + taskID}},
	}
	for _, p := range pages {
		for _, lang := range []string{"en", "zh-CN"} {
			res := w.get(inLanguage(p.path, lang))
			body := string(res.Body)
			if res.Status != 200 {
				t.Errorf("%s in %s: status %d: %s", p.path, lang, res.Status, body)
				continue
			}
			if !strings.Contains(body, `<html lang="`+lang+`">`) || !strings.Contains(body, p.want[lang]) {
				t.Errorf("%s in %s: no %q in the page", p.path, lang, p.want[lang])
			}
			if m := untranslated.FindString(body); m != "" {
				t.Errorf("%s in %s shows the catalogue key %q", p.path, lang, m)
			}
			if strings.Contains(body, " style=") || regexp.MustCompile(`<script>|\son[a-z]+=`).MatchString(body) {
				t.Errorf("%s in %s has an inline script or style", p.path, lang)
			}
		}
	}
	// Accept-Language chooses Chinese too.
	req := httptest.NewRequest("GET", "/ui/directory", nil)
	req.Header.Set("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8")
	req.AddCookie(w.cookie)
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	if body := rec.Body.String(); rec.Code != 200 || !strings.Contains(body, "<h1>通讯录</h1>") {
		t.Errorf("directory with Accept-Language zh-CN: %d", rec.Code)
	}

	// The tree nests departments; a department shows its direct members only.
	dir := string(w.get("/ui/directory?authenticatorId=1&departmentId=4").Body)
	members := dir[strings.Index(dir, `id="members-table"`):]
	if !strings.Contains(members, "吴九") || strings.Contains(members, "张三") || !strings.Contains(members, "/ui/users/") {
		t.Errorf("members of 运维组: %s", members)
	}
	tree := dir[strings.Index(dir, `id="dept-tree"`):strings.Index(dir, `id="members-table"`)]
	if !regexp.MustCompile(`研发部</a><ul><li><a [^>]*departmentId=4" aria-current="true">运维组`).MatchString(tree) {
		t.Errorf("the tree does not nest 运维组 under 研发部 as the current department: %s", tree)
	}

	// The import templates are served as the REST API serves them.
	if res := w.get("/ui/users/import/template?format=csv"); res.Status != 200 || !strings.Contains(string(res.Body), "userid,wechatwk_userid") ||
		!strings.Contains(res.Header.Get("Content-Disposition"), "users-template.csv") {
		t.Errorf("csv template: %d %q %v", res.Status, res.Body, res.Header)
	}
	if res := w.get("/ui/users/import/template?format=xlsx"); res.Status != 200 || !bytes.HasPrefix(res.Body, []byte("PK")) {
		t.Errorf("xlsx template: %d", res.Status)
	}
	if res := w.get("/ui/users/import/template?format=pdf"); res.Status != 422 {
		t.Errorf("pdf template: %d", res.Status)
	}
}

// The channel form shows the service's validation errors next to the fields, and a taken name
// next to the name.
func TestWebChannelFormShowsFieldErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/authenticators", acmeAuthenticator("acme"))
	w := e.webLogin()
	res := w.post("/ui/channels", url.Values{"name": {"1bad name"}, "title": {"T"}, "options.duplicateCheckInterval": {"99999"}})
	if res.Status != 422 {
		t.Fatalf("status %d", res.Status)
	}
	body := string(res.Body)
	for _, id := range []string{`id="f-name-error"`, `id="f-authenticatorId-error"`} {
		if !strings.Contains(body, id) {
			t.Errorf("no %s in the page", id)
		}
	}
	if !strings.Contains(body, `value="1bad name"`) {
		t.Error("the submitted name is not shown again")
	}
	res = w.post("/ui/channels", url.Values{"name": {"ops"}, "authenticatorId": {"1"}, "options.duplicateCheckInterval": {"99999"}})
	if res.Status != 422 || !regexp.MustCompile(`id="f-options-duplicateCheckInterval-error" role="alert">[^<]*14400`).Match(res.Body) {
		t.Fatalf("an interval over 4 hours: %d %s", res.Status, res.Body)
	}
	res = w.post("/ui/channels", url.Values{"name": {"ops"}, "authenticatorId": {"1"}, "options.duplicateCheckInterval": {"soon"}})
	if res.Status != 422 || !regexp.MustCompile(`id="f-options-duplicateCheckInterval-error" role="alert">must be an integer`).Match(res.Body) {
		t.Fatalf("an interval that is no number: %d %s", res.Status, res.Body)
	}
	res = w.post("/ui/channels", url.Values{"name": {"ops"}, "title": {"Ops"}, "authenticatorId": {"1"}, "options.safe": {"on"},
		"options.duplicateCheckInterval": {"600"}, "description": {"Alerts"}})
	if res.Status != 303 {
		t.Fatalf("a valid channel: %d %s", res.Status, res.Body)
	}
	ch := e.must(200, "GET", "/api/v1/channels/1", nil).Data()
	if opts := ch["options"].(map[string]any); opts["safe"] != 1.0 || opts["duplicateCheckInterval"] != 600.0 || opts["enableIdTrans"] != false ||
		ch["description"] != "Alerts" || ch["authenticatorId"] != 1.0 {
		t.Fatalf("saved channel: %v", ch)
	}
	edit := string(w.get("/ui/channels/1").Body)
	if !strings.Contains(edit, `id="f-options-safe" name="options.safe" type="checkbox" checked`) || !strings.Contains(edit, `<option value="1" selected>acme`) {
		t.Errorf("the edit form does not show the stored channel: %s", edit)
	}
	if res := w.post("/ui/channels", url.Values{"name": {"ops"}, "authenticatorId": {"1"}}); res.Status != 409 || !strings.Contains(string(res.Body), `id="f-name-error"`) {
		t.Errorf("a taken name: %d", res.Status)
	}
	if res := w.post("/ui/channels/1", url.Values{"title": {"Ops 2"}, "authenticatorId": {"1"}, "options.duplicateCheckInterval": {"600"}}); res.Status != 303 {
		t.Errorf("an edit: %d %s", res.Status, res.Body)
	}
	if got := e.must(200, "GET", "/api/v1/channels/1", nil).Data(); got["title"] != "Ops 2" || got["name"] != "ops" || got["options"].(map[string]any)["safe"] != 0.0 {
		t.Errorf("after the edit: %v", got)
	}
	if res := w.post("/ui/channels/1/delete", nil); res.Status != 303 || e.do("GET", "/api/v1/channels/1", nil).Status != 404 {
		t.Errorf("delete: %d", res.Status)
	}
}

// The user form shows the service's validation errors next to the fields.
func TestWebUserFormShowsFieldErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.webLogin()
	res := w.post("/ui/users", url.Values{"userid": {"has space"}, "email": {"nope"}, "bindings.wechatwk": {"bad id!"}})
	if res.Status != 422 {
		t.Fatalf("status %d", res.Status)
	}
	for _, id := range []string{`id="f-userid-error"`, `id="f-email-error"`, `id="f-bindings-wechatwk-error"`} {
		if !strings.Contains(string(res.Body), id) {
			t.Errorf("no %s in the page", id)
		}
	}
	if res := w.post("/ui/users", url.Values{"userid": {"zhangsan"}, "name": {"张三"}, "bindings.wechatwk": {"zhangsan"}}); res.Status != 303 {
		t.Fatalf("a valid user: %d %s", res.Status, res.Body)
	}
	if res := w.post("/ui/users", url.Values{"userid": {"zhangsan"}}); res.Status != 409 || !strings.Contains(string(res.Body), `id="f-userid-error"`) {
		t.Errorf("a taken userid: %d", res.Status)
	}
	list := string(w.get("/ui/users").Body)
	if !strings.Contains(list, "<td>张三</td>") || !strings.Contains(list, "<code>zhangsan</code>") {
		t.Errorf("the list does not show the user and its binding: %s", list)
	}
	if res := w.post("/ui/users/1", url.Values{"userid": {"zhangsan"}, "name": {"张三丰"}, "bindings.wechatwk": {""}}); res.Status != 303 {
		t.Fatalf("an edit: %d %s", res.Status, res.Body)
	}
	if u := e.must(200, "GET", "/api/v1/users/1", nil).Data(); u["name"] != "张三丰" || len(u["bindings"].(map[string]any)) != 0 {
		t.Errorf("after the edit: %v", u)
	}
	if res := w.post("/ui/users/1/delete", nil); res.Status != 303 || e.do("GET", "/api/v1/users/1", nil).Status != 404 {
		t.Errorf("delete: %d", res.Status)
	}
}

// A user's name renders as text in the list, in a search and on its page.
func TestWebUserNamesRenderAsText(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	names := []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`}
	for i, n := range names {
		e.must(201, "POST", "/api/v1/users", map[string]any{"userid": fmt.Sprintf("u%d", i), "name": n, "bindings": map[string]any{"wechatwk": fmt.Sprintf("u%d", i)}})
	}
	w := e.webLogin()
	for _, path := range []string{"/ui/users", "/ui/users?q=" + url.QueryEscape(names[0]), "/ui/users/1", "/ui/users/2"} {
		body := string(w.get(path).Body)
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") || strings.Contains(body, `"><img`) {
			t.Errorf("%s renders a name as HTML", path)
		}
	}
	body := string(w.get("/ui/users").Body)
	for _, escaped := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"} {
		if !strings.Contains(body, escaped) {
			t.Errorf("the list does not show %s as text", escaped)
		}
	}
}

// An uploaded .csv or .xlsx shows what became of each row, failed rows with their spreadsheet
// row number and the reason; a file that is not a spreadsheet shows the problem at the input.
func TestWebUserImportShowsRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.webLogin()
	csv := "userid,wechatwk_userid,name,email\nzhangsan,zhangsan,张三,\nlisi,,李四,\nwangwu,wangwu,<b>王五</b>,nope\n"
	res := w.adminUpload("/ui/users/import", "users.csv", []byte(csv))
	body := string(res.Body)
	if res.Status != 200 || !strings.Contains(body, `id="import-result"`) || !strings.Contains(body, `id="import-created">1 created`) {
		t.Fatalf("csv import: %d %s", res.Status, body)
	}
	failed := body[strings.Index(body, `id="import-failed"`):]
	for _, want := range []string{"<tr><td>3</td><td>lisi</td><td>wechatwk_userid: is required", "<tr><td>4</td><td>wangwu</td><td>email: must be an email address"} {
		if !strings.Contains(failed, want) {
			t.Errorf("no %q in the failed rows: %s", want, failed)
		}
	}
	xlsx := xlsxFile(t, [][]any{{"userid", "wechatwk_userid", "name"}, {"zhangsan", "zhangsan", "张三"}, {"zhaoliu", "zhaoliu", "赵六"}, {"bad id", "x", ""}})
	res = w.adminUpload("/ui/users/import", "users.xlsx", xlsx)
	body = string(res.Body)
	if res.Status != 200 || !strings.Contains(body, `id="import-created">1 created`) || !strings.Contains(body, `id="import-updated">1 updated`) ||
		!strings.Contains(body, "<tr><td>4</td><td>bad id</td><td>userid: must be at most 128 characters without spaces") {
		t.Fatalf("xlsx import: %d %s", res.Status, body)
	}
	res = w.adminUpload("/ui/users/import?lang=zh-CN", "users.csv", []byte("name,mobile\n张三,1\n"))
	if res.Status != 422 || !regexp.MustCompile(`id="f-file-error" role="alert">[^<]*wechatwk_userid`).Match(res.Body) {
		t.Fatalf("a file without the required columns: %d %s", res.Status, res.Body)
	}
	res = w.post("/ui/users/import?lang=zh-CN", url.Values{})
	if res.Status != 422 || !strings.Contains(string(res.Body), `id="f-file-error" role="alert">请选择要上传的 .xlsx 或 .csv 文件。`) {
		t.Fatalf("no file: %d %s", res.Status, res.Body)
	}
	if users := e.must(200, "GET", "/api/v1/users?source=import", nil).JSON()["total"]; users != 2.0 {
		t.Errorf("imported users: %v", users)
	}
}

// The channel page's test send reaches the member's WeCom inbox and shows the final status with a
// link to the message; recipients that are missing show at the field.
func TestWebChannelTestSend(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{})
	w := e.webLogin()
	res := w.post("/ui/channels/1/test", url.Values{"to.users": {"local-zhangsan"}, "to.wecomUsers": {"lisi"}, "text.content": {"Hello from the channel page"}})
	body := string(res.Body)
	if res.Status != 200 || !strings.Contains(body, `id="test-result"`) || !strings.Contains(body, `<span class="status sent" id="test-status">Sent</span>`) {
		t.Fatalf("test send: %d %s", res.Status, body)
	}
	link := regexp.MustCompile(`href="/ui/messages/([0-9A-Z]+)" id="test-message-link"`).FindStringSubmatch(body)
	if link == nil {
		t.Fatalf("no link to the message: %s", body)
	}
	m := e.message(link[1])
	if m["triggerFrom"] != "test" || m["status"] != "sent" || m["channel"] != "ops" {
		t.Errorf("the message: %v", m)
	}
	for _, member := range []string{"zhangsan", "lisi"} {
		got := e.inbox(member)
		if len(got) != 1 || got[0]["text"].(map[string]any)["content"] != "Hello from the channel page" {
			t.Errorf("%s's inbox: %v", member, got)
		}
	}
	res = w.post("/ui/channels/1/test?lang=zh-CN", url.Values{"text.content": {"nobody"}})
	if res.Status != 422 || !strings.Contains(string(res.Body), `id="f-to-error"`) || !strings.Contains(string(res.Body), `<h1>通道 ops</h1>`) {
		t.Fatalf("a test send to nobody: %d %s", res.Status, res.Body)
	}
	// A user without a binding is named in the result.
	res = w.post("/ui/channels/1/test", url.Values{"to.users": {"nobody, local-wangwu"}, "text.content": {"again"}})
	if body := string(res.Body); res.Status != 200 || !strings.Contains(body, "<code>nobody</code>") || !strings.Contains(body, `class="status partial"`) {
		t.Fatalf("a test send to an unknown user: %d %s", res.Status, body)
	}
}

// A failed connection check shows WeCom's errcode and what to do about it in the page's language,
// with the IP WeCom named.
func TestWebAuthenticatorCheckExplainsTheErrcodeInEachLanguage(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{})
	w := e.webLogin()
	for lang, want := range map[string][]string{
		"en":    {"The check failed.", "WeCom answered errcode 60020", "WeCom refuses calls from 203.0.113.9: add it to the app&#39;s 企业可信IP"},
		"zh-CN": {"检查失败。", "企业微信返回错误码 60020", "企业微信拒绝来自 203.0.113.9 的调用：请把它加入应用的企业可信IP"},
	} {
		e.sim.Script("gettoken", wecomtest.Fault{ErrCode: 60020,
			ErrMsg: "not allow to access from your ip, hint: [1751234567], from ip: 203.0.113.9, more info at https://open.work.weixin.qq.com/devtool/query?e=60020"})
		res := w.post("/ui/authenticators/1/check?lang="+lang, nil)
		body := string(res.Body)
		if res.Status != 200 || !strings.Contains(body, `class="result bad"`) {
			t.Fatalf("%s check: %d %s", lang, res.Status, body)
		}
		for _, s := range want {
			if !strings.Contains(body, s) {
				t.Errorf("%s check result lacks %q:\n%s", lang, s, body)
			}
		}
	}
	if body := string(w.post("/ui/authenticators/1/check?lang=zh-CN", nil).Body); !strings.Contains(body, "连接成功。") {
		t.Errorf("a check that passes: %s", body)
	}
}

// The authenticator form sets the sign-in options (SPEC §8.4) and shows them again; a wrong
// combination is shown next to its field.
func TestWebAuthenticatorSignInOptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/authenticators", acmeAuthenticator("acme"))
	w := e.webLogin()
	form := url.Values{"title": {"Acme"}, "enabled": {"on"}, "options.corpId": {"ww1436e0e65a779aee"}, "options.agentId": {"1000002"},
		"options.sync.schedule": {"@every 6h"}, "options.login.autoSignUp": {"on"}, "options.login.defaultRole": {"designer"}}
	res := w.post("/ui/authenticators/1", form)
	if res.Status != 422 || !regexp.MustCompile(`id="f-options-login-autoSignUp-error"|needs login.enabled`).Match(res.Body) {
		t.Fatalf("autoSignUp without enabled: %d", res.Status)
	}
	form.Set("options.login.enabled", "on")
	if res := w.post("/ui/authenticators/1", form); res.Status != 303 {
		t.Fatalf("save: %d %s", res.Status, res.Body)
	}
	login := e.must(200, "GET", "/api/v1/authenticators/1", nil).Data()["options"].(map[string]any)["login"].(map[string]any)
	if login["enabled"] != true || login["autoSignUp"] != true || login["defaultRole"] != "designer" || login["autoLogin"] != false {
		t.Fatalf("stored login options: %v", login)
	}
	page := string(w.get("/ui/authenticators/1").Body)
	for _, want := range []string{`id="f-options-login-enabled" name="options.login.enabled" type="checkbox" checked`, `<option value="designer" selected>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the form does not show %s", want)
		}
	}
	if !strings.Contains(string(e.webDo("GET", "/login", nil, nil).Body), `id="signin-acme"`) {
		t.Error("the log-in page does not offer the sign-in")
	}
}
