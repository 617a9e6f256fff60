package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

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
	ID        uint64    `json:"id"`
	Name      string    `json:"name"`
	Hint      string    `json:"hint"`
	Bootstrap bool      `json:"bootstrap"`
	CreatedAt time.Time `json:"createdAt"`
}

// NewToken is a just-created token: the only time its value is shown.
type NewToken struct {
	Token
	Value string `json:"token"`
}

func tokenView(t *models.APIToken) Token {
	return Token{ID: t.ID, Name: t.Name, Hint: t.Hint, Bootstrap: t.Bootstrap, CreatedAt: t.CreatedAt}
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

// Authenticate resolves a presented token; any failure is a 401 that says nothing of why.
func (s *Service) Authenticate(ctx context.Context, value string) (*models.APIToken, error) {
	if value == "" {
		return nil, problem.Errorf(problem.CodeUnauthorized, "An API token is required: send Authorization: Bearer <token>.")
	}
	t, err := s.store.TokenByHash(ctx, HashToken(value))
	if err != nil {
		if errors.Is(err, models.ErrNotFound) {
			return nil, problem.Errorf(problem.CodeUnauthorized, "The API token is not valid.")
		}
		return nil, problem.StoreError("Token", err)
	}
	return t, nil
}

// CreateToken makes a named token and returns its value once.
func (s *Service) CreateToken(ctx context.Context, name string) (NewToken, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 64 {
		return NewToken{}, problem.Invalidf("name", "is required, at most 64 characters")
	}
	value, hint := generateToken()
	t := &models.APIToken{Name: name, Hash: HashToken(value), Hint: hint}
	if err := s.store.CreateToken(ctx, t); err != nil {
		return NewToken{}, problem.StoreError("Token", err)
	}
	s.log.InfoContext(ctx, "api token created", "token_id", t.ID, "name", name)
	return NewToken{Token: tokenView(t), Value: value}, nil
}

// ListTokens lists every token without values.
func (s *Service) ListTokens(ctx context.Context) ([]Token, error) {
	ts, err := s.store.ListTokens(ctx)
	if err != nil {
		return nil, problem.StoreError("Token", err)
	}
	out := make([]Token, len(ts))
	for i := range ts {
		out[i] = tokenView(&ts[i])
	}
	return out, nil
}

// RevokeToken deletes a token; the last one stays so an admin cannot lock everyone out.
func (s *Service) RevokeToken(ctx context.Context, id uint64) error {
	if err := s.store.DeleteToken(ctx, id); err != nil {
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
