package service

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/problem"
)

// SignInLifetime is how long a sign-in with WeCom may take from its start to its callback.
const SignInLifetime = 10 * time.Minute

// maxNext is the longest page to go to after a sign-in that is kept (the column's size); a longer
// one is the start page.
const maxNext = 1024

// SignInChoice is an authenticator people may sign in with: an enabled WeCom one whose
// login.enabled is on.
type SignInChoice struct {
	Name, Title string
	// AutoLogin sends a /ui/ page opened inside WeCom without a session to this sign-in.
	AutoLogin bool
}

// SignInStart is the way to WeCom's sign-in page, and the value of the cookie that binds the
// sign-in to the browser that started it.
type SignInStart struct {
	URL     string
	Browser string
}

// SignInReturn is what comes back to the callback: WeCom's code and the state from the URL, the
// browser's cookie.
type SignInReturn struct {
	Code, State, Browser string
}

// SignedIn is a finished sign-in: the session, and the page to go to.
type SignedIn struct {
	Session Session
	Next    string
}

// SignInReason says why a sign-in with WeCom was refused; the pages say it in their language.
type SignInReason string

const (
	// SignInUnavailable: no enabled WeCom authenticator of that name offers sign-in.
	SignInUnavailable SignInReason = "unavailable"
	// SignInBadState: the state is missing, unknown, used, expired, or it was started by another
	// browser or for another authenticator.
	SignInBadState SignInReason = "state"
	// SignInBadCode: WeCom refused the code (40029 and the like), or none came back.
	SignInBadCode SignInReason = "code"
	// SignInNotMember: WeCom named a WeChat user who is not a member of the corp.
	SignInNotMember SignInReason = "outsider"
	// SignInDisabled: the member's account is disabled.
	SignInDisabled SignInReason = "disabled"
	// SignInNoAccount: the member has no account, and login.autoSignUp is off.
	SignInNoAccount SignInReason = "no_account"
	// SignInWeComFailed: WeCom could not be asked who signed in (unreachable, or it refused the
	// app's own credentials): nothing the person can fix.
	SignInWeComFailed SignInReason = "wecom"
)

// Status is the HTTP status of a refusal's page.
func (r SignInReason) Status() int {
	switch r {
	case SignInUnavailable:
		return http.StatusNotFound
	case SignInBadState:
		return http.StatusBadRequest
	case SignInWeComFailed:
		return http.StatusBadGateway
	default:
		return http.StatusForbidden
	}
}

// SignInRefusal is a sign-in with WeCom that was turned down.
type SignInRefusal struct {
	Reason SignInReason
	// UserID is the member WeCom named, when it named one.
	UserID string
	// ErrCode is WeCom's errcode when it refused the code.
	ErrCode int64
	// Err is the cause, for the log.
	Err error
	// guess marks a state or code that was presented and is not good: a failed authentication.
	guess bool
}

func (e *SignInRefusal) Error() string {
	msg := "sign-in with WeCom refused: " + string(e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *SignInRefusal) Unwrap() error { return e.Err }

// FailedAuthentication makes a wrong state or code count against the client's address like a
// wrong token (lockout.Failure), though its page is a 400 or a 403.
func (e *SignInRefusal) FailedAuthentication() bool { return e.guess }

// SignInChoices lists the authenticators people may sign in with, in id order.
func (s *Service) SignInChoices(ctx context.Context) ([]SignInChoice, error) {
	var out []SignInChoice
	err := s.eachAuthenticator(ctx, func(a *models.Authenticator) {
		if app, ok := signInApp(a); ok {
			out = append(out, SignInChoice{Name: a.Name, Title: a.Title, AutoLogin: app.Login.AutoLogin})
		}
	})
	return out, err
}

// StartSignIn begins a sign-in with WeCom through the authenticator name: it stores the state
// WeCom will carry back (by its hash, bound to a new browser cookie, valid SignInLifetime, good
// for one callback) and answers WeCom's page to go to — the QR page, or the OAuth page inside
// the WeCom app (inApp). next must already be a safe path of the UI.
func (s *Service) StartSignIn(ctx context.Context, name, next string, inApp bool) (SignInStart, error) {
	a, app, err := s.signInAuthenticator(ctx, name)
	if err != nil {
		return SignInStart{}, err
	}
	if len(next) > maxNext {
		next = "/ui/"
	}
	// 32 hex digits (128 random bits) are within WeCom's state rule, [A-Za-z0-9]{0,128}.
	state, browser := randomHex(16), randomHex(32)
	st := &models.SignInState{ID: HashToken(state), AuthenticatorID: a.ID, Browser: HashToken(browser), Next: next,
		ExpiresAt: s.store.Now().Add(SignInLifetime)}
	if err := s.store.CreateSignInState(ctx, st); err != nil {
		return SignInStart{}, problem.StoreError("Sign-in", err)
	}
	// WeCom sends the browser back to the app's trusted domain: the authenticator's origin when
	// people reach wecomflow there, the server's public URL otherwise.
	base := s.cfg.PublicURL
	if app.Origin != "" {
		base = strings.TrimRight(app.Origin, "/")
	}
	redirect := url.QueryEscape(base + "/auth/wecom/" + a.Name + "/callback")
	corp, agent := url.QueryEscape(app.CorpID), strconv.FormatInt(app.AgentID, 10)
	// In WeCom's parameter order, as its documentation writes the links.
	target := s.cfg.LoginBase + "/wwlogin/sso/login?login_type=CorpApp&appid=" + corp + "&agentid=" + agent +
		"&redirect_uri=" + redirect + "&state=" + state
	if inApp {
		target = s.cfg.OAuthBase + "/connect/oauth2/authorize?appid=" + corp + "&redirect_uri=" + redirect +
			"&response_type=code&scope=snsapi_base&state=" + state + "&agentid=" + agent + "#wechat_redirect"
	}
	return SignInStart{URL: target, Browser: browser}, nil
}

// FinishSignIn is the callback of a sign-in through the authenticator name: the state must be
// one this browser started there, unused and in time, before WeCom is asked who the code names;
// that member's enabled account (created first with login.autoSignUp) gets a session. Every
// refusal is a *SignInRefusal and is written to the audit log (auth.login_failed); a wrong
// state or a code WeCom refused counts as a failed authentication.
func (s *Service) FinishSignIn(ctx context.Context, name string, back SignInReturn) (SignedIn, error) {
	done, err := s.finishSignIn(ctx, name, back)
	if r, ok := errors.AsType[*SignInRefusal](err); ok {
		s.log.InfoContext(ctx, "sign-in with WeCom refused", "authenticator", name, "reason", string(r.Reason),
			"userid", r.UserID, "errcode", r.ErrCode)
		s.RecordFailedLogin(ctx, access.KindAccount, r.UserID)
	}
	return done, err
}

func (s *Service) finishSignIn(ctx context.Context, name string, back SignInReturn) (SignedIn, error) {
	a, app, err := s.signInAuthenticator(ctx, name)
	if err != nil {
		return SignedIn{}, err
	}
	st, err := s.takeSignInState(ctx, a, back)
	if err != nil {
		return SignedIn{}, err
	}
	if back.Code == "" {
		// Nothing to ask WeCom about, and nothing was guessed.
		return SignedIn{}, &SignInRefusal{Reason: SignInBadCode}
	}
	creds, _ := wecom.AppOf(a)
	who, err := s.clients.Client(creds).UserInfoByCode(ctx, back.Code)
	if err != nil {
		return SignedIn{}, s.wecomRefusal(ctx, a.Name, err)
	}
	if who.UserID == "" {
		return SignedIn{}, &SignInRefusal{Reason: SignInNotMember}
	}
	account, err := s.store.AccountByWeCom(ctx, a.ID, who.UserID)
	switch {
	case errors.Is(err, models.ErrNotFound) && app.Login.AutoSignUp:
		if account, err = s.signUp(ctx, a.ID, who.UserID, app.Login.DefaultRole); err != nil {
			return SignedIn{}, err
		}
	case errors.Is(err, models.ErrNotFound):
		return SignedIn{}, &SignInRefusal{Reason: SignInNoAccount, UserID: who.UserID}
	case err != nil:
		return SignedIn{}, problem.StoreError("Account", err)
	}
	if !account.Enabled {
		return SignedIn{}, &SignInRefusal{Reason: SignInDisabled, UserID: who.UserID}
	}
	sess, err := s.OpenAccountSession(ctx, account)
	if err != nil {
		return SignedIn{}, err
	}
	return SignedIn{Session: sess, Next: st.Next}, nil
}

// takeSignInState uses up the state of a callback: it must exist, be unexpired, have been
// started on authenticator a, by the browser that holds the cookie.
func (s *Service) takeSignInState(ctx context.Context, a *models.Authenticator, back SignInReturn) (*models.SignInState, error) {
	if back.State == "" {
		return nil, &SignInRefusal{Reason: SignInBadState}
	}
	bad := &SignInRefusal{Reason: SignInBadState, guess: true}
	st, err := s.store.TakeSignInState(ctx, HashToken(back.State))
	if errors.Is(err, models.ErrNotFound) {
		return nil, bad
	}
	if err != nil {
		return nil, problem.StoreError("Sign-in", err)
	}
	if subtle.ConstantTimeCompare([]byte(HashToken(back.Browser)), []byte(st.Browser)) != 1 || st.AuthenticatorID != a.ID {
		return nil, bad
	}
	return st, nil
}

// wecomRefusal is the refusal of a failed getuserinfo. An errcode of that call refuses the code
// (40029 is a code that is unknown, used, expired or another app's: a failed authentication);
// anything else — WeCom unreachable, the app's own token refused — is not the person's doing and
// is logged with its errcode for the operator.
func (s *Service) wecomRefusal(ctx context.Context, authenticator string, err error) error {
	if ae, ok := errors.AsType[*wecom.APIError](err); ok && ae.API == "auth/getuserinfo" {
		return &SignInRefusal{Reason: SignInBadCode, ErrCode: ae.Code, Err: err, guess: ae.Code == 40029}
	}
	s.log.WarnContext(ctx, "sign-in with WeCom: WeCom could not be asked who signed in", "authenticator", authenticator,
		"errcode", wecom.ErrCode(err), "reason", wecom.Reason(err))
	return &SignInRefusal{Reason: SignInWeComFailed, ErrCode: wecom.ErrCode(err), Err: err}
}

// signUp creates the account of a member who signed in for the first time (login.autoSignUp),
// named as the synced directory names the member, else by the userid. The server acts, on the
// policy an admin set: the audit log's account.create names the system as its actor, with the
// address and User-Agent of the sign-in.
func (s *Service) signUp(ctx context.Context, authenticatorID uint64, userid, role string) (*models.Account, error) {
	name := userid
	if m, err := s.store.GetMember(ctx, authenticatorID, userid); err == nil && accountNameProblem(strings.TrimSpace(m.Name)) == "" {
		name = m.Name
	}
	_, err := s.CreateAccount(access.With(ctx, access.System()), AccountInput{Name: &name, Role: &role,
		WeCom: &AccountLink{Link: &AccountWeCom{AuthenticatorID: authenticatorID, UserID: userid}}})
	// A conflict is the same member signing in twice at once: the other sign-in created it.
	if err != nil && !isConflict(err) {
		return nil, err
	}
	a, err := s.store.AccountByWeCom(ctx, authenticatorID, userid)
	return a, problem.StoreError("Account", err)
}

func isConflict(err error) bool {
	pe, ok := errors.AsType[*problem.Error](err)
	return ok && pe.Code == problem.CodeConflict
}

// signInAuthenticator is the authenticator name when people may sign in with it; a refusal
// that does not say which condition failed otherwise.
func (s *Service) signInAuthenticator(ctx context.Context, name string) (*models.Authenticator, wecom.SignInApp, error) {
	a, err := s.store.GetAuthenticatorByName(ctx, name)
	if errors.Is(err, models.ErrNotFound) {
		return nil, wecom.SignInApp{}, &SignInRefusal{Reason: SignInUnavailable}
	}
	if err != nil {
		return nil, wecom.SignInApp{}, problem.StoreError("Authenticator", err)
	}
	app, ok := signInApp(a)
	if !ok {
		return nil, wecom.SignInApp{}, &SignInRefusal{Reason: SignInUnavailable}
	}
	return a, app, nil
}

// signInApp is a's sign-in app when it offers sign-in: enabled, WeCom, login.enabled.
func signInApp(a *models.Authenticator) (wecom.SignInApp, bool) {
	if !a.Enabled || a.Type != wecom.Type {
		return wecom.SignInApp{}, false
	}
	app := wecom.SignInAppOf(a)
	return app, app.Login.Enabled
}

// eachAuthenticator calls fn with every stored authenticator, in id order.
func (s *Service) eachAuthenticator(ctx context.Context, fn func(*models.Authenticator)) error {
	const size = 200
	for page := 1; ; page++ {
		items, _, err := s.store.ListAuthenticators(ctx, models.ListFilter{}, models.Page{Page: page, Size: size})
		if err != nil {
			return problem.StoreError("Authenticator", err)
		}
		for i := range items {
			fn(&items[i])
		}
		if len(items) < size {
			return nil
		}
	}
}
