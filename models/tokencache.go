package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// AccessToken is the shared cache of an app's WeCom access token, so every instance uses one token
// per app per lifetime. SecretHash ties it to the secret it was fetched with.
type AccessToken struct {
	AuthenticatorID uint64 `gorm:"primaryKey;autoIncrement:false"`
	SecretHash      string `gorm:"size:64;not null"`
	Token           Secret
	ExpiresAt       time.Time `gorm:"not null"`
	UpdatedAt       time.Time
}

// ErrLockTimeout is WithLock giving up waiting for another instance.
var ErrLockTimeout = errors.New("timed out waiting for a lock held by another instance")

// WithLock runs fn holding a named lock that every instance sharing the database respects: MySQL's
// GET_LOCK on a connection of its own (released when fn returns, or when the process dies and its
// connection closes). SQLite serves one instance, whose callers hold their own locks: fn just runs.
func (s *Store) WithLock(ctx context.Context, name string, wait time.Duration, fn func() error) error {
	if s.Dialect != DialectMySQL {
		return fn()
	}
	return s.DB.WithContext(ctx).Connection(func(conn *gorm.DB) error {
		var got int
		if err := conn.Raw("SELECT GET_LOCK(?, ?)", name, int(wait.Seconds())).Scan(&got).Error; err != nil {
			return fmt.Errorf("store: unable to take lock %s: %w", name, err)
		}
		if got != 1 {
			return fmt.Errorf("store: lock %s: %w", name, ErrLockTimeout)
		}
		defer conn.Exec("SELECT RELEASE_LOCK(?)", name)
		return fn()
	})
}

// GetAccessToken reads the shared token of an app; ErrNotFound when none is cached.
func (s *Store) GetAccessToken(ctx context.Context, authenticatorID uint64) (*AccessToken, error) {
	return get[AccessToken](ctx, s.DB, "access token", "authenticator_id = ?", authenticatorID)
}

// SaveAccessToken stores the app's token for every instance.
func (s *Store) SaveAccessToken(ctx context.Context, t *AccessToken) error {
	err := s.DB.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "authenticator_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"secret_hash", "token", "expires_at", "updated_at"}),
	}).Create(t).Error
	if err != nil {
		return fmt.Errorf("store: unable to save access token: %w", err)
	}
	return nil
}

// DropAccessToken forgets the app's token if it is still token, the one WeCom rejected; a token
// another sender already refreshed stays.
func (s *Store) DropAccessToken(ctx context.Context, authenticatorID uint64, token string) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var t AccessToken
		err := lockForUpdate(tx, s.Dialect).Where("authenticator_id = ?", authenticatorID).Take(&t).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: unable to read access token: %w", err)
		}
		if t.Token.Plain != token {
			return nil
		}
		if err := tx.Where("authenticator_id = ?", authenticatorID).Delete(&AccessToken{}).Error; err != nil {
			return fmt.Errorf("store: unable to drop access token: %w", err)
		}
		return nil
	})
}
