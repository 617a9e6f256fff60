package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Sync task statuses (SPEC §3.1).
const (
	SyncInit       = "init"
	SyncProcessing = "processing"
	SyncSuccess    = "success"
	SyncFailed     = "failed"
)

// SyncTask is one full directory sync of an authenticator, run by one instance under a lease,
// with counts and progress updated while it runs.
type SyncTask struct {
	ID              uint64 `gorm:"primaryKey"`
	AuthenticatorID uint64 `gorm:"not null;index"`
	Status          string `gorm:"size:16;not null;index"`
	Trigger         string `gorm:"size:16;not null"`
	Departments     int    `gorm:"not null"`
	Members         int    `gorm:"not null"`
	Created         int    `gorm:"not null"`
	Updated         int    `gorm:"not null"`
	Deleted         int    `gorm:"not null"`
	Linked          int    `gorm:"not null"`
	// Progress is the share of departments done, 0–100.
	Progress   int        `gorm:"not null"`
	CostMs     int64      `gorm:"not null"`
	Message    string     `gorm:"type:text;not null"`
	Attempts   int        `gorm:"not null"`
	LeaseOwner string     `gorm:"size:64;not null"`
	LeaseUntil *time.Time `gorm:"index"`
	StartedAt  *time.Time
	FinishedAt *time.Time
	CreatedAt  time.Time `gorm:"index:idx_sync_tasks_created"`
	UpdatedAt  time.Time
}

// Directory errors callers branch on.
var (
	// ErrSyncActive is a sync task that cannot be created or retried because the authenticator
	// already has one queued or running (returned with that task), or because a schedule tick
	// already created one.
	ErrSyncActive = errors.New("a directory sync of this authenticator is already queued or running")
	// ErrSyncLeaseLost is a sync task another instance took over after this one's lease lapsed.
	ErrSyncLeaseLost = errors.New("the sync task's lease was taken over by another instance")
)

// activeSyncStatuses are the statuses of a task that is queued or running.
var activeSyncStatuses = []string{SyncInit, SyncProcessing}

// CreateSyncTask queues a full directory sync of an authenticator. When one is already queued or
// running it returns that task with ErrSyncActive. A non-zero since makes a task created at or
// after since count as well (a schedule tick that another instance already took). An unknown
// authenticator is ErrNotFound.
func (s *Store) CreateSyncTask(ctx context.Context, authenticatorID uint64, trigger string, since time.Time) (*SyncTask, error) {
	var out *SyncTask
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// The authenticator's row serializes creators (SQLite's single writer already does).
		var a Authenticator
		if err := lockForUpdate(tx, s.Dialect).Select("id").Where("id = ?", authenticatorID).Take(&a).Error; err != nil {
			return fmt.Errorf("store: unable to create sync task: authenticator %d: %w", authenticatorID, notFound(err))
		}
		var active []SyncTask
		q := tx.Where("authenticator_id = ? AND status IN ?", authenticatorID, activeSyncStatuses)
		if !since.IsZero() {
			q = tx.Where("authenticator_id = ? AND (status IN ? OR created_at >= ?)", authenticatorID, activeSyncStatuses, since)
		}
		if err := q.Order("id DESC").Limit(1).Find(&active).Error; err != nil {
			return fmt.Errorf("store: unable to read sync tasks: %w", err)
		}
		if len(active) > 0 {
			out = &active[0]
			return ErrSyncActive
		}
		t := &SyncTask{AuthenticatorID: authenticatorID, Status: SyncInit, Trigger: trigger}
		if err := tx.Create(t).Error; err != nil {
			return fmt.Errorf("store: unable to create sync task: %w", err)
		}
		out = t
		return nil
	})
	if err != nil && !errors.Is(err, ErrSyncActive) {
		return nil, err
	}
	return out, err
}

// ClaimSyncTask leases the oldest queued sync task — or one whose instance's lease lapsed — to
// owner until now+lease, marks it processing and starts it afresh (counts reset). nil when there
// is none. On MySQL other instances skip the locked row instead of waiting.
func (s *Store) ClaimSyncTask(ctx context.Context, owner string, lease time.Duration) (*SyncTask, error) {
	now := s.Now()
	var out *SyncTask
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ids []uint64
		q := tx.Model(&SyncTask{}).Select("id").
			Where("status = ? OR (status = ? AND lease_until < ?)", SyncInit, SyncProcessing, now).Order("id").Limit(1)
		q = skipLocked(q, s.Dialect)
		if err := q.Pluck("id", &ids).Error; err != nil {
			return fmt.Errorf("store: unable to find sync tasks: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		// The task's start is read now, not before the lookup: a task queued while the lookup
		// waited for the database must not start before it was queued (the members it marks
		// missing are those not updated since its start).
		start := s.Now()
		if err := tx.Model(&SyncTask{}).Where("id = ?", ids[0]).Updates(map[string]any{
			"status": SyncProcessing, "lease_owner": owner, "lease_until": start.Add(lease), "attempts": gorm.Expr("attempts + 1"),
			"departments": 0, "members": 0, "created": 0, "updated": 0, "deleted": 0, "linked": 0, "progress": 0,
			"cost_ms": 0, "message": "", "started_at": start, "finished_at": nil, "updated_at": start,
		}).Error; err != nil {
			return fmt.Errorf("store: unable to claim sync task: %w", err)
		}
		var t SyncTask
		if err := tx.Where("id = ?", ids[0]).Take(&t).Error; err != nil {
			return fmt.Errorf("store: unable to read claimed sync task: %w", err)
		}
		out = &t
		return nil
	})
	return out, err
}

// syncProgressColumns are what a running task reports.
var syncProgressColumns = []string{"departments", "members", "created", "updated", "deleted", "linked", "progress", "cost_ms", "message"}

// UpdateSyncTask records a running task's counts and progress and extends its lease; a task
// another instance took over is ErrSyncLeaseLost.
func (s *Store) UpdateSyncTask(ctx context.Context, t *SyncTask, owner string, lease time.Duration) error {
	now := s.Now()
	until := now.Add(lease)
	res := s.DB.WithContext(ctx).Model(&SyncTask{}).Where("id = ? AND lease_owner = ? AND status = ?", t.ID, owner, SyncProcessing).
		Select(append(syncProgressColumns, "lease_until", "updated_at")).
		Updates(&SyncTask{Departments: t.Departments, Members: t.Members, Created: t.Created, Updated: t.Updated,
			Deleted: t.Deleted, Linked: t.Linked, Progress: t.Progress, CostMs: t.CostMs, Message: t.Message,
			LeaseUntil: &until, UpdatedAt: now})
	if res.Error != nil {
		return fmt.Errorf("store: unable to update sync task: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("store: sync task %d: %w", t.ID, ErrSyncLeaseLost)
	}
	t.LeaseUntil, t.UpdatedAt = &until, now
	return nil
}

// FinishSyncTask records the end of a task owner holds: t.Status (success or failed), its
// message, counts and cost.
func (s *Store) FinishSyncTask(ctx context.Context, t *SyncTask, owner string) error {
	now := s.Now()
	t.FinishedAt, t.LeaseOwner, t.LeaseUntil, t.UpdatedAt = &now, "", nil, now
	res := s.DB.WithContext(ctx).Model(&SyncTask{}).Where("id = ? AND lease_owner = ? AND status = ?", t.ID, owner, SyncProcessing).
		Select(append(syncProgressColumns, "status", "finished_at", "lease_owner", "lease_until", "updated_at")).Updates(t)
	if res.Error != nil {
		return fmt.Errorf("store: unable to finish sync task: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("store: sync task %d: %w", t.ID, ErrSyncLeaseLost)
	}
	return nil
}

// ReleaseSyncTask puts a task owner holds back in the queue (its instance is shutting down), so
// another instance — or this one after a restart — runs it from the start.
func (s *Store) ReleaseSyncTask(ctx context.Context, id uint64, owner string) error {
	err := s.DB.WithContext(ctx).Model(&SyncTask{}).Where("id = ? AND lease_owner = ? AND status = ?", id, owner, SyncProcessing).
		Updates(map[string]any{"status": SyncInit, "lease_owner": "", "lease_until": nil, "updated_at": s.Now()}).Error
	if err != nil {
		return fmt.Errorf("store: unable to release sync task: %w", err)
	}
	return nil
}

// RetrySyncTask queues a failed task again (failed → init, counts and message cleared). Another
// status is ErrWrongState; another task of the authenticator queued or running is ErrSyncActive
// (returned with that task).
func (s *Store) RetrySyncTask(ctx context.Context, id uint64) (*SyncTask, error) {
	t, err := s.GetSyncTask(ctx, id)
	if err != nil {
		return nil, err
	}
	var out *SyncTask
	err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var a Authenticator
		if err := lockForUpdate(tx, s.Dialect).Select("id").Where("id = ?", t.AuthenticatorID).Take(&a).Error; err != nil {
			return fmt.Errorf("store: unable to retry sync task: authenticator %d: %w", t.AuthenticatorID, notFound(err))
		}
		var cur SyncTask
		if err := lockForUpdate(tx, s.Dialect).Where("id = ?", id).Take(&cur).Error; err != nil {
			return fmt.Errorf("store: unable to retry sync task: %w", notFound(err))
		}
		if cur.Status != SyncFailed {
			out = &cur
			return fmt.Errorf("store: sync task is %s: %w", cur.Status, ErrWrongState)
		}
		var active []SyncTask
		if err := tx.Where("authenticator_id = ? AND status IN ?", cur.AuthenticatorID, activeSyncStatuses).Limit(1).Find(&active).Error; err != nil {
			return fmt.Errorf("store: unable to read sync tasks: %w", err)
		}
		if len(active) > 0 {
			out = &active[0]
			return ErrSyncActive
		}
		now := s.Now()
		if err := tx.Model(&SyncTask{}).Where("id = ?", id).Updates(map[string]any{
			"status": SyncInit, "departments": 0, "members": 0, "created": 0, "updated": 0, "deleted": 0, "linked": 0,
			"progress": 0, "cost_ms": 0, "message": "", "lease_owner": "", "lease_until": nil, "started_at": nil,
			"finished_at": nil, "updated_at": now,
		}).Error; err != nil {
			return fmt.Errorf("store: unable to retry sync task: %w", err)
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	return s.GetSyncTask(ctx, id)
}

// GetSyncTask reads one sync task.
func (s *Store) GetSyncTask(ctx context.Context, id uint64) (*SyncTask, error) {
	return get[SyncTask](ctx, s.Read, "sync task", "id = ?", id)
}

// ListSyncTasks pages through sync tasks, newest first, optionally of one authenticator.
func (s *Store) ListSyncTasks(ctx context.Context, authenticatorID uint64, p Page) ([]SyncTask, int64, error) {
	q := s.Read.WithContext(ctx).Model(&SyncTask{})
	if authenticatorID != 0 {
		q = q.Where("authenticator_id = ?", authenticatorID)
	}
	return pageOf[SyncTask](q, "sync tasks", p, "id DESC")
}
