package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/service"
)

// The app group chats a wecom channel created (SPEC §9.3): the list with a create form, and a
// chat's page that renames it, hands it to another owner and adds or removes members. Members
// are WeCom userids, searched by picker.js in the channel's authenticator's synced directory, or
// local userids typed by hand.

// chatsPage is the data of a channel's chats and of one chat.
type chatsPage struct {
	Channel service.Channel
	List    models.List[service.Chat]
	// Chat is the chat shown (its page only).
	Chat *service.Chat
	// Names names the owners and members shown, by WeCom userid, as the synced directory does.
	Names map[string]string
}

// chatsData reads the channel of :id.
func (u *UI) chatsData(c *gin.Context) (chatsPage, error) {
	id, err := idParam(c)
	if err != nil {
		return chatsPage{}, err
	}
	ch, err := u.d.Service.GetChannel(c.Request.Context(), id)
	return chatsPage{Channel: ch}, err
}

// chatList adds the page of the channel's chats (the service refuses a robot channel: 404).
func (u *UI) chatList(c *gin.Context, p *chatsPage) (err error) {
	p.List, err = u.d.Service.ListChats(c.Request.Context(), p.Channel.ID, pageOf(c))
	return err
}

// nameMembers adds the names of the people the page shows: the listed chats' owners, the chat's
// members.
func (u *UI) nameMembers(c *gin.Context, p *chatsPage) (err error) {
	var ids []string
	for _, chat := range p.List.Items {
		ids = append(ids, chat.Owner)
	}
	if p.Chat != nil {
		ids = append(ids, p.Chat.Users...)
	}
	p.Names, err = u.d.Service.MemberNames(c.Request.Context(), p.Channel.AuthenticatorID, ids)
	return err
}

func (u *UI) chats(c *gin.Context) error {
	p, err := u.chatsData(c)
	if err != nil {
		return err
	}
	if err := u.chatList(c, &p); err != nil {
		return err
	}
	if err := u.nameMembers(c, &p); err != nil {
		return err
	}
	u.renderView(c, http.StatusOK, "chats", &view{Data: p})
	return nil
}

func (u *UI) createChat(c *gin.Context) error {
	p, err := u.chatsData(c)
	if err != nil {
		return err
	}
	in := service.ChatInput{Name: strings.TrimSpace(c.PostForm("name")), ChatID: strings.TrimSpace(c.PostForm("chatid")),
		WeComOwner: strings.TrimSpace(c.PostForm("wecomOwner")), Users: formIDs(c, "users"), WeComUsers: formIDs(c, "wecomUsers")}
	chat, err := u.d.Service.CreateChat(c.Request.Context(), p.Channel.ID, in)
	if err == nil {
		return u.redirect(c, chatPath(p.Channel.ID, chat.ChatID), "chat.flash.created")
	}
	if lerr := u.chatList(c, &p); lerr != nil {
		return lerr
	}
	return u.chatFormError(c, "chats", err, p, map[string]string{
		"users": "wecomUsers", "users[]": "users", "wecomUsers": "wecomUsers", "owner": "wecomOwner", "wecomOwner": "wecomOwner", "name": "name", "chatid": "chatid"})
}

func (u *UI) chat(c *gin.Context) error {
	p, err := u.chatsData(c)
	if err != nil {
		return err
	}
	chat, err := u.d.Service.GetChat(c.Request.Context(), p.Channel.ID, c.Param("chatid"))
	if err != nil {
		return err
	}
	p.Chat = &chat
	if err := u.nameMembers(c, &p); err != nil {
		return err
	}
	u.renderView(c, http.StatusOK, "chat", &view{Data: p, Form: map[string]string{"name": chat.Name, "wecomOwner": chat.Owner}})
	return nil
}

// updateChat sends what the form changes: the name and owner as they are typed (the service
// leaves an unchanged one alone), the members picked to add and ticked to remove.
func (u *UI) updateChat(c *gin.Context) error {
	p, err := u.chatsData(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	name := strings.TrimSpace(c.PostForm("name"))
	in := service.ChatChangeInput{Name: &name, WeComOwner: strings.TrimSpace(c.PostForm("wecomOwner")),
		AddUsers: formIDs(c, "addUsers"), WeComAddUsers: formIDs(c, "wecomAddUsers"), WeComDelUsers: c.PostFormArray("wecomDelUsers")}
	chatID := c.Param("chatid")
	if _, err := u.d.Service.UpdateChat(ctx, p.Channel.ID, chatID, in); err != nil {
		chat, gerr := u.d.Service.GetChat(ctx, p.Channel.ID, chatID)
		if gerr != nil {
			return gerr
		}
		p.Chat = &chat
		return u.chatFormError(c, "chat", err, p, map[string]string{"name": "name", "owner": "wecomOwner", "wecomOwner": "wecomOwner",
			"addUsers": "addUsers", "wecomAddUsers": "wecomAddUsers", "users": "wecomAddUsers", "delUsers": "wecomDelUsers", "wecomDelUsers": "wecomDelUsers"})
	}
	return u.redirect(c, chatPath(p.Channel.ID, chatID), "flash.saved")
}

// chatFormError shows the service's refusal on the form's fields: fields maps the API's field to
// the form's, an indexed one (users[1]) by "users[]" when given, else by its name.
func (u *UI) chatFormError(c *gin.Context, page string, err error, data chatsPage, fields map[string]string) error {
	var se *problem.Error
	if !errors.As(err, &se) || (se.Code != problem.CodeValidation && se.Code != problem.CodeConflict) {
		return err
	}
	if err := u.nameMembers(c, &data); err != nil {
		return err
	}
	folded := foldFieldErrors(se, func(path string) string {
		base, _, indexed := strings.Cut(path, "[")
		if f, ok := fields[base+"[]"]; ok && indexed {
			return f
		}
		return fields[base]
	})
	return u.formError(c, page, &problem.Error{Code: se.Code, Message: se.Message, Fields: folded, Err: se}, data)
}

// chatPath is a chat's page.
func chatPath(channelID uint64, chatID string) string {
	return fmt.Sprintf("/ui/channels/%d/chats/%s", channelID, url.PathEscape(chatID))
}

// formIDs reads a form field of ids typed or picked (see splitIDs), sent once or several times.
func formIDs(c *gin.Context, field string) []string {
	var out []string
	for _, v := range c.PostFormArray(field) {
		for _, id := range splitIDs(v) {
			out = append(out, id.(string))
		}
	}
	return out
}
