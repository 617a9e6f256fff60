package server

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin/wecom"
)

// Secrets given on create or update appear in no API response, no log line and no database byte.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := acmeAuthenticator("acme")
	secrets := []string{"SECRET-app-acme", "SECRET-contacts-acme", "TOKENappa", "TOKENcontacts",
		"jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "kWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2D", "ROTATED-secret-value"}

	var responses bytes.Buffer
	keep := func(r response) { responses.Write(r.Body); responses.WriteString("\n") }
	created := e.must(201, "POST", "/api/v1/authenticators", body)
	keep(created)
	opts := created.Data()["options"].(map[string]any)
	if opts["secretSet"] != true || opts["callback"].(map[string]any)["encodingAesKeySet"] != true ||
		opts["sync"].(map[string]any)["contactSecretSet"] != true {
		t.Fatalf("secret flags missing: %v", opts)
	}
	keep(e.must(200, "GET", "/api/v1/authenticators/1", nil))
	keep(e.must(200, "GET", "/api/v1/authenticators", nil))
	// A PATCH that rotates the secret and changes nothing else keeps the other secrets.
	patched := e.must(200, "PATCH", "/api/v1/authenticators/1", map[string]any{"options": map[string]any{"secret": "ROTATED-secret-value"}})
	keep(patched)
	if patched.Data()["options"].(map[string]any)["contactsCallback"].(map[string]any)["tokenSet"] != true {
		t.Fatalf("PATCH lost an untouched secret: %s", patched.Body)
	}
	// What a client read can be sent back as is: the "…Set" flags are ignored, secrets kept.
	readBack := e.must(200, "GET", "/api/v1/authenticators/1", nil).Data()
	keep(e.must(200, "PATCH", "/api/v1/authenticators/1", map[string]any{"title": "Renamed", "options": readBack["options"]}))
	// A rejected update echoes nothing either.
	bad := acmeAuthenticator("acme")
	bad["options"].(map[string]any)["agentId"] = -1
	keep(e.do("PATCH", "/api/v1/authenticators/1", bad))
	keep(e.do("POST", "/api/v1/authenticators", body)) // duplicate name

	_, full := wecom.AppOf(mustAuthenticator(t, e, 1))
	if full.Secret != "ROTATED-secret-value" || full.Sync.ContactSecret != "SECRET-contacts-acme" {
		t.Fatalf("stored secrets did not round-trip: %+v", full)
	}

	db := e.databaseText(t)
	for _, s := range secrets {
		if strings.Contains(responses.String(), s) {
			t.Errorf("an API response contains %q", s)
		}
		if strings.Contains(e.logs.String(), s) {
			t.Errorf("the log contains %q", s)
		}
		if strings.Contains(db, s) {
			t.Errorf("the database contains %q in plain bytes", s)
		}
	}
	if !strings.Contains(e.logs.String(), "authenticator created") {
		t.Fatal("the log captured nothing; the check above proves nothing")
	}
}

func mustAuthenticator(t *testing.T, e *env, id uint64) *models.Authenticator {
	a, err := e.store.GetAuthenticator(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// databaseText is every byte the database holds that a reader could see: on SQLite the files
// themselves (main and WAL), on MySQL every column of every table as text.
func (e *env) databaseText(t *testing.T) string {
	t.Helper()
	if e.store.Dialect == models.DialectSQLite {
		var path string
		if err := e.store.Read.Raw("SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&path).Error; err != nil {
			t.Fatal(err)
		}
		var all []byte
		for _, p := range []string{path, path + "-wal"} {
			b, err := os.ReadFile(filepath.Clean(p))
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		if len(all) == 0 {
			t.Fatal("read no database bytes")
		}
		return string(all)
	}
	return e.snapshotRaw(t)
}

func (e *env) snapshotRaw(t *testing.T) string {
	var tables []string
	if err := e.store.Read.Raw("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()").Scan(&tables).Error; err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, table := range tables {
		_, rows := e.rows("SELECT * FROM `" + table + "`")
		for _, vals := range rows {
			for _, v := range vals {
				out.WriteString(toString(v))
				if s, ok := v.(string); ok {
					out.WriteString(s)
				}
			}
		}
	}
	return out.String()
}

// Repointing an authenticator's API base without entering its secrets again is refused and
// changes nothing, so no later check, sync or send hands the stored secret to the new host; with
// the secrets entered again it is taken.
func TestChangingTheAPIBaseNeedsTheSecretsAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var asked atomic.Int32
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		_, _ = w.Write([]byte(`{"errcode":0,"access_token":"stolen","expires_in":7200}`))
	}))
	t.Cleanup(thief.Close)
	e.must(201, "POST", "/api/v1/authenticators", acmeAuthenticator("acme"))
	before := e.snapshot()
	res := e.do("PATCH", "/api/v1/authenticators/1", map[string]any{"options": map[string]any{"apiBaseUrl": thief.URL}})
	if res.Status != 422 || res.Fields()["options.secret"] == nil || res.Fields()["options.sync.contactSecret"] == nil {
		t.Fatalf("repointed without the secrets: %d %s", res.Status, res.Body)
	}
	if e.snapshot() != before {
		t.Fatal("the refused change changed something")
	}
	e.do("POST", "/api/v1/authenticators/1/check", nil)
	if asked.Load() != 0 {
		t.Fatal("the stored secret went to the new host")
	}
	// Only the app secret entered again: the contacts secret is still missing.
	res = e.do("PATCH", "/api/v1/authenticators/1", map[string]any{"options": map[string]any{"apiBaseUrl": thief.URL, "secret": "NEW-app-secret"}})
	if res.Status != 422 || res.Fields()["options.sync.contactSecret"] == nil || res.Fields()["options.secret"] != nil {
		t.Fatalf("half the secrets: %d %s", res.Status, res.Body)
	}
	e.must(200, "PATCH", "/api/v1/authenticators/1", map[string]any{"options": map[string]any{"apiBaseUrl": thief.URL + "/",
		"secret": "NEW-app-secret", "sync": map[string]any{"contactSecret": "NEW-contacts-secret"}}})
	// The same host again (a trailing slash is no change) needs nothing re-entered.
	e.must(200, "PATCH", "/api/v1/authenticators/1", map[string]any{"title": "Renamed", "options": map[string]any{"apiBaseUrl": thief.URL}})
}
