package wecomtest

import (
	"net/http"
	"time"
)

// tokenLifetime is WeCom's expires_in.
const tokenLifetime = 7200 * time.Second

type tokenResponse struct {
	ErrCode     int    `json:"errcode"`
	ErrMsg      string `json:"errmsg"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
}

// handleGetToken is GET /cgi-bin/gettoken?corpid&corpsecret. Like WeCom, a second call while the
// token is valid returns the same token with its remaining lifetime.
func (s *Server) handleGetToken(r *http.Request, ip string) any {
	q := r.URL.Query()
	corpID, secret := q.Get("corpid"), q.Get("corpsecret")
	if corpID == "" {
		return s.fail(codeMissingCorpID, "", ip)
	}
	if secret == "" {
		return s.fail(codeMissingSecret, "", ip)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.corps[corpID]
	if !ok {
		return s.fail(codeInvalidCorpID, "", ip)
	}
	var app *appState
	for _, a := range []*appState{c.contacts, c.external} {
		if a != nil && a.Secret == secret {
			app = a
		}
	}
	for _, a := range c.apps {
		if app == nil && a.Secret == secret {
			app = a
		}
	}
	if app == nil {
		return s.fail(codeInvalidSecret, "", ip)
	}
	if !app.allows(ip) {
		return s.fail(codeIPNotAllowed, "", ip)
	}
	key := appKey{corp: corpID, agentID: app.AgentID, kind: app.kind()}
	now := s.now()
	if tok, ok := s.current[key]; ok {
		t := s.tokens[tok]
		if left := tokenLifetime - now.Sub(t.issued); !t.invalid && left > 0 {
			return tokenResponse{ErrMsg: "ok", AccessToken: tok, ExpiresIn: int((left + time.Second - 1) / time.Second)}
		}
	}
	tok := s.newID(96) + encodeSeq(s.nextSeq())
	s.tokens[tok] = &token{key: key, issued: now}
	s.current[key] = tok
	return tokenResponse{ErrMsg: "ok", AccessToken: tok, ExpiresIn: int(tokenLifetime / time.Second)}
}

func (s *Server) nextSeq() uint64 {
	s.idSeq++
	return s.idSeq
}

func (a *appState) allows(ip string) bool {
	return a.trusted == nil || a.trusted[ip]
}

// session is an authenticated caller: the corp and app its access_token belongs to.
type session struct {
	c   *corp
	app *appState
	ip  string
}

// authLocked checks access_token like WeCom: missing 41001, unknown or invalidated 40014,
// expired 42001, then the app's trusted IPs 60020. Callers hold mu.
func (s *Server) authLocked(r *http.Request, ip string) (*session, *apiError) {
	tok := r.URL.Query().Get("access_token")
	if tok == "" {
		return nil, s.fail(codeMissingToken, "", ip)
	}
	t, ok := s.tokens[tok]
	if !ok || t.invalid {
		return nil, s.fail(codeInvalidToken, "", ip)
	}
	if s.now().Sub(t.issued) >= tokenLifetime {
		return nil, s.fail(codeTokenExpired, "", ip)
	}
	c, ok := s.corps[t.key.corp]
	if !ok {
		return nil, s.fail(codeInvalidToken, "", ip)
	}
	var app *appState
	switch t.key.kind {
	case contactsSecret:
		app = c.contacts
	case externalSecret:
		app = c.external
	default:
		app = c.apps[t.key.agentID]
	}
	if app == nil {
		return nil, s.fail(codeInvalidToken, "", ip)
	}
	if !app.allows(ip) {
		return nil, s.fail(codeIPNotAllowed, "", ip)
	}
	return &session{c: c, app: app, ip: ip}, nil
}
