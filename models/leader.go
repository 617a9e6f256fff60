package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Leader is an elected role held under a lease: the instance named Owner does the periodic work
// (schedules, retention) until ExpiresAt, and renews the lease while it lives. Rows named
// "instance:<owner>" are presence leases instead: one per live instance.
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

// presencePrefix names the rows of the leaders table that say an instance is alive.
const presencePrefix = "instance:"

// Heartbeat records that owner is alive until now+ttl and returns how many instances are alive
// (this one included): the number that share WeCom's per-member limits.
func (s *Store) Heartbeat(ctx context.Context, owner string, ttl time.Duration) (int, error) {
	now := s.Now()
	row := Leader{Name: presencePrefix + owner, Owner: owner, ExpiresAt: now.Add(ttl), UpdatedAt: now}
	err := s.DB.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "name"}},
		DoUpdates: clause.AssignmentColumns([]string{"expires_at", "updated_at"}),
	}).Create(&row).Error
	if err != nil {
		return 0, fmt.Errorf("store: unable to record the heartbeat: %w", err)
	}
	var n int64
	if err := s.DB.WithContext(ctx).Model(&Leader{}).Where("name LIKE ? AND expires_at > ?", presencePrefix+"%", now).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("store: unable to count instances: %w", err)
	}
	return int(n), nil
}

// Depart removes owner's presence on a clean shutdown, so the others take its share at once.
func (s *Store) Depart(ctx context.Context, owner string) error {
	if err := s.DB.WithContext(ctx).Where("name = ?", presencePrefix+owner).Delete(&Leader{}).Error; err != nil {
		return fmt.Errorf("store: unable to record the departure: %w", err)
	}
	return nil
}
