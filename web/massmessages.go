package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/service"
)

// Customer mass messages (SPEC §9.5): the list, the compose form, and a message's progress with
// its members' results, refreshed, reminded or canceled from its page.

// massStatuses are the statuses the list filters by, in the order a message passes them.
var massStatuses = []string{models.MassCreated, models.MassSending, models.MassFinished, models.MassCanceled}

// massMessagesPage is the list's data.
type massMessagesPage struct {
	List     models.List[service.MassMessage]
	Statuses []string
	// Authenticators names authenticators by id.
	Authenticators map[uint64]string
	Base           string
}

func (u *UI) massMessages(c *gin.Context) error {
	ctx := c.Request.Context()
	auths, err := u.authenticatorChoices(ctx)
	if err != nil {
		return err
	}
	data := massMessagesPage{Statuses: massStatuses, Authenticators: authenticatorNames(auths), Base: listBase(c, "status")}
	data.List, err = u.d.Service.ListMassMessages(ctx, service.MassMessageFilter{Status: c.Query("status")}, pageOf(c))
	return u.renderList(c, "mass_messages", data, err)
}

// massComposePage is the compose form's data.
type massComposePage struct {
	Authenticators []service.Authenticator
	ChatTypes      []string
}

func newMassComposePage(auths []service.Authenticator) massComposePage {
	return massComposePage{Authenticators: auths, ChatTypes: []string{"single", "group"}}
}

func (u *UI) newMassMessage(c *gin.Context) error {
	auths, err := u.authenticatorChoices(c.Request.Context())
	if err != nil {
		return err
	}
	form := map[string]string{"chatType": "single"}
	if len(auths) == 1 {
		form["authenticatorId"] = strconv.FormatUint(auths[0].ID, 10)
	}
	u.renderView(c, http.StatusOK, "mass_message_new", &view{Data: newMassComposePage(auths), Form: form})
	return nil
}

func (u *UI) createMassMessage(c *gin.Context) error {
	ctx := c.Request.Context()
	auths, err := u.authenticatorChoices(ctx)
	if err != nil {
		return err
	}
	m, err := u.d.Service.CreateMassMessage(ctx, massInput(c))
	if err != nil {
		var se *problem.Error
		if errors.As(err, &se) {
			err = &problem.Error{Code: se.Code, Message: se.Message, Fields: foldFieldErrors(se, massField), Err: se}
		}
		return u.formError(c, "mass_message_new", err, newMassComposePage(auths))
	}
	return u.redirect(c, fmt.Sprintf("/ui/mass-messages/%d", m.ID), "mass.flash.created")
}

// massField is the compose form's field of an error's path: tagFilter.group_list[0].tag_list is
// the tag field, attachments[0].link.url the link's url.
func massField(path string) string {
	switch {
	case strings.HasPrefix(path, "externalUserIds"):
		return "externalUserIds"
	case strings.HasPrefix(path, "tagFilter"):
		return "tags"
	case strings.HasPrefix(path, "attachments[0].link."):
		return strings.TrimPrefix(path, "attachments[0].")
	case strings.HasPrefix(path, "attachments"):
		return "link.url"
	case strings.HasPrefix(path, "text"):
		return "text.content"
	case path == "authenticatorId" || path == "chatType" || path == "sender" || path == "wecomSender":
		return path
	}
	return ""
}

// massInput reads the compose form: customers and tags typed as lists, one tag group (customers
// with any of the tags), and a link attachment when its title or url is given.
func massInput(c *gin.Context) service.MassMessageInput {
	id, _ := strconv.ParseUint(strings.TrimSpace(c.PostForm("authenticatorId")), 10, 64) // not a number: 0, which the service names
	in := service.MassMessageInput{AuthenticatorID: id, ChatType: c.PostForm("chatType"), Sender: strings.TrimSpace(c.PostForm("sender")),
		WeComSender: strings.TrimSpace(c.PostForm("wecomSender")), ExternalUserIDs: formIDs(c, "externalUserIds")}
	if tags := formIDs(c, "tags"); len(tags) > 0 {
		in.TagFilter = &wecom.MassTagFilter{GroupList: []wecom.MassTagGroup{{TagList: tags}}}
	}
	if content := c.PostForm("text.content"); content != "" {
		in.Text = &wecom.Text{Content: content}
	}
	link := map[string]any{}
	for _, k := range []string{"title", "url", "picurl", "desc"} {
		if v := strings.TrimSpace(c.PostForm("link." + k)); v != "" {
			link[k] = v
		}
	}
	if link["title"] != nil || link["url"] != nil {
		in.Attachments = []any{map[string]any{"msgtype": "link", "link": link}}
	}
	return in
}

// massMessagePage is a mass message's page.
type massMessagePage struct {
	M service.MassMessage
	// Authenticator names the message's authenticator.
	Authenticator string
	// Request is the add_msg_template body WeCom was given.
	Request string
	// Open says the message is still sending: it can be refreshed, reminded and canceled.
	Open bool
	// Error is the service's refusal of an action.
	Error string
}

func (u *UI) massMessageData(ctx context.Context, c *gin.Context) (massMessagePage, error) {
	id, err := idParam(c)
	if err != nil {
		return massMessagePage{}, err
	}
	m, err := u.d.Service.GetMassMessage(ctx, id)
	if err != nil {
		return massMessagePage{}, err
	}
	p := massMessagePage{M: m, Request: prettyJSON(m.Request), Open: m.Status == models.MassCreated || m.Status == models.MassSending}
	if a, err := u.d.Service.GetAuthenticator(ctx, m.AuthenticatorID); err == nil {
		p.Authenticator = a.Name
	}
	return p, nil
}

func (u *UI) massMessage(c *gin.Context) error {
	p, err := u.massMessageData(c.Request.Context(), c)
	if err != nil {
		return err
	}
	u.render(c, http.StatusOK, "mass_message", p)
	return nil
}

// massMessageAction runs refresh, remind or cancel; a refusal (finished already, WeCom saying no)
// is shown on the message's page.
func (u *UI) massMessageAction(action func(context.Context, uint64) (service.MassMessage, error), flash string) func(c *gin.Context) error {
	return func(c *gin.Context) error {
		id, err := idParam(c)
		if err != nil {
			return err
		}
		ctx := c.Request.Context()
		if _, err := action(ctx, id); err != nil {
			msg, status, ok := u.refusal(c, err)
			if !ok {
				return err
			}
			p, err := u.massMessageData(ctx, c)
			if err != nil {
				return err
			}
			p.Error = msg
			u.render(c, status, "mass_message", p)
			return nil
		}
		return u.redirect(c, fmt.Sprintf("/ui/mass-messages/%d", id), flash)
	}
}
