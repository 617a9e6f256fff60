package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/libtnb/sqlite"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/migrator"
)

// Dialects a Store can speak.
const (
	DialectSQLite = "sqlite"
	DialectMySQL  = "mysql"
)

// Store is the database wecomflow runs on. On SQLite, writes go through one connection (so
// writers queue in Go instead of failing with SQLITE_BUSY) while reads use a pool of
// read-only connections that WAL lets run beside the writer. On MySQL both are one pool.
type Store struct {
	// DB takes writes and transactions.
	DB *gorm.DB
	// Read serves plain reads; on MySQL it is DB.
	Read    *gorm.DB
	Dialect string
	// Now is the clock every timestamp the store writes comes from; tests replace it.
	Now        func() time.Time
	cipher     *Cipher
	accepts    groupCommit[acceptJob]
	events     groupCommit[*eventJob]
	executions groupCommit[*Execution]
	hookCache  hookCache
	chanCache  readCache[string, Channel]
	tokenCache readCache[string, TokenOwner]
	wfCache    readCache[string, []Workflow]
	stmts      stmtCache
	readStmts  stmtCache
}

// Options configure Open.
type Options struct {
	// Cipher seals Secret columns; required.
	Cipher *Cipher
	// Now defaults to time.Now.
	Now func() time.Time
	// ReadConns is the size of SQLite's read pool (default 4).
	ReadConns int
}

// Open connects to dsn ("sqlite://PATH" or "mysql://USER:PASS@tcp(HOST:PORT)/DB?…"). It does not
// migrate; call Migrate.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	if opt.Cipher == nil {
		return nil, errors.New("store: a cipher is required")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	s := &Store{Now: func() time.Time { return opt.Now().UTC() }, cipher: opt.Cipher}
	cfg := func() *gorm.Config {
		return &gorm.Config{
			Logger:                                   logger.Discard,
			NowFunc:                                  s.Now,
			TranslateError:                           true,
			DisableForeignKeyConstraintWhenMigrating: true,
		}
	}
	var err error
	switch {
	case strings.HasPrefix(dsn, "sqlite://"):
		s.Dialect = DialectSQLite
		err = s.openSQLite(strings.TrimPrefix(dsn, "sqlite://"), opt.ReadConns, cfg)
	case strings.HasPrefix(dsn, "mysql://"):
		s.Dialect = DialectMySQL
		err = s.openMySQL(strings.TrimPrefix(dsn, "mysql://"), cfg)
	default:
		return nil, fmt.Errorf("store: database URL must start with sqlite:// or mysql:// (got %q)", RedactDSN(dsn))
	}
	if err != nil {
		return nil, err
	}
	for _, db := range []*gorm.DB{s.DB, s.Read} {
		registerSecretCallbacks(db, s.cipher)
	}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) openSQLite(path string, readConns int, cfg func() *gorm.Config) error {
	if path == "" {
		return errors.New("store: sqlite:// needs a file path")
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("store: unable to create the database folder: %w", err)
		}
	}
	// _time_format=sqlite writes times as "2006-01-02 15:04:05.999999999-07:00", the text every
	// database since the first release holds (queries compare it as text, so it must not change).
	// _texttotime=0 and _inttotime=0 keep reads as they were: only TEXT in DATE/DATETIME/TIMESTAMP
	// columns becomes a time.Time (the dialector turns both on unless told). busy_timeout comes
	// first so the pragmas after it wait for a lock instead of failing.
	const pragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)" +
		"&_time_format=sqlite&_texttotime=0&_inttotime=0"
	w, err := gorm.Open(sqliteDialector{&sqlite.Dialector{DSN: "file:" + path + "?" + pragmas + "&_txlock=immediate"}}, cfg())
	if err != nil {
		return fmt.Errorf("store: unable to open %s: %w", path, err)
	}
	wdb, _ := w.DB()
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	r, err := gorm.Open(sqliteDialector{&sqlite.Dialector{DSN: "file:" + path + "?" + pragmas + "&_pragma=query_only(1)"}}, cfg())
	if err != nil {
		wdb.Close()
		return fmt.Errorf("store: unable to open %s for reading: %w", path, err)
	}
	if readConns <= 0 {
		readConns = 4
	}
	rdb, _ := r.DB()
	rdb.SetMaxOpenConns(readConns)
	rdb.SetMaxIdleConns(readConns)
	s.DB, s.Read = w, r
	return nil
}

// sqliteDialector is github.com/libtnb/sqlite's, with a migrator that takes a column's length from
// its declaration only, as the earlier driver did. The migrator learns a table's columns from a
// one-row query, and modernc.org/sqlite, once it has stepped to a row, reports a TEXT value's
// length as math.MaxInt64; so on a table with rows gorm took every `size:N` string column for a
// changed one and rebuilt the table (copy, drop, rename) on each AutoMigrate: schema_migrations
// on every start. (Importing libtnb/sqlite also switches on, process-wide, modernc's
// StrictPragmas, OFD locks and fdatasync for commits; see its init.)
type sqliteDialector struct{ *sqlite.Dialector }

func (d sqliteDialector) Migrator(db *gorm.DB) gorm.Migrator {
	return declaredLengths{d.Dialector.Migrator(db)}
}

type declaredLengths struct{ gorm.Migrator }

func (m declaredLengths) ColumnTypes(value any) ([]gorm.ColumnType, error) {
	cols, err := m.Migrator.ColumnTypes(value)
	for i, c := range cols {
		cols[i] = declaredLength{c}
	}
	return cols, err
}

// gormColumn names the embedded field so it does not clash with the method ColumnType.
type gormColumn = gorm.ColumnType

type declaredLength struct{ gormColumn }

func (c declaredLength) Length() (int64, bool) {
	if mc, ok := c.gormColumn.(migrator.ColumnType); ok && mc.LengthValue.Valid {
		return mc.LengthValue.Int64, true
	}
	return 0, false
}

func (s *Store) openMySQL(dsn string, cfg func() *gorm.Config) error {
	mc, err := mysqldriver.ParseDSN(dsn)
	if err != nil {
		return fmt.Errorf("store: bad mysql DSN: %w", err)
	}
	// utf8mb4 for 汉字 and emoji; UTC so timestamps read back as they were written.
	mc.ParseTime = true
	mc.Loc = time.UTC
	if mc.Params == nil {
		mc.Params = map[string]string{}
	}
	mc.Params["charset"] = "utf8mb4"
	mc.Collation = "utf8mb4_bin"
	mc.Params["time_zone"] = "'+00:00'"
	mc.InterpolateParams = true
	// READ COMMITTED: no gap locks, so concurrent upserts and queue claims do not deadlock on
	// rows that do not exist yet. MariaDB before 11.1 names the variable tx_isolation.
	isolation, err := isolationVariable(mc)
	if err != nil {
		return err
	}
	mc.Params[isolation] = "'READ-COMMITTED'"
	db, err := gorm.Open(mysql.New(mysql.Config{DSNConfig: mc, DSN: mc.FormatDSN()}), cfg())
	if err != nil {
		return fmt.Errorf("store: unable to open mysql %s: %w", mc.Addr, err)
	}
	sdb, _ := db.DB()
	sdb.SetMaxOpenConns(32)
	sdb.SetMaxIdleConns(16)
	sdb.SetConnMaxLifetime(5 * time.Minute)
	s.DB, s.Read = db, db
	return nil
}

func isolationVariable(mc *mysqldriver.Config) (string, error) {
	db, err := sql.Open("mysql", mc.FormatDSN())
	if err != nil {
		return "", fmt.Errorf("store: bad mysql DSN: %w", err)
	}
	defer db.Close()
	var name string
	err = db.QueryRow("SELECT IF(@@version LIKE '%MariaDB%' AND @@version < '11.1', 'tx_isolation', 'transaction_isolation')").Scan(&name)
	if err != nil {
		return "", fmt.Errorf("store: unable to reach mysql %s: %w", mc.Addr, err)
	}
	return name, nil
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	for _, db := range []*gorm.DB{s.DB, s.Read} {
		sdb, err := db.DB()
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if err := sdb.PingContext(ctx); err != nil {
			return fmt.Errorf("store: database unreachable: %w", err)
		}
	}
	return nil
}

// Close releases every connection.
func (s *Store) Close() error {
	s.stmts.closeStmts()
	s.readStmts.closeStmts()
	var errs []error
	seen := map[*gorm.DB]bool{}
	for _, db := range []*gorm.DB{s.DB, s.Read} {
		if db == nil || seen[db] {
			continue
		}
		seen[db] = true
		if sdb, err := db.DB(); err == nil {
			errs = append(errs, sdb.Close())
		}
	}
	return errors.Join(errs...)
}

// RedactDSN hides the password in a database URL so it can be shown in errors and logs.
func RedactDSN(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	if at < 0 {
		return dsn
	}
	prefix := dsn[:at]
	if colon := strings.LastIndex(prefix, ":"); colon >= 0 && !strings.HasSuffix(prefix[:colon+1], "://") {
		return prefix[:colon+1] + "***" + dsn[at:]
	}
	return dsn
}
