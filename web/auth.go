package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/lockout"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/service"
)

func (u *UI) loginPage(c *gin.Context) error {
	return u.renderLogin(c, http.StatusOK, safeNext(c.Query("next")), nil)
}

// renderLogin shows the log-in page: a link for each sign-in with WeCom, then the token form.
func (u *UI) renderLogin(c *gin.Context, status int, next string, errs problem.Fields) error {
	choices, err := u.d.Service.SignInChoices(c.Request.Context())
	if err != nil {
		return err
	}
	u.renderView(c, status, "login", &view{Data: map[string]any{"Next": next, "SignIn": choices}, Errors: errs})
	return nil
}

// login exchanges an API token for a session cookie. A wrong token counts as a failed
// authentication of the client's address.
func (u *UI) login(c *gin.Context) error {
	next := safeNext(c.PostForm("next"))
	token := strings.TrimSpace(c.PostForm("token"))
	sess, err := lockout.Attempt(c.Request.Context(), u.d.Lockout, c.ClientIP(), token, u.d.Service.Login)
	if err != nil {
		var se *problem.Error
		if !errors.As(err, &se) {
			return err
		}
		var msg string
		switch se.Code {
		case problem.CodeUnauthorized:
			msg = u.cat.text(u.language(c), "login.invalid")
		case problem.CodeRateLimited:
			msg = u.rateLimited(c, se)
		default:
			return err
		}
		return u.renderLogin(c, se.Code.Status(), next, problem.Fields{"token": msg})
	}
	u.setSession(c, sess)
	c.Redirect(http.StatusSeeOther, next)
	return nil
}

// setSession gives the browser the cookie of a session it opened: HttpOnly, SameSite=Lax, Secure
// on https.
//
// SameSite=Lax, not Strict: a sign-in with WeCom comes back from WeCom's site, and a browser does
// not send a Strict cookie anywhere along a navigation another site started (the callback's
// redirect to next included), so the new session would not be seen — and inside the WeCom app
// autoLogin would start over forever. Lax cookies ride only on top-level GETs, which change
// nothing here; every change needs the session's CSRF token and passes the cross-site check.
func (u *UI) setSession(c *gin.Context, sess service.Session) {
	http.SetCookie(c.Writer, &http.Cookie{Name: SessionCookie, Value: sess.Cookie, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: u.secure, MaxAge: int(service.SessionLifetime.Seconds())})
}

func (u *UI) logout(c *gin.Context) error {
	cookie, _ := c.Cookie(SessionCookie)
	if err := u.d.Service.Logout(c.Request.Context(), cookie); err != nil {
		return err
	}
	u.clearSession(c)
	c.Redirect(http.StatusSeeOther, "/login")
	return nil
}

// clearSession tells the browser to forget the session cookie.
func (u *UI) clearSession(c *gin.Context) {
	http.SetCookie(c.Writer, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: u.secure})
}

// safeNext keeps a post-login redirect on this site's UI.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/"
	}
	return next
}

func toJSON(v any) string {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return ""
	}
	return string(raw)
}
