package models

import "time"

// Department is a WeCom department as last seen, per authenticator.
type Department struct {
	AuthenticatorID uint64 `gorm:"primaryKey;autoIncrement:false"`
	DeptID          int64  `gorm:"primaryKey;autoIncrement:false"`
	ParentID        int64  `gorm:"not null;index"`
	Name            string `gorm:"size:255;not null"`
	Order           int64  `gorm:"column:sort_order;not null"`
	Deleted         bool   `gorm:"not null;index:idx_departments_deleted"`
	UpdatedAt       time.Time
}

// Member is a WeCom member as last seen, per authenticator. Members absent from a complete pull
// are marked Deleted, not erased. UserID links the local user (users.id) the member maps to.
type Member struct {
	AuthenticatorID uint64 `gorm:"primaryKey;autoIncrement:false"`
	WeComUserID     string `gorm:"column:wecom_userid;primaryKey;size:64"`
	Name            string `gorm:"size:255;not null"`
	// Departments is the JSON list of department ids.
	Departments    string  `gorm:"type:text;not null"`
	MainDepartment int64   `gorm:"not null"`
	Position       string  `gorm:"size:255;not null"`
	Mobile         string  `gorm:"size:64;not null"`
	Email          string  `gorm:"size:255;not null"`
	Status         int     `gorm:"not null"`
	Deleted        bool    `gorm:"not null;index"`
	UserID         *uint64 `gorm:"index"`
	// SyncMark is the id of the full sync task that last saw the member; one that did not see it
	// after completing marks it deleted.
	SyncMark  uint64 `gorm:"not null"`
	UpdatedAt time.Time
}

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
