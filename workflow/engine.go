package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/message"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/worker"
)

// Options configure an Engine.
type Options struct {
	// Owner names this instance on the leases it holds.
	Owner string
	// PublicURL is the base of the webhook URLs shown with webhook workflows.
	PublicURL string
	// TemplateEnv is what $env may read.
	TemplateEnv map[string]string
	// Location is the time zone of $system in conditions.
	Location *time.Location
	// Poll is how often the runner looks for due executions without being woken (default 1s);
	// Lease how long a runner holds one (default 30s).
	Poll, Lease time.Duration
	// Concurrency is how many executions one claim loop steps at once (default 64); Loops how
	// many claim loops run side by side (default 1; a networked database gains from more).
	Concurrency, Loops int
	// OnFinished is told of every finished execution (metrics): its status.
	OnFinished func(status string)
	// OnRefused is told of every refused webhook call (metrics): the workflow and the header
	// at fault.
	OnRefused func(workflowID uint64, header string)
	// WaitPoll is how often a trigger's ?wait= reads its execution again unless this process
	// notifies it of the end (default 500 ms: an execution another instance finishes).
	WaitPoll time.Duration
	// Hooks let tests stop the process at chosen points.
	Hooks Hooks
	// CreateChat makes the chat of a chat node and returns its chatid; a *problem.Error other
	// than internal fails the job, any other error the step (which is tried again).
	CreateChat func(ctx context.Context, spec ChatSpec) (string, error)
}

// Hooks are called at points of a step; tests use them to crash the engine there.
type Hooks struct {
	// AfterNode runs when a node has run for the first time, before its step is written.
	AfterNode func(executionID, nodeKey string)
	// AfterCommit runs after a step was written.
	AfterCommit func(executionID string, st *models.Step)
}

// Engine runs workflows: it keeps definitions, starts executions from triggers and drives them
// through their nodes. Everything it knows lives in the database; several engines may share one.
type Engine struct {
	store    *models.Store
	messages *message.Service
	log      *slog.Logger
	opts     Options
	wake     worker.Wakeup
	// waiters are the ?wait= calls in progress, woken when this process ends their execution.
	waiters *worker.Waiters
	// defs caches parsed definitions by workflow id and version: a version never changes.
	defs sync.Map
	// exprs caches compiled expressions by source.
	exprs sync.Map
	// schedules remembers, per schedule workflow, up to when its ticks were looked at.
	schedMu   sync.Mutex
	schedSeen map[uint64]time.Time
}

// maxWaiters bounds the ?wait= calls registered for notifications; one more polls only.
const maxWaiters = 10_000

// New makes an Engine over the store and the message service.
func New(store *models.Store, messages *message.Service, log *slog.Logger, opts Options) *Engine {
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Lease <= 0 {
		opts.Lease = 30 * time.Second
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 64
	}
	if opts.Loops <= 0 {
		opts.Loops = 1
	}
	if opts.OnFinished == nil {
		opts.OnFinished = func(string) {}
	}
	if opts.OnRefused == nil {
		opts.OnRefused = func(uint64, string) {}
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.WaitPoll <= 0 {
		opts.WaitPoll = 500 * time.Millisecond
	}
	opts.PublicURL = strings.TrimRight(opts.PublicURL, "/")
	if opts.CreateChat == nil {
		opts.CreateChat = func(context.Context, ChatSpec) (string, error) {
			return "", problem.Errorf(problem.CodeConflict, "This server does not create chats.")
		}
	}
	return &Engine{store: store, messages: messages, log: log, opts: opts, wake: worker.NewWakeup(), schedSeen: map[uint64]time.Time{},
		waiters: worker.NewWaiters(maxWaiters)}
}

// Wake tells the runner that an execution may be due.
func (e *Engine) Wake() { e.wake.Notify() }

// Workflow is a workflow as the API shows it (SPEC §4.1).
type Workflow struct {
	ID      uint64 `json:"id"`
	Key     string `json:"key"`
	Title   string `json:"title"`
	Enabled bool   `json:"enabled"`
	Version int    `json:"version"`
	Definition
	// WebhookURL is where a webhook workflow is triggered.
	WebhookURL string    `json:"webhookUrl,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

func (e *Engine) view(w *models.Workflow) (Workflow, error) {
	var d Definition
	if err := json.Unmarshal([]byte(w.Definition), &d); err != nil {
		return Workflow{}, fmt.Errorf("workflow: stored definition of %d is unreadable: %w", w.ID, err)
	}
	v := Workflow{ID: w.ID, Key: w.Key, Title: w.Title, Enabled: w.Enabled, Version: w.Version, Definition: d, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
	if d.Trigger.Type == TriggerWebhook {
		v.Trigger.Config = webhookView(v.Trigger.Config, w.WebhookSecret.Set())
		v.WebhookURL = e.opts.PublicURL + "/hooks/" + w.Key
	}
	return v, nil
}

// CreateWorkflow validates and stores a new workflow (version 1).
func (e *Engine) CreateWorkflow(ctx context.Context, body map[string]any) (Workflow, error) {
	return e.save(ctx, &models.Workflow{}, &draft{Enabled: true}, body)
}

// UpdateWorkflow applies a partial update: the fields given replace the stored ones, the whole
// result is validated again, and the version goes up.
func (e *Engine) UpdateWorkflow(ctx context.Context, id uint64, patch map[string]any) (Workflow, error) {
	w, err := e.store.GetWorkflow(ctx, id)
	if err != nil {
		return Workflow{}, problem.StoreError("Workflow", err)
	}
	d := &draft{Key: w.Key, Title: w.Title, Enabled: w.Enabled}
	if err := json.Unmarshal([]byte(w.Definition), &d.Def); err != nil {
		return Workflow{}, fmt.Errorf("workflow: stored definition of %d is unreadable: %w", id, err)
	}
	d.Secret = w.WebhookSecret.Plain
	if d.Def.Trigger.Type == TriggerWebhook {
		c := readWebhookConfig(d.Def.Trigger.Config)
		d.PrevAuth, d.WasLegacy = c.AuthType, c.LegacySignature
	}
	return e.save(ctx, w, d, patch)
}

// save merges body into d, validates and stores it as w.
func (e *Engine) save(ctx context.Context, w *models.Workflow, d *draft, body map[string]any) (Workflow, error) {
	var before map[string]any
	if w.ID != 0 {
		before = workflowFields(w)
	}
	errs := problem.Fields{}
	for k, v := range body {
		switch k {
		case "key", "title":
			s, ok := v.(string)
			if !ok {
				errs.Add(k, "must be a string")
			}
			if k == "key" {
				d.Key = s
			} else {
				d.Title = s
			}
		case "enabled":
			b, ok := v.(bool)
			if !ok {
				errs.Add(k, "must be true or false")
			}
			d.Enabled = b
		case "timeout":
			s, ok := v.(string)
			if !ok && v != nil {
				errs.Add(k, "must be a duration such as \"72h\"")
			}
			d.Def.Timeout = s
		case "trigger":
			e.decodeTrigger(v, d, errs)
		case "nodes":
			d.Def.Nodes = decodeNodes(v, "nodes", errs)
		case "id", "version", "createdAt", "updatedAt", "webhookUrl":
			// Read-only fields a client may send back unchanged.
		default:
			errs.Add(k, "unknown field")
		}
	}
	if d.Def.Trigger.Type == TriggerWebhook && !d.SecretGiven && readWebhookConfig(d.Def.Trigger.Config).AuthType != d.PrevAuth {
		// A credential never changes its use: a bearer token must not become an HMAC secret.
		d.Secret = ""
	}
	if len(errs) == 0 {
		if err := e.validate(ctx, d, errs); err != nil {
			return Workflow{}, err
		}
	}
	if len(errs) > 0 {
		return Workflow{}, problem.Invalid(errs)
	}
	if d.Def.Trigger.Type != TriggerWebhook {
		d.Secret = ""
	}
	w.Key, w.Title, w.Enabled, w.TriggerType = d.Key, d.Title, d.Enabled, d.Def.Trigger.Type
	w.Definition, w.WebhookSecret = d.Def.encode(), models.NewSecret(d.Secret)
	changes, action := access.Changes(before, workflowFields(w)), "workflow.create"
	if w.ID != 0 {
		action = access.Action("workflow", changes, w.Enabled)
	}
	ctx = access.Audit(ctx, action, access.Target{Type: "workflow", ID: w.ID, Name: w.Key}, changes)
	if err := e.store.SaveWorkflow(ctx, w); err != nil {
		if errors.Is(err, models.ErrDuplicate) {
			return Workflow{}, &problem.Error{Code: problem.CodeConflict, Message: fmt.Sprintf("A workflow with the key %q already exists.", d.Key),
				Fields: problem.Fields{"key": "is taken by another workflow"}, Err: err}
		}
		return Workflow{}, problem.StoreError("Workflow", err)
	}
	e.log.InfoContext(ctx, "workflow saved", "workflow_id", w.ID, "key", w.Key, "version", w.Version)
	return e.view(w)
}

func (e *Engine) decodeTrigger(v any, d *draft, errs problem.Fields) {
	m, ok := v.(map[string]any)
	if !ok {
		errs.Add("trigger", "must be an object with type and config")
		return
	}
	t := Trigger{Config: map[string]any{}}
	for k, x := range m {
		switch k {
		case "type":
			t.Type, _ = x.(string)
		case "config":
			if x == nil {
				continue
			}
			if t.Config, ok = x.(map[string]any); !ok {
				errs.Add("trigger.config", "must be an object")
				t.Config = map[string]any{}
			}
		default:
			errs.Add("trigger."+k, "unknown field")
		}
	}
	if t.Type == TriggerWebhook {
		decodeWebhookAuth(t.Config, d, errs)
	} else if _, ok := t.Config["secret"]; ok {
		errs.Add("trigger.config.secret", "unknown field for a "+t.Type+" trigger: only webhooks have a secret")
		delete(t.Config, "secret")
	}
	delete(t.Config, "secretSet")
	d.Def.Trigger = t
}

// GetWorkflow reads one workflow.
func (e *Engine) GetWorkflow(ctx context.Context, id uint64) (Workflow, error) {
	w, err := e.store.GetWorkflow(ctx, id)
	if err != nil {
		return Workflow{}, problem.StoreError("Workflow", err)
	}
	return e.view(w)
}

// WorkflowFilter narrows the workflow list, as a query string gives it: q matches key and title,
// triggerType is one of TriggerTypes, enabled is true or false.
type WorkflowFilter struct {
	Q, TriggerType, Enabled string
}

// ListWorkflows pages through workflows; a bad filter is a 422 naming it.
func (e *Engine) ListWorkflows(ctx context.Context, f WorkflowFilter, p models.Page) (models.List[Workflow], error) {
	mf := models.WorkflowFilter{Q: strings.TrimSpace(f.Q), TriggerType: f.TriggerType}
	if t := f.TriggerType; t != "" && !slices.Contains(TriggerTypes(), t) {
		return models.List[Workflow]{}, problem.Invalidf("triggerType", "must be one of %s", strings.Join(TriggerTypes(), ", "))
	}
	if f.Enabled != "" {
		b, err := strconv.ParseBool(f.Enabled)
		if err != nil {
			return models.List[Workflow]{}, problem.Invalidf("enabled", "must be true or false")
		}
		mf.Enabled = &b
	}
	p = p.Normalize()
	items, total, err := e.store.ListWorkflows(ctx, mf, p)
	if err != nil {
		return models.List[Workflow]{}, problem.StoreError("Workflow", err)
	}
	out := make([]Workflow, 0, len(items))
	for i := range items {
		v, err := e.view(&items[i])
		if err != nil {
			return models.List[Workflow]{}, err
		}
		out = append(out, v)
	}
	return models.List[Workflow]{Items: out, Total: total, Page: p}, nil
}

// workflowFields is what an audit entry compares: the definition's parts as the API names them
// (trigger, nodes, timeout), the webhook
// secret by path (its value is compared, never shown).
func workflowFields(w *models.Workflow) map[string]any {
	m := map[string]any{}
	_ = json.Unmarshal([]byte(w.Definition), &m)
	m["key"], m["title"], m["enabled"], m["trigger.secret"] = w.Key, w.Title, w.Enabled, w.WebhookSecret.Plain
	return m
}

// DeleteWorkflow removes a workflow that has no unfinished execution.
func (e *Engine) DeleteWorkflow(ctx context.Context, id uint64) error {
	w, err := e.store.GetWorkflow(ctx, id)
	if err != nil {
		return problem.StoreError("Workflow", err)
	}
	ctx = access.Audit(ctx, "workflow.delete", access.Target{Type: "workflow", ID: id, Name: w.Key}, nil)
	err = e.store.DeleteWorkflow(ctx, id)
	if errors.Is(err, models.ErrInUse) {
		return &problem.Error{Code: problem.CodeConflict, Message: "The workflow has unfinished executions; cancel them or let them finish first.", Err: err}
	}
	if err != nil {
		return problem.StoreError("Workflow", err)
	}
	return nil
}

// definition returns the parsed definition of a workflow version, from the cache when it can.
func (e *Engine) definition(ctx context.Context, workflowID uint64, version int) (*Definition, error) {
	key := [2]uint64{workflowID, uint64(version)}
	if d, ok := e.defs.Load(key); ok {
		return d.(*Definition), nil
	}
	v, err := e.store.GetWorkflowVersion(ctx, workflowID, version)
	if err != nil {
		return nil, err
	}
	d := new(Definition)
	if err := decodeJSON(v.Definition, d); err != nil {
		return nil, fmt.Errorf("workflow: definition %d v%d is unreadable: %w", workflowID, version, err)
	}
	e.defs.Store(key, d)
	return d, nil
}

// decodeJSON decodes keeping numbers exact (json.Number), as templates expect.
func decodeJSON(s string, v any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	return dec.Decode(v)
}

// newExecution builds a queued execution of w's current version.
func (e *Engine) newExecution(ctx context.Context, w *models.Workflow, trigger string, context map[string]any, dedup string) (*models.Execution, error) {
	def, err := e.definition(ctx, w.ID, w.Version)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(context)
	if err != nil {
		return nil, problem.Invalidf("data", "cannot be stored: %v", err)
	}
	now := e.store.Now()
	ex := &models.Execution{ID: ulid.Make().String(), WorkflowID: w.ID, Version: w.Version, Trigger: trigger, Status: models.ExecutionQueued,
		Context: string(raw), WakeAt: &now, CreatedAt: now, UpdatedAt: now}
	if dedup != "" {
		ex.DedupKey = &dedup
	}
	if def.Timeout != "" {
		d, _ := parseDuration(def.Timeout)
		t := now.Add(d)
		ex.TimeoutAt = &t
	}
	return ex, nil
}

// start stores a new execution and wakes the runner. It reports false when dedup was taken.
func (e *Engine) start(ctx context.Context, w *models.Workflow, trigger string, context map[string]any, dedup string) (*models.Execution, bool, error) {
	ex, err := e.newExecution(ctx, w, trigger, context, dedup)
	if err != nil {
		return nil, false, err
	}
	if err := e.store.CreateExecution(ctx, ex); err != nil {
		if dedup != "" && errors.Is(err, models.ErrDuplicate) {
			return nil, false, nil
		}
		return nil, false, problem.StoreError("Execution", err)
	}
	e.log.InfoContext(ctx, "execution queued", "execution_id", ex.ID, "workflow_id", w.ID, "version", w.Version, "trigger", trigger)
	e.Wake()
	return ex, true, nil
}
