package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/models/storetest"
)

// env is one server on a fresh database, driven through its HTTP handler as a client would.
type env struct {
	t     testing.TB
	srv   *Server
	store *models.Store
	token string
	logs  *lockedBuffer
}

// lockedBuffer collects log output from concurrent handlers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, envOptions{})
}

// envOptions vary newEnv's server.
type envOptions struct {
	// now is the store's clock (and so the lockout's); time.Now when nil.
	now func() time.Time
	// trustedProxies are the proxies whose X-Forwarded-For the server believes.
	trustedProxies []netip.Prefix
	// publicURLUnset: the public URL is the default, not configured.
	publicURLUnset bool
	// displayZone is the pages' configured time zone.
	displayZone *time.Location
}

func newEnvWith(t testing.TB, o envOptions) *env {
	t.Helper()
	store := storetest.Open(t, storetest.Options{Now: o.now})
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := New(Config{PublicURL: "https://wecomflow.example.com", Version: "test", TrustedProxies: o.trustedProxies,
		PublicURLUnset: o.publicURLUnset, DisplayZone: o.displayZone}, store, log)
	token, err := srv.Service().Bootstrap(context.Background(), "")
	if err != nil || token == "" {
		t.Fatalf("bootstrap: %q %v", token, err)
	}
	return &env{t: t, srv: srv, store: store, token: token, logs: logs}
}

// response is an answer as a client sees it.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as a generic JSON object.
func (r response) JSON() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

// Data is the "data" member of the body.
func (r response) Data() map[string]any {
	d, _ := r.JSON()["data"].(map[string]any)
	return d
}

// Fields is error.fields of an error body.
func (r response) Fields() map[string]any {
	e, _ := r.JSON()["error"].(map[string]any)
	f, _ := e["fields"].(map[string]any)
	return f
}

// Code is error.code of an error body.
func (r response) Code() string {
	e, _ := r.JSON()["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (e *env) raw(method, path, contentType string, body io.Reader, token string) response {
	return e.rawFrom("", method, path, contentType, body, token)
}

// rawFrom is raw from the client address remote (host:port); "" keeps httptest's 192.0.2.1.
func (e *env) rawFrom(remote, method, path, contentType string, body io.Reader, token string) response {
	req := httptest.NewRequest(method, path, body)
	if remote != "" {
		req.RemoteAddr = remote
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(w, req)
	return response{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

// do sends body (a string is sent as is, anything else as JSON) with the admin token.
func (e *env) do(method, path string, body any) response {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewBufferString(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	return e.raw(method, path, "application/json", r, e.token)
}

// must is do that fails the test unless the status is want.
func (e *env) must(want int, method, path string, body any) response {
	e.t.Helper()
	res := e.do(method, path, body)
	if res.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.Status, want, res.Body)
	}
	return res
}

// upload posts content as the multipart field "file".
func (e *env) upload(path, filename string, content []byte) response {
	return e.uploadFile(path, nil, filename, content)
}

// uploadFile posts form fields and content as the multipart field "file".
func (e *env) uploadFile(path string, fields map[string]string, filename string, content []byte) response {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("file", filename)
	_, _ = fw.Write(content)
	_ = mw.Close()
	return e.raw(http.MethodPost, path, mw.FormDataContentType(), &buf, e.token)
}

// acmeAuthenticator is a valid create body with every secret set to a recognisable value.
func acmeAuthenticator(name string) map[string]any {
	return map[string]any{
		"name": name, "title": "Acme WeCom",
		"options": map[string]any{
			"corpId": "ww1436e0e65a779aee", "agentId": 1000002, "secret": "SECRET-app-" + name,
			"callback":         map[string]any{"token": "TOKENapp" + name[:1], "encodingAesKey": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"},
			"contactsCallback": map[string]any{"token": "TOKENcontacts", "encodingAesKey": "kWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2D"},
			"sync":             map[string]any{"enabled": true, "schedule": "@every 6h", "contactSecret": "SECRET-contacts-" + name, "autoCreateUsers": true},
		},
	}
}

// snapshot is every row of every table, to prove a rejected request changed nothing.
func (e *env) snapshot() string {
	e.t.Helper()
	var out bytes.Buffer
	for _, table := range []string{"authenticators", "channels", "users", "api_tokens"} {
		cols, rows := e.rows("SELECT * FROM " + table + " ORDER BY id")
		for _, vals := range rows {
			for i, v := range vals {
				if table == "authenticators" && cols[i] == "secrets" {
					v = "sealed" // resealing uses a new nonce; the rest must be byte-equal
				}
				out.WriteString(table + "." + cols[i] + "=" + toString(v) + "\n")
			}
		}
	}
	return out.String()
}

// rows runs a query on the read pool and returns its columns and values ([]byte as string).
func (e *env) rows(query string) ([]string, [][]any) {
	e.t.Helper()
	rows, err := e.store.Read.Raw(query).Rows()
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			e.t.Fatal(err)
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		out = append(out, vals)
	}
	return cols, out
}

func toString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
