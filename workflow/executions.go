package workflow

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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

// SignatureHeader carries a webhook request's signature: "sha256=" + hex HMAC-SHA256 of the body.
const SignatureHeader = "X-Wecomflow-Signature"

// Webhook starts the enabled webhook workflow key when the body's signature is right. The
// execution (with the body as $context.data) is stored before this returns.
func (e *Engine) Webhook(ctx context.Context, key string, body []byte, header http.Header, query url.Values) (Execution, error) {
	w, err := e.store.GetWorkflowByKey(ctx, key)
	if err != nil || !w.Enabled || w.TriggerType != TriggerWebhook {
		if err != nil && !errors.Is(err, models.ErrNotFound) {
			return Execution{}, problem.StoreError("Workflow", err)
		}
		return Execution{}, problem.Errorf(problem.CodeNotFound, "No enabled webhook workflow has the key %q.", key)
	}
	if !validSignature(body, header.Get(SignatureHeader), w.WebhookSecret.Plain) {
		return Execution{}, problem.Errorf(problem.CodeUnauthorized,
			"The %s header is missing or wrong: it must be sha256=<hex HMAC-SHA256 of the body with the workflow's secret>.", SignatureHeader)
	}
	var data any
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := decodeJSON(string(body), &data); err != nil {
			return Execution{}, problem.Errorf(problem.CodeBadRequest, "The body is not valid JSON: %v.", err)
		}
	}
	var dedup string
	if keys, ok := header[IdempotencyHeader]; ok {
		if len(keys) != 1 || keys[0] == "" || utf8.RuneCountInString(keys[0]) > maxIdempotencyKey {
			return Execution{}, problem.Errorf(problem.CodeBadRequest,
				"The %s header must be given once, 1–%d characters.", IdempotencyHeader, maxIdempotencyKey)
		}
		dedup = "webhook:" + keys[0]
	}
	headers := map[string]any{}
	for k, v := range header {
		if k != "Authorization" && k != "Cookie" && k != SignatureHeader {
			headers[k] = strings.Join(v, ", ")
		}
	}
	q := map[string]any{}
	for k, v := range query {
		q[k] = strings.Join(v, ",")
	}
	x, started, err := e.start(ctx, w, TriggerWebhook, map[string]any{"data": data, "headers": headers, "query": q}, dedup)
	if err != nil {
		return Execution{}, err
	}
	if !started {
		// A repeat of a call that started an execution: that execution, and nothing new.
		if x, err = e.store.ExecutionByDedup(ctx, w.ID, dedup); err != nil {
			return Execution{}, problem.StoreError("Execution", err)
		}
	}
	return executionView(x), nil
}

// IdempotencyHeader names the webhook call that a retry repeats; maxIdempotencyKey bounds it so
// that "webhook:" and the key fit the executions' dedup column.
const (
	IdempotencyHeader = "Idempotency-Key"
	maxIdempotencyKey = 120
)

func validSignature(body []byte, header, secret string) bool {
	got, ok := strings.CutPrefix(header, "sha256=")
	if !ok || secret == "" {
		return false
	}
	sig, err := hex.DecodeString(got)
	return err == nil && hmac.Equal(sig, bodyMAC(body, secret))
}

func bodyMAC(body []byte, secret string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return mac.Sum(nil)
}

// Sign is the signature header value of body for secret, for webhook senders and tests.
func Sign(body []byte, secret string) string {
	return "sha256=" + hex.EncodeToString(bodyMAC(body, secret))
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
