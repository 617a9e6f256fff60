package models

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

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
