package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/message"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/service"
)

// channelsPage is the channel list's data.
type channelsPage struct {
	List models.List[service.Channel]
	// Authenticators names authenticators by id.
	Authenticators map[uint64]string
	// Base is the list's URL with its search, for the pager.
	Base string
}

func (u *UI) channels(c *gin.Context) error {
	q := strings.TrimSpace(c.Query("q"))
	list, err := u.d.Service.ListChannels(c.Request.Context(), q, 0, pageOf(c))
	if err != nil {
		return err
	}
	auths, err := u.authenticatorChoices(c.Request.Context())
	if err != nil {
		return err
	}
	u.renderView(c, http.StatusOK, "channels", &view{Data: channelsPage{List: list, Authenticators: authenticatorNames(auths), Base: "?q=" + url.QueryEscape(q) + "&"},
		Form: map[string]string{"q": q}})
	return nil
}

// channelPage is the channel form's data.
type channelPage struct {
	Channel        *service.Channel
	Authenticators []service.Authenticator
	// Types are the channel types the form offers.
	Types []string
	// Test is the message of a test send, once it is final or the wait is over.
	Test *message.View
	// Nonce is new on every page: the test form sends it back, and a form sent twice (a double
	// click, a resend after a slow answer) carries the same one, so it sends once.
	Nonce string
}

// KeySet says whether the channel stores a secret key (a robot's webhook key): the form then says
// it is set, and an empty field keeps it.
func (p channelPage) KeySet() bool {
	if p.Channel == nil {
		return false
	}
	set, _ := p.Channel.Options["webhookKeySet"].(bool)
	return set
}

// channelPage is the form's data for a channel (nil: a new one).
func (u *UI) channelPage(ch *service.Channel, auths []service.Authenticator) channelPage {
	return channelPage{Channel: ch, Authenticators: auths, Types: u.d.Service.ChannelTypes(), Nonce: rand.Text()}
}

// testIdempotencyKey is the idempotencyKey of a test send: the session's CSRF token with the
// form's nonce, so the same form sent again returns the first message, and another session's or
// another page's form never collides with it.
func testIdempotencyKey(csrf, nonce string) string {
	sum := sha256.Sum256([]byte(csrf + "\x00" + nonce))
	return "ui-test-" + hex.EncodeToString(sum[:])
}

// authenticatorChoices are the authenticators a channel can send through (the first 200, by name).
func (u *UI) authenticatorChoices(ctx context.Context) ([]service.Authenticator, error) {
	list, err := u.d.Service.ListAuthenticators(ctx, "", models.Page{Page: 1, Size: 200})
	if err != nil {
		return nil, err
	}
	return list.Items, nil
}

func (u *UI) newChannel(c *gin.Context) error {
	auths, err := u.authenticatorChoices(c.Request.Context())
	if err != nil {
		return err
	}
	form := map[string]string{"options.duplicateCheckInterval": "1800", "type": "wecom"}
	if len(auths) == 1 {
		form["authenticatorId"] = strconv.FormatUint(auths[0].ID, 10)
	}
	u.renderView(c, http.StatusOK, "channel", &view{Data: u.channelPage(nil, auths), Form: form})
	return nil
}

func (u *UI) createChannel(c *gin.Context) error {
	auths, err := u.authenticatorChoices(c.Request.Context())
	if err != nil {
		return err
	}
	ch, err := u.d.Service.CreateChannel(c.Request.Context(), channelInput(c, nil))
	if err != nil {
		return u.formError(c, "channel", nameConflict(err, "name"), u.channelPage(nil, auths))
	}
	return u.redirect(c, fmt.Sprintf("/ui/channels/%d", ch.ID), "flash.saved")
}

func (u *UI) editChannel(c *gin.Context) error {
	ch, auths, err := u.channelAndChoices(c)
	if err != nil {
		return err
	}
	u.renderView(c, http.StatusOK, "channel", &view{Data: u.channelPage(&ch, auths), Form: channelForm(ch, u.cat.text(u.language(c), "channel.test.defaultContent"))})
	return nil
}

func (u *UI) updateChannel(c *gin.Context) error {
	ch, auths, err := u.channelAndChoices(c)
	if err != nil {
		return err
	}
	if _, err := u.d.Service.UpdateChannel(c.Request.Context(), ch.ID, channelInput(c, &ch)); err != nil {
		return u.formError(c, "channel", nameConflict(err, "name"), u.channelPage(&ch, auths))
	}
	return u.redirect(c, fmt.Sprintf("/ui/channels/%d", ch.ID), "flash.saved")
}

func (u *UI) deleteChannel(c *gin.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if err := u.d.Service.DeleteChannel(c.Request.Context(), id); err != nil {
		return err
	}
	return u.redirect(c, "/ui/channels", "flash.deleted")
}

// testChannel sends a text message through the channel now (trigger "test") and shows the final
// delivery result, as POST /api/v1/channels/{id}/test does.
func (u *UI) testChannel(c *gin.Context) error {
	ch, auths, err := u.channelAndChoices(c)
	if err != nil {
		return err
	}
	to := map[string]any{}
	for _, k := range []string{"users", "wecomUsers"} {
		if ids := splitIDs(c.PostForm("to." + k)); len(ids) > 0 {
			to[k] = ids
		}
	}
	body := map[string]any{"msgtype": "text", "text": map[string]any{"content": c.PostForm("text.content")}}
	if len(to) > 0 {
		body["to"] = to
	}
	if nonce := c.PostForm("nonce"); nonce != "" {
		body["idempotencyKey"] = testIdempotencyKey(c.PostForm(csrfField), nonce)
	}
	ctx := c.Request.Context()
	form := channelForm(ch, "")
	for _, k := range []string{"to.users", "to.wecomUsers", "text.content"} {
		form[k] = c.PostForm(k)
	}
	page := u.channelPage(&ch, auths)
	m, err := u.d.Messages.Test(ctx, ch.ID, body)
	if err != nil {
		var se *problem.Error
		if !errors.As(err, &se) || se.Code != problem.CodeValidation {
			return err
		}
		u.renderView(c, se.Code.Status(), "channel", &view{Data: page, Errors: testFieldErrors(se), Form: form,
			Flash: u.cat.text(u.language(c), "channel.test.fixFields")})
		return nil
	}
	page.Test = &m
	u.renderView(c, http.StatusOK, "channel", &view{Data: page, Form: form})
	return nil
}

// testFieldErrors puts the errors of a test send on the test form's fields: an error about one
// recipient ("to.users[1]") shows on its list, one about the text on the text.
func testFieldErrors(se *problem.Error) problem.Fields {
	return foldFieldErrors(se, func(path string) string {
		switch {
		case strings.HasPrefix(path, "to.users"):
			return "to.users"
		case strings.HasPrefix(path, "to.wecomUsers"):
			return "to.wecomUsers"
		case path == "to" || strings.HasPrefix(path, "to."):
			return "to"
		case strings.HasPrefix(path, "text"):
			return "text.content"
		}
		return ""
	})
}

// foldFieldErrors shows the service's field errors on the fields a form has: field maps an
// error's path to the form's field ("" for the form as a whole), and an error moved off its own
// path names it.
func foldFieldErrors(se *problem.Error, field func(path string) string) problem.Fields {
	out := problem.Fields{}
	for _, k := range slices.Sorted(maps.Keys(se.Fields)) {
		v, f := se.Fields[k], field(k)
		if f != k {
			v = k + ": " + v
		}
		out.Add(f, v)
	}
	if len(out) == 0 {
		out[""] = se.Message
	}
	return out
}

// splitIDs reads a list of ids typed by hand: separated by commas (also the Chinese ones),
// semicolons, | or white space.
func splitIDs(s string) []any {
	fields := strings.FieldsFunc(s, func(r rune) bool {
		switch r {
		case ',', '，', '、', ';', '；', '|':
			return true
		}
		return r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	out := make([]any, len(fields))
	for i, f := range fields {
		out[i] = f
	}
	return out
}

func (u *UI) channelAndChoices(c *gin.Context) (service.Channel, []service.Authenticator, error) {
	id, err := idParam(c)
	if err != nil {
		return service.Channel{}, nil, err
	}
	ch, err := u.d.Service.GetChannel(c.Request.Context(), id)
	if err != nil {
		return service.Channel{}, nil, err
	}
	auths, err := u.authenticatorChoices(c.Request.Context())
	return ch, auths, err
}

// channelForm is a stored channel as form values, named by their API paths; content prefills
// the test send's text.
func channelForm(ch service.Channel, content string) map[string]string {
	f := map[string]string{"name": ch.Name, "title": ch.Title, "description": ch.Description, "type": ch.Type,
		"authenticatorId": strconv.FormatUint(ch.AuthenticatorID, 10), "text.content": content}
	if n, ok := ch.Options["safe"].(float64); ok && n == 1 {
		f["options.safe"] = "on"
	}
	if b, ok := ch.Options["enableIdTrans"].(bool); ok && b {
		f["options.enableIdTrans"] = "on"
	}
	if v, ok := ch.Options["duplicateCheckInterval"]; ok && v != nil {
		f["options.duplicateCheckInterval"] = fmt.Sprint(v)
	}
	if q, ok := ch.Options["quietHours"].(map[string]any); ok {
		for _, k := range quietHoursFields {
			f["options.quietHours."+k], _ = q[k].(string)
		}
	}
	return f
}

// channelInput reads the channel form into the service's input: a new channel's (stored nil) or
// an edit of stored. The name and type are set on create only (workflows and API callers refer to
// a channel by its name). A value that is not a number is passed as typed, so the service names
// what is wrong with it.
func channelInput(c *gin.Context, stored *service.Channel) service.ChannelInput {
	str := func(k string) *string { v := strings.TrimSpace(c.PostForm(k)); return &v }
	in := service.ChannelInput{Title: str("title"), Description: str("description"), Options: map[string]any{}}
	typ := c.PostForm("type")
	if stored == nil {
		in.Name = str("name")
		if typ != "" {
			in.Type = &typ
		}
	} else {
		typ = stored.Type
	}
	if v := strings.TrimSpace(c.PostForm("authenticatorId")); v != "" {
		id, _ := strconv.ParseUint(v, 10, 64) // not a number: 0, which no authenticator has
		in.AuthenticatorID = &id
	}
	in.Options["quietHours"] = quietHoursInput(c)
	if typ == "wecom_robot" {
		// A robot's key is write-only: left empty on an edit, the stored one stays.
		if key := strings.TrimSpace(c.PostForm("options.webhookKey")); key != "" || stored == nil {
			in.Options["webhookKey"] = key
		}
		return in
	}
	safe := 0
	if c.PostForm("options.safe") == "on" {
		safe = 1
	}
	in.Options["safe"] = safe
	in.Options["enableIdTrans"] = c.PostForm("options.enableIdTrans") == "on"
	if v := strings.TrimSpace(c.PostForm("options.duplicateCheckInterval")); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			in.Options["duplicateCheckInterval"] = n
		} else {
			in.Options["duplicateCheckInterval"] = v
		}
	}
	return in
}

// quietHoursFields are the parts of a channel's quiet hours, as the form and the API name them.
var quietHoursFields = []string{"start", "end", "timezone"}

// quietHoursInput reads the quiet hours fields: all empty removes them (nil, in a merge patch);
// otherwise all three go to the service, so a part left empty is named as missing.
func quietHoursInput(c *gin.Context) any {
	q, empty := map[string]any{}, true
	for _, k := range quietHoursFields {
		v := strings.TrimSpace(c.PostForm("options.quietHours." + k))
		q[k], empty = v, empty && v == ""
	}
	if empty {
		return nil
	}
	return q
}

// nameConflict puts a conflict (a name that is taken) on the field that holds the name, so the
// form shows it there.
func nameConflict(err error, field string) error {
	var se *problem.Error
	if errors.As(err, &se) && se.Code == problem.CodeConflict && len(se.Fields) == 0 {
		return &problem.Error{Code: se.Code, Message: se.Message, Fields: problem.Fields{field: se.Message}, Err: se.Err}
	}
	return err
}
