package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Authenticator is a WeCom self-built app (or another type's credentials). Options holds the
// type's settings as JSON without secrets; Secrets holds the secret options, sealed.
type Authenticator struct {
	ID        uint64 `gorm:"primaryKey"`
	Name      string `gorm:"size:64;not null;uniqueIndex"`
	Title     string `gorm:"size:255;not null"`
	Type      string `gorm:"size:32;not null"`
	Enabled   bool   `gorm:"not null"`
	Options   string `gorm:"type:text;not null"`
	Secrets   Secret
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ListAuthenticators pages through authenticators, filtered by name or title.
func (s *Store) ListAuthenticators(ctx context.Context, f ListFilter, p Page) ([]Authenticator, int64, error) {
	return list[Authenticator](ctx, s.Read, "authenticators", p, nameScope(f, "name", "title"))
}

// GetAuthenticator reads one authenticator by id.
func (s *Store) GetAuthenticator(ctx context.Context, id uint64) (*Authenticator, error) {
	return get[Authenticator](ctx, s.Read, "authenticator", "id = ?", id)
}

// GetAuthenticatorByName reads one authenticator by its unique name.
func (s *Store) GetAuthenticatorByName(ctx context.Context, name string) (*Authenticator, error) {
	return get[Authenticator](ctx, s.Read, "authenticator", "name = ?", name)
}

// CreateAuthenticator inserts a; a taken name is ErrDuplicate.
func (s *Store) CreateAuthenticator(ctx context.Context, a *Authenticator) error {
	return s.audited(ctx, &a.ID, func(tx *gorm.DB) error { return create(ctx, tx, "authenticator", a) })
}

// UpdateAuthenticator writes every field of a.
func (s *Store) UpdateAuthenticator(ctx context.Context, a *Authenticator) error {
	return s.audited(ctx, &a.ID, func(tx *gorm.DB) error { return save(ctx, tx, "authenticator", a) })
}

// DeleteAuthenticator removes an authenticator no channel uses (ErrInUse otherwise); accounts
// linked to its members are unlinked.
func (s *Store) DeleteAuthenticator(ctx context.Context, id uint64) error {
	return s.audited(ctx, &id, func(tx *gorm.DB) error {
		var a Authenticator
		// The lock keeps a channel from being created against it between the check and the delete.
		// Only id and name: deleting must work even when the secrets cannot be decrypted (lost key).
		if err := lockForUpdate(tx, s.Dialect).Select("id", "name").Where("id = ?", id).Take(&a).Error; err != nil {
			return fmt.Errorf("store: unable to delete authenticator: %w", notFound(err))
		}
		var users int64
		if err := tx.Model(&Channel{}).Where("authenticator_id = ?", id).Count(&users).Error; err != nil {
			return fmt.Errorf("store: unable to check channels of authenticator: %w", err)
		}
		if users > 0 {
			return fmt.Errorf("store: authenticator %q is used by %d channel(s): %w", a.Name, users, ErrInUse)
		}
		// Its members can no longer sign in through it: the accounts stay, unlinked.
		if err := tx.Model(&Account{}).Where("authenticator_id = ?", id).
			Updates(map[string]any{"authenticator_id": nil, "wecom_user_id": nil}).Error; err != nil {
			return fmt.Errorf("store: unable to unlink the accounts of authenticator: %w", err)
		}
		if err := tx.Delete(&Authenticator{}, id).Error; err != nil {
			return fmt.Errorf("store: unable to delete authenticator: %w", err)
		}
		return nil
	})
}
