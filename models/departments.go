package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// DepartmentFields says which fields of a DepartmentUpdate are known.
type DepartmentFields uint8

// The fields of a department a WeCom answer or event may carry.
const (
	DepartmentName DepartmentFields = 1 << iota
	DepartmentParent
	DepartmentOrder
	DepartmentAll = DepartmentName | DepartmentParent | DepartmentOrder
)

// DepartmentUpdate is what WeCom says about one department.
type DepartmentUpdate struct {
	ID       int64
	ParentID int64
	Name     string
	Order    int64
	Fields   DepartmentFields
}

func (d DepartmentUpdate) apply(row *Department) {
	if d.Fields&DepartmentName != 0 && d.Name != "" {
		row.Name = d.Name
	}
	if d.Fields&DepartmentParent != 0 {
		row.ParentID = d.ParentID
	}
	if d.Fields&DepartmentOrder != 0 {
		row.Order = d.Order
	}
}

// DepartmentSyncResult counts what SyncDepartments did.
type DepartmentSyncResult struct{ Created, Updated, Deleted int }

// SyncDepartments writes the complete department list of an authenticator: new and changed
// departments are written, unchanged ones are not, and live departments missing from the list
// are marked deleted — unless written since before (a change event during the sync).
func (s *Store) SyncDepartments(ctx context.Context, authenticatorID uint64, depts []DepartmentUpdate, before time.Time) (DepartmentSyncResult, error) {
	var res DepartmentSyncResult
	err := s.retryDeadlock(ctx, func(tx *gorm.DB) error {
		res = DepartmentSyncResult{}
		now := s.Now()
		var stored []Department
		if err := lockForUpdate(tx, s.Dialect).Where("authenticator_id = ?", authenticatorID).Order("dept_id").Find(&stored).Error; err != nil {
			return fmt.Errorf("store: unable to read departments: %w", err)
		}
		byID := make(map[int64]*Department, len(stored))
		for i := range stored {
			byID[stored[i].DeptID] = &stored[i]
		}
		seen := make(map[int64]bool, len(depts))
		var write []Department
		for _, d := range depts {
			if seen[d.ID] {
				continue
			}
			seen[d.ID] = true
			old := byID[d.ID]
			row := Department{AuthenticatorID: authenticatorID, DeptID: d.ID}
			if old != nil {
				row = *old
			}
			d.apply(&row)
			row.Deleted = false
			if old != nil && sameDepartment(*old, row) {
				continue
			}
			row.UpdatedAt = now
			write = append(write, row)
			if old == nil {
				res.Created++
			} else {
				res.Updated++
			}
		}
		if err := s.upsertDepartments(tx, write); err != nil {
			return err
		}
		var gone []int64
		for _, d := range stored {
			if !seen[d.DeptID] && !d.Deleted && d.UpdatedAt.Before(before) {
				gone = append(gone, d.DeptID)
			}
		}
		for start := 0; start < len(gone); start += upsertBatch {
			chunk := gone[start:min(start+upsertBatch, len(gone))]
			r := tx.Model(&Department{}).Where("authenticator_id = ? AND dept_id IN ?", authenticatorID, chunk).
				Updates(map[string]any{"deleted": true, "updated_at": now})
			if r.Error != nil {
				return fmt.Errorf("store: unable to mark departments deleted: %w", r.Error)
			}
			res.Deleted += int(r.RowsAffected)
		}
		return nil
	})
	return res, err
}

func sameDepartment(a, b Department) bool {
	return a.ParentID == b.ParentID && a.Name == b.Name && a.Order == b.Order && a.Deleted == b.Deleted
}

func (s *Store) upsertDepartments(tx *gorm.DB, rows []Department) error {
	if len(rows) == 0 {
		return nil
	}
	err := tx.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "authenticator_id"}, {Name: "dept_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"parent_id", "name", "sort_order", "deleted", "updated_at"}),
	}).CreateInBatches(&rows, s.rowsPerInsert(7)).Error
	if err != nil {
		return fmt.Errorf("store: unable to write departments: %w", err)
	}
	return nil
}

// UpsertDepartment writes the known fields of one department (create_party, update_party) and
// reports whether anything changed.
func (s *Store) UpsertDepartment(ctx context.Context, authenticatorID uint64, d DepartmentUpdate) (bool, error) {
	changed := false
	err := s.retryDeadlock(ctx, func(tx *gorm.DB) error {
		changed = false
		var rows []Department
		if err := lockForUpdate(tx, s.Dialect).Where("authenticator_id = ? AND dept_id = ?", authenticatorID, d.ID).Find(&rows).Error; err != nil {
			return fmt.Errorf("store: unable to read department: %w", err)
		}
		row := Department{AuthenticatorID: authenticatorID, DeptID: d.ID}
		if len(rows) == 1 {
			row = rows[0]
		}
		d.apply(&row)
		row.Deleted = false
		if len(rows) == 1 && sameDepartment(rows[0], row) {
			return nil
		}
		changed = true
		row.UpdatedAt = s.Now()
		return s.upsertDepartments(tx, []Department{row})
	})
	return changed, err
}

// MarkDepartmentDeleted marks one department deleted (delete_party).
func (s *Store) MarkDepartmentDeleted(ctx context.Context, authenticatorID uint64, id int64) error {
	return s.markDeleted(ctx, &Department{}, "dept_id", authenticatorID, id, "department")
}

// ListDepartments pages through departments, by authenticator and department id.
func (s *Store) ListDepartments(ctx context.Context, f DirectoryFilter, p Page) ([]Department, int64, error) {
	q := s.Read.WithContext(ctx).Model(&Department{})
	if f.AuthenticatorID != 0 {
		q = q.Where("authenticator_id = ?", f.AuthenticatorID)
	}
	if f.DepartmentID != 0 {
		q = q.Where("parent_id = ?", f.DepartmentID)
	}
	if f.Deleted != nil {
		q = q.Where("deleted = ?", *f.Deleted)
	}
	q = nameScope(ListFilter{Q: f.Q}, "name")(q)
	return pageOf[Department](q, "departments", p, "authenticator_id, dept_id")
}
