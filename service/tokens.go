package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
)

// tokenPrefix makes wecomflow tokens recognisable to secret scanners and people.
const tokenPrefix = "wcf_"

// MinConfiguredTokenLength is the fewest characters a configured token (WECOMFLOW_ADMIN_TOKEN)
// may have: a person chose it, and a short value could be guessed. A generated token has 36.
const MinConfiguredTokenLength = 24

// hintLength is how many characters of a token's secret part its hint shows: enough to tell
// tokens apart, too few to help a guesser.
const hintLength = 4

// Token is an API token as listed: never its value.
type Token struct {
	ID        uint64 `json:"id"`
	Name      string `json:"name"`
	Hint      string `json:"hint"`
	Bootstrap bool   `json:"bootstrap"`
	Role      string `json:"role"`
	// Channels, when not empty, are the only channels the token sends on and tests.
	Channels  []string   `json:"channels"`
	ExpiresAt *time.Time `json:"expiresAt"`
	// AccountID is the owner; null for the bootstrap token and tokens made by it.
	AccountID *uint64   `json:"accountId"`
	CreatedAt time.Time `json:"createdAt"`
}

// NewToken is a just-created token: the only time its value is shown.
type NewToken struct {
	Token
	Value string `json:"token"`
}

// TokenInput is the body of POST /tokens.
type TokenInput struct {
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Channels  []string   `json:"channels"`
	ExpiresAt *time.Time `json:"expiresAt"`
}

// maxTokenChannels bounds a token's channel scope (and the column that stores it).
const maxTokenChannels = 16

func tokenView(t *models.APIToken) Token {
	return Token{ID: t.ID, Name: t.Name, Hint: t.Hint, Bootstrap: t.Bootstrap, Role: t.Role, Channels: tokenChannels(t),
		ExpiresAt: t.ExpiresAt, AccountID: t.AccountID, CreatedAt: t.CreatedAt}
}

func tokenChannels(t *models.APIToken) []string {
	out := []string{}
	if t.Channels != "" {
		_ = json.Unmarshal([]byte(t.Channels), &out)
	}
	return out
}

// tokenScope is the tokens a principal may list and revoke: an admin all, an account its own,
// a token of no account itself and the tokens it made.
func tokenScope(p access.Principal) models.TokenScope {
	return models.TokenScope{All: p.Role == access.Admin, AccountID: p.AccountID, TokenID: p.TokenID}
}

// HashToken is how a token is stored and looked up.
func HashToken(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

func generateToken() (value, hint string) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic("token: no randomness: " + err.Error())
	}
	value = tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	// "wcf_" is the same on every token; the random part after it is the secret.
	return value, value[:len(tokenPrefix)+hintLength] + "…"
}

// configuredHint is the hint of a configured token: its first 4 characters, whatever they are
// (a chosen value need not follow the wcf_ pattern, so all of it counts as secret).
func configuredHint(value string) string {
	r := []rune(value)
	return string(r[:min(len(r), hintLength)]) + "…"
}

// Authenticate resolves a presented token to the principal it acts as; any failure is a 401
// that says nothing of why, except an expired token (its holder needs to know to renew it).
func (s *Service) Authenticate(ctx context.Context, value string) (access.Principal, error) {
	if value == "" {
		return access.Principal{}, problem.Errorf(problem.CodeUnauthorized, "An API token is required: send Authorization: Bearer <token>.")
	}
	t, err := s.store.TokenByHash(ctx, HashToken(value))
	if err != nil {
		if errors.Is(err, models.ErrNotFound) {
			return access.Principal{}, problem.Errorf(problem.CodeUnauthorized, "The API token is not valid.")
		}
		return access.Principal{}, problem.StoreError("Token", err)
	}
	return s.tokenPrincipal(t)
}

// tokenPrincipal is who a stored token acts as: its role, bounded by its account's, which must
// still be enabled.
func (s *Service) tokenPrincipal(t *models.TokenOwner) (access.Principal, error) {
	if t.ExpiresAt != nil && !t.ExpiresAt.After(s.store.Now()) {
		return access.Principal{}, problem.Errorf(problem.CodeUnauthorized, "The API token expired at %s.", t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	p := access.Principal{Kind: access.KindToken, ID: t.ID, Name: t.Name, Role: access.Role(t.Role), TokenID: t.ID,
		Channels: tokenChannels(&t.APIToken), Expires: t.ExpiresAt}
	if t.AccountID != nil {
		if t.OwnerEnabled == nil || !*t.OwnerEnabled {
			return access.Principal{}, problem.Errorf(problem.CodeUnauthorized, "The API token is not valid.")
		}
		p.AccountID, p.Role = *t.AccountID, access.Least(p.Role, access.Role(*t.OwnerRole))
	}
	return p, nil
}

// CreateToken makes a named token and returns its value once. Its role defaults to the
// creator's; a non-admin may give only its own role or viewer. A creator bound to channels or to
// an expiry passes them on: a token never reaches further or lives longer than its maker.
func (s *Service) CreateToken(ctx context.Context, in TokenInput) (NewToken, error) {
	p := access.From(ctx)
	errs := problem.Fields{}
	name := strings.TrimSpace(in.Name)
	if name == "" || utf8.RuneCountInString(name) > 64 {
		errs.Add("name", "is required, at most 64 characters")
	}
	role := access.Role(in.Role)
	if role == "" {
		role = p.Role
	}
	if !role.Valid() {
		errs.Add("role", "must be admin, designer, operator or viewer")
	}
	channels, err := s.tokenChannelScope(ctx, p, in.Channels, errs)
	if err != nil {
		return NewToken{}, err
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(s.store.Now()) {
		errs.Add("expiresAt", "must be in the future")
	}
	if len(errs) > 0 {
		return NewToken{}, problem.Invalid(errs)
	}
	if p.Role != access.Admin && role != p.Role && role != access.Viewer {
		return NewToken{}, problem.Errorf(problem.CodeForbidden, "A %s may give a token only the %s or the viewer role; role %q needs the admin role.", p.Role, p.Role, role)
	}
	expires := in.ExpiresAt
	if p.Expires != nil && (expires == nil || expires.After(*p.Expires)) {
		expires = p.Expires
	}
	value, hint := generateToken()
	t := &models.APIToken{Name: name, Hash: HashToken(value), Hint: hint, Role: string(role), ExpiresAt: expires}
	if len(channels) > 0 {
		raw, _ := json.Marshal(channels)
		t.Channels = string(raw)
	}
	if p.AccountID != 0 {
		t.AccountID = &p.AccountID
	}
	if p.TokenID != 0 {
		t.CreatedBy = &p.TokenID
	}
	ctx = access.Audit(ctx, "token.create", access.Target{Type: "token", Name: name}, []string{"name", "role", "channels", "expiresAt"})
	if err := s.store.CreateToken(ctx, t); err != nil {
		return NewToken{}, problem.StoreError("Token", err)
	}
	s.log.InfoContext(ctx, "api token created", "token_id", t.ID, "name", name, "role", role)
	return NewToken{Token: tokenView(t), Value: value}, nil
}

// tokenChannelScope checks a new token's channels: known ones, at most maxTokenChannels, within
// the creator's own scope (an empty list inherits it).
func (s *Service) tokenChannelScope(ctx context.Context, p access.Principal, names []string, errs problem.Fields) ([]string, error) {
	if len(names) == 0 {
		return p.Channels, nil
	}
	if len(names) > maxTokenChannels {
		errs.Add("channels", fmt.Sprintf("may name at most %d channels", maxTokenChannels))
		return nil, nil
	}
	out := make([]string, 0, len(names))
	for i, name := range names {
		field := fmt.Sprintf("channels[%d]", i)
		if _, err := s.store.GetChannelByName(ctx, name); errors.Is(err, models.ErrNotFound) {
			errs.Add(field, fmt.Sprintf("there is no channel %q", name))
			continue
		} else if err != nil {
			return nil, problem.StoreError("Channel", err)
		}
		if !p.MayUseChannel(name) {
			errs.Add(field, fmt.Sprintf("channel %q is outside your own channel scope", name))
			continue
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// ListTokens lists the caller's tokens (an admin's: all of them) without values.
func (s *Service) ListTokens(ctx context.Context) ([]Token, error) {
	ts, err := s.store.ListTokens(ctx, tokenScope(access.From(ctx)))
	if err != nil {
		return nil, problem.StoreError("Token", err)
	}
	out := make([]Token, len(ts))
	for i := range ts {
		out[i] = tokenView(&ts[i])
	}
	return out, nil
}

// RevokeToken deletes one of the caller's tokens (an admin: any), ending its sessions; the last
// token stays so an admin cannot lock everyone out.
func (s *Service) RevokeToken(ctx context.Context, id uint64) error {
	sc := tokenScope(access.From(ctx))
	t, err := s.store.GetToken(ctx, sc, id)
	if err != nil {
		return problem.StoreError("Token", err)
	}
	ctx = access.Audit(ctx, "token.delete", access.Target{Type: "token", ID: id, Name: t.Name}, nil)
	if err := s.store.DeleteToken(ctx, sc, id); err != nil {
		if errors.Is(err, models.ErrInUse) {
			return &problem.Error{Code: problem.CodeConflict, Message: "The last API token cannot be revoked; create another one first.", Err: err}
		}
		return problem.StoreError("Token", err)
	}
	s.log.InfoContext(ctx, "api token revoked", "token_id", id)
	return nil
}

// Bootstrap makes sure an admin can log in. With configured set (WECOMFLOW_ADMIN_TOKEN), that
// value becomes the bootstrap token; the command refuses one shorter than
// MinConfiguredTokenLength before it gets here (the sandbox's public token is no configured
// value). Otherwise, when no token exists, one is generated and returned so the caller can print
// it once; it is stored only as a hash.
func (s *Service) Bootstrap(ctx context.Context, configured string) (generated string, err error) {
	if configured != "" {
		return "", problem.StoreError("Token", s.store.EnsureBootstrapToken(ctx, HashToken(configured), configuredHint(configured)))
	}
	n, err := s.store.CountTokens(ctx)
	if err != nil || n > 0 {
		return "", problem.StoreError("Token", err)
	}
	value, hint := generateToken()
	if err := s.store.EnsureBootstrapToken(ctx, HashToken(value), hint); err != nil {
		return "", problem.StoreError("Token", err)
	}
	return value, nil
}
