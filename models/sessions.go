package models

import (
	"context"
	"fmt"
	"time"
)

// Session is a web UI login: the browser holds a random cookie, the database its hash. It was
// opened with an API token (TokenID) or by signing in with WeCom (AccountID), and lives only as
// long as that token or that enabled account.
type Session struct {
	// ID is the SHA-256 (hex) of the cookie value.
	ID        string `gorm:"primaryKey;size:64"`
	TokenID   uint64 `gorm:"not null;index"`
	AccountID uint64 `gorm:"not null;default:0;index"`
	// CSRF is the token every state-changing request of the session must echo.
	CSRF      string    `gorm:"size:64;not null"`
	ExpiresAt time.Time `gorm:"not null;index"`
	CreatedAt time.Time
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, sess *Session) error {
	sess.CreatedAt = s.Now()
	if err := s.DB.WithContext(ctx).Create(sess).Error; err != nil {
		return fmt.Errorf("store: unable to create session: %w", err)
	}
	return nil
}

// SessionByID reads an unexpired session (the caller checks that its token or account still acts).
func (s *Store) SessionByID(ctx context.Context, id string) (*Session, error) {
	var sess Session
	err := s.Read.WithContext(ctx).Where("id = ? AND expires_at > ?", id, s.Now()).Take(&sess).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to read session: %w", notFound(err))
	}
	return &sess, nil
}

// DeleteSession ends a session, and any expired ones while at it.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if err := s.DB.WithContext(ctx).Where("id = ? OR expires_at <= ?", id, s.Now()).Delete(&Session{}).Error; err != nil {
		return fmt.Errorf("store: unable to delete session: %w", err)
	}
	return nil
}
