package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/service"
)

// tokensPage is the token page's data: the tokens the viewer may see (an admin all of them, the
// service decides) and the form to make one.
type tokensPage struct {
	Tokens []tokenRow
	// All says the list holds every token (the viewer is an admin), not only the viewer's own.
	All bool
	// Current is the token the viewer's session acts with (0 for a WeCom sign-in).
	Current uint64
	// Roles are the roles the viewer may give a token; Channels those it may scope one to.
	Roles    []access.Role
	Channels []string
	// Chosen are the channels picked on a form shown again.
	Chosen map[string]bool
	// New is the token just made: the one page that shows its value.
	New *service.NewToken
}

// tokenRow is a listed token with its owner's name.
type tokenRow struct {
	service.Token
	// OwnerID and Owner are the owning account's id and name (0 and "" for none).
	OwnerID uint64
	Owner   string
	Expired bool
}

// tokensPageData reads the viewer's tokens and the choices of the form.
func (u *UI) tokensPageData(ctx context.Context) (tokensPage, error) {
	p := access.From(ctx)
	tokens, err := u.d.Service.ListTokens(ctx)
	if err != nil {
		return tokensPage{}, err
	}
	data := tokensPage{All: p.Role == access.Admin, Current: p.TokenID, Roles: tokenRoles(p.Role)}
	owners := map[uint64]string{}
	now := time.Now()
	for _, t := range tokens {
		row := tokenRow{Token: t, Expired: t.ExpiresAt != nil && !t.ExpiresAt.After(now)}
		if t.AccountID != nil {
			row.OwnerID = *t.AccountID
			if _, ok := owners[row.OwnerID]; !ok {
				a, err := u.d.Service.GetAccount(ctx, row.OwnerID)
				if err != nil {
					return tokensPage{}, err
				}
				owners[a.ID] = a.Name
			}
			row.Owner = owners[row.OwnerID]
		}
		data.Tokens = append(data.Tokens, row)
	}
	channels, err := u.d.Service.ListChannels(ctx, "", 0, models.Page{Size: 200})
	if err != nil {
		return tokensPage{}, err
	}
	for _, ch := range channels.Items {
		if p.MayUseChannel(ch.Name) {
			data.Channels = append(data.Channels, ch.Name)
		}
	}
	return data, nil
}

// tokenRoles are the roles a viewer of role r may give a token (SPEC §8.3): an admin any, others
// their own or viewer.
func tokenRoles(r access.Role) []access.Role {
	if r == access.Admin {
		return access.Roles()
	}
	return slices.Compact([]access.Role{r, access.Viewer})
}

// newTokenForm is the empty token form: the least role is chosen until the viewer picks another.
func newTokenForm() map[string]string { return map[string]string{"role": string(access.Viewer)} }

func (u *UI) tokens(c *gin.Context) error {
	data, err := u.tokensPageData(c.Request.Context())
	if err != nil {
		return err
	}
	u.renderView(c, http.StatusOK, "tokens", &view{Data: data, Form: newTokenForm()})
	return nil
}

// createToken makes a token and shows its value on the page it answers with, and nowhere else:
// not in a redirect's URL or a flash cookie, and the page is not stored by the browser.
func (u *UI) createToken(c *gin.Context) error {
	ctx := c.Request.Context()
	in := service.TokenInput{Name: c.PostForm("name"), Role: c.PostForm("role"), Channels: c.PostFormArray("channels")}
	var nt service.NewToken
	expires, err := u.tokenExpiry(c)
	if err == nil {
		in.ExpiresAt = expires
		nt, err = u.d.Service.CreateToken(ctx, in)
	}
	data, derr := u.tokensPageData(ctx)
	if derr != nil {
		return derr
	}
	if err != nil {
		data.Chosen = map[string]bool{}
		for _, ch := range in.Channels {
			data.Chosen[ch] = true
		}
		return u.formError(c, "tokens", channelFieldErrors(err), data)
	}
	data.New = &nt
	c.Header("Cache-Control", "no-store")
	u.renderView(c, http.StatusCreated, "tokens", &view{Data: data, Form: newTokenForm()})
	return nil
}

// tokenExpiry reads the optional expiry, a datetime-local value in the page's time zone.
func (u *UI) tokenExpiry(c *gin.Context) (*time.Time, error) {
	v := strings.TrimSpace(c.PostForm("expiresAt"))
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, u.filterTime(c, v))
	if err != nil {
		return nil, problem.Invalidf("expiresAt", "%s", u.cat.text(u.language(c), "token.expiresAt.invalid"))
	}
	return &t, nil
}

// channelFieldErrors puts the errors of single channels ("channels[1]") on the channel list.
func channelFieldErrors(err error) error {
	var se *problem.Error
	if !errors.As(err, &se) || len(se.Fields) == 0 {
		return err
	}
	fields := foldFieldErrors(se, func(path string) string {
		if strings.HasPrefix(path, "channels[") {
			return "channels"
		}
		return path
	})
	return &problem.Error{Code: se.Code, Message: se.Message, Fields: fields, Err: se.Err}
}

// revokeToken ends a token and its sessions; a refusal (the last token) is shown on the page.
func (u *UI) revokeToken(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	if err := u.d.Service.RevokeToken(ctx, id); err != nil {
		msg, status, ok := u.refusal(c, err)
		if !ok {
			return err
		}
		data, err := u.tokensPageData(ctx)
		if err != nil {
			return err
		}
		u.renderView(c, status, "tokens", &view{Data: data, Errors: problem.Fields{"": msg},
			Form: newTokenForm()})
		return nil
	}
	return u.redirect(c, "/ui/tokens", "token.flash.revoked")
}
