package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/message"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/problem"
)

// templatesPage is the saved templates' list.
type templatesPage struct {
	List models.List[message.Template]
	// Base is the list's URL with its search, for the pager.
	Base string
}

func (u *UI) templateList(c *gin.Context) error {
	list, err := u.d.Messages.ListTemplates(c.Request.Context(), message.TemplateFilter{Q: c.Query("q")}, pageOf(c))
	return u.renderList(c, "templates", templatesPage{List: list, Base: listBase(c, "q")}, err)
}

// templatePage is a saved template's form. The form posts the body as JSON (what works without
// script); editor.js replaces that field with the workflow editor's body form and live preview,
// so the page embeds what the editor reads, as the workflow page does.
type templatePage struct {
	// Template is nil for a new template.
	Template *message.Template
	// ChannelTypes are the types a new template may be for.
	ChannelTypes []string
	// MsgTypes are each channel type's msgtypes; AllMsgTypes all of them, for the plain form.
	MsgTypes    map[string][]string
	AllMsgTypes []string
	CardTypes   []string
	// Channels are those the preview may render on (it needs one of the template's type).
	Channels []editorChoice
	Strings  map[string]string
}

// msgTypes are the msgtypes of a channel type: its composer's (a robot's), else WeCom app
// messages', as the message service decides.
func (u *UI) msgTypes(channelType string) []string {
	if c, ok := u.d.ChannelTypes[channelType].(plugin.Composer); ok {
		return c.MsgTypes()
	}
	return wecom.MsgTypes()
}

func (u *UI) templatePageData(c *gin.Context, t *message.Template) (templatePage, error) {
	channels, err := u.editorChannels(c)
	if err != nil {
		return templatePage{}, err
	}
	p := templatePage{Template: t, ChannelTypes: u.d.Service.ChannelTypes(), CardTypes: wecom.CardTypes(), Channels: channels,
		Strings: u.editorStrings(u.language(c))}
	p.MsgTypes, p.AllMsgTypes = u.channelMsgTypes(p.ChannelTypes)
	return p, nil
}

// channelMsgTypes are the msgtypes of each channel type, and all of them once, for a form
// without script.
func (u *UI) channelMsgTypes(types []string) (byType map[string][]string, all []string) {
	byType = map[string][]string{}
	for _, typ := range types {
		byType[typ] = u.msgTypes(typ)
		for _, m := range byType[typ] {
			if !slices.Contains(all, m) {
				all = append(all, m)
			}
		}
	}
	return byType, all
}

func (u *UI) newTemplate(c *gin.Context) error {
	data, err := u.templatePageData(c, nil)
	if err != nil {
		return err
	}
	form := map[string]string{"channelType": wecom.Type, "msgtype": "text", "body": "{}"}
	u.renderView(c, http.StatusOK, "template", &view{Data: data, Form: form})
	return nil
}

func (u *UI) createTemplate(c *gin.Context) error {
	data, err := u.templatePageData(c, nil)
	if err != nil {
		return err
	}
	in, err := u.templateInput(c, 0)
	if err == nil {
		var t message.Template
		if t, err = u.d.Messages.CreateTemplate(c.Request.Context(), in); err == nil {
			return u.redirect(c, fmt.Sprintf("/ui/templates/%d", t.ID), "flash.saved")
		}
	}
	return u.formError(c, "template", err, data)
}

func (u *UI) editTemplate(c *gin.Context) error {
	t, data, err := u.templateAndData(c)
	if err != nil {
		return err
	}
	form, err := templateForm(t)
	if err != nil {
		return err
	}
	u.renderView(c, http.StatusOK, "template", &view{Data: data, Form: form})
	return nil
}

// templateForm is a stored template's form values.
func templateForm(t message.Template) (map[string]string, error) {
	body, err := json.MarshalIndent(t.Body, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("web: template %d: %w", t.ID, err)
	}
	return map[string]string{"name": t.Name, "title": t.Title, "channelType": t.ChannelType, "msgtype": t.MsgType, "body": string(body)}, nil
}

func (u *UI) updateTemplate(c *gin.Context) error {
	t, data, err := u.templateAndData(c)
	if err != nil {
		return err
	}
	in, err := u.templateInput(c, t.ID)
	if err == nil {
		if _, err = u.d.Messages.UpdateTemplate(c.Request.Context(), t.ID, in); err == nil {
			return u.redirect(c, fmt.Sprintf("/ui/templates/%d", t.ID), "flash.saved")
		}
	}
	return u.formError(c, "template", err, data)
}

// deleteTemplate deletes a template; one that enabled workflows use stays, and its page says
// which (the 409's message).
func (u *UI) deleteTemplate(c *gin.Context) error {
	t, data, err := u.templateAndData(c)
	if err != nil {
		return err
	}
	err = u.d.Messages.DeleteTemplate(c.Request.Context(), t.ID)
	var se *problem.Error
	if errors.As(err, &se) && se.Code == problem.CodeConflict {
		form, ferr := templateForm(t)
		if ferr != nil {
			return ferr
		}
		u.renderView(c, se.Code.Status(), "template", &view{Data: data, Form: form, Errors: problem.Fields{"": se.Message}})
		return nil
	}
	if err != nil {
		return err
	}
	return u.redirect(c, "/ui/templates", "flash.deleted")
}

// templateInput is the form as the API's body for a new template (id 0) or the template id: the
// msgtype's body is the JSON of the body field. The channel type is given only when the template
// is created: it cannot change. A body that is not JSON is refused with the other fields' errors.
func (u *UI) templateInput(c *gin.Context, id uint64) (map[string]any, error) {
	msgtype := strings.TrimSpace(c.PostForm("msgtype"))
	in := map[string]any{"name": strings.TrimSpace(c.PostForm("name")), "title": strings.TrimSpace(c.PostForm("title")), "msgtype": msgtype}
	if id == 0 {
		in["channelType"] = c.PostForm("channelType")
	}
	if msgtype == "" {
		return in, nil // the service says msgtype is required
	}
	dec := json.NewDecoder(strings.NewReader(c.PostForm("body")))
	dec.UseNumber() // numbers stay as typed, as in the API
	var body map[string]any
	if err := dec.Decode(&body); err != nil || dec.More() {
		return nil, u.templateBodyNotJSON(c, id, in)
	}
	in[msgtype] = body
	return in, nil
}

// templateBodyNotJSON refuses a form whose body is not JSON with every error at once: the body's
// and what the service says of the form's other fields, checked without the body.
func (u *UI) templateBodyNotJSON(c *gin.Context, id uint64, in map[string]any) error {
	fields := problem.Fields{"body": u.cat.text(u.language(c), "tpl.body.badJSON")}
	others, err := u.d.Messages.CheckTemplate(c.Request.Context(), id, in)
	if err != nil {
		return err
	}
	for _, k := range []string{"name", "title", "channelType", "msgtype"} {
		if msg, ok := others[k]; ok {
			fields[k] = msg
		}
	}
	return problem.Invalid(fields)
}

func (u *UI) templateAndData(c *gin.Context) (message.Template, templatePage, error) {
	id, err := idParam(c)
	if err != nil {
		return message.Template{}, templatePage{}, err
	}
	t, err := u.d.Messages.GetTemplate(c.Request.Context(), id)
	if err != nil {
		return message.Template{}, templatePage{}, err
	}
	data, err := u.templatePageData(c, &t)
	return t, data, err
}
