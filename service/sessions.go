package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
)

// SessionLifetime is how long a web UI login lasts.
const SessionLifetime = 12 * time.Hour

// Session is a web UI login as the web layer sees it.
type Session struct {
	// Cookie is the value for the browser; only set when the session is opened.
	Cookie string
	// Principal is who the session acts as: the token it was opened with, or the account that
	// signed in with WeCom.
	Principal access.Principal
	CSRF      string
}

// Login opens a web UI session with an API token; a refused token is an auth.login_failed.
func (s *Service) Login(ctx context.Context, token string) (Session, error) {
	p, err := s.Authenticate(ctx, token)
	if err != nil {
		var pe *problem.Error
		if errors.As(err, &pe) && pe.Code == problem.CodeUnauthorized {
			s.RecordFailedLogin(ctx, access.KindToken, "")
		}
		return Session{}, err
	}
	return s.openSession(ctx, p, &models.Session{TokenID: p.TokenID})
}

// OpenAccountSession opens a web UI session for an account that signed in (with WeCom).
func (s *Service) OpenAccountSession(ctx context.Context, a *models.Account) (Session, error) {
	p := accountPrincipal(a)
	if err := s.store.TouchAccountLogin(ctx, a.ID); err != nil {
		return Session{}, problem.StoreError("Account", err)
	}
	return s.openSession(ctx, p, &models.Session{AccountID: a.ID})
}

// openSession stores a session for p and records the sign-in.
func (s *Service) openSession(ctx context.Context, p access.Principal, sess *models.Session) (Session, error) {
	cookie, csrf := randomHex(32), randomHex(32)
	sess.ID, sess.CSRF, sess.ExpiresAt = HashToken(cookie), csrf, s.store.Now().Add(SessionLifetime)
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return Session{}, problem.StoreError("Session", err)
	}
	ctx = access.With(ctx, p)
	s.recordAuth(ctx, "auth.login")
	s.log.InfoContext(ctx, "web session opened", "actor", p.Kind, "actor_id", p.ID)
	return Session{Cookie: cookie, Principal: p, CSRF: csrf}, nil
}

// recordAuth writes a sign-in event of ctx's principal to the audit log. A failed write is
// logged, not returned: it must not turn a good sign-in into an error page.
func (s *Service) recordAuth(ctx context.Context, action string) {
	p := access.From(ctx)
	if err := s.store.Audit(ctx, access.Entry(ctx, action, access.Target{Type: p.Kind, ID: p.ID, Name: p.Name}, nil)); err != nil {
		s.log.ErrorContext(ctx, "audit log write failed", "action", action, "err", err)
	}
}

// RecordFailedLogin writes auth.login_failed for a sign-in that was refused; who names what the
// client claimed to be (a WeCom userid), if anything.
func (s *Service) RecordFailedLogin(ctx context.Context, kind, who string) {
	s.recordAuth(access.With(ctx, access.Principal{Kind: kind, Name: who}), "auth.login_failed")
}

// SessionFor reads the session of a cookie: 401 when it is unknown or expired, or when its token
// or account no longer acts.
func (s *Service) SessionFor(ctx context.Context, cookie string) (Session, error) {
	if cookie == "" {
		return Session{}, problem.Errorf(problem.CodeUnauthorized, "Log in first.")
	}
	ended := problem.Errorf(problem.CodeUnauthorized, "The session has ended; log in again.")
	sess, err := s.store.SessionByID(ctx, HashToken(cookie))
	if errors.Is(err, models.ErrNotFound) {
		return Session{}, ended
	}
	if err != nil {
		return Session{}, problem.StoreError("Session", err)
	}
	var p access.Principal
	if sess.AccountID != 0 {
		a, err := s.store.GetAccount(ctx, sess.AccountID)
		if errors.Is(err, models.ErrNotFound) || (err == nil && !a.Enabled) {
			return Session{}, ended
		}
		if err != nil {
			return Session{}, problem.StoreError("Session", err)
		}
		p = accountPrincipal(a)
	} else {
		t, err := s.store.TokenWithOwner(ctx, sess.TokenID)
		if errors.Is(err, models.ErrNotFound) {
			return Session{}, ended
		}
		if err != nil {
			return Session{}, problem.StoreError("Session", err)
		}
		if p, err = s.tokenPrincipal(t); err != nil {
			return Session{}, ended
		}
	}
	return Session{Principal: p, CSRF: sess.CSRF}, nil
}

// Logout ends the session of a cookie.
func (s *Service) Logout(ctx context.Context, cookie string) error {
	if err := s.store.DeleteSession(ctx, HashToken(cookie)); err != nil {
		return problem.StoreError("Session", err)
	}
	s.recordAuth(ctx, "auth.logout")
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
