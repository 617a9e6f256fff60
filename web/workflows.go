package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/workflow"
)

// workflowListPage is the workflow list's data.
type workflowListPage struct {
	List         models.List[workflow.Workflow]
	TriggerTypes []string
	// Base is the list's URL with its filters, ready for "page=".
	Base string
}

func (u *UI) workflowList(c *gin.Context) error {
	list, err := u.d.Workflows.ListWorkflows(c.Request.Context(), workflow.WorkflowFilter{Q: c.Query("q"), TriggerType: c.Query("triggerType")}, pageOf(c))
	data := workflowListPage{List: list, TriggerTypes: workflow.TriggerTypes(), Base: listBase(c, "q", "triggerType")}
	return u.renderList(c, "workflows", data, err)
}

// workflowPage is the editor's data. The definition, the names to choose from and the editor's
// strings are embedded as JSON (html/template escapes them for a script element), and editor.js
// builds the form from them.
type workflowPage struct {
	// Workflow is nil for a new workflow.
	Workflow *workflow.Workflow
	// Definition is what the editor starts from: the stored workflow or a blank one.
	Definition any
	Channels   []editorChoice
	// Authenticators are the names a wecom_event trigger may listen to.
	Authenticators []editorChoice
	// Recipients are a notification node's recipient fields and what picker.js offers in each.
	Recipients editorRecipients
	// MsgTypes and CardTypes are WeCom's, in its documentation order.
	MsgTypes, CardTypes []string
	Strings             map[string]string
	// HookBase is the webhook URL without the key.
	HookBase string
}

// editorRecipients are the recipient fields of a notification node, the Send page's.
type editorRecipients struct {
	Fields  []string          `json:"fields"`
	Pickers map[string]string `json:"pickers"`
	// Mentions are the fields a group robot takes.
	Mentions map[string]bool `json:"mentions"`
}

// editorChoice is one name the editor offers in a picker.
type editorChoice struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	// Type is a channel's type: chat nodes take app channels, a template previews on its type.
	Type string `json:"type,omitempty"`
	// ID and AuthenticatorID are a channel's: the Send page's pickers ask the API for its chats
	// and its authenticator's directory.
	ID              uint64 `json:"id,omitempty"`
	AuthenticatorID uint64 `json:"authenticatorId,omitempty"`
}

func (u *UI) newWorkflow(c *gin.Context) error {
	blank := map[string]any{"key": "", "title": "", "enabled": true,
		"trigger": map[string]any{"type": workflow.TriggerManual, "config": map[string]any{}}, "nodes": []any{}}
	data, err := u.workflowPageData(c, nil, blank)
	if err != nil {
		return err
	}
	u.renderView(c, http.StatusOK, "workflow", &view{Data: data})
	return nil
}

func (u *UI) editWorkflow(c *gin.Context) error {
	w, err := u.workflow(c)
	if err != nil {
		return err
	}
	data, err := u.workflowPageData(c, &w, w)
	if err != nil {
		return err
	}
	v := &view{Data: data, Form: map[string]string{"data": "{}"}}
	if c.Query("saved") != "" {
		v.Flash = u.cat.text(u.language(c), "flash.saved")
	}
	u.renderView(c, http.StatusOK, "workflow", v)
	return nil
}

// editorChannels are the channels the editor offers (the first 200), with their types.
func (u *UI) editorChannels(c *gin.Context) ([]editorChoice, error) {
	channels, err := u.d.Service.ListChannels(c.Request.Context(), "", 0, models.Page{Size: 200})
	if err != nil {
		return nil, err
	}
	out := []editorChoice{}
	for _, ch := range channels.Items {
		out = append(out, editorChoice{Name: ch.Name, Title: ch.Title, Type: ch.Type, ID: ch.ID, AuthenticatorID: ch.AuthenticatorID})
	}
	return out, nil
}

func (u *UI) workflowPageData(c *gin.Context, w *workflow.Workflow, def any) (workflowPage, error) {
	channels, err := u.editorChannels(c)
	if err != nil {
		return workflowPage{}, err
	}
	auths, err := u.d.Service.ListAuthenticators(c.Request.Context(), "", models.Page{Size: 200})
	if err != nil {
		return workflowPage{}, err
	}
	p := workflowPage{Workflow: w, Definition: def, MsgTypes: wecom.MsgTypes(), CardTypes: wecom.CardTypes(),
		Channels: channels, Authenticators: []editorChoice{}, Recipients: editorRecipients{Fields: recipientFields, Pickers: recipientPickers, Mentions: sendMentions},
		Strings: u.editorStrings(u.language(c)), HookBase: strings.TrimRight(u.d.PublicURL, "/") + "/hooks/"}
	for _, a := range auths.Items {
		p.Authenticators = append(p.Authenticators, editorChoice{Name: a.Name, Title: a.Title})
	}
	return p, nil
}

// editorStrings are the texts editor.js and cards.js show: every "wf." key, and the recipient
// fields' labels, help and picker texts it shares with the Send page, in lang.
func (u *UI) editorStrings(lang string) map[string]string {
	out := map[string]string{}
	for k := range u.cat[languages[0]] {
		if strings.HasPrefix(k, "wf.") || strings.HasPrefix(k, "send.to.") || strings.HasPrefix(k, "send.help.") || strings.HasPrefix(k, "send.pick.") || k == "send.picked" {
			out[k] = u.cat.text(lang, k)
		}
	}
	return out
}

// setWorkflowEnabled switches a workflow on or off (a new version, like any save).
func (u *UI) setWorkflowEnabled(c *gin.Context) error {
	w, err := u.workflow(c)
	if err != nil {
		return err
	}
	enabled, err := strconv.ParseBool(c.PostForm("enabled"))
	if err != nil {
		return problem.Invalidf("enabled", "must be true or false")
	}
	if _, err := u.d.Workflows.UpdateWorkflow(c.Request.Context(), w.ID, map[string]any{"enabled": enabled}); err != nil {
		return err
	}
	if enabled {
		return u.redirect(c, "/ui/workflows", "wf.flash.enabled")
	}
	return u.redirect(c, "/ui/workflows", "wf.flash.disabled")
}

func (u *UI) deleteWorkflow(c *gin.Context) error {
	w, err := u.workflow(c)
	if err != nil {
		return err
	}
	if err := u.d.Workflows.DeleteWorkflow(c.Request.Context(), w.ID); err != nil {
		return err
	}
	return u.redirect(c, "/ui/workflows", "flash.deleted")
}

// triggerWorkflow starts a manual execution with the form's JSON data and shows it.
func (u *UI) triggerWorkflow(c *gin.Context) error {
	w, err := u.workflow(c)
	if err != nil {
		return err
	}
	raw := strings.TrimSpace(c.PostForm("data"))
	var data any
	if raw != "" {
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber() // a 19-digit order id stays exact
		err := dec.Decode(&data)
		if err == nil && dec.More() {
			err = fmt.Errorf("there is more after the first JSON value")
		}
		if err != nil {
			lang := u.language(c)
			page, perr := u.workflowPageData(c, &w, w)
			if perr != nil {
				return perr
			}
			u.renderView(c, http.StatusUnprocessableEntity, "workflow", &view{Data: page, Form: map[string]string{"data": raw},
				Errors: map[string]string{"data": u.cat.text(lang, "wf.trigger.badJSON", err.Error())}})
			return nil
		}
	}
	x, err := u.d.Workflows.TriggerWorkflow(c.Request.Context(), w.ID, data)
	if err != nil {
		return err
	}
	return u.redirect(c, "/ui/executions/"+url.PathEscape(x.ID), "wf.flash.triggered")
}

func (u *UI) workflow(c *gin.Context) (workflow.Workflow, error) {
	id, err := idParam(c)
	if err != nil {
		return workflow.Workflow{}, err
	}
	return u.d.Workflows.GetWorkflow(c.Request.Context(), id)
}
