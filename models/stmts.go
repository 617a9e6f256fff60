package models

import (
	"context"
	"database/sql"
	"strings"
	"sync"

	"gorm.io/gorm"
)

// stmtCache holds the prepared statements of the writes every message makes. SQLite parses a
// statement anew on each run otherwise, and gorm builds it from the struct by reflection first:
// together about a quarter of the server's CPU per message, measured as deployed. On MySQL the
// driver interpolates parameters (one round trip, nothing to prepare), so only gorm is skipped.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// exec runs one of the store's fixed statements in tx (a gorm transaction, or the writer outside
// one) without gorm's statement building.
func (s *Store) exec(tx *gorm.DB, query string, args ...any) (sql.Result, error) {
	return s.run(tx, query, args, true)
}

// run is exec; prepare false runs the statement unprepared (a large insert, whose text is parsed
// once for many rows and whose prepared form would take much memory).
func (s *Store) run(tx *gorm.DB, query string, args []any, prepare bool) (sql.Result, error) {
	res, err := s.runRaw(tx, query, args, prepare)
	if t, ok := tx.Dialector.(gorm.ErrorTranslator); ok && err != nil {
		// As gorm would: a unique key's violation is gorm.ErrDuplicatedKey.
		err = t.Translate(err)
	}
	return res, err
}

func (s *Store) runRaw(tx *gorm.DB, query string, args []any, prepare bool) (sql.Result, error) {
	ctx := tx.Statement.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if s.Dialect == DialectSQLite && prepare {
		if st := s.stmts.get(s, query); st != nil {
			if sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx); ok {
				// The writer has one connection, which the statement was prepared on: the
				// transaction runs it there without preparing it again.
				return sqlTx.StmtContext(ctx, st).ExecContext(ctx, args...)
			}
			return st.ExecContext(ctx, args...)
		}
	}
	return tx.Statement.ConnPool.ExecContext(ctx, query, args...)
}

// query runs one of the store's fixed reads on the read pool without gorm; on SQLite the
// statement is prepared once (on each read connection as it is used).
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	db, err := s.Read.DB()
	if err != nil {
		return nil, err
	}
	if s.Dialect != DialectSQLite {
		return db.QueryContext(ctx, query, args...)
	}
	c := &s.readStmts
	c.mu.Lock()
	st, ok := c.m[query]
	c.mu.Unlock()
	if !ok {
		if st, err = db.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		c.mu.Lock()
		if prior, ok := c.m[query]; ok {
			st.Close()
			st = prior
		} else {
			if c.m == nil {
				c.m = map[string]*sql.Stmt{}
			}
			c.m[query] = st
		}
		c.mu.Unlock()
	}
	return st.QueryContext(ctx, args...)
}

// scan runs a read with query and scans each row into the pointers next returns for it.
func (s *Store) scan(ctx context.Context, query string, args []any, next func() []any) error {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(next()...); err != nil {
			return err
		}
	}
	return rows.Err()
}

// get is query prepared on the writer, or nil until it is. The first use starts preparing it in
// the background: the caller holds the writer's one connection in a transaction, and the
// preparation waits for it.
func (c *stmtCache) get(s *Store, query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, seen := c.m[query]
	if seen {
		return st
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[query] = nil
	db, err := s.DB.DB()
	if err != nil {
		return nil
	}
	go func() {
		st, err := db.Prepare(query)
		if err != nil {
			// The store is closing, or the statement is wrong; either way it runs unprepared,
			// where a wrong one fails with its error.
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.m == nil {
			st.Close()
			return
		}
		c.m[query] = st
	}()
	return nil
}

// closeStmts closes the prepared statements (Close).
func (c *stmtCache) closeStmts() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		if st != nil {
			st.Close()
		}
	}
	c.m = nil
}

// maxPreparedRows bounds the multi-row inserts kept prepared: the bursts of single sends that
// group commits gather; larger batches amortise their parse.
const maxPreparedRows = 16

// insertValues inserts rows of len(cols) values each (args, row after row) into table, in
// statements of at most rowsPerInsert rows, and returns each row's auto-increment id (counted on
// from the first of its statement's rows: SQLite numbers a statement's rows in turn and MySQL hands
// a multi-row insert consecutive ids, as gorm's batch inserts also assume).
func (s *Store) insertValues(tx *gorm.DB, table string, cols []string, args []any) ([]uint64, error) {
	rows := len(args) / len(cols)
	per := s.rowsPerInsert(len(cols))
	ids := make([]uint64, 0, rows)
	for start := 0; start < rows; start += per {
		n := min(per, rows-start)
		res, err := s.run(tx, insertSQL(table, cols, n), args[start*len(cols):(start+n)*len(cols)], n <= maxPreparedRows)
		if err != nil {
			return nil, err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return nil, err
		}
		if s.Dialect == DialectSQLite {
			// SQLite reports the last row's id, MySQL the first's.
			id -= int64(n - 1)
		}
		for i := range n {
			ids = append(ids, uint64(id)+uint64(i))
		}
	}
	return ids, nil
}

// insertWithIDs inserts rows into table, whose columns are cols (the auto-increment id first, in
// the order of fields()), all but the id, and gives each row the id it got.
func insertWithIDs[R interface{ fields() []any }](s *Store, tx *gorm.DB, table string, cols []string, rows []R, id func(R) *uint64) error {
	args := make([]any, 0, len(rows)*(len(cols)-1))
	for _, r := range rows {
		args = append(args, r.fields()[1:]...)
	}
	ids, err := s.insertValues(tx, table, cols[1:], args)
	if err != nil {
		return err
	}
	for i, r := range rows {
		*id(r) = ids[i]
	}
	return nil
}

// insertSQLs are the texts insertSQL made for up to maxPreparedRows rows, by table, column list
// and rows: each is also the key of its prepared statement, and building it anew for every group
// commit was 5% of the bytes the accept path allocates.
var insertSQLs sync.Map

type insertKey struct {
	table string
	cols  *string // the first of the column list, a package-level slice
	n     int
}

// insertSQL is "INSERT INTO table (cols) VALUES (?, …), …" for n rows.
func insertSQL(table string, cols []string, n int) string {
	if n > maxPreparedRows {
		return buildInsertSQL(table, cols, n)
	}
	k := insertKey{table, &cols[0], n}
	if q, ok := insertSQLs.Load(k); ok {
		return q.(string)
	}
	q := buildInsertSQL(table, cols, n)
	insertSQLs.Store(k, q)
	return q
}

func buildInsertSQL(table string, cols []string, n int) string {
	row := "(" + strings.Repeat("?, ", len(cols)-1) + "?)"
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}
