package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
)

// SessionLifetime is how long a web UI login lasts.
const SessionLifetime = 12 * time.Hour

// Session is a web UI login as the web layer sees it.
type Session struct {
	// Cookie is the value for the browser; only set by Login.
	Cookie  string
	TokenID uint64
	CSRF    string
}

// Login opens a web UI session with an API token.
func (s *Service) Login(ctx context.Context, token string) (Session, error) {
	t, err := s.Authenticate(ctx, token)
	if err != nil {
		return Session{}, err
	}
	cookie, csrf := randomHex(32), randomHex(32)
	sess := &models.Session{ID: HashToken(cookie), TokenID: t.ID, CSRF: csrf, ExpiresAt: s.store.Now().Add(SessionLifetime)}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return Session{}, problem.StoreError("Session", err)
	}
	s.log.InfoContext(ctx, "web session opened", "token_id", t.ID)
	return Session{Cookie: cookie, TokenID: t.ID, CSRF: csrf}, nil
}

// SessionFor reads the session of a cookie: 401 when it is unknown, expired or its token revoked.
func (s *Service) SessionFor(ctx context.Context, cookie string) (Session, error) {
	if cookie == "" {
		return Session{}, problem.Errorf(problem.CodeUnauthorized, "Log in first.")
	}
	sess, err := s.store.SessionByID(ctx, HashToken(cookie))
	if errors.Is(err, models.ErrNotFound) {
		return Session{}, problem.Errorf(problem.CodeUnauthorized, "The session has ended; log in again.")
	}
	if err != nil {
		return Session{}, problem.StoreError("Session", err)
	}
	return Session{TokenID: sess.TokenID, CSRF: sess.CSRF}, nil
}

// Logout ends the session of a cookie.
func (s *Service) Logout(ctx context.Context, cookie string) error {
	return problem.StoreError("Session", s.store.DeleteSession(ctx, HashToken(cookie)))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
