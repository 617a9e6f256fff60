package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wecomflow/wecomflow/message"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
)

// Execution is an execution as the API shows it (SPEC §4.4).
type Execution struct {
	ID         string          `json:"id"`
	WorkflowID uint64          `json:"workflowId"`
	Version    int             `json:"version"`
	Trigger    string          `json:"trigger"`
	Status     string          `json:"status"`
	Context    json.RawMessage `json:"context"`
	Error      string          `json:"error"`
	CreatedAt  time.Time       `json:"createdAt"`
	StartedAt  *time.Time      `json:"startedAt"`
	FinishedAt *time.Time      `json:"finishedAt"`
	// Jobs are in the order the nodes ran; only GET /executions/{id} fills them.
	Jobs []Job `json:"jobs,omitempty"`
}

// Job is one node's run as the API shows it.
type Job struct {
	NodeKey    string          `json:"nodeKey"`
	Type       string          `json:"type"`
	Status     string          `json:"status"`
	Result     json.RawMessage `json:"result"`
	Error      string          `json:"error"`
	StartedAt  time.Time       `json:"startedAt"`
	FinishedAt *time.Time      `json:"finishedAt"`
}

func executionView(x *models.Execution) Execution {
	return Execution{ID: x.ID, WorkflowID: x.WorkflowID, Version: x.Version, Trigger: x.Trigger, Status: x.Status,
		Context: json.RawMessage(x.Context), Error: x.Error, CreatedAt: x.CreatedAt, StartedAt: x.StartedAt, FinishedAt: x.FinishedAt}
}

// GetExecution reads an execution with its jobs.
func (e *Engine) GetExecution(ctx context.Context, id string) (Execution, error) {
	x, err := e.store.GetExecution(ctx, id)
	if err != nil {
		return Execution{}, problem.StoreError("Execution", err)
	}
	jobs, err := e.store.ExecutionJobs(ctx, id)
	if err != nil {
		return Execution{}, problem.StoreError("Execution", err)
	}
	v := executionView(x)
	v.Jobs = make([]Job, len(jobs))
	for i, j := range jobs {
		result := json.RawMessage(j.Result)
		if j.Result == "" {
			result = json.RawMessage("null")
		}
		v.Jobs[i] = Job{NodeKey: j.NodeKey, Type: j.Type, Status: j.Status, Result: result, Error: j.Error, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt}
	}
	return v, nil
}

// ExecutionFilter narrows the execution list, as a query string gives it: a status of
// ExecutionStatuses, a workflow id.
type ExecutionFilter struct {
	Status, WorkflowID string
}

// ListExecutions pages through executions, newest first; a bad filter is a 422 naming it.
func (e *Engine) ListExecutions(ctx context.Context, f ExecutionFilter, p models.Page) (models.List[Execution], error) {
	mf := models.ExecutionFilter{Status: f.Status}
	errs := problem.Fields{}
	if s := f.Status; s != "" && !slices.Contains(models.ExecutionStatuses(), s) {
		errs.Add("status", "must be one of "+strings.Join(models.ExecutionStatuses(), ", "))
	}
	if v := strings.TrimSpace(f.WorkflowID); v != "" {
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil || id == 0 {
			errs.Add("workflowId", "must be a workflow id")
		}
		mf.WorkflowID = id
	}
	if len(errs) > 0 {
		return models.List[Execution]{}, problem.Invalid(errs)
	}
	p = p.Normalize()
	items, total, err := e.store.ListExecutions(ctx, mf, p)
	if err != nil {
		return models.List[Execution]{}, problem.StoreError("Execution", err)
	}
	return models.NewList(items, total, p, executionView), nil
}

// CancelExecution stops an unfinished execution; messages already handed to the sender go on.
func (e *Engine) CancelExecution(ctx context.Context, id string) (Execution, error) {
	err := e.store.CancelExecution(ctx, id)
	if err == nil {
		e.waiters.Notify(id)
	}
	if errors.Is(err, models.ErrWrongState) {
		return Execution{}, &problem.Error{Code: problem.CodeConflict, Message: "Only a queued, running or waiting execution can be canceled.", Err: err}
	}
	if err != nil {
		return Execution{}, problem.StoreError("Execution", err)
	}
	return e.GetExecution(ctx, id)
}

// WaitExecution reads an execution until it is final or d has passed: again when this process
// ends it, and every WaitPoll for what another instance does.
func (e *Engine) WaitExecution(ctx context.Context, id string, d time.Duration) (Execution, error) {
	var x Execution
	err := e.waiters.Wait(ctx, id, d, e.opts.WaitPoll, func() (bool, error) {
		var err error
		x, err = e.GetExecution(ctx, id)
		return models.IsFinalExecution(x.Status), err
	})
	return x, err
}

// TriggerWorkflow starts an execution by hand (any trigger type, enabled or not: an admin's test
// run), with $context.data = data.
func (e *Engine) TriggerWorkflow(ctx context.Context, id uint64, data any) (Execution, error) {
	w, err := e.store.GetWorkflow(ctx, id)
	if err != nil {
		return Execution{}, problem.StoreError("Workflow", err)
	}
	x, _, err := e.start(ctx, w, TriggerManual, map[string]any{"data": data}, "")
	if err != nil {
		return Execution{}, err
	}
	return executionView(x), nil
}

// Render previews a message without sending it (POST /api/v1/render): a direct send's body, or a
// notification node's config with sample "data" ($context.data) and "jobs" ($jobs), as the exact
// WeCom JSON with its warnings.
func (e *Engine) Render(ctx context.Context, body map[string]any) (json.RawMessage, []string, error) {
	msg := messageBody(body)
	jobs, _ := msg["jobs"].(map[string]any)
	delete(msg, "jobs")
	delete(msg, "data")
	wr, _ := body["waitForResponse"].(map[string]any)
	if name := str(wr, "replaceName"); name != "" {
		msg["replaceName"] = name
	}
	return e.messages.Render(ctx, message.Request{Body: msg, Context: map[string]any{"data": body["data"]}, Jobs: jobs})
}
