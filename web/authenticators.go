package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/service"
)

func (u *UI) authenticators(c *gin.Context) error {
	list, err := u.d.Service.ListAuthenticators(c.Request.Context(), c.Query("q"), pageOf(c))
	if err != nil {
		return err
	}
	u.renderView(c, http.StatusOK, "authenticators", &view{Data: list, Form: map[string]string{"q": c.Query("q")}})
	return nil
}

// authenticatorPage is the authenticator form's data.
type authenticatorPage struct {
	Auth *service.Authenticator
	// Roles are the roles a member who signs up through the authenticator may get.
	Roles []access.Role
	Check *service.CheckResult
	// CheckHint is the check's hint in the page's language.
	CheckHint string
	// CallbackBase is the callback URL without the name, which the page completes as the name is
	// typed: an admin can enter it in WeCom before saving.
	CallbackBase string
	// PublicURLUnset: the URLs are built on the default http://localhost:8080.
	PublicURLUnset bool
}

// SecretHelp is the help key of a saved authenticator's secret field (options path): whether the
// secret is set, so an empty field keeps it; "" on a new authenticator, whose fields say how to
// fill them in.
func (p authenticatorPage) SecretHelp(path string) string {
	if p.Auth == nil {
		return ""
	}
	if set, _ := plugin.ValueAt(p.Auth.Options, path+"Set"); set == true {
		return "auth.secret.keep"
	}
	return "auth.secret.notSet"
}

// authenticatorPage is the form's data for a (nil: new) authenticator.
func (u *UI) authenticatorPage(a *service.Authenticator) authenticatorPage {
	return authenticatorPage{Auth: a, Roles: access.Roles(), CallbackBase: u.d.Service.CallbackURL(wecom.Type, ""),
		PublicURLUnset: u.d.PublicURLUnset}
}

func (u *UI) newAuthenticator(c *gin.Context) error {
	u.renderView(c, http.StatusOK, "authenticator", &view{Data: u.authenticatorPage(nil),
		Form: map[string]string{"enabled": "on", "options.sync.schedule": "@every 6h", "options.login.defaultRole": string(access.Viewer)}})
	return nil
}

func (u *UI) createAuthenticator(c *gin.Context) error {
	in := authenticatorInput(c, true)
	a, err := u.d.Service.CreateAuthenticator(c.Request.Context(), in)
	if err != nil {
		return u.formError(c, "authenticator", err, u.authenticatorPage(nil))
	}
	return u.redirect(c, fmt.Sprintf("/ui/authenticators/%d", a.ID), "flash.saved")
}

func (u *UI) editAuthenticator(c *gin.Context) error {
	a, err := u.authenticator(c)
	if err != nil {
		return err
	}
	u.renderView(c, http.StatusOK, "authenticator", &view{Data: u.authenticatorPage(&a), Form: authenticatorForm(a)})
	return nil
}

func (u *UI) updateAuthenticator(c *gin.Context) error {
	a, err := u.authenticator(c)
	if err != nil {
		return err
	}
	if _, err := u.d.Service.UpdateAuthenticator(c.Request.Context(), a.ID, authenticatorInput(c, false)); err != nil {
		return u.formError(c, "authenticator", err, u.authenticatorPage(&a))
	}
	return u.redirect(c, fmt.Sprintf("/ui/authenticators/%d", a.ID), "flash.saved")
}

// checkAuthenticator fetches a token with the stored credentials and shows the outcome with its hint.
func (u *UI) checkAuthenticator(c *gin.Context) error {
	a, err := u.authenticator(c)
	if err != nil {
		return err
	}
	res, err := u.d.Service.CheckAuthenticator(c.Request.Context(), a.ID)
	if err != nil {
		return err
	}
	page := u.authenticatorPage(&a)
	page.Check, page.CheckHint = &res, wecom.HintIn(u.language(c), res.ErrCode, res.ErrMsg)
	u.renderView(c, http.StatusOK, "authenticator", &view{Data: page, Form: authenticatorForm(a)})
	return nil
}

func (u *UI) syncAuthenticator(c *gin.Context) error {
	a, err := u.authenticator(c)
	if err != nil {
		return err
	}
	t, err := u.d.Service.StartSync(c.Request.Context(), a.ID)
	if err != nil {
		return err
	}
	return u.redirect(c, fmt.Sprintf("/ui/sync-tasks/%d", t.ID), "flash.syncStarted")
}

func (u *UI) deleteAuthenticator(c *gin.Context) error {
	a, err := u.authenticator(c)
	if err != nil {
		return err
	}
	if err := u.d.Service.DeleteAuthenticator(c.Request.Context(), a.ID); err != nil {
		return err
	}
	return u.redirect(c, "/ui/authenticators", "flash.deleted")
}

func (u *UI) authenticator(c *gin.Context) (service.Authenticator, error) {
	id, err := idParam(c)
	if err != nil {
		return service.Authenticator{}, err
	}
	return u.d.Service.GetAuthenticator(c.Request.Context(), id)
}

// authenticatorForm is a stored authenticator as form values (named by their API paths); secrets
// are never sent back to the browser.
func authenticatorForm(a service.Authenticator) map[string]string {
	f := map[string]string{"name": a.Name, "title": a.Title}
	if a.Enabled {
		f["enabled"] = "on"
	}
	flattenForm("options", a.Options, f)
	return f
}

func flattenForm(prefix string, m map[string]any, out map[string]string) {
	for k, v := range m {
		switch v := v.(type) {
		case map[string]any:
			flattenForm(prefix+"."+k, v, out)
		case bool:
			if v {
				out[prefix+"."+k] = "on"
			}
		case nil:
		default:
			out[prefix+"."+k] = formatValue(v)
		}
	}
}

// authenticatorInput reads the form into the service's input: "options.callback.token" becomes
// options.callback.token. Empty secrets are left out, so an edit keeps the stored ones; so are
// empty callback blocks on create.
func authenticatorInput(c *gin.Context, create bool) service.AuthenticatorInput {
	_ = c.Request.ParseForm()
	str := func(k string) *string { v := strings.TrimSpace(c.PostForm(k)); return &v }
	enabled := c.PostForm("enabled") == "on"
	in := service.AuthenticatorInput{Title: str("title"), Enabled: &enabled, Options: map[string]any{}}
	if create {
		in.Name = str("name")
	}
	opts := in.Options
	set := func(path string, v any) {
		parts := strings.Split(path, ".")
		m := opts
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = v
	}
	for _, k := range []string{"corpId", "apiBaseUrl", "origin", "sync.schedule", "login.defaultRole"} {
		set(k, strings.TrimSpace(c.PostForm("options."+k)))
	}
	for _, k := range []string{"agentId", "dailyQuota", "seats"} {
		v := strings.TrimSpace(c.PostForm("options." + k))
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			set(k, json.Number(strconv.FormatInt(n, 10)))
		} else if v != "" || k == "agentId" {
			set(k, v) // the service names what is wrong with it
		}
	}
	for _, k := range []string{"sync.enabled", "sync.autoCreateUsers", "login.enabled", "login.autoSignUp", "login.autoLogin"} {
		set(k, c.PostForm("options."+k) == "on")
	}
	for _, k := range []string{"secret", "sync.contactSecret", "callback.token", "callback.encodingAesKey",
		"contactsCallback.token", "contactsCallback.encodingAesKey"} {
		if v := strings.TrimSpace(c.PostForm("options." + k)); v != "" {
			set(k, v)
		}
	}
	return in
}
