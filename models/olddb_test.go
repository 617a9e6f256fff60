package models_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/models/storetest"
)

// testdata/glebarez-v1.11.sqlite was written by wecomflow with the SQLite driver it used until the
// move to modernc.org/sqlite 1.62 (github.com/glebarez/sqlite 1.11, SQLite 3.41), with every
// clock reading at fixtureTime: one authenticator (secret "old-secret"), channel "ops", user
// "zhangsan" and a queued message with idempotency key "order-1" and one pending request due a
// minute before fixtureTime. It was made at commit 8bff992 by a throwaway test that opened a
// Store on a new file with that clock, migrated it, created those rows and closed it (so the WAL
// was checkpointed into the file); .sqlite rather than .db, which .gitignore leaves out.
var fixtureTime = time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)

// storedTimeLayout is how times are stored on SQLite (_time_format=sqlite). Queries compare
// these columns as text, so a database must keep one layout for all its rows.
const storedTimeLayout = "2006-01-02 15:04:05.999999999-07:00"

func TestDatabaseOfTheOldSQLiteDriverStillWorks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	raw, err := os.ReadFile("testdata/glebarez-v1.11.sqlite")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "wecomflow.db")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	now := fixtureTime.Add(time.Hour)
	c, _ := models.NewCipher(storetest.Key)
	s, err := models.Open(ctx, "sqlite://"+path, models.Options{Cipher: c, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The file predates migration 9 (accounts and roles), which it gets now; once every migration
	// is recorded, Migrate changes nothing: AutoMigrate of schema_migrations (it runs on every
	// start) must not rebuild that table either.
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	before := schema(t, s)
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	if after := schema(t, s); after != before {
		t.Errorf("Migrate changed the schema of a current database:\n%s\nwas\n%s", after, before)
	}
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("ready: %v", err)
	}

	u, err := s.GetUser(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if u.UserID != "zhangsan" || u.Name != "张三" || !u.CreatedAt.Equal(fixtureTime) || !u.UpdatedAt.Equal(fixtureTime) {
		t.Fatalf("user read back as %+v", u)
	}
	a, err := s.GetAuthenticator(ctx, 1)
	if err != nil || a.Secrets.Plain != "old-secret" {
		t.Fatalf("authenticator: %v %+v", err, a)
	}
	m, reqs, err := s.GetMessage(ctx, "01JOLDDRIVERMESSAGE0000001")
	if err != nil {
		t.Fatal(err)
	}
	if !m.CreatedAt.Equal(fixtureTime) || m.SentAt != nil || len(reqs) != 1 || !reqs[0].NotBefore.Equal(fixtureTime.Add(-time.Minute)) {
		t.Fatalf("message read back as %+v %+v", m, reqs)
	}

	// The old message still holds its idempotency key: its created_at is read and compared.
	key := "order-1"
	again := &models.Message{ID: "01JNEWDRIVERMESSAGE0000001", ChannelID: m.ChannelID, Channel: m.Channel,
		AuthenticatorID: m.AuthenticatorID, MsgType: "text", Body: m.Body, SendOptions: "{}",
		Status: models.MessageQueued, TriggerFrom: "api", IdempotencyKey: &key}
	prior, err := s.CreateMessage(ctx, again, nil)
	if !errors.Is(err, models.ErrIdempotent) || prior == nil || prior.ID != m.ID {
		t.Fatalf("same idempotency key: %v %+v", err, prior)
	}

	// The old request is due: its stored not_before compares with a time the new driver binds.
	claimed, err := s.ClaimRequests(ctx, "test", time.Minute, 10)
	if err != nil || len(claimed) != 1 || claimed[0].Request.ID != reqs[0].ID {
		t.Fatalf("claim: %v %+v", err, claimed)
	}

	// Unique keys and missing rows still map to the store's errors.
	if err := s.CreateUser(ctx, &models.User{UserID: "zhangsan", Name: "x", Source: models.SourceManual}); !errors.Is(err, models.ErrDuplicate) {
		t.Fatalf("duplicate userid: got %v, want ErrDuplicate", err)
	}
	if _, err := s.GetUser(ctx, 999); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("missing user: got %v, want ErrNotFound", err)
	}

	// New rows are stored in the layout of the old ones.
	if err := s.CreateUser(ctx, &models.User{UserID: "lisi", Name: "李四", Source: models.SourceManual}); err != nil {
		t.Fatal(err)
	}
	stored := map[string]string{}
	rows, err := s.Read.Raw("SELECT userid, created_at || '' FROM users").Rows()
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, at string
		if err := rows.Scan(&id, &at); err != nil {
			t.Fatal(err)
		}
		stored[id] = at
	}
	rows.Close()
	want := map[string]string{
		"zhangsan": fixtureTime.Format(storedTimeLayout), // 2026-03-04 05:06:07.123456789+00:00
		"lisi":     now.Format(storedTimeLayout),
	}
	for id, w := range want {
		if stored[id] != w {
			t.Errorf("created_at of %s stored as %q, want %q", id, stored[id], w)
		}
	}
}

// schema is the database's DDL as SQLite keeps it.
func schema(t *testing.T, s *models.Store) string {
	t.Helper()
	var ddl []string
	if err := s.Read.Raw("SELECT type || ' ' || name || ': ' || sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name").Scan(&ddl).Error; err != nil {
		t.Fatal(err)
	}
	return strings.Join(ddl, "\n")
}
