package server

import (
	"cmp"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// signInEnv is the demo corp behind a server whose authenticator acme (id 1) offers sign-in with
// WeCom; the simulator serves WeCom's API and its sign-in pages.
type signInEnv struct {
	*directoryEnv
}

func newSignInEnv(t *testing.T, login map[string]any) *signInEnv {
	t.Helper()
	e := &signInEnv{newDirectoryEnv(t, deliveryOptions{})}
	e.must(200, "PATCH", "/api/v1/authenticators/1", map[string]any{"title": "Acme WeCom", "options": map[string]any{"login": login}})
	return e
}

// addAccount links an account to a member of acme's corp through the API.
func (e *signInEnv) addAccount(name, role, userid string) map[string]any {
	e.t.Helper()
	return e.must(201, "POST", "/api/v1/accounts", map[string]any{"name": name, "role": role,
		"wecom": map[string]any{"authenticatorId": 1, "userid": userid}}).Data()
}

// audit is the audit log's entries for an action, newest first.
func (e *signInEnv) audit(action string) []map[string]any {
	e.t.Helper()
	items, _ := e.list("/api/v1/audit?action=" + action)
	return items
}

// getUserInfo is how often WeCom was asked who a code names.
func (e *signInEnv) getUserInfo() int { return e.sim.Calls("auth/getuserinfo") }

// browser is somebody's browser: its address, User-Agent and cookie jar (by name; a cookie is
// sent to the paths under its own).
type browser struct {
	e      *signInEnv
	remote string
	ua     string
	jar    map[string]*http.Cookie
}

func (e *signInEnv) browser(remote string) *browser {
	return &browser{e: e, remote: remote, ua: "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0", jar: map[string]*http.Cookie{}}
}

// inLanguage makes the browser's pages come in lang (the language cookie ?lang= sets).
func (b *browser) inLanguage(lang string) *browser {
	b.jar["wecomflow_lang"] = &http.Cookie{Name: "wecomflow_lang", Value: lang, Path: "/"}
	return b
}

// get loads a URL of the server, without following redirects, and keeps the cookies it sets.
func (b *browser) get(target string) response {
	req := httptest.NewRequest("GET", target, nil)
	req.RemoteAddr = b.remote
	req.Header.Set("User-Agent", b.ua)
	for _, c := range b.jar {
		if strings.HasPrefix(req.URL.Path, c.Path) {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	w := httptest.NewRecorder()
	b.e.srv.Handler().ServeHTTP(w, req)
	for _, c := range (&http.Response{Header: w.Header()}).Cookies() {
		if c.MaxAge < 0 {
			delete(b.jar, c.Name)
		} else {
			b.jar[c.Name] = c
		}
	}
	return response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

// start begins a sign-in through acme and returns WeCom's page it was sent to.
func (b *browser) start(next string) *url.URL {
	b.e.t.Helper()
	res := b.get("/auth/wecom/acme/start?next=" + url.QueryEscape(next))
	if res.Status != http.StatusFound {
		b.e.t.Fatalf("start: %d, want 302: %s", res.Status, res.Body)
	}
	u, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		b.e.t.Fatal(err)
	}
	return u
}

// signIn is a whole sign-in as member userid ("" for a WeChat user who is not a member): start,
// the member scans, WeCom sends the browser back.
func (b *browser) signIn(next, userid string) response {
	b.e.t.Helper()
	state := b.start(next).Query().Get("state")
	return b.back(state, b.e.sim.IssueLoginCode(b.e.demo.CorpID, b.e.demo.AgentID, userid))
}

// back is WeCom sending the browser to the callback with a code and a state.
func (b *browser) back(state, code string) response {
	return b.get("/auth/wecom/acme/callback?" + url.Values{"code": {code}, "state": {state}}.Encode())
}

// landing is where a finished sign-in sends the browser (its 302), or "" when the answer is no
// finished sign-in.
func landing(res response) string {
	if res.Status != http.StatusFound || !strings.Contains(strings.Join(res.Header.Values("Set-Cookie"), "\n"), "wecomflow_session=") {
		return ""
	}
	return res.Header.Get("Location")
}

// me is who the browser's session acts as, through the API as the pages' scripts call it.
func (b *browser) me() response { return b.get("/api/v1/accounts/me") }

// wantRefusal checks a refusal page: its status, its reason, and that it says why in the page's
// language (a sentence of the catalogue), links back to the log-in page and opens no session.
func wantRefusal(t *testing.T, what string, b *browser, res response, status int, reason, says string) {
	t.Helper()
	body := string(res.Body)
	if res.Status != status || !strings.Contains(body, `data-reason="`+reason+`"`) {
		t.Fatalf("%s: %d %s, want %d with reason %s", what, res.Status, pageReason(body), status, reason)
	}
	if !strings.Contains(body, says) || !strings.Contains(body, `href="/login" id="back-to-login"`) {
		t.Fatalf("%s: the page does not say %q with a link back to /login: %s", what, says, pageReason(body))
	}
	if _, ok := b.jar["wecomflow_session"]; ok {
		t.Fatalf("%s: a refused sign-in opened a session", what)
	}
}

var reasonRE = regexp.MustCompile(`(?s)<section class="login" id="signin-refused".*?</section>`)

// pageReason is the refusal part of a page, for failure messages.
func pageReason(body string) string {
	if m := reasonRE.FindString(body); m != "" {
		return m
	}
	return body[:min(len(body), 400)]
}

// The start sends a desktop browser to WeCom's QR page and the WeCom app to its OAuth page, with
// every parameter WeCom needs, and binds the state to the browser with a cookie WeCom's way back
// brings along. The simulator, like WeCom, accepts both links.
func TestSignInStartSendsTheBrowserToWeCom(t *testing.T) {
	t.Parallel()
	e := newSignInEnv(t, map[string]any{"enabled": true})
	redirect := "https://wecomflow.example.com/auth/wecom/acme/callback"
	stateRE := regexp.MustCompile(`^[A-Za-z0-9]{32}$`)

	desk := e.browser("203.0.113.10:5000")
	res := desk.get("/auth/wecom/acme/start?next=%2Fui%2Fmessages")
	loc, _ := url.Parse(res.Header.Get("Location"))
	q := loc.Query()
	if res.Status != http.StatusFound || loc.Scheme+"://"+loc.Host != e.simURL || loc.Path != "/wwlogin/sso/login" ||
		q.Get("login_type") != "CorpApp" || q.Get("appid") != e.demo.CorpID || q.Get("agentid") != fmt.Sprint(e.demo.AgentID) ||
		q.Get("redirect_uri") != redirect || !stateRE.MatchString(q.Get("state")) || len(q) != 5 {
		t.Fatalf("desktop start: %d %s", res.Status, res.Header.Get("Location"))
	}
	// redirect_uri is encoded once, as WeCom decodes it.
	if !strings.Contains(loc.RawQuery, "redirect_uri="+url.QueryEscape(redirect)+"&") {
		t.Fatalf("redirect_uri is not URL-encoded once: %s", loc.RawQuery)
	}
	cookie := res.Header.Get("Set-Cookie")
	for _, attr := range []string{"wecomflow_signin=", "Path=/auth/wecom/", "Max-Age=600", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("the state cookie %q lacks %s", cookie, attr)
		}
	}
	if again := desk.start("/ui/").Query().Get("state"); again == q.Get("state") {
		t.Fatal("two starts got the same state")
	}
	page := simGet(t, loc.String())
	if !strings.Contains(page, `class="sim-member" data-userid="zhangsan"`) {
		t.Fatalf("WeCom's QR page refused the link: %s", page)
	}

	app := e.browser("203.0.113.11:5000")
	app.ua = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Mobile Safari/537.36 wxwork/4.1.30 MicroMessenger/7.0.1 Language/zh"
	loc = app.start("/ui/")
	q = loc.Query()
	if loc.Path != "/connect/oauth2/authorize" || q.Get("appid") != e.demo.CorpID || q.Get("redirect_uri") != redirect ||
		q.Get("response_type") != "code" || q.Get("scope") != "snsapi_base" || !stateRE.MatchString(q.Get("state")) ||
		q.Get("agentid") != fmt.Sprint(e.demo.AgentID) || loc.Fragment != "wechat_redirect" || len(q) != 6 {
		t.Fatalf("in-app start: %s", loc)
	}
	loc.Fragment = ""
	if page := simGet(t, loc.String()); !strings.Contains(page, `class="sim-member" data-userid="zhangsan"`) {
		t.Fatalf("WeCom's OAuth page refused the link: %s", page)
	}
	// With options.origin, WeCom sends people back there (the app's trusted domain).
	e.must(200, "PATCH", "/api/v1/authenticators/1", map[string]any{"options": map[string]any{"origin": "https://oa.acme.cn/"}})
	if got := desk.start("/ui/").Query().Get("redirect_uri"); got != "https://oa.acme.cn/auth/wecom/acme/callback" {
		t.Fatalf("redirect_uri with an origin: %s", got)
	}
	if n := e.getUserInfo(); n != 0 {
		t.Fatalf("starting asked WeCom %d times", n)
	}
}

// simGet loads a page of the simulator: its status and its text.
func simGet(t *testing.T, target string) string {
	t.Helper()
	res, err := http.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return fmt.Sprint(res.StatusCode, " ", string(body))
}

// Only an enabled WeCom authenticator with login.enabled is offered, on the log-in page and at
// its start; the log-in page carries its next along, and the token form stays.
func TestSignInIsOfferedWhereItIsOn(t *testing.T) {
	t.Parallel()
	e := newSignInEnv(t, map[string]any{"enabled": true})
	b := e.browser("203.0.113.12:5000")
	page := string(b.get("/login?next=%2Fui%2Fmessages").Body)
	link := regexp.MustCompile(`<a class="button" id="signin-acme" href="([^"]+)">([^<]+)</a>`).FindStringSubmatch(page)
	if link == nil || link[2] != "Sign in with WeCom — Acme WeCom" || !strings.Contains(page, `id="f-token"`) {
		t.Fatalf("the log-in page offers no sign-in with acme beside the token form:\n%s", page)
	}
	if href := strings.ReplaceAll(link[1], "&amp;", "&"); !strings.EqualFold(href, "/auth/wecom/acme/start?next=%2fui%2fmessages") {
		t.Fatalf("the link is %s, want the start with next=/ui/messages", href)
	}
	if zh := string(b.inLanguage("zh-CN").get("/login").Body); !strings.Contains(zh, "使用企业微信登录 — Acme WeCom") {
		t.Fatal("the Chinese log-in page does not offer the sign-in in Chinese")
	}

	for _, off := range []struct {
		what  string
		patch map[string]any
	}{
		{"login off", map[string]any{"options": map[string]any{"login": map[string]any{"enabled": false}}}},
		{"authenticator disabled", map[string]any{"enabled": false, "options": map[string]any{"login": map[string]any{"enabled": true}}}},
	} {
		e.must(200, "PATCH", "/api/v1/authenticators/1", off.patch)
		if page := string(b.get("/login").Body); strings.Contains(page, "signin-acme") {
			t.Errorf("%s: the log-in page still offers acme", off.what)
		}
		res := b.get("/auth/wecom/acme/start")
		wantRefusal(t, off.what, b, res, http.StatusNotFound, "unavailable", "无法通过此企业微信认证器登录")
		if _, ok := b.jar["wecomflow_signin"]; ok {
			t.Errorf("%s: the refused start set the state cookie", off.what)
		}
	}
	wantRefusal(t, "an unknown authenticator", b, b.get("/auth/wecom/nobody/callback?state=x&code=y"), http.StatusNotFound, "unavailable", "无法通过")
	if n := e.getUserInfo(); n != 0 {
		t.Fatalf("WeCom was asked %d times", n)
	}
}

// A member with an account signs in: the session cookie is set like the token log-in's, the
// state cookie is dropped, a 302 sends the browser on to next (the session cookie is SameSite=Lax,
// so it rides along on the way back from WeCom's site: see TestBrowserSignInWithWeCom), and the
// API answers the account.
// The state is good once; the audit log has the sign-in with the address it came from.
func TestSignInWithWeComRoundTrip(t *testing.T) {
	t.Parallel()
	e := newSignInEnv(t, map[string]any{"enabled": true})
	account := e.addAccount("张三", "designer", "zhangsan")
	b := e.browser("203.0.113.20:5000")
	state := b.start("/ui/messages?status=failed").Query().Get("state")
	res := b.back(state, e.sim.IssueLoginCode(e.demo.CorpID, e.demo.AgentID, "zhangsan"))
	if got := landing(res); got != "/ui/messages?status=failed" {
		t.Fatalf("callback: %d, moving on to %q: %s", res.Status, got, res.Body)
	}
	var session, state2 string
	for _, c := range res.Header.Values("Set-Cookie") {
		switch {
		case strings.HasPrefix(c, "wecomflow_session="):
			session = c
		case strings.HasPrefix(c, "wecomflow_signin="):
			state2 = c
		}
	}
	for _, attr := range []string{"Path=/;", "Max-Age=43200", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(session, attr) {
			t.Errorf("the session cookie %q lacks %s", session, attr)
		}
	}
	if !strings.Contains(state2, "Max-Age=0") || !strings.Contains(state2, "Path=/auth/wecom/") {
		t.Errorf("the state cookie is not dropped: %q", state2)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the answer to the callback may be kept: Cache-Control %q", cc)
	}
	me := b.me()
	if me.Status != 200 || me.Data()["id"] != account["id"] || me.Data()["name"] != "张三" || me.Data()["role"] != "designer" {
		t.Fatalf("accounts/me with the session: %d %s", me.Status, me.Body)
	}
	if page := b.get("/ui/messages"); page.Status != 200 {
		t.Fatalf("a page with the session: %d", page.Status)
	}
	if got := e.must(200, "GET", fmt.Sprintf("/api/v1/accounts/%v", account["id"]), nil).Data(); got["lastLoginAt"] == nil {
		t.Error("the account's lastLoginAt is not set")
	}

	// The state is used up: WeCom's way back replayed (a second code for the same state) is
	// refused before WeCom is asked.
	asked := e.getUserInfo()
	again := e.browser("203.0.113.21:5000")
	wantRefusal(t, "a reused state", again, again.back(state, e.sim.IssueLoginCode(e.demo.CorpID, e.demo.AgentID, "zhangsan")),
		http.StatusBadRequest, "state", "This sign-in cannot be finished")
	if n := e.getUserInfo(); n != asked {
		t.Fatalf("a reused state asked WeCom (%d calls, %d before)", n, asked)
	}

	logins := e.audit("auth.login")
	if len(logins) != 1 {
		t.Fatalf("auth.login entries: %v", logins)
	}
	actor := logins[0]["actor"].(map[string]any)
	if actor["type"] != "account" || actor["id"] != account["id"] || actor["name"] != "张三" || logins[0]["ip"] != "203.0.113.20" ||
		!strings.Contains(logins[0]["userAgent"].(string), "Chrome") {
		t.Fatalf("auth.login entry: %v", logins[0])
	}
	failed := e.audit("auth.login_failed")
	if len(failed) != 1 || failed[0]["ip"] != "203.0.113.21" {
		t.Fatalf("auth.login_failed entries: %v", failed)
	}
	if logs := e.logs.String(); strings.Contains(logs, state) || strings.Contains(logs, b.jar["wecomflow_session"].Value) {
		t.Fatal("the log holds a state or a session cookie")
	}
}

// A state that is missing, unknown, used, expired, another browser's or another
// authenticator's is refused with a 400 page in the page's language, and WeCom is never asked.
func TestSignInRefusesABadStateWithoutAskingWeCom(t *testing.T) {
	t.Parallel()
	e := newSignInEnv(t, map[string]any{"enabled": true})
	e.addAccount("张三", "designer", "zhangsan")
	e.must(201, "POST", "/api/v1/authenticators", map[string]any{"name": "beta", "options": map[string]any{
		"corpId": e.demo.CorpID, "agentId": e.demo.AgentID, "secret": e.demo.Secret, "login": map[string]any{"enabled": true}}})
	code := func() string { return e.sim.IssueLoginCode(e.demo.CorpID, e.demo.AgentID, "zhangsan") }
	cases := []struct {
		what string
		// run returns the browser and the callback's answer.
		run func(b *browser) response
	}{
		{"no state", func(b *browser) response {
			b.start("/ui/")
			return b.get("/auth/wecom/acme/callback?code=" + code())
		}},
		{"an unknown state", func(b *browser) response {
			b.start("/ui/")
			return b.back("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", code())
		}},
		{"a used state", func(b *browser) response {
			state := b.start("/ui/").Query().Get("state")
			b.back(state, "not-a-code")
			b.jar["wecomflow_signin"] = &http.Cookie{Name: "wecomflow_signin", Value: "kept", Path: "/auth/wecom/"}
			return b.back(state, code())
		}},
		{"an expired state", func(b *browser) response {
			state := b.start("/ui/").Query().Get("state")
			e.clock.Advance(10*time.Minute + time.Second)
			return b.back(state, code())
		}},
		{"another browser's state", func(b *browser) response {
			state := e.browser("198.51.100.30:5000").start("/ui/").Query().Get("state")
			b.start("/ui/") // this browser has a state cookie of its own
			return b.back(state, code())
		}},
		{"a state without its cookie", func(b *browser) response {
			state := b.start("/ui/").Query().Get("state")
			delete(b.jar, "wecomflow_signin")
			return b.back(state, code())
		}},
		{"another authenticator's state", func(b *browser) response {
			res := b.get("/auth/wecom/beta/start")
			loc, _ := url.Parse(res.Header.Get("Location"))
			return b.back(loc.Query().Get("state"), code())
		}},
	}
	for i, tc := range cases {
		b := e.browser(fmt.Sprintf("203.0.113.%d:5000", 30+i)).inLanguage("zh-CN")
		asked := e.getUserInfo()
		res := tc.run(b)
		wantRefusal(t, tc.what, b, res, http.StatusBadRequest, "state", "此次登录无法完成")
		if tc.what != "a used state" && e.getUserInfo() != asked {
			t.Errorf("%s: WeCom was asked who the code names", tc.what)
		}
		if _, ok := b.jar["wecomflow_signin"]; ok {
			t.Errorf("%s: the state cookie was not dropped", tc.what)
		}
	}
	if n := len(e.audit("auth.login_failed")); n != len(cases)+1 { // the used state's first use too
		t.Fatalf("%d auth.login_failed entries, want %d", n, len(cases)+1)
	}
	if n := len(e.audit("auth.login")); n != 0 {
		t.Fatalf("%d sign-ins", n)
	}
}

// What WeCom answers decides the rest: a code it refuses, a WeChat user who is not a member, a
// member without an account (autoSignUp off) and a disabled account are each refused with a 403
// page that says why; nobody gets a session.
func TestSignInRefusesWhatWeComSays(t *testing.T) {
	t.Parallel()
	e := newSignInEnv(t, map[string]any{"enabled": true})
	disabled := e.addAccount("李四", "viewer", "lisi")
	e.must(200, "PATCH", fmt.Sprintf("/api/v1/accounts/%v", disabled["id"]), map[string]any{"enabled": false})
	cases := []struct {
		what, lang, reason string
		run                func(b *browser) response
		says               string
		status             int // 403 when 0
	}{
		{"a code WeCom refuses", "en", "code", func(b *browser) response {
			return b.back(b.start("/ui/").Query().Get("state"), "made-up-code")
		}, "WeCom refused the sign-in (errcode 40029)", 0},
		{"a code used twice", "zh-CN", "code", func(b *browser) response {
			code := e.sim.IssueLoginCode(e.demo.CorpID, e.demo.AgentID, "lisi")
			b.back(b.start("/ui/").Query().Get("state"), code)
			return b.back(b.start("/ui/").Query().Get("state"), code)
		}, "企业微信拒绝了此次登录（错误码 40029）", 0},
		{"no code", "en", "code", func(b *browser) response {
			return b.get("/auth/wecom/acme/callback?state=" + b.start("/ui/").Query().Get("state"))
		}, "WeCom sent no sign-in code back", 0},
		{"a WeChat user who is not a member", "zh-CN", "outsider", func(b *browser) response {
			return b.signIn("/ui/", "")
		}, "不是此企业的成员", 0},
		{"a member without an account", "en", "no_account", func(b *browser) response {
			return b.signIn("/ui/", "wangwu")
		}, "The WeCom member wangwu has no wecomflow account. An administrator must add it", 0},
		{"a member without an account, in Chinese", "zh-CN", "no_account", func(b *browser) response {
			return b.signIn("/ui/", "wangwu")
		}, "企业微信成员 wangwu 还没有 wecomflow 账号", 0},
		{"a disabled account", "en", "disabled", func(b *browser) response {
			return b.signIn("/ui/", "lisi")
		}, "The account of the WeCom member lisi is disabled", 0},
		{"WeCom refusing wecomflow's address", "en", "code", func(b *browser) response {
			e.sim.Script("auth/getuserinfo", wecomtest.Fault{ErrCode: 60020})
			return b.signIn("/ui/", "zhangsan")
		}, "WeCom refused the sign-in (errcode 60020)", 0},
		{"WeCom out of reach", "zh-CN", "wecom", func(b *browser) response {
			e.sim.Script("auth/getuserinfo", wecomtest.Fault{HTTPStatus: http.StatusServiceUnavailable})
			return b.signIn("/ui/", "zhangsan")
		}, "无法向企业微信查询登录者", http.StatusBadGateway},
	}
	for i, tc := range cases {
		b := e.browser(fmt.Sprintf("203.0.113.%d:5000", 50+i)).inLanguage(tc.lang)
		status := cmp.Or(tc.status, http.StatusForbidden)
		wantRefusal(t, tc.what, b, tc.run(b), status, tc.reason, tc.says)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"msg":"sign-in with WeCom: WeCom could not be asked who signed in","authenticator":"acme"`) ||
		strings.Contains(logs, "made-up-code") {
		t.Fatalf("the log does not say why WeCom could not be asked, or holds a code:\n%s", logs)
	}
	failed := e.audit("auth.login_failed")
	var named []string
	for _, f := range failed {
		named = append(named, f["target"].(map[string]any)["name"].(string))
	}
	// Newest first; the code used twice was lisi's, whose first use found the account disabled.
	if strings.Join(named, ",") != ",,lisi,wangwu,wangwu,,,,lisi," {
		t.Fatalf("auth.login_failed name %q", named)
	}
	if n := len(e.audit("auth.login")); n != 0 {
		t.Fatalf("%d sign-ins", n)
	}
	if accounts, n := e.list("/api/v1/accounts"); n != 1 {
		t.Fatalf("accounts were created: %v", accounts)
	}
}

// With autoSignUp a member without an account gets one, with defaultRole, named as the synced
// directory names the member (the userid when the directory does not know it yet); the audit log
// says the system created it, from the sign-in's address.
func TestSignInSignsUpNewMembers(t *testing.T) {
	t.Parallel()
	e := newSignInEnv(t, map[string]any{"enabled": true, "autoSignUp": true, "defaultRole": "operator"})
	e.runDirectory("syncer")
	e.sync()
	// A member who joined after the sync: the directory does not know the name yet.
	e.sim.AddUser(e.demo.CorpID, wecomtest.User{UserID: "newbie", Name: "牛犇", Departments: []int{1}, MainDepartment: 1, Status: 1})
	for _, tc := range []struct{ userid, name string }{{"lisi", "李四"}, {"newbie", "newbie"}} {
		b := e.browser("203.0.113.70:5000")
		if res := b.signIn("/ui/", tc.userid); landing(res) != "/ui/" {
			t.Fatalf("%s: %d %s", tc.userid, res.Status, pageReason(string(res.Body)))
		}
		me := b.me().Data()
		wecom, _ := me["wecom"].(map[string]any)
		if me["name"] != tc.name || me["role"] != "operator" || me["enabled"] != true || wecom["userid"] != tc.userid ||
			wecom["authenticatorId"] != float64(1) {
			t.Fatalf("%s signed up as %v", tc.userid, me)
		}
		// Signing in again finds the account.
		if res := e.browser("203.0.113.71:5000").signIn("/ui/", tc.userid); landing(res) == "" {
			t.Fatalf("%s again: %d", tc.userid, res.Status)
		}
	}
	if _, n := e.list("/api/v1/accounts"); n != 2 {
		t.Fatalf("%d accounts, want 2", n)
	}
	created := e.audit("account.create")
	if len(created) != 2 {
		t.Fatalf("account.create entries: %v", created)
	}
	actor, target := created[1]["actor"].(map[string]any), created[1]["target"].(map[string]any)
	if actor["type"] != "system" || target["name"] != "李四" || created[1]["ip"] != "203.0.113.70" {
		t.Fatalf("account.create entry: %v", created[1])
	}
	if n := len(e.audit("auth.login")); n != 4 {
		t.Fatalf("%d auth.login entries, want 4", n)
	}
}

// next goes to a page of the UI only: anything else lands on /ui/.
func TestSignInNextStaysOnTheUI(t *testing.T) {
	t.Parallel()
	e := newSignInEnv(t, map[string]any{"enabled": true})
	e.addAccount("张三", "admin", "zhangsan")
	for next, want := range map[string]string{
		"//evil.example/ui/":       "/ui/",
		"https://evil.example/ui/": "/ui/",
		"/\\evil.example":          "/ui/",
		"/login":                   "/ui/",
		"":                         "/ui/",
		"/ui/workflows/3":          "/ui/workflows/3",
	} {
		res := e.browser("203.0.113.80:5000").signIn(next, "zhangsan")
		if got := landing(res); got != want {
			t.Errorf("next %q: %d, moving on to %q, want %q", next, res.Status, got, want)
		}
	}
}

// Bad states and codes WeCom refuses count as failed authentications: after 20 in a minute the
// address gets 429 with Retry-After on the callback — a good sign-in too — and on the API;
// another address signs in.
func TestBadSignInStatesShutTheAddressOut(t *testing.T) {
	t.Parallel()
	e := newSignInEnv(t, map[string]any{"enabled": true})
	e.addAccount("张三", "admin", "zhangsan")
	guesser := e.browser("203.0.113.90:5000").inLanguage("zh-CN")
	for i := range 10 {
		if res := guesser.back(fmt.Sprintf("guess%027d", i), "code"); res.Status != http.StatusBadRequest {
			t.Fatalf("state guess %d: %d", i+1, res.Status)
		}
		if res := guesser.back(guesser.start("/ui/").Query().Get("state"), fmt.Sprintf("code%d", i)); res.Status != http.StatusForbidden {
			t.Fatalf("code guess %d: %d", i+1, res.Status)
		}
	}
	res := guesser.signIn("/ui/", "zhangsan")
	wantShutOut(t, "a good sign-in from the guesser's address", res, "60", false)
	wantRefusal(t, "the 21st", guesser, res, http.StatusTooManyRequests, "rate_limited", "60 秒后再试")
	wantShutOut(t, "the API from the guesser's address", e.env.send(attempt{remote: guesser.remote, method: "GET", path: "/api/v1/users", token: e.token}), "60", true)
	if res := e.browser("198.51.100.90:5000").signIn("/ui/", "zhangsan"); landing(res) == "" {
		t.Fatalf("another address: %d", res.Status)
	}
	e.clock.Advance(time.Minute)
	if res := guesser.signIn("/ui/", "zhangsan"); landing(res) == "" {
		t.Fatalf("after the minute: %d %s", res.Status, pageReason(string(res.Body)))
	}
}

// login.autoLogin is on for one authenticator at most; a /ui/ page opened inside WeCom without a
// session goes straight to its sign-in, other browsers to the log-in page.
func TestAutoLoginIsOneAuthenticatorAndStartsInsideWeCom(t *testing.T) {
	t.Parallel()
	e := newSignInEnv(t, map[string]any{"enabled": true})
	inApp := "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 wxwork/4.1.30 MicroMessenger/7.0.1"
	open := func(ua string) string {
		b := e.browser("203.0.113.100:5000")
		b.ua = ua
		res := b.get("/ui/messages?status=failed")
		if res.Status != http.StatusSeeOther {
			t.Fatalf("a page without a session: %d", res.Status)
		}
		return res.Header.Get("Location")
	}
	if got := open(inApp); got != "/login?next=%2Fui%2Fmessages%3Fstatus%3Dfailed" {
		t.Fatalf("inside WeCom without autoLogin: %s", got)
	}
	e.must(200, "PATCH", "/api/v1/authenticators/1", map[string]any{"options": map[string]any{"login": map[string]any{"autoLogin": true}}})
	if got := open(inApp); got != "/auth/wecom/acme/start?next=%2Fui%2Fmessages%3Fstatus%3Dfailed" {
		t.Fatalf("inside WeCom with autoLogin: %s", got)
	}
	if got := open("Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"); !strings.HasPrefix(got, "/login?") {
		t.Fatalf("a desktop browser: %s", got)
	}

	beta := map[string]any{"name": "beta", "options": map[string]any{"corpId": e.demo.CorpID, "agentId": e.demo.AgentID,
		"secret": e.demo.Secret, "login": map[string]any{"enabled": true, "autoLogin": true}}}
	res := e.do("POST", "/api/v1/authenticators", beta)
	if res.Status != 422 || !strings.Contains(fmt.Sprint(res.Fields()["options.login.autoLogin"]), `"acme"`) {
		t.Fatalf("a second autoLogin: %d %s", res.Status, res.Body)
	}
	beta["options"].(map[string]any)["login"] = map[string]any{"enabled": true}
	e.must(201, "POST", "/api/v1/authenticators", beta)
	res = e.do("PATCH", "/api/v1/authenticators/2", map[string]any{"options": map[string]any{"login": map[string]any{"autoLogin": true}}})
	if res.Status != 422 || !strings.Contains(fmt.Sprint(res.Fields()["options.login.autoLogin"]), `"acme"`) {
		t.Fatalf("autoLogin switched on for a second one: %d %s", res.Status, res.Body)
	}
	// acme may keep saving with its own autoLogin on.
	e.must(200, "PATCH", "/api/v1/authenticators/1", map[string]any{"title": "Acme"})
}
