package wecomtest

import (
	"cmp"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const callbackURL = "https://app.example/auth/wecom/acme/callback?next=%2Fui%2F"

func qrQuery(agent int64, state string) url.Values {
	return url.Values{"login_type": {"CorpApp"}, "appid": {testCorp}, "agentid": {strconv.FormatInt(agent, 10)},
		"redirect_uri": {callbackURL}, "state": {state}}
}

func oauthQuery(agent string, state string) url.Values {
	q := url.Values{"appid": {testCorp}, "redirect_uri": {callbackURL}, "response_type": {"code"},
		"scope": {"snsapi_base"}, "state": {state}}
	if agent != "" {
		q.Set("agentid", agent)
	}
	return q
}

// page fetches a sign-in page (or a choose link) without following redirects.
func (f *fixture) page(t *testing.T, pathAndQuery string) (*http.Response, string) {
	t.Helper()
	client := *f.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Get(f.srv.URL + pathAndQuery)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

var (
	memberLinkRe   = regexp.MustCompile(`<a class="sim-member" data-userid="([^"]+)" href="([^"]+)"`)
	outsiderLinkRe = regexp.MustCompile(`<a class="sim-outsider" href="([^"]+)"`)
)

// links maps each member link's data-userid to its href, and "" to the outsider link.
func links(t *testing.T, body string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range memberLinkRe.FindAllStringSubmatch(body, -1) {
		out[m[1]] = html.UnescapeString(m[2])
	}
	m := outsiderLinkRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no outsider link in\n%s", body)
	}
	out[""] = html.UnescapeString(m[1])
	return out
}

func TestSignInPagesRefuseBadParameters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	with := func(q url.Values, key, value string) url.Values {
		out := url.Values{}
		for k, v := range q {
			out[k] = v
		}
		if value == "" {
			out.Del(key)
		} else {
			out.Set(key, value)
		}
		return out
	}
	qr, oauth := qrQuery(testAgent, "abc"), oauthQuery("", "abc")
	tests := []struct {
		name      string
		path      string
		q         url.Values
		wantParam string
	}{
		{"qr: login_type missing", qrLoginPath, with(qr, "login_type", ""), "login_type"},
		{"qr: third-party login_type", qrLoginPath, with(qr, "login_type", "ServiceApp"), "login_type"},
		{"qr: unknown corp", qrLoginPath, with(qr, "appid", "wwunknown"), "appid"},
		{"qr: agentid missing", qrLoginPath, with(qr, "agentid", ""), "agentid"},
		{"qr: agentid of no app", qrLoginPath, with(qr, "agentid", "999"), "agentid"},
		{"qr: agentid not a number", qrLoginPath, with(qr, "agentid", "app"), "agentid"},
		{"qr: redirect_uri missing", qrLoginPath, with(qr, "redirect_uri", ""), "redirect_uri"},
		{"qr: redirect_uri relative", qrLoginPath, with(qr, "redirect_uri", "/auth/callback"), "redirect_uri"},
		{"qr: redirect_uri not http", qrLoginPath, with(qr, "redirect_uri", "javascript:alert(1)"), "redirect_uri"},
		{"qr: state with punctuation", qrLoginPath, with(qr, "state", "a-b"), "state"},
		{"qr: state of 129", qrLoginPath, with(qr, "state", strings.Repeat("a", 129)), "state"},
		{"oauth: unknown corp", oauthPath, with(oauth, "appid", "wwunknown"), "appid"},
		{"oauth: redirect_uri ftp", oauthPath, with(oauth, "redirect_uri", "ftp://app.example/"), "redirect_uri"},
		{"oauth: response_type token", oauthPath, with(oauth, "response_type", "token"), "response_type"},
		{"oauth: scope snsapi_userinfo", oauthPath, with(oauth, "scope", "snsapi_userinfo"), "scope"},
		{"oauth: state of 129", oauthPath, with(oauth, "state", strings.Repeat("a", 129)), "state"},
		{"oauth: agentid of no app", oauthPath, with(oauth, "agentid", "999"), "agentid"},
		{"oauth: privateinfo without agentid", oauthPath, with(oauth, "scope", "snsapi_privateinfo"), "agentid"},
		{"choose: a member the app cannot see", qrChoosePath, with(qrQuery(rdAgent, ""), "userid", "Bob"), "userid"},
		{"choose: a disabled member", qrChoosePath, with(qr, "userid", "erin"), "userid"},
		{"choose: nobody", oauthChoosePath, oauth, "userid"},
		{"choose: the page's own checks", oauthChoosePath, with(with(oauth, "outsider", "1"), "state", "a b"), "state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := f.page(t, tt.path+"?"+tt.q.Encode())
			if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("HTTP %d %s, want a 400 HTML page", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if !strings.Contains(body, `class="sim-error" data-param="`+tt.wantParam+`"`) {
				t.Errorf("the error page does not name %s:\n%s", tt.wantParam, body)
			}
		})
	}
	for _, path := range []string{qrLoginPath + "?" + qrQuery(testAgent, "").Encode(), oauthPath + "?" + oauthQuery("", "").Encode()} {
		if resp, body := f.page(t, path); resp.StatusCode != http.StatusOK {
			t.Errorf("%s with an empty state: HTTP %d\n%s", path, resp.StatusCode, body)
		}
	}
}

// A page lists the active members the app can see, in the order they were added, and the outsider.
func TestSignInPageListsVisibleActiveMembers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name string
		path string
		want []string
	}{
		{"qr, whole corp", qrLoginPath + "?" + qrQuery(testAgent, "s1").Encode(), []string{"alice", "Bob", "carol", "dave", "frank"}},
		{"qr, 研发 only", qrLoginPath + "?" + qrQuery(rdAgent, "s1").Encode(), []string{"alice", "carol", "dave", "frank"}},
		{"oauth, 研发 only", oauthPath + "?" + oauthQuery(strconv.Itoa(rdAgent), "s1").Encode(), []string{"alice", "carol", "dave", "frank"}},
		{"oauth without agentid", oauthPath + "?" + oauthQuery("", "s1").Encode(), []string{"alice", "Bob", "carol", "dave", "frank"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := f.page(t, tt.path)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<title>企业微信登录 / WeCom log-in</title>") {
				t.Fatalf("HTTP %d\n%s", resp.StatusCode, body)
			}
			var got []string
			for _, m := range memberLinkRe.FindAllStringSubmatch(body, -1) {
				got = append(got, m[1])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("members %v, want %v", got, tt.want)
			}
			links(t, body) // has the outsider link
		})
	}
	if resp, _ := f.page(t, tests[0].path); resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
}

// Choosing on a page sends the browser back to redirect_uri with a code and the state, its own
// query kept; the code names the chosen person to the app's getuserinfo.
func TestChooseRedirectsWithCodeAndState(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rdToken := f.token(t, rdSecret)
	tests := []struct {
		name      string
		page      string
		choice    string // a userid, "" for the outsider
		state     string
		wantField string
		wantValue string
	}{
		{"qr, member", qrLoginPath + "?" + qrQuery(rdAgent, "Abc123").Encode(), "carol", "Abc123", "userid", "carol"},
		{"qr, outsider", qrLoginPath + "?" + qrQuery(rdAgent, "Abc123").Encode(), "", "Abc123", "openid", outsiderOpenID(testCorp)},
		{"oauth, member, empty state", oauthPath + "?" + oauthQuery(strconv.Itoa(rdAgent), "").Encode(), "frank", "", "userid", "frank"},
		{"oauth without agentid", oauthPath + "?" + oauthQuery("", "xyz").Encode(), "alice", "xyz", "userid", "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, body := f.page(t, tt.page)
			href, ok := links(t, body)[tt.choice]
			if !ok {
				t.Fatalf("no link for %q", tt.choice)
			}
			resp, _ := f.page(t, href)
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("choose: HTTP %d", resp.StatusCode)
			}
			loc := resp.Header.Get("Location")
			if !strings.HasPrefix(loc, callbackURL+"&code=") {
				t.Fatalf("Location %q does not keep redirect_uri and its query", loc)
			}
			u, _ := url.Parse(loc)
			q := u.Query()
			if q.Get("next") != "/ui/" || q.Get("state") != tt.state || !q.Has("state") || q.Get("code") == "" {
				t.Fatalf("Location %q: want next=/ui/, state=%q and a code", loc, tt.state)
			}
			m := f.get(t, "auth/getuserinfo", rdToken, url.Values{"code": {q.Get("code")}})
			if errcode(m) != 0 || m[tt.wantField] != tt.wantValue {
				t.Fatalf("getuserinfo = %v, want %s %s", m, tt.wantField, tt.wantValue)
			}
		})
	}
	t.Run("every choice mints a fresh code", func(t *testing.T) {
		t.Parallel()
		_, body := f.page(t, qrLoginPath+"?"+qrQuery(rdAgent, "s").Encode())
		href := links(t, body)["alice"]
		first, _ := f.page(t, href)
		second, _ := f.page(t, href)
		if first.Header.Get("Location") == second.Header.Get("Location") {
			t.Fatalf("the same code twice: %s", first.Header.Get("Location"))
		}
	})
}

func TestGetUserInfo(t *testing.T) {
	t.Parallel()
	const otherCorp = "wwother0000000001"
	tests := []struct {
		name       string
		corp       string // the code's corp; testCorp when empty
		agent      int64  // the code's app
		user       string
		secret     string // the caller's token
		advance    time.Duration
		useTwice   bool
		code       *string // the code sent instead of the issued one
		want       int
		wantUserID string
	}{
		{name: "member", agent: testAgent, user: "bob", secret: testSecret, wantUserID: "Bob"},
		{name: "outsider", agent: testAgent, secret: testSecret},
		{name: "member outside the visible range", agent: rdAgent, user: "Bob", secret: rdSecret, wantUserID: "Bob"},
		{name: "code without agentid, any app", agent: 0, user: "alice", secret: noCBSecret, wantUserID: "alice"},
		{name: "just before 5 minutes", agent: testAgent, user: "alice", secret: testSecret, advance: loginCodeTTL - time.Second, wantUserID: "alice"},
		{name: "expired", agent: testAgent, user: "alice", secret: testSecret, advance: loginCodeTTL, want: 40029},
		{name: "used", agent: testAgent, user: "alice", secret: testSecret, useTwice: true, want: 40029},
		{name: "another app", agent: testAgent, user: "alice", secret: noCBSecret, want: 40029},
		{name: "another corp's app of the same agentid", corp: otherCorp, agent: testAgent, user: "zoe", secret: testSecret, want: 40029},
		{name: "unknown code", agent: testAgent, user: "alice", secret: testSecret, code: new("AAAAAAgG333qs9EdaPbCAP1VaOrjuNkiAZHTWgaWsZQ"), want: 40029},
		{name: "missing code", agent: testAgent, user: "alice", secret: testSecret, code: new(""), want: 41008},
		{name: "contacts secret", agent: 0, user: "alice", secret: contactsSec, want: 48002},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			f.sim.AddCorp(Corp{ID: otherCorp, Name: "Other"})
			f.sim.AddApp(otherCorp, App{AgentID: testAgent, Secret: "other-secret"})
			f.sim.AddUser(otherCorp, User{UserID: "zoe", Name: "Zoe"})
			corp := cmp.Or(tt.corp, testCorp)
			code := f.sim.IssueLoginCode(corp, tt.agent, tt.user)
			if tt.code != nil {
				code = *tt.code
			}
			tok := f.token(t, tt.secret)
			f.clock.Advance(tt.advance)
			q := url.Values{"code": {code}}
			if tt.useTwice {
				if m := f.get(t, "auth/getuserinfo", tok, q); errcode(m) != 0 {
					t.Fatalf("first use: %v", m)
				}
			}
			m := f.get(t, "auth/getuserinfo", tok, url.Values{"code": {code}})
			if errcode(m) != tt.want {
				t.Fatalf("errcode %d, want %d (%v)", errcode(m), tt.want, m)
			}
			switch {
			case tt.want != 0:
				if _, ok := m["userid"]; ok {
					t.Errorf("an error names a userid: %v", m)
				}
			case tt.user == "":
				if _, ok := m["userid"]; ok || m["openid"] != outsiderOpenID(corp) || m["external_userid"] != "" {
					t.Errorf("outsider answer %v", m)
				}
			default:
				if _, ok := m["openid"]; ok || m["userid"] != tt.wantUserID {
					t.Errorf("member answer %v, want userid %s", m, tt.wantUserID)
				}
			}
		})
	}
	t.Run("a refused app does not use the code up", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		code := f.sim.IssueLoginCode(testCorp, testAgent, "alice")
		if m := f.get(t, "auth/getuserinfo", f.token(t, noCBSecret), url.Values{"code": {code}}); errcode(m) != 40029 {
			t.Fatalf("another app: %v", m)
		}
		if m := f.get(t, "auth/getuserinfo", f.token(t, testSecret), url.Values{"code": {code}}); m["userid"] != "alice" {
			t.Fatalf("the rightful app afterwards: %v", m)
		}
	})
	t.Run("Reset forgets codes", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t)
		code := f.sim.IssueLoginCode(testCorp, testAgent, "alice")
		f.sim.Reset()
		if m := f.get(t, "auth/getuserinfo", f.token(t, testSecret), url.Values{"code": {code}}); errcode(m) != 40029 {
			t.Fatalf("after Reset: %v", m)
		}
	})
}

// getuserinfo checks its access_token like every endpoint, before the code, and a refused token
// or a fault does not use the code up.
func TestGetUserInfoTokenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		token func(t *testing.T, f *fixture) string
		fault *Fault
		want  int
	}{
		{"missing token", func(*testing.T, *fixture) string { return "" }, nil, 41001},
		{"unknown token", func(*testing.T, *fixture) string { return "nope" }, nil, 40014},
		{"invalidated token", func(t *testing.T, f *fixture) string {
			tok := f.token(t, testSecret)
			f.sim.InvalidateTokens(testCorp)
			return tok
		}, nil, 40014},
		{"expired token", func(t *testing.T, f *fixture) string {
			tok := f.token(t, testSecret)
			f.clock.Advance(tokenLifetime)
			return tok
		}, nil, 42001},
		{"system busy", func(t *testing.T, f *fixture) string { return f.token(t, testSecret) }, &Fault{ErrCode: -1}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			code := f.sim.IssueLoginCode(testCorp, testAgent, "alice")
			tok := tt.token(t, f)
			if tt.fault != nil {
				f.sim.Script("auth/getuserinfo", *tt.fault)
			}
			if m := f.get(t, "auth/getuserinfo", tok, url.Values{"code": {code}}); errcode(m) != tt.want {
				t.Fatalf("errcode %d, want %d (%v)", errcode(m), tt.want, m)
			}
			if n := f.sim.Calls("auth/getuserinfo"); n != 1 {
				t.Errorf("Calls = %d, want 1", n)
			}
			f.clock.Set(start) // within the code's 5 minutes again; a fresh token below
			m := f.get(t, "auth/getuserinfo", f.token(t, testSecret), url.Values{"code": {code}})
			if m["userid"] != "alice" {
				t.Fatalf("the code after a refused call: %v", m)
			}
		})
	}
}

func TestSignInPagesAreGetOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	resp, err := f.srv.Client().PostForm(f.srv.URL+qrChoosePath, qrQuery(testAgent, "s"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("POST: HTTP %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}
