package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Account is a person who uses wecomflow: signs in with WeCom (when linked to a member of an
// authenticator's corp) and owns tokens. Its role bounds what it and its tokens may do.
type Account struct {
	ID      uint64 `gorm:"primaryKey"`
	Name    string `gorm:"size:64;not null"`
	Role    string `gorm:"size:16;not null"`
	Enabled bool   `gorm:"not null"`
	// AuthenticatorID and WeComUserID link the account to a member of that authenticator's corp;
	// a member is linked to at most one account (NULLs do not collide in a unique index).
	AuthenticatorID *uint64 `gorm:"uniqueIndex:idx_accounts_wecom"`
	WeComUserID     *string `gorm:"column:wecom_user_id;size:64;uniqueIndex:idx_accounts_wecom"`
	LastLoginAt     *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// RoleAdmin is the role the last-admin rule protects (access.Admin; models imports nothing of ours).
const RoleAdmin = "admin"

// AccountFilter narrows the account list: Q matches the name or the linked userid.
type AccountFilter struct {
	Q    string
	Role string
}

// ListAccounts pages through accounts.
func (s *Store) ListAccounts(ctx context.Context, f AccountFilter, p Page) ([]Account, int64, error) {
	return list[Account](ctx, s.Read, "accounts", p, func(q *gorm.DB) *gorm.DB {
		q = nameScope(ListFilter{Q: f.Q}, "name", "wecom_user_id")(q)
		if f.Role != "" {
			q = q.Where("role = ?", f.Role)
		}
		return q
	})
}

// GetAccount reads one account.
func (s *Store) GetAccount(ctx context.Context, id uint64) (*Account, error) {
	return get[Account](ctx, s.Read, "account", "id = ?", id)
}

// AccountByWeCom finds the account linked to a member of an authenticator's corp.
func (s *Store) AccountByWeCom(ctx context.Context, authenticatorID uint64, userID string) (*Account, error) {
	return get[Account](ctx, s.Read, "account", "authenticator_id = ? AND wecom_user_id = ?", authenticatorID, userID)
}

// CreateAccount inserts a; a member linked twice is ErrDuplicate.
func (s *Store) CreateAccount(ctx context.Context, a *Account) error {
	return s.audited(ctx, &a.ID, func(tx *gorm.DB) error { return create(ctx, tx, "account", a) })
}

// UpdateAccount writes every field of a. Disabling it ends its sessions and tokens in the same
// transaction; taking the last enabled admin account away while no bootstrap token exists is
// ErrLastAdmin and changes nothing.
func (s *Store) UpdateAccount(ctx context.Context, a *Account) error {
	defer s.tokensChanged()
	return s.audited(ctx, &a.ID, func(tx *gorm.DB) error {
		if a.Role != RoleAdmin || !a.Enabled {
			if err := s.keepAnAdmin(tx, a.ID); err != nil {
				return err
			}
		}
		if err := save(ctx, tx, "account", a); err != nil {
			return err
		}
		if !a.Enabled {
			return endAccount(tx, a.ID)
		}
		return nil
	})
}

// DeleteAccount removes an account with its sessions and tokens, unless it is the last admin.
func (s *Store) DeleteAccount(ctx context.Context, id uint64) error {
	defer s.tokensChanged()
	return s.audited(ctx, &id, func(tx *gorm.DB) error {
		if err := s.keepAnAdmin(tx, id); err != nil {
			return err
		}
		if err := endAccount(tx, id); err != nil {
			return err
		}
		return deleteByID[Account](ctx, tx, "account", id)
	})
}

// TouchAccountLogin records a sign-in.
func (s *Store) TouchAccountLogin(ctx context.Context, id uint64) error {
	if err := s.DB.WithContext(ctx).Model(&Account{}).Where("id = ?", id).Update("last_login_at", s.Now()).Error; err != nil {
		return fmt.Errorf("store: unable to record the sign-in of account %d: %w", id, err)
	}
	return nil
}

// keepAnAdmin refuses (ErrLastAdmin) to let account id stop being an enabled admin when it is
// the last one and no bootstrap token exists: nobody could administer the server any more. It
// locks the admin accounts it counts, so two concurrent demotions cannot both pass.
func (s *Store) keepAnAdmin(tx *gorm.DB, id uint64) error {
	var admins []uint64
	if err := lockForUpdate(tx, s.Dialect).Model(&Account{}).Where("role = ? AND enabled = ?", RoleAdmin, true).
		Pluck("id", &admins).Error; err != nil {
		return fmt.Errorf("store: unable to count admin accounts: %w", err)
	}
	others := 0
	for _, a := range admins {
		if a != id {
			others++
		}
	}
	if others > 0 || len(admins) == others {
		// Another admin remains, or id is no enabled admin: nothing is taken away.
		return nil
	}
	var bootstrap int64
	if err := tx.Model(&APIToken{}).Where("bootstrap = ?", true).Count(&bootstrap).Error; err != nil {
		return fmt.Errorf("store: unable to look for the bootstrap token: %w", err)
	}
	if bootstrap > 0 {
		return nil
	}
	return fmt.Errorf("store: account %d is the last admin: %w", id, ErrLastAdmin)
}

// endAccount ends an account's sessions and revokes its tokens.
func endAccount(tx *gorm.DB, id uint64) error {
	if err := tx.Where("account_id = ?", id).Delete(&Session{}).Error; err != nil {
		return fmt.Errorf("store: unable to end the sessions of account %d: %w", id, err)
	}
	if err := tx.Where("account_id = ?", id).Delete(&APIToken{}).Error; err != nil {
		return fmt.Errorf("store: unable to revoke the tokens of account %d: %w", id, err)
	}
	return nil
}
