package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// RetentionBatch is how many rows one retention transaction picks at most (their children go with
// them): small enough that no statement holds InnoDB locks for long, so senders, runners and
// processors never queue behind a cleanup.
const RetentionBatch = 500

// finalMessageStatuses are the statuses a message never leaves on its own.
var finalMessageStatuses = []string{MessageSent, MessagePartial, MessageFailed, MessageCanceled}

// unfinishedExecutionStatuses are the statuses of an execution that may still run a step.
var unfinishedExecutionStatuses = []string{ExecutionQueued, ExecutionRunning, ExecutionWaiting}

// finalExecutionStatuses are the others.
var finalExecutionStatuses = []string{ExecutionResolved, ExecutionFailed, ExecutionError, ExecutionAborted, ExecutionCanceled}

// DeleteFinished removes the finished data created before before, and the web sessions that have
// expired, and returns the rows it removed by table:
//
//   - messages in a final status (sent, partial, failed, canceled), with their message_requests and
//     card_responses — but not a message of an unfinished execution, which a waiting job may read;
//   - callback_events processed or failed for good;
//   - executions in a final status, with their jobs, their digest items and the digest windows they opened;
//   - sync_tasks that succeeded or failed;
//   - hook_events delivered or given up, with their hook_attempts (the delivery log);
//   - mass messages no longer refreshed (finished, canceled or past their refresh window), with
//     their members;
//   - audit entries;
//   - sessions and sign-in states past their expiry, and the presence rows (leaders) of instances that stopped
//     renewing them;
//   - cached lookups by mobile or email past their expiry, and the failed-lookup counts of past days.
//
// Nothing unfinished is touched. It works in transactions of at most batch rows of a table
// (RetentionBatch when batch <= 0), repeated until a batch comes back short, so it never holds many
// locks at once. On MySQL a batch skips the rows another transaction holds; they go next time.
func (s *Store) DeleteFinished(ctx context.Context, before time.Time, batch int) (map[string]int64, error) {
	if batch <= 0 {
		batch = RetentionBatch
	}
	removed := map[string]int64{}
	steps := []struct {
		what string
		run  func(ctx context.Context, before time.Time, batch int, removed map[string]int64) error
	}{
		{"messages", s.deleteMessages},
		{"callback events", s.deleteEvents},
		{"executions", s.deleteExecutions},
		{"sync tasks", s.deleteSyncTasks},
		{"hook events", s.deleteHookEvents},
		{"mass messages", s.deleteMassMessages},
		{"sessions", s.deleteSessions},
		{"sign-in states", s.deleteSignInStates},
		{"audit entries", s.deleteAudit},
		{"instance presences", s.deleteLapsedPresences},
		{"lookups", s.deleteExpiredLookups},
	}
	for _, st := range steps {
		if err := st.run(ctx, before, batch, removed); err != nil {
			return removed, fmt.Errorf("store: unable to delete old %s: %w", st.what, err)
		}
	}
	return removed, nil
}

func (s *Store) deleteMessages(ctx context.Context, before time.Time, batch int, removed map[string]int64) error {
	return deleteInBatches(ctx, s, batch, removed, func(tx *gorm.DB) *gorm.DB {
		return tx.Model(&Message{}).Where("status IN ? AND created_at < ?", finalMessageStatuses, before).
			Where("(execution_id IS NULL OR NOT EXISTS (SELECT 1 FROM executions WHERE executions.id = messages.execution_id AND executions.status IN ?))",
				unfinishedExecutionStatuses)
	}, func(tx *gorm.DB, ids []string, n map[string]int64) error {
		return deleteEach(tx, n,
			deletion{"card_responses", &CardResponse{}, "message_id IN ?", ids},
			deletion{"message_requests", &MessageRequest{}, "message_id IN ?", ids},
			deletion{"messages", &Message{}, "id IN ?", ids})
	})
}

func (s *Store) deleteEvents(ctx context.Context, before time.Time, batch int, removed map[string]int64) error {
	return deleteInBatches(ctx, s, batch, removed, func(tx *gorm.DB) *gorm.DB {
		return tx.Model(&CallbackEvent{}).Where("status IN ? AND created_at < ?", []string{EventProcessed, EventFailed}, before)
	}, func(tx *gorm.DB, ids []uint64, n map[string]int64) error {
		return deleteEach(tx, n, deletion{"callback_events", &CallbackEvent{}, "id IN ?", ids})
	})
}

func (s *Store) deleteExecutions(ctx context.Context, before time.Time, batch int, removed map[string]int64) error {
	return deleteInBatches(ctx, s, batch, removed, func(tx *gorm.DB) *gorm.DB {
		return tx.Model(&Execution{}).Where("status IN ? AND created_at < ?", finalExecutionStatuses, before)
	}, func(tx *gorm.DB, ids []string, n map[string]int64) error {
		return deleteEach(tx, n,
			deletion{"jobs", &Job{}, "execution_id IN ?", ids},
			deletion{"digest_items", &DigestItem{}, "execution_id IN ?", ids},
			deletion{"digest_windows", &DigestWindow{}, "execution_id IN ?", ids},
			deletion{"executions", &Execution{}, "id IN ?", ids})
	})
}

func (s *Store) deleteSyncTasks(ctx context.Context, before time.Time, batch int, removed map[string]int64) error {
	return deleteInBatches(ctx, s, batch, removed, func(tx *gorm.DB) *gorm.DB {
		return tx.Model(&SyncTask{}).Where("status IN ? AND created_at < ?", []string{SyncSuccess, SyncFailed}, before)
	}, func(tx *gorm.DB, ids []uint64, n map[string]int64) error {
		return deleteEach(tx, n, deletion{"sync_tasks", &SyncTask{}, "id IN ?", ids})
	})
}

// deleteHookEvents removes events that will not be posted again, by when they happened, with their
// attempts: a pending event is still due (its order in its subject's queue counts only unfinished
// events, so the later ones never wait for a deleted one).
func (s *Store) deleteHookEvents(ctx context.Context, before time.Time, batch int, removed map[string]int64) error {
	return deleteInBatches(ctx, s, batch, removed, func(tx *gorm.DB) *gorm.DB {
		return tx.Model(&HookEvent{}).Where("status IN ? AND at < ?", []string{HookDelivered, HookFailed}, before)
	}, func(tx *gorm.DB, ids []uint64, n map[string]int64) error {
		return deleteEach(tx, n,
			deletion{"hook_attempts", &HookAttempt{}, "hook_event_id IN ?", ids},
			deletion{"hook_events", &HookEvent{}, "id IN ?", ids})
	})
}

// deleteSessions removes expired sessions whatever before says: an expired session opens nothing.
func (s *Store) deleteSessions(ctx context.Context, _ time.Time, batch int, removed map[string]int64) error {
	now := s.Now()
	return deleteInBatches(ctx, s, batch, removed, func(tx *gorm.DB) *gorm.DB {
		return tx.Model(&Session{}).Where("expires_at <= ?", now)
	}, func(tx *gorm.DB, ids []string, n map[string]int64) error {
		return deleteEach(tx, n, deletion{"sessions", &Session{}, "id IN ?", ids})
	})
}

// deleteSignInStates removes sign-ins that were started and never finished.
func (s *Store) deleteSignInStates(ctx context.Context, _ time.Time, batch int, removed map[string]int64) error {
	now := s.Now()
	return deleteInBatches(ctx, s, batch, removed, func(tx *gorm.DB) *gorm.DB {
		return tx.Model(&SignInState{}).Where("expires_at <= ?", now)
	}, func(tx *gorm.DB, ids []string, n map[string]int64) error {
		return deleteEach(tx, n, deletion{"sign_in_states", &SignInState{}, "id IN ?", ids})
	})
}

// deleteAudit removes audit entries older than before: the log is kept exactly as long as
// messages are (SPEC §8.5: at least as long).
func (s *Store) deleteAudit(ctx context.Context, before time.Time, batch int, removed map[string]int64) error {
	return deleteInBatches(ctx, s, batch, removed, func(tx *gorm.DB) *gorm.DB {
		return tx.Model(&AuditEntry{}).Where("at < ?", before)
	}, func(tx *gorm.DB, ids []uint64, n map[string]int64) error {
		return deleteEach(tx, n, deletion{"audit_entries", &AuditEntry{}, "id IN ?", ids})
	})
}

// deleteLapsedPresences removes the presence rows whose lease lapsed: instances that were killed
// leave theirs behind. An instance that merely missed a renewal writes its row again with the next.
func (s *Store) deleteLapsedPresences(ctx context.Context, _ time.Time, _ int, removed map[string]int64) error {
	res := s.DB.WithContext(ctx).Where("name LIKE ? AND expires_at < ?", presencePrefix+"%", s.Now()).Delete(&Leader{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected > 0 {
		removed["leaders"] += res.RowsAffected
	}
	return nil
}

// deleteInBatches runs transactions until one picks fewer than limit rows: each locks up to limit
// ids that pick selects (on MySQL skipping rows other transactions hold, so it never waits on a
// sender or a runner) and hands them to drop, which deletes them and their children and counts
// the rows by table. The counts of a transaction retried after a deadlock are counted once.
func deleteInBatches[ID any](ctx context.Context, s *Store, limit int, removed map[string]int64,
	pick func(tx *gorm.DB) *gorm.DB, drop func(tx *gorm.DB, ids []ID, n map[string]int64) error) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var picked int
		var n map[string]int64
		err := s.retryDeadlock(ctx, func(tx *gorm.DB) error {
			var ids []ID
			q := pick(tx).Select("id").Limit(limit)
			q = skipLocked(q, s.Dialect)
			if err := q.Pluck("id", &ids).Error; err != nil {
				return err
			}
			picked, n = len(ids), map[string]int64{}
			if len(ids) == 0 {
				return nil
			}
			return drop(tx, ids, n)
		})
		if err != nil {
			return err
		}
		for table, rows := range n {
			removed[table] += rows
		}
		if picked < limit {
			return nil
		}
	}
}

// deletion is one DELETE of a retention batch: the rows of model matching cond, counted under table.
type deletion struct {
	table string
	model any
	cond  string
	ids   any
}

func deleteEach(tx *gorm.DB, n map[string]int64, ds ...deletion) error {
	for _, d := range ds {
		res := tx.Where(d.cond, d.ids).Delete(d.model)
		if res.Error != nil {
			return fmt.Errorf("%s: %w", d.table, res.Error)
		}
		n[d.table] += res.RowsAffected
	}
	return nil
}
