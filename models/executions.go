package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

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

// CreateExecution stores a new execution; concurrent triggers share commits. With a DedupKey that
// the workflow already has, nothing is stored and ErrDuplicate is returned.
func (s *Store) CreateExecution(ctx context.Context, e *Execution) error {
	return s.executions.do(ctx, e, func(ctx context.Context, batch []*Execution) []error {
		return inBatchOrEach(ctx, s, batch, func(tx *gorm.DB, es []*Execution) error {
			if err := tx.CreateInBatches(es, 100).Error; err != nil {
				return fmt.Errorf("store: unable to store execution: %w", duplicate(err))
			}
			return nil
		})
	})
}

// LastTick is the latest schedule tick that started an execution of the workflow (dedup keys
// "tick:<RFC 3339 UTC>" sort as their times do); false when none did.
func (s *Store) LastTick(ctx context.Context, workflowID uint64) (time.Time, bool, error) {
	var key *string
	err := s.Read.WithContext(ctx).Model(&Execution{}).Select("MAX(dedup_key)").
		Where("workflow_id = ? AND dedup_key LIKE ?", workflowID, "tick:%").Scan(&key).Error
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: unable to read the last tick: %w", err)
	}
	if key == nil {
		return time.Time{}, false, nil
	}
	t, err := time.Parse(time.RFC3339, (*key)[len("tick:"):])
	return t, err == nil, nil
}

// ClaimExecutions leases up to limit executions that are due: queued ones, waiting ones whose
// wake time has come, and ones whose runner's lease lapsed. Queued ones become running.
func (s *Store) ClaimExecutions(ctx context.Context, owner string, lease time.Duration, limit int) ([]Execution, error) {
	now := s.Now()
	var out []Execution
	err := s.retryDeadlock(ctx, func(tx *gorm.DB) error {
		due := "status = ? AND wake_at <= ? AND (lease_until IS NULL OR lease_until < ?)"
		// Running ones first (a lapsed runner's), then waiting ones (woken by what they waited for),
		// then new ones: work under way finishes before more starts.
		ids, err := dueIDs[string](tx, s.Dialect, &Execution{}, "wake_at", limit,
			where(due, ExecutionRunning, now, now), where(due, ExecutionWaiting, now, now), where(due, ExecutionQueued, now, now))
		if err != nil {
			return fmt.Errorf("store: unable to find due executions: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		if err := tx.Model(&Execution{}).Where("id IN ?", ids).Updates(map[string]any{
			"lease_owner": owner, "lease_until": now.Add(lease), "updated_at": now,
			"status":     gorm.Expr("CASE WHEN status = ? THEN ? ELSE status END", ExecutionQueued, ExecutionRunning),
			"started_at": gorm.Expr("COALESCE(started_at, ?)", now),
		}).Error; err != nil {
			return fmt.Errorf("store: unable to claim executions: %w", err)
		}
		return tx.Where("id IN ?", ids).Find(&out).Error
	})
	return out, err
}

// JobsOf reads the jobs of executions, in the order they were created.
func (s *Store) JobsOf(ctx context.Context, executionIDs ...string) ([]Job, error) {
	var out []Job
	if err := s.Read.WithContext(ctx).Where("execution_id IN ?", executionIDs).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("store: unable to read jobs: %w", err)
	}
	return out, nil
}

// Step is what one runner step changes: the execution's columns, jobs started or finished, and
// the messages notification nodes send. It is written atomically, only while the runner still
// holds the lease, so a node's message exists exactly when its job does.
type Step struct {
	ExecutionID string
	Owner       string
	// Nudges is the execution's nudge count when it was claimed.
	Nudges int
	// Execution are the execution's new column values; the lease is always released.
	Execution map[string]any
	NewJobs   []*Job
	// Finished jobs are updated by id: status, result, error, wait_until, finished_at.
	Finished []*Job
	Messages []MessageWithRequests
}

// MessageWithRequests is a message to store with its requests.
type MessageWithRequests struct {
	Message  *Message
	Requests []MessageRequest
	// Reminder, on a card that reminds who has not clicked, is stored with it.
	Reminder *Reminder
}

// CommitSteps writes runner steps in one transaction, or each in its own when that fails, and
// returns one error per step: ErrInUse when its owner no longer holds the execution (the lease
// lapsed and another runner took it, or it was canceled).
func (s *Store) CommitSteps(ctx context.Context, steps []*Step) []error {
	return inBatchOrEach(ctx, s, steps, s.writeSteps)
}

func (s *Store) writeSteps(tx *gorm.DB, steps []*Step) error {
	var msgs []acceptJob
	var reminders []*Reminder
	for _, st := range steps {
		u := st.Execution
		u["lease_owner"], u["lease_until"], u["updated_at"], u["failures"] = "", nil, s.Now(), 0
		if wake, ok := u["wake_at"].(time.Time); ok {
			// Nudged during the step (a delivery or a click it may not have seen): due now.
			u["wake_at"] = gorm.Expr("CASE WHEN nudges = ? THEN ? ELSE ? END", st.Nudges, wake, s.Now())
		}
		res := tx.Model(&Execution{}).Where("id = ? AND lease_owner = ?", st.ExecutionID, st.Owner).Updates(u)
		if res.Error != nil {
			return fmt.Errorf("store: unable to update execution: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("store: execution %s: lease lost: %w", st.ExecutionID, ErrInUse)
		}
		// A step that ends the execution is the only one that sets a final status.
		if err := s.emit(tx, executionEvent(st.ExecutionID, u["status"])...); err != nil {
			return err
		}
		for _, j := range st.Finished {
			if err := tx.Model(&Job{}).Where("id = ?", j.ID).
				Select("status", "result", "error", "wait_until", "finished_at").Updates(j).Error; err != nil {
				return fmt.Errorf("store: unable to update job: %w", err)
			}
		}
		for _, m := range st.Messages {
			msgs = append(msgs, acceptJob{m: m.Message, reqs: m.Requests})
			if m.Reminder != nil {
				m.Reminder.ID = 0 // a rolled-back batch may have left an id behind
				reminders = append(reminders, m.Reminder)
			}
		}
	}
	var jobs []*Job
	for _, st := range steps {
		for _, j := range st.NewJobs {
			j.ID = 0 // a rolled-back batch may have left ids behind
			jobs = append(jobs, j)
		}
	}
	if len(jobs) > 0 {
		if err := tx.CreateInBatches(jobs, 100).Error; err != nil {
			return fmt.Errorf("store: unable to store jobs: %w", err)
		}
	}
	if len(reminders) > 0 {
		if err := tx.Create(reminders).Error; err != nil {
			return fmt.Errorf("store: unable to store reminders: %w", err)
		}
	}
	if len(msgs) > 0 {
		return s.insertMessageRows(tx, msgs)
	}
	return nil
}

// ReleaseExecution gives an execution back after a step failed unexpectedly: it is looked at
// again at retryAt.
func (s *Store) ReleaseExecution(ctx context.Context, owner, id string, retryAt time.Time, errText string) error {
	return s.DB.WithContext(ctx).Model(&Execution{}).Where("id = ? AND lease_owner = ?", id, owner).
		Updates(map[string]any{"lease_owner": "", "lease_until": nil, "wake_at": retryAt, "error": errText,
			"failures": gorm.Expr("failures + 1"), "updated_at": s.Now()}).Error
}

// CancelExecution stops an unfinished execution and its pending jobs (ErrWrongState otherwise).
// A runner mid-step loses its lease and its step is not written.
func (s *Store) CancelExecution(ctx context.Context, id string) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var e Execution
		if err := lockForUpdate(tx, s.Dialect).Select("id", "status").Where("id = ?", id).Take(&e).Error; err != nil {
			return fmt.Errorf("store: unable to cancel execution: %w", notFound(err))
		}
		if IsFinalExecution(e.Status) {
			return fmt.Errorf("store: execution is %s: %w", e.Status, ErrWrongState)
		}
		return finishExecution(tx, s.Now(), id, ExecutionCanceled, JobCanceled, "canceled")
	})
}

// finishExecution ends an execution with status and its pending jobs with jobStatus.
func finishExecution(tx *gorm.DB, now time.Time, id, status, jobStatus, jobError string) error {
	if err := tx.Model(&Job{}).Where("execution_id = ? AND status = ?", id, JobPending).
		Updates(map[string]any{"status": jobStatus, "error": jobError, "finished_at": now}).Error; err != nil {
		return fmt.Errorf("store: unable to finish jobs: %w", err)
	}
	return tx.Model(&Execution{}).Where("id = ?", id).Updates(map[string]any{"status": status, "wake_at": nil,
		"lease_owner": "", "lease_until": nil, "finished_at": now, "updated_at": now}).Error
}

// IsFinalExecution reports whether an execution status is final.
func IsFinalExecution(status string) bool {
	switch status {
	case ExecutionQueued, ExecutionRunning, ExecutionWaiting:
		return false
	}
	return true
}

// GetExecution reads one execution.
func (s *Store) GetExecution(ctx context.Context, id string) (*Execution, error) {
	return get[Execution](ctx, s.Read, "execution", "id = ?", id)
}

// ExecutionByDedup reads the execution of workflowID that took dedup.
func (s *Store) ExecutionByDedup(ctx context.Context, workflowID uint64, dedup string) (*Execution, error) {
	return get[Execution](ctx, s.DB, "execution", "workflow_id = ? AND dedup_key = ?", workflowID, dedup)
}

// ExecutionFilter narrows the execution list.
type ExecutionFilter struct {
	WorkflowID uint64
	Status     string
}

// ListExecutions pages through executions, newest first.
func (s *Store) ListExecutions(ctx context.Context, f ExecutionFilter, p Page) ([]Execution, int64, error) {
	q := s.Read.WithContext(ctx).Model(&Execution{})
	if f.WorkflowID != 0 {
		q = q.Where("workflow_id = ?", f.WorkflowID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("store: unable to count executions: %w", err)
	}
	var items []Execution
	if err := q.Order("created_at DESC, id DESC").Offset(p.offset()).Limit(p.Size).Find(&items).Error; err != nil {
		return nil, 0, fmt.Errorf("store: unable to list executions: %w", err)
	}
	return items, total, nil
}

// ExecutionJobs reads an execution's jobs in order.
func (s *Store) ExecutionJobs(ctx context.Context, id string) ([]Job, error) {
	var out []Job
	if err := s.Read.WithContext(ctx).Where("execution_id = ?", id).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("store: unable to read jobs: %w", err)
	}
	return out, nil
}
