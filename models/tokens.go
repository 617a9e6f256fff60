package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// APIToken is an API token; only its SHA-256 is stored. It acts with its role (never more than
// its account's), on its channels only when it has any, until it expires.
type APIToken struct {
	ID        uint64 `gorm:"primaryKey"`
	Name      string `gorm:"size:64;not null"`
	Hash      string `gorm:"size:64;not null;uniqueIndex"`
	Hint      string `gorm:"size:16;not null"`
	Bootstrap bool   `gorm:"not null"`
	// AccountID is the owner; nil for the bootstrap token and tokens a token of no account made.
	AccountID *uint64 `gorm:"index"`
	// CreatedBy is the token that made this one (nil for the bootstrap token, or when an account's
	// session made it): a token of no account manages what it made.
	CreatedBy *uint64 `gorm:"index"`
	// Role defaults to admin: every token of the releases before roles was one.
	Role string `gorm:"size:16;not null;default:admin"`
	// Channels is a JSON array of channel names the token may send on; "" means all.
	Channels  string `gorm:"size:2048;not null;default:''"`
	ExpiresAt *time.Time
	CreatedAt time.Time
}

// TokenScope selects the tokens a caller may see: all, an account's, or a token of no account
// and those it made.
type TokenScope struct {
	All       bool
	AccountID uint64
	TokenID   uint64
}

func (sc TokenScope) apply(q *gorm.DB) *gorm.DB {
	switch {
	case sc.All:
		return q
	case sc.AccountID != 0:
		return q.Where("account_id = ?", sc.AccountID)
	default:
		return q.Where("(id = ? OR created_by = ?)", sc.TokenID, sc.TokenID)
	}
}

// TokenOwner is a token with what authenticating it needs of its account.
type TokenOwner struct {
	APIToken
	// OwnerEnabled and OwnerRole are the account's; nil for a token of no account, or when the
	// account is gone.
	OwnerEnabled *bool
	OwnerRole    *string
}

// tokenCacheTTL is how long a request's token is taken from an earlier read. A token revoked or
// an account disabled through this instance stops working at once; through another instance,
// within this time.
const tokenCacheTTL = time.Second

// TokenByHash finds a token by the SHA-256 of its value, with its account's state: a copy of a
// read of the last tokenCacheTTL (every API request reads its token).
func (s *Store) TokenByHash(ctx context.Context, hash string) (*TokenOwner, error) {
	return s.tokenCache.getCopy(hash, tokenCacheTTL, func() (*TokenOwner, error) { return s.tokenWithOwner(ctx, "hash = ?", hash) })
}

// tokensChanged drops the cached tokens; deferred by every change of a token or an account, it
// runs once the change is committed.
func (s *Store) tokensChanged() { s.tokenCache.drop() }

// TokenWithOwner reads a token by id with its account's state.
func (s *Store) TokenWithOwner(ctx context.Context, id uint64) (*TokenOwner, error) {
	return s.tokenWithOwner(ctx, "id = ?", id)
}

// tokenWithOwner reads the token, then its account's two columns when it has one: two plain
// lookups by unique key cost less than one join through gorm on every API request (measured:
// the join doubled the authentication's share of a send), and a token of no account (the
// bootstrap token, most scripts) pays one.
func (s *Store) tokenWithOwner(ctx context.Context, cond string, arg any) (*TokenOwner, error) {
	t, err := get[APIToken](ctx, s.Read, "token", cond, arg)
	if err != nil {
		return nil, err
	}
	out := &TokenOwner{APIToken: *t}
	if t.AccountID == nil {
		return out, nil
	}
	var a Account
	err = s.Read.WithContext(ctx).Select("enabled", "role").Where("id = ?", *t.AccountID).Take(&a).Error
	switch {
	case err == nil:
		out.OwnerEnabled, out.OwnerRole = &a.Enabled, &a.Role
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return nil, fmt.Errorf("store: unable to read the account of token %d: %w", t.ID, err)
	}
	return out, nil
}

// CreateToken stores a new token (its hash).
func (s *Store) CreateToken(ctx context.Context, t *APIToken) error {
	return s.audited(ctx, &t.ID, func(tx *gorm.DB) error { return create(ctx, tx, "token", t) })
}

// GetToken reads one token within a scope (ErrNotFound outside it).
func (s *Store) GetToken(ctx context.Context, sc TokenScope, id uint64) (*APIToken, error) {
	var t APIToken
	if err := sc.apply(s.Read.WithContext(ctx)).Where("id = ?", id).Take(&t).Error; err != nil {
		return nil, fmt.Errorf("store: unable to get token: %w", notFound(err))
	}
	return &t, nil
}

// ListTokens lists the tokens of a scope, oldest first.
func (s *Store) ListTokens(ctx context.Context, sc TokenScope) ([]APIToken, error) {
	var ts []APIToken
	if err := sc.apply(s.Read.WithContext(ctx)).Order("id").Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("store: unable to list tokens: %w", err)
	}
	return ts, nil
}

// DeleteToken revokes a token of a scope unless it is the last one, which would lock every admin
// out (ErrInUse); its sessions end with it.
func (s *Store) DeleteToken(ctx context.Context, sc TokenScope, id uint64) error {
	defer s.tokensChanged()
	return s.audited(ctx, &id, func(tx *gorm.DB) error {
		var n int64
		if err := lockForUpdate(tx, s.Dialect).Model(&APIToken{}).Count(&n).Error; err != nil {
			return fmt.Errorf("store: unable to count tokens: %w", err)
		}
		if err := sc.apply(tx).Where("id = ?", id).Take(&APIToken{}).Error; err != nil {
			return fmt.Errorf("store: unable to get token: %w", notFound(err))
		}
		if n <= 1 {
			return fmt.Errorf("store: the last token cannot be revoked: %w", ErrInUse)
		}
		if err := tx.Where("token_id = ?", id).Delete(&Session{}).Error; err != nil {
			return fmt.Errorf("store: unable to end the sessions of token %d: %w", id, err)
		}
		return deleteByID[APIToken](ctx, tx, "token", id)
	})
}

// EnsureBootstrapToken makes hash the bootstrap token: it replaces an earlier bootstrap token
// with a different value (WECOMFLOW_ADMIN_TOKEN changed); when it is current, only its hint is
// brought up to date.
func (s *Store) EnsureBootstrapToken(ctx context.Context, hash, hint string) error {
	defer s.tokensChanged()
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
