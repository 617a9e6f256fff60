package callback

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/wecomflow/wecomflow/models"
)

// MaxBody bounds a callback body; WeCom's are a few KB.
const MaxBody = 1 << 20

// Lookup errors: both answer 404, so a scanner learns nothing it could not guess.
var (
	ErrUnknownAuthenticator = errors.New("no authenticator has this name")
	ErrNotConfigured        = errors.New("this callback URL is not configured")
)

// Credentials verify one of an authenticator's two URLs.
type Credentials struct {
	AuthenticatorID uint64
	CorpID          string
	Token           string
	EncodingAESKey  string
}

// Lookup finds the credentials of an authenticator's URL of a kind.
type Lookup func(ctx context.Context, name, kind string) (Credentials, error)

// Store keeps events.
type Store interface {
	SaveEvent(ctx context.Context, e *models.CallbackEvent) (*models.CallbackEvent, bool, error)
	ClaimEvents(ctx context.Context, owner string, lease time.Duration, limit int) ([]models.CallbackEvent, error)
	FinishEvents(ctx context.Context, owner string, ids []uint64, status, errText string, retryAt time.Time) (int, error)
}

// Handler answers WeCom's calls to the message-reception URLs.
type Handler struct {
	lookup  Lookup
	store   Store
	maxSkew time.Duration
	now     func() time.Time
	log     *slog.Logger
	// Accepted is told of each newly stored event (it wakes the processor).
	Accepted func()
	// Observe is told of every answer (metrics).
	Observe func(kind string, status int)

	mu    sync.Mutex
	cache map[string]cachedCredentials
}

type cachedCredentials struct {
	creds Credentials
	// crypto is built from creds once, not per callback (the key's decoding and AES schedule).
	// nil when the credentials are not usable.
	crypto *Crypto
	at     time.Time
}

// credentialsTTL bounds how long looked-up credentials are reused. A verification that fails
// with cached credentials is retried with fresh ones, so an edited Token works at once.
const credentialsTTL = 5 * time.Second

// NewHandler builds the handler. maxSkew 0 disables the timestamp check.
func NewHandler(lookup Lookup, store Store, maxSkew time.Duration, now func() time.Time, log *slog.Logger) *Handler {
	return &Handler{lookup: lookup, store: store, maxSkew: maxSkew, now: now, log: log, cache: map[string]cachedCredentials{},
		Accepted: func() {}, Observe: func(string, int) {}}
}

// answer ends a call with a status and, for errors, a short plain-text reason (never details
// that would help a forger).
func (h *Handler) answer(w http.ResponseWriter, kind string, status int, body string) {
	h.Observe(kind, status)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// Serve handles GET (URL verification) and POST (a message or event) for the URL of an
// authenticator's name and kind.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, name, kind string) {
	q := r.URL.Query()
	sig, ts, nonce := q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce")
	var encrypted string
	var body []byte
	switch r.Method {
	case http.MethodGet:
		encrypted = q.Get("echostr")
	case http.MethodPost:
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
		if err != nil {
			h.answer(w, kind, http.StatusRequestEntityTooLarge, "body too large")
			return
		}
	default:
		h.answer(w, kind, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	cached, err := h.credentials(r.Context(), name, kind, false)
	if err != nil {
		h.notFoundOrError(w, kind, err)
		return
	}
	if r.Method == http.MethodPost {
		env, err := ParseEnvelope(body)
		if err != nil {
			h.answer(w, kind, http.StatusBadRequest, "malformed body")
			return
		}
		encrypted = env.Encrypt
	}
	if sig == "" || ts == "" || nonce == "" || encrypted == "" {
		h.answer(w, kind, http.StatusUnauthorized, "missing signature")
		return
	}
	creds, crypto, err := h.verified(r.Context(), name, kind, cached, sig, ts, nonce, encrypted)
	if err != nil {
		h.notFoundOrError(w, kind, err)
		return
	}
	if !h.fresh(ts) {
		h.answer(w, kind, http.StatusUnauthorized, "stale timestamp")
		return
	}
	plain, err := crypto.Decrypt(encrypted)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, ErrReceiveID) {
			status = http.StatusUnauthorized
		}
		h.answer(w, kind, status, "cannot decrypt")
		return
	}
	if r.Method == http.MethodGet {
		// WeCom wants exactly the plaintext: no quotes, BOM or newline.
		h.answer(w, kind, http.StatusOK, string(plain))
		return
	}
	if err := h.accept(r.Context(), creds.AuthenticatorID, kind, plain); err != nil {
		if errors.Is(err, ErrBadXML) {
			h.answer(w, kind, http.StatusBadRequest, "malformed message")
			return
		}
		// Not stored: a non-200 makes WeCom deliver it again.
		h.log.ErrorContext(r.Context(), "storing a callback failed", "authenticator", name, "kind", kind, "err", err)
		h.answer(w, kind, http.StatusInternalServerError, "try again")
		return
	}
	h.answer(w, kind, http.StatusOK, "")
}

func (h *Handler) notFoundOrError(w http.ResponseWriter, kind string, err error) {
	switch {
	case errors.Is(err, ErrUnknownAuthenticator), errors.Is(err, ErrNotConfigured):
		h.answer(w, kind, http.StatusNotFound, "not found")
	case errors.Is(err, errBadSignature):
		h.answer(w, kind, http.StatusUnauthorized, "bad signature")
	default:
		h.log.Error("callback credentials lookup failed", "err", err)
		h.answer(w, kind, http.StatusInternalServerError, "try again")
	}
}

var errBadSignature = errors.New("bad signature")

// credentials looks up (or reuses, unless fresh is set) an URL's credentials and their crypto.
func (h *Handler) credentials(ctx context.Context, name, kind string, fresh bool) (cachedCredentials, error) {
	key := kind + "/" + name
	now := time.Now()
	h.mu.Lock()
	c, ok := h.cache[key]
	h.mu.Unlock()
	if ok && !fresh && now.Sub(c.at) < credentialsTTL {
		return c, nil
	}
	creds, err := h.lookup(ctx, name, kind)
	if err != nil {
		return cachedCredentials{}, err
	}
	c = cachedCredentials{creds: creds, at: now}
	// Unusable credentials stay without crypto: their callbacks fail the signature check.
	c.crypto, _ = NewCrypto(creds.Token, creds.EncodingAESKey, creds.CorpID)
	h.mu.Lock()
	h.cache[key] = c
	h.mu.Unlock()
	return c, nil
}

// verified checks the signature; on failure with possibly stale cached credentials it tries once
// more with fresh ones.
func (h *Handler) verified(ctx context.Context, name, kind string, c cachedCredentials, sig, ts, nonce, encrypted string) (Credentials, *Crypto, error) {
	for attempt := 0; attempt < 2; attempt++ {
		if attempt == 1 {
			var err error
			if c, err = h.credentials(ctx, name, kind, true); err != nil {
				return Credentials{}, nil, err
			}
		}
		if c.crypto != nil && c.crypto.Verify(sig, ts, nonce, encrypted) {
			return c.creds, c.crypto, nil
		}
	}
	return Credentials{}, nil, errBadSignature
}

// fresh applies WECOMFLOW_CALLBACK_MAX_SKEW to the timestamp.
func (h *Handler) fresh(ts string) bool {
	if h.maxSkew <= 0 {
		return true
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	d := h.now().Sub(time.Unix(sec, 0))
	return d <= h.maxSkew && d >= -h.maxSkew
}

// accept parses and stores a decrypted message, once: a redelivery only counts.
func (h *Handler) accept(ctx context.Context, authID uint64, kind string, plain []byte) error {
	e, err := newEvent(authID, kind, plain)
	if err != nil {
		return err
	}
	_, stored, err := h.store.SaveEvent(ctx, e)
	if err != nil {
		return err
	}
	if stored {
		h.Accepted()
	}
	return nil
}

// newEvent is a decrypted message as it is stored: its fields, and as Payload ParseMessage's
// object in JSON (written by the parser, not through the maps and encoding/json).
func newEvent(authID uint64, kind string, plain []byte) (*models.CallbackEvent, error) {
	msg, err := parseEvent(plain)
	if err != nil {
		return nil, err
	}
	created, _ := strconv.ParseInt(msg.createTime, 10, 64)
	return &models.CallbackEvent{AuthenticatorID: authID, Kind: kind, DedupKey: dedupKey(kind, msg.msgID, plain),
		MsgType: msg.msgType, Event: msg.event, ChangeType: msg.changeType, FromUser: msg.fromUser,
		CreateTime: created, Payload: string(msg.payload)}, nil
}

// dedupKey is MsgId when the message has one; otherwise a hash of the decrypted message. WeCom
// resends the same plaintext under a new nonce and random prefix, so the hash matches a retry,
// while two different events (two users changed in the same second) hash apart.
func dedupKey(kind, msgID string, plain []byte) string {
	if msgID != "" {
		return kind + ":msg:" + msgID
	}
	sum := sha256.Sum256(plain)
	return kind + ":sha256:" + hex.EncodeToString(sum[:])
}
