package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// SignInState is a sign-in with WeCom under way: the state sent to WeCom (by its hash), the
// browser that started it (the hash of a cookie it holds), where to go afterwards. It is taken
// once; it is kept in the database so any instance of a cluster can finish a sign-in another
// started.
type SignInState struct {
	ID              string    `gorm:"primaryKey;size:64"`
	AuthenticatorID uint64    `gorm:"not null"`
	Browser         string    `gorm:"size:64;not null"`
	Next            string    `gorm:"size:1024;not null"`
	ExpiresAt       time.Time `gorm:"not null;index"`
	CreatedAt       time.Time
}

// CreateSignInState stores a new sign-in state.
func (s *Store) CreateSignInState(ctx context.Context, st *SignInState) error {
	return create(ctx, s.DB, "sign-in state", st)
}

// TakeSignInState reads and deletes an unexpired sign-in state: a state is good for one
// callback, whoever presents it (ErrNotFound for unknown, used or expired ones).
func (s *Store) TakeSignInState(ctx context.Context, id string) (*SignInState, error) {
	var st SignInState
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockForUpdate(tx, s.Dialect).Where("id = ?", id).Take(&st).Error; err != nil {
			return notFound(err)
		}
		// The row is locked (SQLite: the transaction holds the writer), so no other callback
		// takes it between the read and the delete.
		return tx.Where("id = ?", id).Delete(&SignInState{}).Error
	})
	if err == nil && !st.ExpiresAt.After(s.Now()) {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: unable to take the sign-in state: %w", err)
	}
	return &st, nil
}
