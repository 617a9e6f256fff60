package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/service"
)

// accountsPage is the account list's data.
type accountsPage struct {
	List  models.List[service.Account]
	Roles []access.Role
	// Authenticators are by id, to name a linked member's authenticator.
	Authenticators map[uint64]service.Authenticator
	Base           string
}

func (u *UI) accounts(c *gin.Context) error {
	ctx := c.Request.Context()
	auths, err := u.authenticatorChoices(ctx)
	if err != nil {
		return err
	}
	data := accountsPage{Roles: access.Roles(), Authenticators: make(map[uint64]service.Authenticator, len(auths)), Base: listBase(c, "q", "role")}
	for _, a := range auths {
		data.Authenticators[a.ID] = a
	}
	data.List, err = u.d.Service.ListAccounts(ctx, service.AccountFilter{Q: strings.TrimSpace(c.Query("q")), Role: c.Query("role")}, pageOf(c))
	return u.renderList(c, "accounts", data, err)
}

// accountPage is the account form's data; picker.js offers the members of the authenticator
// the form names.
type accountPage struct {
	// Account is nil for a new account.
	Account        *service.Account
	Roles          []access.Role
	Authenticators []service.Authenticator
}

// accountPageData gathers the form's choices.
func (u *UI) accountPageData(ctx context.Context, acc *service.Account) (accountPage, error) {
	auths, err := u.authenticatorChoices(ctx)
	if err != nil {
		return accountPage{}, err
	}
	return accountPage{Account: acc, Roles: access.Roles(), Authenticators: auths}, nil
}

func (u *UI) newAccount(c *gin.Context) error {
	data, err := u.accountPageData(c.Request.Context(), nil)
	if err != nil {
		return err
	}
	u.renderView(c, http.StatusOK, "account", &view{Data: data, Form: map[string]string{"role": string(access.Viewer), "enabled": "on"}})
	return nil
}

func (u *UI) createAccount(c *gin.Context) error {
	ctx := c.Request.Context()
	acc, err := u.d.Service.CreateAccount(ctx, accountInput(c))
	if err != nil {
		data, derr := u.accountPageData(ctx, nil)
		if derr != nil {
			return derr
		}
		return u.formError(c, "account", err, data)
	}
	return u.redirect(c, fmt.Sprintf("/ui/accounts/%d", acc.ID), "flash.saved")
}

func (u *UI) editAccount(c *gin.Context) error {
	acc, err := u.account(c)
	if err != nil {
		return err
	}
	form := accountForm(acc)
	data, err := u.accountPageData(c.Request.Context(), &acc)
	if err != nil {
		return err
	}
	u.renderView(c, http.StatusOK, "account", &view{Data: data, Form: form})
	return nil
}

// updateAccount saves the form; refusing to take the last admin away is shown on the form.
func (u *UI) updateAccount(c *gin.Context) error {
	acc, err := u.account(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	if _, err := u.d.Service.UpdateAccount(ctx, acc.ID, accountInput(c)); err != nil {
		data, derr := u.accountPageData(ctx, &acc)
		if derr != nil {
			return derr
		}
		return u.formError(c, "account", u.lastAdmin(c, err), data)
	}
	return u.redirect(c, fmt.Sprintf("/ui/accounts/%d", acc.ID), "flash.saved")
}

// deleteAccount removes an account; a refusal (the last admin) is shown on its form.
func (u *UI) deleteAccount(c *gin.Context) error {
	acc, err := u.account(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	err = u.lastAdmin(c, u.d.Service.DeleteAccount(ctx, acc.ID))
	if err == nil {
		return u.redirect(c, "/ui/accounts", "flash.deleted")
	}
	var se *problem.Error
	if !errors.As(err, &se) || se.Code != problem.CodeConflict {
		return err
	}
	form := accountForm(acc)
	data, err := u.accountPageData(ctx, &acc)
	if err != nil {
		return err
	}
	u.renderView(c, se.Code.Status(), "account", &view{Data: data, Form: form, Errors: se.Fields})
	return nil
}

// lastAdmin says, in the page's language, why the last admin account cannot be demoted,
// disabled or deleted; other errors pass.
func (u *UI) lastAdmin(c *gin.Context, err error) error {
	if !errors.Is(err, models.ErrLastAdmin) {
		return err
	}
	msg := u.cat.text(u.language(c), "account.lastAdmin")
	return &problem.Error{Code: problem.CodeConflict, Message: msg, Fields: problem.Fields{"": msg}, Err: err}
}

func (u *UI) account(c *gin.Context) (service.Account, error) {
	id, err := idParam(c)
	if err != nil {
		return service.Account{}, err
	}
	return u.d.Service.GetAccount(c.Request.Context(), id)
}

// accountForm is a stored account as form values, named by their API paths.
func accountForm(acc service.Account) map[string]string {
	f := map[string]string{"name": acc.Name, "role": acc.Role}
	if acc.Enabled {
		f["enabled"] = "on"
	}
	if acc.WeCom != nil {
		f["wecom.authenticatorId"] = strconv.FormatUint(acc.WeCom.AuthenticatorID, 10)
		f["wecom.userid"] = acc.WeCom.UserID
	}
	return f
}

// accountInput reads the account form; every field is sent, so "not linked" unlinks.
func accountInput(c *gin.Context) service.AccountInput {
	name, role, enabled := c.PostForm("name"), c.PostForm("role"), c.PostForm("enabled") == "on"
	in := service.AccountInput{Name: &name, Role: &role, Enabled: &enabled, WeCom: &service.AccountLink{}}
	if v := strings.TrimSpace(c.PostForm("wecom.authenticatorId")); v != "" {
		id, _ := strconv.ParseUint(v, 10, 64) // not a number: 0, which no authenticator has
		in.WeCom.Link = &service.AccountWeCom{AuthenticatorID: id, UserID: strings.TrimSpace(c.PostForm("wecom.userid"))}
	}
	return in
}
