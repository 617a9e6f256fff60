package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/wecomflow/wecomflow/message"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/template"
	"github.com/wecomflow/wecomflow/worker"
)

// maxStepFailures is how many steps in a row may fail unexpectedly before the execution ends in
// error; between them the runner backs off 5 s, 10 s, 20 s … up to 5 minutes (about half an hour
// in all).
const maxStepFailures = 10

// deliveryRecheck is how long a job waiting for a delivery sleeps before it looks again; the
// sender wakes it sooner, in the transaction that records the delivery.
const deliveryRecheck = time.Minute

// Run drives due executions until ctx ends, with Options.Loops claim loops side by side, and
// sends the cards' reminders.
func (e *Engine) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.runReminders(ctx)
	}()
	for range e.opts.Loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker.Run(ctx, e.wake, e.opts.Poll, e.drain)
		}()
	}
	wg.Wait()
}

// drain claims due executions, works out their steps concurrently and writes them in one
// transaction, until none is due.
func (e *Engine) drain(ctx context.Context) {
	for ctx.Err() == nil {
		claimed, err := e.store.ClaimExecutions(ctx, e.opts.Owner, e.opts.Lease, e.opts.Concurrency)
		if err != nil {
			if ctx.Err() == nil { // a shutdown cancels the claim: not an error
				e.log.ErrorContext(ctx, "cannot claim executions", "error", err)
			}
			return
		}
		if len(claimed) == 0 {
			return
		}
		if len(claimed) == e.opts.Concurrency {
			// More may be due: let another loop claim beside this one.
			e.wake.Notify()
		}
		ids := make([]string, len(claimed))
		for i := range claimed {
			ids[i] = claimed[i].ID
		}
		jobs, err := e.store.JobsOf(ctx, ids...)
		if err != nil {
			if ctx.Err() == nil {
				e.log.ErrorContext(ctx, "cannot read jobs", "error", err)
			}
			return
		}
		byExecution := map[string][]models.Job{}
		for _, j := range jobs {
			byExecution[j.ExecutionID] = append(byExecution[j.ExecutionID], j)
		}
		// A claimed batch is finished and written even when shutdown starts (a step is short):
		// nothing is left holding a lease for another instance to wait out.
		ctx := context.WithoutCancel(ctx)
		steps := make([]*models.Step, len(claimed))
		var wg sync.WaitGroup
		for i := range claimed {
			wg.Add(1)
			go func() {
				defer wg.Done()
				x := &claimed[i]
				st, err := e.advance(ctx, x, byExecution[x.ID])
				if err != nil {
					e.release(ctx, x, err)
					return
				}
				steps[i] = st
			}()
		}
		wg.Wait()
		e.commit(ctx, claimed, steps)
	}
}

// commit writes the steps worked out for claimed executions (nil where working it out failed).
func (e *Engine) commit(ctx context.Context, claimed []models.Execution, steps []*models.Step) {
	var batch []*models.Step
	var of []*models.Execution
	for i, st := range steps {
		if st != nil {
			batch, of = append(batch, st), append(of, &claimed[i])
		}
	}
	if len(batch) == 0 {
		return
	}
	errs := e.store.CommitSteps(ctx, batch)
	sent := false
	for i, st := range batch {
		x := of[i]
		switch err := errs[i]; {
		case errors.Is(err, models.ErrInUse):
			e.log.InfoContext(ctx, "execution was taken over or canceled during a step; its step is dropped", "execution_id", x.ID)
			continue
		case err != nil:
			e.release(ctx, x, err)
			continue
		}
		sent = sent || len(st.Messages) > 0
		if status, _ := st.Execution["status"].(string); models.IsFinalExecution(status) {
			e.log.InfoContext(ctx, "execution finished", "execution_id", x.ID, "workflow_id", x.WorkflowID, "status", status)
			e.opts.OnFinished(status)
			e.waiters.Notify(x.ID)
		}
		if e.opts.Hooks.AfterCommit != nil {
			e.opts.Hooks.AfterCommit(x.ID, st)
		}
	}
	if sent {
		e.messages.WakeSender()
	}
}

// release gives back an execution whose step failed unexpectedly; it is tried again shortly.
func (e *Engine) release(ctx context.Context, x *models.Execution, cause error) {
	log := e.log.With("execution_id", x.ID, "workflow_id", x.WorkflowID)
	log.ErrorContext(ctx, "execution step failed; it is retried", "error", cause)
	// The cause may quote the database; the API shows only that a retry is coming.
	const shown = "a step failed unexpectedly and is retried (the server log has the cause)"
	retry := e.store.Now().Add(min(5*time.Second<<x.Failures, 5*time.Minute))
	if err := e.store.ReleaseExecution(context.WithoutCancel(ctx), e.opts.Owner, x.ID, retry, shown); err != nil {
		log.ErrorContext(ctx, "cannot release execution", "error", err)
	}
}

// run is one step of one execution: the walk over its nodes, replaying finished jobs.
type run struct {
	e       *Engine
	x       *models.Execution
	now     time.Time
	jobs    map[string]*models.Job
	context map[string]any
	// results is $jobs: every job's result so far.
	results map[string]any
	step    *models.Step
}

// advance replays the execution's finished jobs, checks its pending one, and runs new nodes until
// one has to wait or the workflow ends. Nothing is written here: the step it returns is.
func (e *Engine) advance(ctx context.Context, x *models.Execution, jobs []models.Job) (*models.Step, error) {
	r := &run{e: e, x: x, now: e.store.Now(), jobs: map[string]*models.Job{}, results: map[string]any{},
		step: &models.Step{ExecutionID: x.ID, Owner: e.opts.Owner, Nudges: x.Nudges, Execution: map[string]any{"error": ""}}}
	for i := range jobs {
		j := &jobs[i]
		r.jobs[j.NodeKey] = j
		var v any
		if j.Result != "" {
			_ = decodeJSON(j.Result, &v)
		}
		r.results[j.NodeKey] = v
	}
	if x.Failures >= maxStepFailures {
		msg := fmt.Sprintf("gave up after %d failed attempts at a step (the server log has the causes)", x.Failures)
		r.endPending(models.JobError, msg)
		r.finish(models.ExecutionError, msg)
		return r.step, nil
	}
	def, err := e.definition(ctx, x.WorkflowID, x.Version)
	if errors.Is(err, models.ErrNotFound) {
		r.finish(models.ExecutionError, fmt.Sprintf("workflow %d version %d no longer exists", x.WorkflowID, x.Version))
		return r.step, nil
	}
	if err != nil {
		return nil, err
	}
	if err := decodeJSON(x.Context, &r.context); err != nil {
		r.finish(models.ExecutionError, "the stored context is unreadable: "+err.Error())
		return r.step, nil
	}
	if x.TimeoutAt != nil && !r.now.Before(*x.TimeoutAt) {
		r.endPending(models.JobAborted, "the workflow's timeout ("+def.Timeout+") was reached")
		r.finish(models.ExecutionAborted, "timed out: the workflow's timeout ("+def.Timeout+") was reached")
		return r.step, nil
	}
	stopped, err := r.walk(ctx, def.Nodes)
	if err != nil {
		return nil, err
	}
	if !stopped {
		r.finish(models.ExecutionResolved, "")
	}
	return r.step, nil
}

// walk runs nodes in order; it reports true when the execution stopped (waiting or finished).
func (r *run) walk(ctx context.Context, nodes []Node) (bool, error) {
	for i := range nodes {
		n := &nodes[i]
		j := r.jobs[n.Key]
		var err error
		switch {
		case j == nil:
			j, err = r.begin(ctx, n)
			if hook := r.e.opts.Hooks.AfterNode; hook != nil && err == nil {
				hook(r.x.ID, n.Key)
			}
		case j.Status == models.JobPending:
			err = r.check(ctx, n, j)
		}
		if err != nil {
			return false, err
		}
		switch j.Status {
		case models.JobPending:
			r.wait(j)
			return true, nil
		case models.JobResolved:
			switch n.Type {
			case NodeCondition:
				branch := "false"
				if v, _ := r.results[n.Key].(map[string]any); v["value"] == true {
					branch = "true"
				}
				if stopped, err := r.walk(ctx, n.Branches[branch]); stopped || err != nil {
					return stopped, err
				}
			case NodeDigest:
				if v, _ := r.results[n.Key].(map[string]any); v["digestedInto"] != nil {
					r.finish(models.ExecutionResolved, "")
					return true, nil
				}
			case NodeEnd:
				status, _ := n.Config["status"].(string)
				if status == "" {
					status = models.ExecutionResolved
				}
				msg := ""
				if status == models.ExecutionFailed {
					msg = "ended by node " + n.Key
				}
				r.finish(status, msg)
				return true, nil
			}
		default:
			if flag(n.Config, "ignoreFail", false) {
				continue
			}
			status := models.ExecutionFailed
			if j.Status == models.JobError {
				status = models.ExecutionError
			}
			r.finish(status, "node "+n.Key+": "+j.Error)
			return true, nil
		}
	}
	return false, nil
}

// begin runs a node for the first time and records its job.
func (r *run) begin(ctx context.Context, n *Node) (*models.Job, error) {
	j := &models.Job{ExecutionID: r.x.ID, NodeKey: n.Key, Type: n.Type, Status: models.JobPending, StartedAt: r.now}
	r.jobs[n.Key] = j
	r.step.NewJobs = append(r.step.NewJobs, j)
	switch n.Type {
	case NodeCondition:
		x, err := r.e.expression(str(n.Config, "expression"))
		if err != nil {
			r.end(j, models.JobError, "expression: "+err.Error())
			break
		}
		value, _, err := x.Eval(r.vars())
		if err != nil {
			r.end(j, models.JobFailed, "expression: "+err.Error())
			break
		}
		r.setResult(j, map[string]any{"value": value})
		r.end(j, models.JobResolved, "")
	case NodeDelay:
		d, _, err := r.duration(str(n.Config, "duration"))
		if err != nil {
			r.end(j, models.JobFailed, "duration: "+err.Error())
			break
		}
		until := r.now.Add(d)
		j.WaitUntil = &until
		r.setResult(j, map[string]any{"until": until.Format(time.RFC3339)})
		if d == 0 {
			r.end(j, models.JobResolved, "")
		}
	case NodeEnd:
		status, _ := n.Config["status"].(string)
		if status == "" {
			status = models.ExecutionResolved
		}
		r.setResult(j, map[string]any{"status": status})
		r.end(j, models.JobResolved, "")
	case NodeNotification:
		return j, r.notify(ctx, n, j)
	case NodeChat:
		return j, r.createChat(ctx, n, j)
	case NodeDigest:
		return j, r.joinDigest(ctx, n, j)
	default:
		r.end(j, models.JobError, "unknown node type "+n.Type)
	}
	return j, nil
}

// notify renders the node's message and adds it to the step: it is stored with the job, so it
// is sent exactly when the job exists.
func (r *run) notify(ctx context.Context, n *Node, j *models.Job) error {
	body := messageBody(n.Config)
	wr, _ := n.Config["waitForResponse"].(map[string]any)
	if name := str(wr, "replaceName"); name != "" {
		body["replaceName"] = name
	}
	remindText, err := r.remindText(wr)
	if err != nil {
		r.end(j, models.JobFailed, err.Error())
		return nil
	}
	var timeout time.Duration
	if wr != nil {
		if timeout, _, err = r.duration(str(wr, "timeout")); err != nil {
			r.end(j, models.JobFailed, "waitForResponse.timeout: "+err.Error())
			return nil
		}
	}
	m, reqs, err := r.e.messages.Plan(ctx, message.Request{Body: body, TriggerFrom: message.FromWorkflow,
		ExecutionID: &r.x.ID, Context: r.context, Jobs: r.results})
	var se *problem.Error
	if errors.As(err, &se) && se.Code == problem.CodeValidation {
		r.end(j, models.JobFailed, se.Message)
		return nil
	}
	if err != nil {
		return err
	}
	j.MessageID = &m.ID
	stored := models.MessageWithRequests{Message: m, Requests: reqs}
	r.setResult(j, notificationResult(m, nil, nil))
	switch {
	case m.Status == models.MessageFailed:
		r.end(j, models.JobFailed, m.Reason)
	case wr != nil:
		until := r.now.Add(timeout)
		j.WaitUntil = &until
		stored.Reminder = r.reminder(wr, remindText, m, reqs, until)
	case !flag(n.Config, "waitForDelivery", true):
		r.end(j, models.JobResolved, "")
	}
	r.step.Messages = append(r.step.Messages, stored)
	return nil
}

// createChat renders the node's chat and creates it now. It happens outside the step's
// transaction: a step that is not recorded (a crash) runs again and meets the chat it made, which
// fails the job when the node names a chatid and makes a second chat when it does not.
func (r *run) createChat(ctx context.Context, n *Node, j *models.Job) error {
	rendered, err := template.RenderValue(n.Config, r.templateVars())
	if err != nil {
		r.end(j, models.JobFailed, err.Error())
		return nil
	}
	cfg, _ := rendered.(map[string]any)
	id, err := r.e.opts.CreateChat(ctx, ChatSpec{Channel: str(cfg, "channel"), Name: str(cfg, "name"), Owner: str(cfg, "owner"),
		ChatID: str(cfg, "chatid"), Users: message.IDList(cfg["users"])})
	var se *problem.Error
	switch {
	case errors.As(err, &se) && se.Code != problem.CodeInternal:
		r.end(j, models.JobFailed, se.Message)
	case err != nil:
		return err
	default:
		r.setResult(j, map[string]any{"chatid": id})
		r.end(j, models.JobResolved, "")
	}
	return nil
}

// check looks at a pending job again: is the delay over, the message delivered, the card clicked?
func (r *run) check(ctx context.Context, n *Node, j *models.Job) error {
	switch n.Type {
	case NodeDelay:
		if j.WaitUntil == nil || !r.now.Before(*j.WaitUntil) {
			r.end(j, models.JobResolved, "")
		}
		return nil
	case NodeDigest:
		return r.closeDigest(ctx, j)
	case NodeNotification:
	default:
		r.end(j, models.JobError, "a "+n.Type+" node cannot wait")
		return nil
	}
	if j.MessageID == nil {
		r.end(j, models.JobError, "the job lost its message")
		return nil
	}
	m, reqs, err := r.e.store.GetMessage(ctx, *j.MessageID)
	if err != nil {
		return err
	}
	wr, _ := n.Config["waitForResponse"].(map[string]any)
	var response *models.CardResponse
	if wr != nil {
		rs, err := r.e.store.CardResponses(ctx, m.ID)
		if err != nil {
			return err
		}
		if len(rs) > 0 {
			response = &rs[0]
		}
	}
	r.setResult(j, notificationResult(m, reqs, response))
	switch {
	case response != nil:
		r.end(j, models.JobResolved, "")
	case m.Status == models.MessageFailed:
		r.end(j, models.JobFailed, m.Reason)
	case m.Status == models.MessageCanceled:
		r.end(j, models.JobFailed, "the message was canceled")
	case wr != nil && j.WaitUntil != nil && !r.now.Before(*j.WaitUntil):
		// The timeout renders as it did when the card was sent: the context does not change.
		_, shown, _ := r.duration(str(wr, "timeout"))
		r.end(j, models.JobFailed, "no response within "+shown)
	case wr == nil && (m.Status == models.MessageSent || m.Status == models.MessagePartial):
		r.end(j, models.JobResolved, "")
	}
	return nil
}

func notificationResult(m *models.Message, reqs []models.MessageRequest, response *models.CardResponse) map[string]any {
	msgid := ""
	for _, q := range reqs {
		if q.MsgID != "" {
			msgid = q.MsgID
			break
		}
	}
	res := map[string]any{"messageId": m.ID, "status": m.Status, "msgid": msgid, "response": nil,
		"recipients": map[string]any{"requested": m.Requested, "resolved": m.Resolved,
			"unbound": json.RawMessage(m.Unbound), "invalid": json.RawMessage(m.Invalid), "unlicensed": json.RawMessage(m.Unlicensed)}}
	if response != nil {
		res["response"] = map[string]any{"eventKey": response.EventKey, "userid": response.UserID,
			"selectedItems": json.RawMessage(response.SelectedItems),
			"selected":      message.Selected(json.RawMessage(response.SelectedItems)), "at": response.At.Format(time.RFC3339)}
	}
	return res
}

// setResult stores a job's result and makes it $jobs.<key>, exactly as a later step reads it back.
func (r *run) setResult(j *models.Job, v any) {
	raw, _ := json.Marshal(v)
	j.Result = string(raw)
	var back any
	_ = decodeJSON(j.Result, &back)
	r.results[j.NodeKey] = back
}

// end finishes a job; a job that existed before this step is written as an update.
func (r *run) end(j *models.Job, status, errText string) {
	j.Status, j.Error = status, errText
	now := r.now
	j.FinishedAt = &now
	if j.ID != 0 {
		r.step.Finished = append(r.step.Finished, j)
	}
}

// endPending ends every pending job with status.
func (r *run) endPending(status, errText string) {
	for _, j := range r.jobs {
		if j.Status == models.JobPending {
			r.end(j, status, errText)
		}
	}
}

// wait parks the execution until the pending job may have moved (or the workflow times out).
func (r *run) wait(j *models.Job) {
	wake := r.now.Add(deliveryRecheck)
	if j.WaitUntil != nil && (j.Type == NodeDelay || j.Type == NodeDigest || j.WaitUntil.Before(wake)) {
		wake = *j.WaitUntil
	}
	if r.x.TimeoutAt != nil && r.x.TimeoutAt.Before(wake) {
		wake = *r.x.TimeoutAt
	}
	r.step.Execution["status"] = models.ExecutionWaiting
	r.step.Execution["wake_at"] = wake
}

// finish ends the execution.
func (r *run) finish(status, errText string) {
	r.step.Execution["status"] = status
	r.step.Execution["error"] = errText
	r.step.Execution["wake_at"] = nil
	r.step.Execution["finished_at"] = r.now
}

func (r *run) vars() Vars {
	return Vars{Context: r.context, Jobs: r.results, Env: r.e.opts.TemplateEnv, Now: r.now.In(r.e.opts.Location)}
}

// duration reads a duration field that may be a variable (a delay's duration, a card's
// timeout), rendered with the execution's variables; shown is the text it came to.
func (r *run) duration(src string) (d time.Duration, shown string, err error) {
	if strings.Contains(src, "{{") {
		t, err := template.Parse(src)
		if err == nil {
			src, err = t.Render(r.templateVars())
		}
		if err != nil {
			return 0, src, err
		}
	}
	src = strings.TrimSpace(src)
	if d, err = parseDuration(src); err != nil || d < 0 {
		return 0, src, fmt.Errorf("%q is not a duration such as \"10m\"", src)
	}
	return d, src, nil
}

func (r *run) templateVars() template.Vars {
	return template.Vars{Context: r.context, Jobs: r.results, Env: r.e.opts.TemplateEnv, Now: r.now, Location: r.e.opts.Location}
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func flag(m map[string]any, k string, def bool) bool {
	if b, ok := m[k].(bool); ok {
		return b
	}
	return def
}
