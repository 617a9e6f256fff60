package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/message"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
)

// messagesPage is the send log's data.
type messagesPage struct {
	List     models.List[message.View]
	Statuses []string
	// Channels feed the channel filter's suggestions.
	Channels []string
	Base     string
}

func (u *UI) messages(c *gin.Context) error {
	ctx := c.Request.Context()
	data := messagesPage{Statuses: message.Statuses(), Base: listBase(c, "status", "channel", "executionId", "since", "until")}
	if chs, err := u.d.Service.ListChannels(ctx, "", 0, models.Page{Size: 200}); err == nil {
		for _, ch := range chs.Items {
			data.Channels = append(data.Channels, ch.Name)
		}
	}
	var err error
	data.List, err = u.d.Messages.List(ctx, message.Filter{Status: c.Query("status"), Channel: strings.TrimSpace(c.Query("channel")),
		ExecutionID: strings.TrimSpace(c.Query("executionId")), Since: u.filterTime(c, c.Query("since")), Until: u.filterTime(c, c.Query("until"))}, pageOf(c))
	return u.renderList(c, "messages", data, err)
}

// messagePage is the message detail's data.
type messagePage struct {
	M message.View
	// Fields are the body's values by path (textcard.description → "description"), as text.
	Fields                         []bodyField
	Body                           string
	CanRetry, CanCancel, CanRecall bool
	Final                          bool
	// LiveKey is what live.js compares with the API's answer: the status and the requests' statuses.
	LiveKey string
	// Error is the service's refusal of an action (retry, cancel, recall).
	Error string
}

func (u *UI) message(c *gin.Context) error {
	p, err := u.messageData(c)
	if err != nil {
		return err
	}
	u.render(c, http.StatusOK, "message", p)
	return nil
}

func (u *UI) messageData(c *gin.Context) (messagePage, error) {
	m, err := u.d.Messages.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		return messagePage{}, err
	}
	p := messagePage{M: m, Body: prettyJSON(m.Body), Fields: bodyFields(m.Body)}
	statuses := make([]string, len(m.Requests))
	for i, r := range m.Requests {
		statuses[i] = r.Status
	}
	p.LiveKey = m.Status + "|" + strings.Join(statuses, ",")
	a := u.d.Messages.Actions(m)
	p.CanRetry, p.CanCancel, p.CanRecall, p.Final = a.Retry, a.Cancel, a.Recall, a.Final
	return p, nil
}

// messageAction runs retry, cancel or recall; a refusal (a wrong state, WeCom saying no) is shown
// on the message's page.
func (u *UI) messageAction(action func(ctx context.Context, id string) (message.View, error), flash string) func(c *gin.Context) error {
	return func(c *gin.Context) error {
		id := c.Param("id")
		if _, err := action(c.Request.Context(), id); err != nil {
			msg, status, ok := u.refusal(c, err)
			if !ok {
				return err
			}
			p, err := u.messageData(c)
			if err != nil {
				return err
			}
			p.Error = msg
			u.render(c, status, "message", p)
			return nil
		}
		return u.redirect(c, "/ui/messages/"+url.PathEscape(id), flash)
	}
}

// refusal is the sentence, in the page's language, and status of a service's refusal to act
// (409, 422); ok is false for other errors, which become the error page.
func (u *UI) refusal(c *gin.Context, err error) (msg string, status int, ok bool) {
	var se *problem.Error
	if !errors.As(err, &se) || (se.Code != problem.CodeConflict && se.Code != problem.CodeValidation) {
		return "", 0, false
	}
	return u.problems[u.language(c)].translate(se.Message), se.Code.Status(), true
}

// bodyField is one value of a message body.
type bodyField struct{ Path, Value string }

// bodyFields lists the values of a JSON object by path (main_title.title, button_list[0].key),
// keys in order: a message body an admin reads as the text that was sent.
func bodyFields(raw json.RawMessage) []bodyField {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	var out []bodyField
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if path == "" {
					walk(k, v[k])
				} else {
					walk(path+"."+k, v[k])
				}
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case nil:
			out = append(out, bodyField{path, "null"})
		default:
			out = append(out, bodyField{path, fmt.Sprint(v)})
		}
	}
	walk("", v)
	return out
}

// prettyJSON indents a JSON document for a <pre>, keeping <, > and & as they are (the template
// escapes them as HTML) so that a message reads as it was written.
func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return string(raw)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return string(raw)
	}
	return strings.TrimRight(out.String(), "\n")
}
