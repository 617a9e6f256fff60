package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Leader is an elected role held under a lease: the instance named Owner does the periodic work
// (schedules, retention) until ExpiresAt, and renews the lease while it lives.
type Leader struct {
	Name      string    `gorm:"primaryKey;size:64"`
	Owner     string    `gorm:"size:64;not null"`
	ExpiresAt time.Time `gorm:"not null"`
	UpdatedAt time.Time
}

// TryLead takes or renews the role for owner until now+ttl, and reports whether owner holds it:
// it does when it held it already or the previous holder's lease lapsed.
func (s *Store) TryLead(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	now := s.Now()
	var held Leader
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Model(&Leader{}).Where("name = ? AND (owner = ? OR expires_at < ?)", name, owner, now).
			Updates(map[string]any{"owner": owner, "expires_at": now.Add(ttl), "updated_at": now}).Error
		if err != nil {
			return err
		}
		// Affected-row counts cannot tell a renewal that changed nothing from a miss: read it back.
		err = tx.Where("name = ?", name).Take(&held).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			held = Leader{Name: name, Owner: owner, ExpiresAt: now.Add(ttl), UpdatedAt: now}
			return duplicate(tx.Create(&held).Error)
		}
		return err
	})
	if errors.Is(err, ErrDuplicate) {
		return false, nil // another instance created the role first
	}
	if err != nil {
		return false, fmt.Errorf("store: unable to elect a leader: %w", err)
	}
	return held.Owner == owner, nil
}

// Resign gives the role up at once, so another instance can take it without waiting for the lease.
func (s *Store) Resign(ctx context.Context, name, owner string) error {
	err := s.DB.WithContext(ctx).Model(&Leader{}).Where("name = ? AND owner = ?", name, owner).
		Updates(map[string]any{"owner": "", "expires_at": time.Unix(0, 0).UTC(), "updated_at": s.Now()}).Error
	if err != nil {
		return fmt.Errorf("store: unable to resign: %w", err)
	}
	return nil
}
