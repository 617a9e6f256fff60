package web

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/message"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/problem"
)

// The Send page composes one message as POST /api/v1/messages takes it and sends it with the
// same service call. The form posts the body as JSON and the recipients as typed lists (what
// works without script); editor.js replaces the body with the workflow editor's message form and
// live preview, and picker.js offers the directory, the local users and the channel's chats in
// the recipient fields.

// recipientFields are the recipient fields of the Send page and of the editor's notification
// nodes, as their API paths under "to".
var recipientFields = []string{"users", "wecomUsers", "departments", "tags", "chats", "mobiles", "emails", "leadersOf"}

// recipientPickers say what picker.js offers in a recipient field: local users, the channel's
// authenticator's directory members, departments or tags, the channel's chats, local users'
// mobiles and emails (for people WeCom finds by them); every field can also be typed.
var recipientPickers = map[string]string{"users": "users", "wecomUsers": "members", "departments": "departments", "tags": "tags",
	"chats": "chats", "leadersOf": "users", "mobiles": "mobiles", "emails": "emails"}

// sendMentions are the recipient fields a group robot takes, as mentions (SPEC §9.2).
var sendMentions = map[string]bool{"users": true, "wecomUsers": true, "mobiles": true}

// sendWait is how long a send waits for its final status before the page shows what it has.
const sendWait = 10 * time.Second

// sendPage is the Send page's data.
type sendPage struct {
	Channels []editorChoice
	// MsgTypes are each channel type's msgtypes; AllMsgTypes all of them, for the plain form.
	MsgTypes    map[string][]string
	AllMsgTypes []string
	CardTypes   []string
	// Templates are the saved templates (the first 200), with their bodies for the preview.
	Templates  []message.Template
	Recipients []string
	Pickers    map[string]string
	Mentions   map[string]bool
	Strings    map[string]string
	// Result is the message just sent.
	Result *message.View
}

func (u *UI) sendPageData(c *gin.Context) (sendPage, error) {
	ctx := c.Request.Context()
	channels, err := u.editorChannels(c)
	if err != nil {
		return sendPage{}, err
	}
	tpls, err := u.d.Messages.ListTemplates(ctx, message.TemplateFilter{}, models.Page{Page: 1, Size: 200})
	if err != nil {
		return sendPage{}, err
	}
	p := sendPage{Channels: channels, CardTypes: wecom.CardTypes(), Templates: tpls.Items,
		Recipients: recipientFields, Pickers: recipientPickers, Mentions: sendMentions, Strings: u.editorStrings(u.language(c))}
	p.MsgTypes, p.AllMsgTypes = u.channelMsgTypes(u.d.Service.ChannelTypes())
	return p, nil
}

// BodyErrors are the errors of the message body (textcard.title), which editor.js places in its
// body form: the page marks its own fields itself.
func (sendPage) BodyErrors(errs problem.Fields) map[string]string {
	out := map[string]string{}
	for k, v := range errs {
		switch {
		case k == "", k == "channel", k == "template", k == "data", k == "body", k == "idempotencyKey", k == "to", strings.HasPrefix(k, "to."):
		default:
			out[k] = v
		}
	}
	return out
}

// newIdempotencyKey names one composed message: a second submit of the same form (a double
// click, a reload) returns the first message instead of sending again.
func newIdempotencyKey() string { return "ui-" + rand.Text() }

func (u *UI) sendForm(c *gin.Context) error {
	data, err := u.sendPageData(c)
	if err != nil {
		return err
	}
	form := map[string]string{"msgtype": "text", "body": "{}", "data": "{}", "idempotencyKey": newIdempotencyKey()}
	if len(data.Channels) > 0 {
		form["channel"] = data.Channels[0].Name
	}
	u.renderView(c, http.StatusOK, "send", &view{Data: data, Form: form})
	return nil
}

// send sends the form's message as the API would (trigger "api") and shows its result, waiting a
// little for the final status; the form stays filled for a similar message, with a new key.
func (u *UI) send(c *gin.Context) error {
	data, err := u.sendPageData(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	body, bad := u.sendBody(c)
	if len(bad) > 0 {
		// One round: the service checks the rest (without sending) and every error shows at once.
		_, _, err = u.d.Messages.Render(ctx, message.Request{Body: body, TriggerFrom: message.FromAPI})
		return u.formError(c, "send", problem.Invalid(mergeFieldErrors(err, bad)), data)
	}
	m, err := u.d.Messages.Send(ctx, message.Request{Body: body, TriggerFrom: message.FromAPI})
	if err == nil {
		if m, err = u.d.Messages.Wait(ctx, m.ID, sendWait); err != nil {
			return err
		}
		data.Result = &m
		form := postedForm(c.Request.PostForm)
		form["idempotencyKey"] = newIdempotencyKey()
		u.renderView(c, http.StatusOK, "send", &view{Data: data, Form: form, Picked: c.Request.PostForm})
		return nil
	}
	var se *problem.Error
	if errors.As(err, &se) && se.Code == problem.CodeValidation {
		err = problem.Invalid(sendFieldErrors(se))
	}
	return u.formError(c, "send", err, data)
}

// sendBody reads the form as the API's body: the message is the msgtype's JSON body, or a saved
// template by name; data is JSON; each recipient field a typed list. bad are the fields that are
// not JSON, left out of body.
func (u *UI) sendBody(c *gin.Context) (body map[string]any, bad problem.Fields) {
	lang := u.language(c)
	body = map[string]any{"channel": c.PostForm("channel")}
	bad = problem.Fields{}
	if k := c.PostForm("idempotencyKey"); k != "" {
		body["idempotencyKey"] = k
	}
	if name := strings.TrimSpace(c.PostForm("template")); name != "" {
		body["template"] = name
	} else if msgtype := strings.TrimSpace(c.PostForm("msgtype")); msgtype != "" {
		body["msgtype"] = msgtype
		if v, ok := jsonValue(c.PostForm("body")).(map[string]any); ok {
			body[msgtype] = v
		} else {
			bad["body"] = u.cat.text(lang, "tpl.body.badJSON")
		}
	}
	if raw := strings.TrimSpace(c.PostForm("data")); raw != "" && raw != "{}" {
		if v, ok := jsonValue(raw).(map[string]any); ok {
			body["data"] = v
		} else {
			bad["data"] = u.cat.text(lang, "send.data.badJSON")
		}
	}
	// sendAt is typed as the page's local time (datetime-local): it is sent with the page's zone.
	if raw := strings.TrimSpace(c.PostForm("sendAt")); raw != "" {
		if t, err := time.ParseInLocation("2006-01-02T15:04", raw, u.zone(lang)); err == nil {
			body["sendAt"] = t.Format(time.RFC3339)
		} else {
			body["sendAt"] = raw // not a local time: the service names what is wrong with it
		}
	}
	if p := c.PostForm("priority"); p != "" && p != "normal" {
		body["priority"] = p
	}
	to := map[string]any{}
	for _, k := range recipientFields {
		if ids := splitIDs(c.PostForm("to." + k)); len(ids) > 0 {
			to[k] = ids
		}
	}
	if len(to) > 0 {
		body["to"] = to
	}
	return body, bad
}

// mergeFieldErrors adds the service's field errors of a check (err) to the form's own (bad),
// leaving out what follows from a field left out: the body's errors when the body was not JSON.
func mergeFieldErrors(err error, bad problem.Fields) problem.Fields {
	var se *problem.Error
	if !errors.As(err, &se) || se.Code != problem.CodeValidation {
		return bad
	}
	out := sendFieldErrors(se)
	for k := range out {
		if _, noBody := bad["body"]; noBody && (k == "" || !strings.HasPrefix(k, "to") && k != "channel" && k != "template") {
			delete(out, k)
		}
	}
	maps.Copy(out, bad)
	return out
}

// jsonValue is the JSON value of s with its numbers as typed (a 19-digit id stays exact), or nil.
func jsonValue(s string) any {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil
	}
	return v
}

// postedForm is a submitted form's first values, to show again.
func postedForm(posted url.Values) map[string]string {
	form := map[string]string{}
	for k, v := range posted {
		if k != csrfField && len(v) > 0 {
			form[k] = v[0]
		}
	}
	return form
}

// sendFieldErrors puts the service's errors on the Send form's fields: an error about one
// recipient ("to.users[1]") on its list, one about the recipients as a whole on "to"; the
// body's own paths (textcard.title) stay, for editor.js to place in the body form.
func sendFieldErrors(se *problem.Error) problem.Fields {
	return foldFieldErrors(se, func(path string) string {
		if path != "to" && !strings.HasPrefix(path, "to.") {
			return path
		}
		for _, k := range recipientFields {
			if p := "to." + k; path == p || strings.HasPrefix(path, p+"[") {
				return p
			}
		}
		return "to"
	})
}
