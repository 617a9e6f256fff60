package models

import "time"

// Execution statuses (SPEC §4.4).
const (
	ExecutionQueued   = "queued"
	ExecutionRunning  = "running"
	ExecutionWaiting  = "waiting"
	ExecutionResolved = "resolved"
	ExecutionFailed   = "failed"
	ExecutionError    = "error"
	ExecutionAborted  = "aborted"
	ExecutionCanceled = "canceled"
)

// ExecutionStatuses lists every execution status.
func ExecutionStatuses() []string {
	return []string{ExecutionQueued, ExecutionRunning, ExecutionWaiting, ExecutionResolved, ExecutionFailed,
		ExecutionError, ExecutionAborted, ExecutionCanceled}
}

// Job statuses (SPEC §4.4).
const (
	JobPending  = "pending"
	JobResolved = "resolved"
	JobFailed   = "failed"
	JobError    = "error"
	JobAborted  = "aborted"
	JobCanceled = "canceled"
)

// Workflow is a workflow definition as last saved. Every save bumps Version and stores the
// definition again as a WorkflowVersion, which is what executions run.
type Workflow struct {
	ID      uint64 `gorm:"primaryKey"`
	Key     string `gorm:"size:64;not null;uniqueIndex"`
	Title   string `gorm:"size:255;not null"`
	Enabled bool   `gorm:"not null;index:idx_workflows_enabled"`
	Version int    `gorm:"not null"`
	// TriggerType is indexed: the webhook, schedule and event triggers look workflows up by it.
	TriggerType string `gorm:"size:16;not null;index"`
	// Definition is the JSON of trigger (without its secret), nodes and timeout.
	Definition string `gorm:"type:mediumtext;not null"`
	// WebhookSecret signs a webhook trigger's requests; write-only, sealed.
	WebhookSecret Secret
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// WorkflowVersion is one saved version of a workflow's definition; executions point at it.
type WorkflowVersion struct {
	WorkflowID uint64 `gorm:"primaryKey;autoIncrement:false"`
	Version    int    `gorm:"primaryKey;autoIncrement:false"`
	Definition string `gorm:"type:mediumtext;not null"`
	CreatedAt  time.Time
}

// Execution is one run of a workflow version. It is stored before its trigger is acknowledged and
// is driven by whichever runner holds its lease; between steps it waits in the database (WakeAt),
// so a waiting execution holds no goroutine and survives restarts.
type Execution struct {
	ID         string `gorm:"primaryKey;size:26"`
	WorkflowID uint64 `gorm:"not null;uniqueIndex:idx_executions_dedup,priority:1;index:idx_executions_workflow_created,priority:1"`
	Version    int    `gorm:"not null"`
	Trigger    string `gorm:"size:16;not null"`
	// DedupKey makes one execution of a trigger that may be seen twice: a schedule tick seen by
	// every instance ("tick:…"), a callback event processed again ("event:…").
	DedupKey *string `gorm:"size:128;uniqueIndex:idx_executions_dedup,priority:2"`
	Status   string  `gorm:"size:16;not null;index:idx_executions_due,priority:1;index:idx_executions_status_created,priority:1"`
	// Context is the trigger's $context (JSON).
	Context string `gorm:"type:mediumtext;not null"`
	Error   string `gorm:"type:text;not null"`
	// WakeAt is when a runner should look at the execution next; nil once it is final.
	WakeAt *time.Time `gorm:"index:idx_executions_due,priority:2"`
	// Nudges counts the wake-ups from deliveries and clicks. A step that started before a nudge
	// must not park the execution past it: its commit sees the count changed and keeps it due.
	Nudges     int `gorm:"not null"`
	TimeoutAt  *time.Time
	LeaseOwner string     `gorm:"size:64;not null"`
	LeaseUntil *time.Time `gorm:"index"`
	// Failures counts the steps in a row that failed unexpectedly (the database was away).
	Failures   int       `gorm:"not null"`
	CreatedAt  time.Time `gorm:"index:idx_executions_workflow_created,priority:2;index:idx_executions_status_created,priority:2;index"`
	StartedAt  *time.Time
	FinishedAt *time.Time
	UpdatedAt  time.Time
}

// Job is one node's run within an execution: created when the runner reaches the node, pending
// while it waits (a delay, a delivery, a card click), then final with its result.
type Job struct {
	ID          uint64 `gorm:"primaryKey"`
	ExecutionID string `gorm:"size:26;not null;uniqueIndex:idx_jobs_node,priority:1"`
	NodeKey     string `gorm:"size:64;not null;uniqueIndex:idx_jobs_node,priority:2"`
	Type        string `gorm:"size:32;not null"`
	Status      string `gorm:"size:16;not null"`
	// Result is the job's $jobs.<key> value (JSON).
	Result string `gorm:"type:mediumtext;not null"`
	Error  string `gorm:"type:text;not null"`
	// MessageID is the message a notification node sent.
	MessageID *string `gorm:"size:26;index"`
	// WaitUntil is the end of a delay, or when a card response wait times out.
	WaitUntil  *time.Time
	StartedAt  time.Time
	FinishedAt *time.Time
}
