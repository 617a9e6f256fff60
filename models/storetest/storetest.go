// Package storetest opens a fresh, migrated Store for a test: embedded SQLite in the test's temp
// folder, or — when WECOMFLOW_TEST_MYSQL_DSN names a MySQL/MariaDB server — a database of its own
// on that server, created for the test and dropped after it, so packages may run in parallel.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"

	"github.com/wecomflow/wecomflow/models"
)

// EnvDSN names the variable that switches tests to MySQL.
const EnvDSN = "WECOMFLOW_TEST_MYSQL_DSN"

// Key is the fixed secret key of test stores.
var Key = []byte("0123456789abcdef0123456789abcdef")

// Options tune Open.
type Options struct {
	Now func() time.Time
}

// DSN returns a database URL for a fresh test database: a SQLite file under t.TempDir(), or a new
// MySQL database (dropped at cleanup) when EnvDSN is set.
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvDSN)
	if base == "" {
		return "sqlite://" + t.TempDir() + "/wecomflow.db"
	}
	mc, err := mysqldriver.ParseDSN(strings.TrimPrefix(base, "mysql://"))
	if err != nil {
		t.Fatalf("%s: %v", EnvDSN, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "wftest_" + hex.EncodeToString(b)
	admin := *mc
	admin.DBName = ""
	db, err := sql.Open("mysql", admin.FormatDSN())
	if err != nil {
		t.Fatalf("mysql: %v", err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		t.Fatalf("mysql: create test database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("mysql", admin.FormatDSN())
		if err == nil {
			_, _ = db.Exec("DROP DATABASE IF EXISTS `" + name + "`")
			db.Close()
		}
	})
	mc.DBName = name
	return "mysql://" + mc.FormatDSN()
}

// Open returns a migrated store on a fresh database, closed at cleanup.
func Open(t testing.TB, opts ...Options) *models.Store {
	t.Helper()
	return OpenDSN(t, DSN(t), opts...)
}

// OpenDSN opens and migrates the store at dsn with the test key, closed at cleanup.
func OpenDSN(t testing.TB, dsn string, opts ...Options) *models.Store {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	c, err := models.NewCipher(Key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := models.Open(context.Background(), dsn, models.Options{Cipher: c, Now: o.Now})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}
