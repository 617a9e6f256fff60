package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/workflow"
)

// executionsPage is the execution list's data.
type executionsPage struct {
	List      models.List[workflow.Execution]
	Workflows []workflow.Workflow
	// Titles name each workflow by id.
	Titles   map[uint64]string
	Statuses []string
	// Base is the list's URL with its filters, ready for "page=".
	Base string
}

func (u *UI) executions(c *gin.Context) error {
	ctx := c.Request.Context()
	wfs, err := u.d.Workflows.ListWorkflows(ctx, workflow.WorkflowFilter{}, models.Page{Size: 200})
	if err != nil {
		return err
	}
	data := executionsPage{Workflows: wfs.Items, Titles: map[uint64]string{}, Statuses: models.ExecutionStatuses(),
		Base: listBase(c, "workflowId", "status")}
	for _, w := range wfs.Items {
		data.Titles[w.ID] = workflowName(w)
	}
	data.List, err = u.d.Workflows.ListExecutions(ctx, workflow.ExecutionFilter{Status: c.Query("status"), WorkflowID: c.Query("workflowId")}, pageOf(c))
	return u.renderList(c, "executions", data, err)
}

func workflowName(w workflow.Workflow) string {
	if w.Title != "" {
		return w.Title + " (" + w.Key + ")"
	}
	return w.Key
}

// executionPage is the execution detail's data.
type executionPage struct {
	X workflow.Execution
	// Workflow is the execution's workflow; nil when it was deleted.
	Workflow *workflow.Workflow
	Context  string
	Jobs     []jobView
	// Final is set once nothing changes any more; until then the page refreshes itself.
	Final bool
	// LiveKey is what live.js compares with the API's answer: the status and the jobs' statuses.
	LiveKey string
	// Error is the service's refusal of an action.
	Error string
}

// jobView is a job on the timeline.
type jobView struct {
	workflow.Job
	Result string
	// MessageID is a notification job's message.
	MessageID string
}

func (u *UI) execution(c *gin.Context) error {
	p, err := u.executionData(c)
	if err != nil {
		return err
	}
	u.render(c, http.StatusOK, "execution", p)
	return nil
}

func (u *UI) executionData(c *gin.Context) (executionPage, error) {
	ctx := c.Request.Context()
	x, err := u.d.Workflows.GetExecution(ctx, c.Param("id"))
	if err != nil {
		return executionPage{}, err
	}
	p := executionPage{X: x, Context: prettyJSON(x.Context), Final: models.IsFinalExecution(x.Status)}
	if w, err := u.d.Workflows.GetWorkflow(ctx, x.WorkflowID); err == nil {
		p.Workflow = &w
	}
	statuses := make([]string, len(x.Jobs))
	for i, j := range x.Jobs {
		statuses[i] = j.Status
	}
	p.LiveKey = x.Status + "|" + strings.Join(statuses, ",")
	for _, j := range x.Jobs {
		jv := jobView{Job: j, Result: prettyJSON(j.Result)}
		if j.Type == workflow.NodeNotification {
			var res struct {
				MessageID string `json:"messageId"`
			}
			_ = json.Unmarshal(j.Result, &res)
			jv.MessageID = res.MessageID
		}
		p.Jobs = append(p.Jobs, jv)
	}
	return p, nil
}

func (u *UI) cancelExecution(c *gin.Context) error {
	id := c.Param("id")
	if _, err := u.d.Workflows.CancelExecution(c.Request.Context(), id); err != nil {
		msg, status, ok := u.refusal(c, err)
		if !ok {
			return err
		}
		p, err := u.executionData(c)
		if err != nil {
			return err
		}
		p.Error = msg
		u.render(c, status, "execution", p)
		return nil
	}
	return u.redirect(c, "/ui/executions/"+url.PathEscape(id), "exec.flash.canceled")
}
