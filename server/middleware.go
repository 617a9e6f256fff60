package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/oklog/ulid/v2"
	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/lockout"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/web"
)

// requestIDHeader carries a request's id: taken from the caller (a proxy's trace id) when it is a
// sane token, made up otherwise, and sent back on the answer.
const requestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// requestID gives every request an id, in its context (so every log line of the request carries
// it) and in the answer's X-Request-Id header; the context also gets the client's address and
// User-Agent.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader(requestIDHeader)
	if !saneRequestID(id) {
		id = ulid.Make().String()
	}
	c.Header(requestIDHeader, id)
	ctx := context.WithValue(c.Request.Context(), requestIDKey{}, id)
	// Where the request comes from, for the audit log of whatever it changes or whoever signs in.
	ctx = access.WithClient(ctx, access.Client{IP: c.ClientIP(), UserAgent: c.Request.UserAgent()})
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// saneRequestID takes 1–64 letters, digits, '-', '_' and '.': nothing a log line or a header
// could be broken by.
func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// requestIDHandler adds the request id of a log call's context to the line.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// crossOrigin refuses state changes a browser makes from another site (http.CrossOriginProtection:
// Sec-Fetch-Site, or Origin against Host), on every route — the pages and the API already ask for
// a CSRF token; this also covers routes without one, like the sandbox inbox. WeCom's callbacks
// and webhook callers are not browsers and send neither header.
func (s *Server) crossOrigin(c *gin.Context) {
	if err := s.origins.Check(c.Request); err != nil {
		s.refuse(c, problem.Errorf(problem.CodeForbidden, "A browser request from another site may not change anything here."))
		return
	}
	c.Next()
}

// refuse ends a request that a middleware turned down: a person on a page sees a page, an API
// caller the JSON error.
func (s *Server) refuse(c *gin.Context, err error) {
	if strings.HasPrefix(c.Request.URL.Path, "/ui/") {
		s.ui.Fail(c, err)
		c.Abort()
		return
	}
	s.writeError(c, err)
}

// authenticate admits a request with a valid Bearer token, or with the web UI's session cookie
// (the pages' scripts) — then a state change must carry the session's CSRF header. Both go
// through the server's lockout counter: a client address with too many failures is refused
// before its credential is looked at. Then admit checks the route against the caller's role.
func (s *Server) authenticate(c *gin.Context) {
	ctx, addr := c.Request.Context(), c.ClientIP()
	h := c.GetHeader("Authorization")
	if cookie, err := c.Cookie(web.SessionCookie); h == "" && err == nil {
		sess, err := lockout.Attempt(ctx, s.lockout, addr, cookie, s.svc.SessionFor)
		if err != nil {
			s.writeError(c, err)
			return
		}
		if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead && !web.CheckCSRF(c.Request, sess) {
			s.writeError(c, problem.Errorf(problem.CodeForbidden, "A request made with the session cookie must send the session's %s header.", web.CSRFHeader))
			return
		}
		s.admit(c, sess.Principal)
		return
	}
	value, found := strings.CutPrefix(h, "Bearer ")
	if !found {
		value = ""
	}
	p, err := lockout.Attempt(ctx, s.lockout, addr, strings.TrimSpace(value), s.svc.Authenticate)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.admit(c, p)
}

// admit lets p's request through when its role may use the route (access.Check: the one table
// of who may do what, which the pages use too), with p in the request's context for the
// services' own rules and the audit log; otherwise it answers 403 and nothing runs.
func (s *Server) admit(c *gin.Context, p access.Principal) {
	if err := access.Check(p, c.Request.Method, c.FullPath()); err != nil {
		s.writeError(c, err)
		return
	}
	c.Request = c.Request.WithContext(access.With(c.Request.Context(), p))
	c.Next()
}

// limitBody caps the request body: uploadLimit on upload routes, defaultLimit elsewhere. A
// declared length over the limit is refused before reading anything.
func (s *Server) limitBody(c *gin.Context) {
	limit := int64(defaultLimit)
	if s.uploadRoutes[c.FullPath()] {
		limit = uploadLimit
	}
	if c.Request.ContentLength > limit {
		// Closing the connection spares reading a body nobody will use.
		c.Header("Connection", "close")
		s.refuse(c, problem.Errorf(problem.CodeTooLarge, "The body is larger than the limit of %d bytes.", limit))
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	c.Next()
}

// recoverer answers 500 for a panicking handler and logs it, instead of dropping the connection.
func (s *Server) recoverer(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.writeError(c, fmt.Errorf("panic: %v", v))
		}
	}()
	c.Next()
}

// observe logs and counts every request. The query string is never logged: callback and webhook
// URLs carry signatures there.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	elapsed := time.Since(start)
	s.metrics.observeHTTP(c.Request.Method, route, status, elapsed)
	level := slog.LevelInfo
	if route == "/healthz" || route == "/readyz" || route == "/metrics" {
		level = slog.LevelDebug
	}
	s.log.Log(c.Request.Context(), level, "http request", "method", c.Request.Method, "route", route,
		"path", c.Request.URL.Path, "status", status, "duration_ms", elapsed.Milliseconds(), "remote", c.ClientIP())
}
