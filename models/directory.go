package models

import (
	"context"
	"fmt"
	"time"
)

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
	Departments    string `gorm:"type:text;not null"`
	MainDepartment int64  `gorm:"not null"`
	Position       string `gorm:"size:255;not null"`
	Mobile         string `gorm:"size:64;not null"`
	Email          string `gorm:"size:255;not null"`
	Status         int    `gorm:"not null"`
	// LeaderOf is the JSON list of the member's departments it leads (WeCom's is_leader_in_dept),
	// always a subset of Departments.
	LeaderOf string  `gorm:"size:1024;not null;default:'[]'"`
	Deleted  bool    `gorm:"not null;index"`
	UserID   *uint64 `gorm:"index"`
	// SyncMark is the id of the full sync task that last saw the member; one that did not see it
	// after completing marks it deleted.
	SyncMark  uint64 `gorm:"not null"`
	UpdatedAt time.Time
}

// DirectoryFilter narrows the directory lists.
type DirectoryFilter struct {
	AuthenticatorID uint64
	// DepartmentID: for departments, its direct sub-departments; for members, its direct members.
	DepartmentID int64
	// Q matches names (and member userids) case-insensitively and literally.
	Q string
	// Deleted, when set, keeps only deleted (true) or live (false) entries.
	Deleted *bool
}

// markDeleted marks the live row of model whose keyColumn is key deleted; what names it in the
// error.
func (s *Store) markDeleted(ctx context.Context, model any, keyColumn string, authenticatorID uint64, key any, what string) error {
	err := s.DB.WithContext(ctx).Model(model).
		Where("authenticator_id = ? AND "+keyColumn+" = ? AND deleted = ?", authenticatorID, key, false).
		Updates(map[string]any{"deleted": true, "updated_at": s.Now()}).Error
	if err != nil {
		return fmt.Errorf("store: unable to mark %s deleted: %w", what, err)
	}
	return nil
}
