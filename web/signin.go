package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/lockout"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/service"
)

// Sign in with WeCom (SPEC §8.4): /auth/wecom/{name}/start sends the browser to WeCom's page,
// which sends it back to /auth/wecom/{name}/callback with a code and the state.

// signInCookie binds a sign-in to the browser that started it. It is SameSite=Lax: the browser
// comes back from WeCom's site, and a Strict cookie would stay behind.
const (
	signInCookie     = "wecomflow_signin"
	signInCookiePath = "/auth/wecom/"
)

// inWeCom reports whether a User-Agent is the WeCom app's own browser.
func inWeCom(userAgent string) bool { return strings.Contains(strings.ToLower(userAgent), "wxwork") }

func (u *UI) startSignIn(c *gin.Context) error {
	start, err := u.d.Service.StartSignIn(c.Request.Context(), c.Param("name"), safeNext(c.Query("next")), inWeCom(c.Request.UserAgent()))
	if err != nil {
		return u.signInRefused(c, err)
	}
	u.setSignInCookie(c, start.Browser, int(service.SignInLifetime.Seconds()))
	c.Redirect(http.StatusFound, start.URL)
	return nil
}

// signInCallback finishes a sign-in. A wrong state or code counts against the client's address
// like a wrong token; a shut-out address is refused before anything is looked at.
func (u *UI) signInCallback(c *gin.Context) error {
	browser, _ := c.Cookie(signInCookie)
	back := service.SignInReturn{Code: c.Query("code"), State: c.Query("state"), Browser: browser}
	// A state is good once, whatever happens next: the browser may forget its cookie, and must not
	// keep the answer to a URL with a code and a state.
	u.setSignInCookie(c, "", -1)
	c.Header("Cache-Control", "no-store")
	done, err := lockout.Attempt(c.Request.Context(), u.d.Lockout, c.ClientIP(), back.State,
		func(ctx context.Context, _ string) (service.SignedIn, error) {
			return u.d.Service.FinishSignIn(ctx, c.Param("name"), back)
		})
	if err != nil {
		return u.signInRefused(c, err)
	}
	u.setSession(c, done.Session)
	c.Redirect(http.StatusFound, done.Next)
	return nil
}

func (u *UI) setSignInCookie(c *gin.Context, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{Name: signInCookie, Value: value, Path: signInCookiePath, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: u.secure})
}

// signInRefused shows why a sign-in failed, in the page's language, with the way back to the
// log-in page. Other errors (the database unreachable) get the usual error page.
func (u *UI) signInRefused(c *gin.Context, err error) error {
	var status int
	var reason, msg string
	if r, ok := errors.AsType[*service.SignInRefusal](err); ok {
		status, reason, msg = r.Reason.Status(), string(r.Reason), u.refusalText(u.language(c), r)
	} else if se, ok := errors.AsType[*problem.Error](err); ok && se.Code == problem.CodeRateLimited {
		status, reason, msg = se.Code.Status(), string(se.Code), u.rateLimited(c, se)
	} else {
		return err
	}
	u.renderView(c, status, "signin_refused", &view{Data: map[string]string{"Reason": reason, "Message": msg}})
	return nil
}

// refusalText says why a sign-in was refused, in lang.
func (u *UI) refusalText(lang string, r *service.SignInRefusal) string {
	switch r.Reason {
	case service.SignInUnavailable:
		return u.cat.text(lang, "signin.refused.unavailable")
	case service.SignInBadState:
		return u.cat.text(lang, "signin.refused.state")
	case service.SignInBadCode:
		if r.ErrCode == 0 {
			return u.cat.text(lang, "signin.refused.noCode")
		}
		return u.cat.text(lang, "signin.refused.code", r.ErrCode)
	case service.SignInNotMember:
		return u.cat.text(lang, "signin.refused.outsider")
	case service.SignInDisabled:
		return u.cat.text(lang, "signin.refused.disabled", r.UserID)
	case service.SignInNoAccount:
		return u.cat.text(lang, "signin.refused.noAccount", r.UserID)
	default:
		return u.cat.text(lang, "signin.refused.wecom")
	}
}

// autoLoginStart is where a /ui/ page opened inside WeCom without a session goes: the start of
// the sign-in with login.autoLogin (the first by id, should two have it), or "" for the log-in
// page.
func (u *UI) autoLoginStart(c *gin.Context) string {
	if !inWeCom(c.Request.UserAgent()) {
		return ""
	}
	choices, err := u.d.Service.SignInChoices(c.Request.Context())
	if err != nil {
		u.d.Log.ErrorContext(c.Request.Context(), "auto sign-in not looked up", "err", err)
		return ""
	}
	for _, ch := range choices {
		if ch.AutoLogin {
			return "/auth/wecom/" + ch.Name + "/start?next=" + url.QueryEscape(c.Request.URL.RequestURI())
		}
	}
	return ""
}
