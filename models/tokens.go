package models

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// APIToken is an admin API token; only its SHA-256 is stored.
type APIToken struct {
	ID        uint64 `gorm:"primaryKey"`
	Name      string `gorm:"size:64;not null"`
	Hash      string `gorm:"size:64;not null;uniqueIndex"`
	Hint      string `gorm:"size:16;not null"`
	Bootstrap bool   `gorm:"not null"`
	CreatedAt time.Time
}

// TokenByHash finds a live token by the SHA-256 of its value.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*APIToken, error) {
	return get[APIToken](ctx, s.Read, "token", "hash = ?", hash)
}

// CreateToken stores a new token (its hash).
func (s *Store) CreateToken(ctx context.Context, t *APIToken) error {
	return create(ctx, s.DB, "token", t)
}

// ListTokens lists every token, oldest first.
func (s *Store) ListTokens(ctx context.Context) ([]APIToken, error) {
	var ts []APIToken
	if err := s.Read.WithContext(ctx).Order("id").Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("store: unable to list tokens: %w", err)
	}
	return ts, nil
}

// DeleteToken revokes a token unless it is the last one, which would lock every admin out
// (ErrInUse).
func (s *Store) DeleteToken(ctx context.Context, id uint64) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := lockForUpdate(tx, s.Dialect).Model(&APIToken{}).Count(&n).Error; err != nil {
			return fmt.Errorf("store: unable to count tokens: %w", err)
		}
		if _, err := get[APIToken](ctx, tx, "token", "id = ?", id); err != nil {
			return err
		}
		if n <= 1 {
			return fmt.Errorf("store: the last token cannot be revoked: %w", ErrInUse)
		}
		return deleteByID[APIToken](ctx, tx, "token", id)
	})
}

// EnsureBootstrapToken makes hash the bootstrap token: it replaces an earlier bootstrap token
// with a different value (WECOMFLOW_ADMIN_TOKEN changed); when it is current, only its hint is
// brought up to date.
func (s *Store) EnsureBootstrapToken(ctx context.Context, hash, hint string) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("bootstrap = ? AND hash <> ?", true, hash).Delete(&APIToken{}).Error; err != nil {
			return fmt.Errorf("store: unable to replace the bootstrap token: %w", err)
		}
		if err := tx.Model(&APIToken{}).Where("hash = ? AND hint <> ?", hash, hint).Update("hint", hint).Error; err != nil {
			return fmt.Errorf("store: unable to update the bootstrap token's hint: %w", err)
		}
		var n int64
		if err := tx.Model(&APIToken{}).Where("hash = ?", hash).Count(&n).Error; err != nil {
			return fmt.Errorf("store: unable to read tokens: %w", err)
		}
		if n > 0 {
			return nil
		}
		return create(ctx, tx, "bootstrap token", &APIToken{Name: "bootstrap", Hash: hash, Hint: hint, Bootstrap: true})
	})
}

// CountTokens counts the tokens that can log in.
func (s *Store) CountTokens(ctx context.Context) (int64, error) {
	var n int64
	if err := s.Read.WithContext(ctx).Model(&APIToken{}).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("store: unable to count tokens: %w", err)
	}
	return n, nil
}

// shortenTokenHints is migration 8: hints stored by earlier releases showed a token's first 8
// characters, which for a configured token (WECOMFLOW_ADMIN_TOKEN) were 8 characters of its
// secret. Now a hint shows at most 4: "wcf_" and 4 more for the wcf_ tokens (whose random part
// follows the prefix), the first 4 for any other. Running it again changes nothing.
func shortenTokenHints(tx *gorm.DB) error {
	var ts []APIToken
	if err := tx.Select("id", "hint").Find(&ts).Error; err != nil {
		return fmt.Errorf("store: unable to read token hints: %w", err)
	}
	for _, t := range ts {
		short := shortHint(t.Hint)
		if short == t.Hint {
			continue
		}
		if err := tx.Model(&APIToken{}).Where("id = ?", t.ID).Update("hint", short).Error; err != nil {
			return fmt.Errorf("store: unable to shorten the hint of token %d: %w", t.ID, err)
		}
	}
	return nil
}

// shortHint is an old hint ("first-ad…", "wcf_Xy3k…") cut to migration 8's rule. It is kept
// here, not taken from the service, so that the step stays what it was when later rules change.
func shortHint(hint string) string {
	const prefix, keep = "wcf_", 4
	body, _ := strings.CutSuffix(hint, "…")
	head := ""
	if rest, ok := strings.CutPrefix(body, prefix); ok {
		head, body = prefix, rest
	}
	r := []rune(body)
	return head + string(r[:min(len(r), keep)]) + "…"
}
