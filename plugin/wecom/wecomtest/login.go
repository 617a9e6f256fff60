package wecomtest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Sign-in with WeCom: the QR log-in page (企业微信Web登录, login.work.weixin.qq.com/wwlogin/sso/login),
// the in-app OAuth page (网页授权登录, open.weixin.qq.com/connect/oauth2/authorize, page 91022) and
// auth/getuserinfo (page 91023). WeCom's pages identify the person by a phone scan or by the app
// itself; the simulator cannot, so both pages list the members the app can see and the person at
// the browser chooses. Not simulated: the app's trusted redirect domain (50001), the QR code's own
// expiry, and the in-app page refusing desktop browsers.

// Paths of the sign-in pages. The choose paths are the simulator's own: the links on a page.
const (
	qrLoginPath     = "/wwlogin/sso/login"
	qrChoosePath    = "/wwlogin/sso/choose"
	oauthPath       = "/connect/oauth2/authorize"
	oauthChoosePath = "/connect/oauth2/choose"
)

// loginCodeTTL is WeCom's: a code unused for 5 minutes expires.
const loginCodeTTL = 5 * time.Minute

// stateRe is WeCom's rule for state: a-zA-Z0-9, at most 128 bytes, may be empty.
var stateRe = regexp.MustCompile(`^[A-Za-z0-9]{0,128}$`)

// loginCode is one code a sign-in page handed out.
type loginCode struct {
	corp string
	// agentID is the app the code was issued for; 0 (an OAuth link without agentid) lets any
	// app of the corp consume it.
	agentID int64
	userID  string // canonical userid; "" for a WeChat user who is not a member
	issued  time.Time
	used    bool
}

// signIn is a sign-in page request that passed validation.
type signIn struct {
	corp *corp
	// app is nil for an OAuth link without agentid: every active member may sign in.
	app      *appState
	redirect *url.URL
	state    string
}

// paramError is a sign-in page request WeCom refuses with an error page naming the parameter.
type paramError struct {
	Param  string
	Reason string
}

// serveSignIn answers the sign-in pages and their choose links. Pages are not API endpoints: they
// are neither counted in Calls nor subject to faults.
func (s *Server) serveSignIn(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	oauth := r.URL.Path == oauthPath || r.URL.Path == oauthChoosePath
	q := r.URL.Query()
	if r.URL.Path == qrChoosePath || r.URL.Path == oauthChoosePath {
		location, perr := s.choose(q, oauth)
		if perr != nil {
			writeHTML(w, http.StatusBadRequest, errorPage, perr)
			return
		}
		http.Redirect(w, r, location, http.StatusFound)
		return
	}
	page, perr := s.picker(q, oauth)
	if perr != nil {
		writeHTML(w, http.StatusBadRequest, errorPage, perr)
		return
	}
	writeHTML(w, http.StatusOK, pickerPage, page)
}

// parseSignIn validates a page's query like WeCom, reporting the first bad parameter. Callers
// hold mu.
func (s *Server) parseSignIn(q url.Values, oauth bool) (*signIn, *paramError) {
	if oauth {
		return s.parseOAuth(q)
	}
	return s.parseQRLogin(q)
}

func (s *Server) parseQRLogin(q url.Values) (*signIn, *paramError) {
	if q.Get("login_type") != "CorpApp" {
		return nil, &paramError{"login_type", "must be CorpApp (ServiceApp, third-party log-in, is not simulated)"}
	}
	c, ok := s.corps[q.Get("appid")]
	if !ok {
		return nil, &paramError{"appid", "must be the CorpID of a known corp"}
	}
	app, perr := c.signInApp(q.Get("agentid"))
	if perr != nil {
		return nil, perr
	}
	redirect, perr := parseRedirect(q.Get("redirect_uri"))
	if perr != nil {
		return nil, perr
	}
	if !stateRe.MatchString(q.Get("state")) {
		return nil, stateError()
	}
	return &signIn{corp: c, app: app, redirect: redirect, state: q.Get("state")}, nil
}

// parseOAuth validates connect/oauth2/authorize. agentid is optional there, except that
// snsapi_privateinfo needs it (page 91022).
func (s *Server) parseOAuth(q url.Values) (*signIn, *paramError) {
	c, ok := s.corps[q.Get("appid")]
	if !ok {
		return nil, &paramError{"appid", "must be the CorpID of a known corp"}
	}
	redirect, perr := parseRedirect(q.Get("redirect_uri"))
	if perr != nil {
		return nil, perr
	}
	if q.Get("response_type") != "code" {
		return nil, &paramError{"response_type", "must be code"}
	}
	scope := q.Get("scope")
	if scope != "snsapi_base" && scope != "snsapi_privateinfo" {
		return nil, &paramError{"scope", "must be snsapi_base or snsapi_privateinfo"}
	}
	if !stateRe.MatchString(q.Get("state")) {
		return nil, stateError()
	}
	var app *appState
	switch raw := q.Get("agentid"); {
	case raw != "":
		if app, perr = c.signInApp(raw); perr != nil {
			return nil, perr
		}
	case scope == "snsapi_privateinfo":
		return nil, &paramError{"agentid", "is required with scope snsapi_privateinfo"}
	}
	return &signIn{corp: c, app: app, redirect: redirect, state: q.Get("state")}, nil
}

func (c *corp) signInApp(raw string) (*appState, *paramError) {
	id, err := strconv.ParseInt(raw, 10, 64)
	app, ok := c.apps[id]
	if err != nil || !ok {
		return nil, &paramError{"agentid", "must be the AgentId of an app of this corp"}
	}
	return app, nil
}

func parseRedirect(raw string) (*url.URL, *paramError) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &paramError{"redirect_uri", "must be an http(s) URL"}
	}
	return u, nil
}

func stateError() *paramError {
	return &paramError{"state", "must be at most 128 letters or digits"}
}

// members are the people who can sign in through the app: active members it can see (WeCom tells
// a member outside the visible range that they have no permission). Callers hold mu.
func (in *signIn) members() []*User {
	var out []*User
	for _, key := range in.corp.order {
		if u := in.corp.users[key]; in.canSignIn(u) {
			out = append(out, u)
		}
	}
	return out
}

func (in *signIn) canSignIn(u *User) bool {
	return u != nil && u.Status == 1 && (in.app == nil || in.corp.userVisible(in.app, u))
}

// redirectWith appends code and state to redirect_uri's own query, as WeCom does.
func (in *signIn) redirectWith(code string) string {
	u := *in.redirect
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += "code=" + url.QueryEscape(code) + "&state=" + url.QueryEscape(in.state)
	return u.String()
}

type pickerData struct {
	CorpName     string
	InApp        bool
	Members      []pickerMember
	OutsiderHref string
}

type pickerMember struct {
	UserID, Name, Href string
}

// picker builds the member list of a page. Each link is the page's own query plus the choice, so
// choose validates exactly what the page did and no state is kept between the two.
func (s *Server) picker(q url.Values, oauth bool) (*pickerData, *paramError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, perr := s.parseSignIn(q, oauth)
	if perr != nil {
		return nil, perr
	}
	path := qrChoosePath
	if oauth {
		path = oauthChoosePath
	}
	link := func(key, value string) string {
		cq := url.Values{}
		for k, v := range q {
			cq[k] = v
		}
		cq.Del("userid")
		cq.Del("outsider")
		cq.Set(key, value)
		return path + "?" + cq.Encode()
	}
	page := &pickerData{CorpName: in.corp.info.Name, InApp: oauth, OutsiderHref: link("outsider", "1")}
	for _, u := range in.members() {
		page.Members = append(page.Members, pickerMember{UserID: u.UserID, Name: u.Name, Href: link("userid", u.UserID)})
	}
	return page, nil
}

// choose is the scan (or the in-app open) by the chosen person: a fresh code and the way back to
// redirect_uri.
func (s *Server) choose(q url.Values, oauth bool) (string, *paramError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, perr := s.parseSignIn(q, oauth)
	if perr != nil {
		return "", perr
	}
	userID := ""
	if q.Get("outsider") != "1" {
		u := in.corp.users[strings.ToLower(q.Get("userid"))]
		if !in.canSignIn(u) {
			return "", &paramError{"userid", "must be an active member the app can see"}
		}
		userID = u.UserID
	}
	var agentID int64
	if in.app != nil {
		agentID = in.app.AgentID
	}
	return in.redirectWith(s.newLoginCode(in.corp.info.ID, agentID, userID)), nil
}

// IssueLoginCode mints a sign-in code as if userID had scanned the QR page of app agentID, for
// tests that do not click through the pages. userID "" is a WeChat user who is not a member;
// agentID 0 is an in-app OAuth link without agentid, whose code any app of the corp may use.
// Unlike the pages it does not check the member's status or the app's visible range: getuserinfo
// answers a member's userid regardless, as WeCom does. An unknown corp, app or member panics.
func (s *Server) IssueLoginCode(corpID string, agentID int64, userID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mustCorp(corpID)
	if _, ok := c.apps[agentID]; agentID != 0 && !ok {
		panic("wecomtest: corp " + corpID + " has no app " + strconv.FormatInt(agentID, 10))
	}
	if userID != "" {
		u, ok := c.users[strings.ToLower(userID)]
		if !ok {
			panic("wecomtest: corp " + corpID + " has no member " + userID)
		}
		userID = u.UserID
	}
	return s.newLoginCode(corpID, agentID, userID)
}

// newLoginCode records a code. Codes come from crypto/rand, not the seeded RNG: in the sandbox a
// code is a credential that must not be guessable from another, and drawing them leaves the
// seeded ids of a test unchanged. Callers hold mu.
func (s *Server) newLoginCode(corpID string, agentID int64, userID string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	code := base64.RawURLEncoding.EncodeToString(b)
	s.t.logins[code] = &loginCode{corp: corpID, agentID: agentID, userID: userID, issued: s.now()}
	return code
}

// outsiderOpenID is the openid of the pages' one non-member. WeCom's openid is stable per corp,
// so a returning outsider gets the same one.
func outsiderOpenID(corpID string) string {
	sum := sha256.Sum256([]byte("outsider\x00" + corpID))
	return "o" + base64.RawURLEncoding.EncodeToString(sum[:])[:27]
}

// handleGetUserInfo is GET /cgi-bin/auth/getuserinfo?code (page 91023). A code is good once,
// within 5 minutes, for a token of the corp and app it was issued for; anything else is 40029.
// Where the page is silent: a refused call does not use the code up (the rightful app may still
// consume it), and the contacts secret, which is no app, gets 48002. external_userid is always
// empty: the simulator has no customers (客户联系).
func (s *Server) handleGetUserInfo(r *http.Request, ip string) any {
	return s.withSession(r, ip, func(sess *session) any {
		if sess.app.ContactsSecret {
			return s.fail(codeAPIForbidden, "", ip)
		}
		code := r.URL.Query().Get("code")
		if code == "" {
			return s.fail(codeMissingOAuthCode, "", ip)
		}
		lc, ok := s.t.logins[code]
		if !ok || lc.used || s.now().Sub(lc.issued) >= loginCodeTTL || lc.corp != sess.c.info.ID ||
			(lc.agentID != 0 && lc.agentID != sess.app.AgentID) {
			return s.fail(codeInvalidOAuthCode, "", ip)
		}
		lc.used = true
		if lc.userID == "" {
			return struct {
				apiError
				OpenID         string `json:"openid"`
				ExternalUserID string `json:"external_userid"`
			}{apiError{ErrMsg: "ok"}, outsiderOpenID(lc.corp), ""}
		}
		return struct {
			apiError
			UserID string `json:"userid"`
		}{apiError{ErrMsg: "ok"}, lc.userID}
	})
}

func writeHTML(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// The pages are self-contained (no scripts, no external assets) so they work offline and in any
// browser test. The sim-* classes and data-* attributes are the hooks tests click.
const pageStyle = `<style>
body{font-family:system-ui,sans-serif;background:#f2f4f7;margin:0;color:#1f2329}
main{max-width:28rem;margin:3rem auto;background:#fff;border-radius:8px;padding:1.5rem 2rem}
h1{font-size:1.25rem;margin:0 0 .5rem}
.sim-hint{color:#646a73;font-size:.9rem}
ul{list-style:none;padding:0}
li a,.sim-outsider{display:block;padding:.5rem .75rem;margin:.25rem 0;border:1px solid #dee0e3;border-radius:6px;color:#1f2329;text-decoration:none}
li a:hover,.sim-outsider:hover{border-color:#0082ef}
li span{color:#646a73;margin-left:.5rem}
.sim-error{color:#d83931}
</style>`

var pickerPage = template.Must(template.New("picker").Parse(`<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>企业微信登录 / WeCom log-in</title>
` + pageStyle + `
</head>
<body>
<main>
<h1>企业微信登录 / WeCom log-in</h1>
<p class="sim-corp">{{.CorpName}}</p>
{{if .InApp}}<p class="sim-hint">模拟在企业微信内打开：选择打开此链接的成员。<br>Simulated: choose who opened this link in the WeCom app.</p>
{{else}}<p class="sim-hint">模拟扫码：选择用谁的手机扫码。<br>Simulated: choose whose phone scans the QR code.</p>
{{end}}<ul>
{{range .Members}}<li><a class="sim-member" data-userid="{{.UserID}}" href="{{.Href}}">{{.Name}}<span>{{.UserID}}</span></a></li>
{{else}}<li class="sim-hint">没有成员可以登录此应用 / No active member can see this app</li>
{{end}}</ul>
<a class="sim-outsider" href="{{.OutsiderHref}}">非本企业成员的微信用户 / A WeChat user who is not a member of this corp</a>
<p class="sim-hint">wecomtest: a simulated WeCom.</p>
</main>
</body>
</html>
`))

var errorPage = template.Must(template.New("error").Parse(`<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>该链接无法访问 / This link cannot be opened</title>
` + pageStyle + `
</head>
<body>
<main>
<h1>该链接无法访问 / This link cannot be opened</h1>
<p class="sim-error" data-param="{{.Param}}">{{.Param}} {{.Reason}}</p>
<p class="sim-hint">wecomtest: a simulated WeCom.</p>
</main>
</body>
</html>
`))
