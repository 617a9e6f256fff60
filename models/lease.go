// Four tables double as durable work queues, and this file holds the mechanics they share: message
// requests (outbox.go), sent by plugin/wecom's Sender; callback events (callbacks.go), processed by
// callback.Processor; workflow executions (executions.go), driven by the runner of workflow.Engine
// (workflow/runner.go); and directory sync tasks (sync_tasks.go), run by plugin/wecom's Syncer. A
// row is leased to one owner (an instance) until an expiry, in its lease_owner and lease_until
// columns. Claim: one transaction selects the due ids and marks them leased to owner until
// now+lease; on MySQL the select is FOR UPDATE SKIP LOCKED, so instances claiming at once pass over
// each other's rows instead of waiting (SQLite has one writer), and a row whose lease lapsed (its
// owner died) is due again. Requests and executions take the lapsed ones first, one query per
// condition (dueIDs); events and sync tasks go oldest first, lapsed ones among them. Renew: work
// that may outlast its lease extends it while it runs: the Sender renews its sends in flight every
// third of the lease (RenewRequests), the Syncer its task with each progress report
// (UpdateSyncTask); an event, or an execution step, is done within one lease. Finish: one write
// records the outcome and clears the lease (RecordOutcomes, FinishEvents, CommitSteps,
// FinishSyncTask), only where lease_owner is still owner, so a worker whose lease lapsed and was
// taken over writes nothing and is told so. Release: work given back unfinished has its lease
// cleared and waits to be claimed again: a sync task interrupted by shutdown (ReleaseSyncTask), an
// execution whose step failed unexpectedly (ReleaseExecution); the sends, events and steps in hand
// at shutdown are finished instead. nudge makes unfinished executions due at once when what they
// wait for happens. The leader role (leader.go) is the same lease on one row per role, in owner and
// expires_at: TryLead takes it over when the lease lapsed or renews it, Resign releases it.

package models

import (
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

var forUpdate = clause.Locking{Strength: "UPDATE"}

// lockForUpdate adds FOR UPDATE on MySQL; SQLite's single writer already serializes.
func lockForUpdate(tx *gorm.DB, dialect string) *gorm.DB {
	if dialect == DialectMySQL {
		return tx.Clauses(forUpdate)
	}
	return tx
}

// skipLocked adds FOR UPDATE SKIP LOCKED on MySQL, so concurrent claims pass over each other's rows
// instead of waiting; SQLite has one writer.
func skipLocked(q *gorm.DB, dialect string) *gorm.DB {
	if dialect == DialectMySQL {
		return q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
	}
	return q
}

// cond is one WHERE condition with its arguments.
type cond struct {
	query string
	args  []any
}

func where(query string, args ...any) cond { return cond{query, args} }

// dueIDs locks the ids of up to limit rows of model that are due, taking the conditions in turn
// (each an equality on the first column of an index ordered by order). One query per condition
// lets the database read and lock only the rows it returns: one query over an IN list or an OR
// sorts the whole due backlog and locks all of it, and other instances then find nothing to claim.
func dueIDs[ID any](tx *gorm.DB, dialect string, model any, order string, limit int, conds ...cond) ([]ID, error) {
	var ids []ID
	for _, c := range conds {
		var some []ID
		q := tx.Model(model).Select("id").Where(c.query, c.args...).Order(order).Limit(limit - len(ids))
		if err := skipLocked(q, dialect).Pluck("id", &some).Error; err != nil {
			return nil, err
		}
		if ids = append(ids, some...); len(ids) == limit {
			break
		}
	}
	return ids, nil
}

// wakeExecution makes an unfinished execution due now: its message reached a final status, or its
// card was clicked.
func (s *Store) wakeExecution(tx *gorm.DB, executionID *string) error {
	if executionID == nil || *executionID == "" {
		return nil
	}
	return s.nudge(tx, "id = ?", *executionID)
}

// nudge wakes the unfinished executions matching the condition.
func (s *Store) nudge(tx *gorm.DB, cond string, args ...any) error {
	err := tx.Model(&Execution{}).Where("status IN ?", []string{ExecutionQueued, ExecutionRunning, ExecutionWaiting}).Where(cond, args...).
		Updates(map[string]any{"wake_at": s.Now(), "nudges": gorm.Expr("nudges + 1")}).Error
	if err != nil {
		return fmt.Errorf("store: unable to wake execution: %w", err)
	}
	return nil
}
