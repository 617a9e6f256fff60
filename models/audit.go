package models

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"gorm.io/gorm"
)

// AuditEntry is one line of the audit log: who changed what, when, from where. Entries are only
// ever added (and removed by retention).
type AuditEntry struct {
	ID         uint64    `gorm:"primaryKey"`
	At         time.Time `gorm:"not null;index:idx_audit_at"`
	ActorType  string    `gorm:"size:16;not null;index:idx_audit_actor,priority:1"`
	ActorID    uint64    `gorm:"not null;index:idx_audit_actor,priority:2"`
	ActorName  string    `gorm:"size:255;not null"`
	Action     string    `gorm:"size:64;not null;index:idx_audit_action"`
	TargetType string    `gorm:"size:32;not null;index:idx_audit_target"`
	TargetID   uint64    `gorm:"not null"`
	TargetName string    `gorm:"size:255;not null"`
	// Changes is a JSON array of the changed fields' paths (never values).
	Changes string `gorm:"type:text;not null"`
	// Counts is a JSON object of a bulk change's counts ({"created": 3, "updated": 5}), or "".
	Counts    string `gorm:"size:255;not null"`
	IP        string `gorm:"size:64;not null"`
	UserAgent string `gorm:"size:512;not null"`
}

type auditKey struct{}

// WithAudit returns ctx carrying the audit entry of the change about to be made: the store
// method that makes it writes the entry in the change's own transaction (so there is no change
// without its entry, and no entry for a change that rolled back). A zero TargetID is filled with
// the id of what the change created.
func WithAudit(ctx context.Context, e *AuditEntry) context.Context {
	return context.WithValue(ctx, auditKey{}, e)
}

// audited runs change in a transaction and writes the audit entry ctx carries in it; target is
// read after the change, so it may point at the id a create fills.
func (s *Store) audited(ctx context.Context, target *uint64, change func(tx *gorm.DB) error) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := change(tx); err != nil {
			return err
		}
		return writeAudit(ctx, tx, *target, nil)
	})
}

// writeAudit writes the entry ctx carries, if any (the store's own tests make changes without),
// with the counts of a bulk change.
func writeAudit(ctx context.Context, tx *gorm.DB, targetID uint64, counts map[string]int) error {
	e, ok := ctx.Value(auditKey{}).(*AuditEntry)
	if !ok {
		return nil
	}
	if e.TargetID == 0 {
		e.TargetID = targetID
	}
	if counts != nil {
		// The caller may have counted some already (rows it refused before the store saw them).
		all := map[string]int{}
		_ = json.Unmarshal([]byte(e.Counts), &all)
		maps.Copy(all, counts)
		raw, _ := json.Marshal(all)
		e.Counts = string(raw)
	}
	return AddAudit(ctx, tx, e)
}

// AddAudit writes an entry of its own: a sign-in, a sign-out, a refused sign-in.
func AddAudit(ctx context.Context, db *gorm.DB, e *AuditEntry) error {
	e.ID = 0
	if e.At.IsZero() {
		e.At = db.NowFunc()
	}
	if e.Changes == "" {
		e.Changes = "[]"
	}
	if err := db.WithContext(ctx).Create(e).Error; err != nil {
		return fmt.Errorf("store: unable to write the audit log: %w", err)
	}
	return nil
}

// Audit writes an entry that records no change of ours (auth.login, auth.logout, auth.login_failed).
func (s *Store) Audit(ctx context.Context, e *AuditEntry) error { return AddAudit(ctx, s.DB, e) }

// AuditFilter narrows the audit log; zero fields do not filter.
type AuditFilter struct {
	ActorType  string
	ActorID    uint64
	Action     string
	TargetType string
	// Since and Until bound At: Since ≤ At < Until.
	Since, Until time.Time
}

// ListAudit pages through the audit log, newest first.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter, p Page) ([]AuditEntry, int64, error) {
	q := s.Read.WithContext(ctx).Model(&AuditEntry{})
	if f.ActorType != "" {
		q = q.Where("actor_type = ?", f.ActorType)
		if f.ActorID != 0 {
			q = q.Where("actor_id = ?", f.ActorID)
		}
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if f.TargetType != "" {
		q = q.Where("target_type = ?", f.TargetType)
	}
	if !f.Since.IsZero() {
		q = q.Where("at >= ?", f.Since)
	}
	if !f.Until.IsZero() {
		q = q.Where("at < ?", f.Until)
	}
	return pageOf[AuditEntry](q, "audit entries", p, "id DESC")
}
