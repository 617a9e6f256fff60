package models_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/models/storetest"
)

func TestSecretIsSealedAtRestAndOpenedOnRead(t *testing.T) {
	t.Parallel()
	s := storetest.Open(t)
	ctx := context.Background()
	a := &models.Authenticator{Name: "acme", Title: "Acme", Type: "wecom", Options: "{}", Secrets: models.NewSecret("very-secret-value")}
	if err := s.CreateAuthenticator(ctx, a); err != nil {
		t.Fatal(err)
	}
	var raw string
	if err := s.Read.Raw("SELECT secrets FROM authenticators WHERE id = ?", a.ID).Scan(&raw).Error; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw, "very-secret-value") || !strings.HasPrefix(raw, "v1:") {
		t.Fatalf("stored form %q is not sealed", raw)
	}
	got, err := s.GetAuthenticator(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Secrets.Plain != "very-secret-value" {
		t.Fatalf("read back %q", got.Secrets.Plain)
	}
	list, _, err := s.ListAuthenticators(ctx, models.ListFilter{}, models.Page{Page: 1, Size: 10})
	if err != nil || len(list) != 1 || list[0].Secrets.Plain != "very-secret-value" {
		t.Fatalf("list did not open the secret: %v %+v", err, list)
	}
	// Printing a model must not reveal it.
	if s := got.Secrets.String(); s != "***" {
		t.Fatalf("String() = %q", s)
	}
}

func TestSecretUnderAnotherKeyIsAnErrorNotGarbage(t *testing.T) {
	t.Parallel()
	dsn := storetest.DSN(t)
	s := storetest.OpenDSN(t, dsn)
	ctx := context.Background()
	a := &models.Authenticator{Name: "acme", Title: "Acme", Type: "wecom", Options: "{}", Secrets: models.NewSecret("x")}
	if err := s.CreateAuthenticator(ctx, a); err != nil {
		t.Fatal(err)
	}
	other, _ := models.NewCipher([]byte("ffffffffffffffffffffffffffffffff"))
	s2, err := models.Open(ctx, dsn, models.Options{Cipher: other})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.GetAuthenticator(ctx, a.ID); err == nil || !strings.Contains(err.Error(), "WECOMFLOW_SECRET_KEY") {
		t.Fatalf("want a key error, got %v", err)
	}
}

func TestUnsealedSecretIsNeverWritten(t *testing.T) {
	t.Parallel()
	s := storetest.Open(t)
	// A raw write that skips the model callbacks must fail rather than store plain text.
	err := s.DB.Exec("INSERT INTO authenticators (name, title, type, enabled, options, secrets, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)",
		"x", "x", "wecom", true, "{}", models.NewSecret("plain"), s.Now(), s.Now()).Error
	if err == nil {
		t.Fatal("an unsealed secret was written")
	}
}

func TestMigrateIsSafeToRerun(t *testing.T) {
	t.Parallel()
	dsn := storetest.DSN(t)
	s := storetest.OpenDSN(t, dsn)
	for i := 0; i < 2; i++ {
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatalf("re-run %d: %v", i, err)
		}
	}
	if err := s.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestKeyFileIsCreatedPrivateAndReused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "secret.key")
	k1, created, err := models.LoadOrCreateKeyFile(path)
	if err != nil || !created || len(k1) != 32 {
		t.Fatalf("create: %v %v %d", err, created, len(k1))
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", st.Mode().Perm(), err)
	}
	k2, created, err := models.LoadOrCreateKeyFile(path)
	if err != nil || created || string(k1) != string(k2) {
		t.Fatalf("reuse: %v %v", err, created)
	}
}

func TestRedactDSN(t *testing.T) {
	t.Parallel()
	got := models.RedactDSN("mysql://wf:hunter2@tcp(db:3306)/wf?parseTime=true")
	if strings.Contains(got, "hunter2") || !strings.Contains(got, "wf:***@tcp(db:3306)") {
		t.Fatalf("RedactDSN = %q", got)
	}
}

// A send reuses its channel's read for a moment, but a change of the channel through the store
// shows at once, and a deleted channel is gone.
func TestSendChannelSeesChangesAtOnce(t *testing.T) {
	s := storetest.Open(t)
	ctx := context.Background()
	c := &models.Channel{Name: "ops_group", Title: "Ops", Type: "wecom_robot", Options: `{"a":1}`}
	if err := s.SaveChannel(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SendChannel(ctx, "ops_group"); err != nil || got.Options != `{"a":1}` {
		t.Fatalf("first read: %v %v", got, err)
	}
	c.Options = `{"a":2}`
	if err := s.SaveChannel(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.SendChannel(ctx, "ops_group")
	if err != nil || got.Options != `{"a":2}` {
		t.Fatalf("after the change: %v %v", got, err)
	}
	got.Options = "changed by a caller"
	if again, _ := s.SendChannel(ctx, "ops_group"); again.Options != `{"a":2}` {
		t.Fatal("a caller's change of its copy reached the cache")
	}
	if err := s.DeleteChannel(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendChannel(ctx, "ops_group"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("after the delete: %v", err)
	}
}
