package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/service"
)

func (u *UI) loginPage(c *gin.Context) error {
	u.renderView(c, http.StatusOK, "login", &view{Data: map[string]string{"Next": safeNext(c.Query("next"))}})
	return nil
}

// login exchanges an API token for a session cookie (HttpOnly, SameSite=Strict).
func (u *UI) login(c *gin.Context) error {
	next := safeNext(c.PostForm("next"))
	sess, err := u.d.Service.Login(c.Request.Context(), strings.TrimSpace(c.PostForm("token")))
	if err != nil {
		var se *problem.Error
		if !errors.As(err, &se) || se.Code != problem.CodeUnauthorized {
			return err
		}
		u.renderView(c, http.StatusUnauthorized, "login", &view{Data: map[string]string{"Next": next},
			Errors: map[string]string{"token": u.cat.text(u.language(c), "login.invalid")}})
		return nil
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: SessionCookie, Value: sess.Cookie, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: u.secure, MaxAge: int(service.SessionLifetime.Seconds())})
	c.Redirect(http.StatusSeeOther, next)
	return nil
}

func (u *UI) logout(c *gin.Context) error {
	cookie, _ := c.Cookie(SessionCookie)
	if err := u.d.Service.Logout(c.Request.Context(), cookie); err != nil {
		return err
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: u.secure})
	c.Redirect(http.StatusSeeOther, "/login")
	return nil
}

// safeNext keeps a post-login redirect on this site's UI.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/"
	}
	return next
}

func (u *UI) dashboard(c *gin.Context) error {
	u.render(c, http.StatusOK, "dashboard", nil)
	return nil
}

func toJSON(v any) string {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return ""
	}
	return string(raw)
}
