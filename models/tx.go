package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	mysqldriver "github.com/go-sql-driver/mysql"
	"gorm.io/gorm"
)

// notFound turns gorm's record-not-found into ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}

// duplicate turns a unique-key violation into ErrDuplicate.
func duplicate(err error) error {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return ErrDuplicate
	}
	return err
}

// Page selects one page of a list; Page counts from 1.
type Page struct{ Page, Size int }

func (p Page) offset() int { return (p.Page - 1) * p.Size }

// ListFilter narrows a list: Q matches names case-insensitively; the other fields are exact.
type ListFilter struct {
	Q               string
	AuthenticatorID uint64
	Source          string
}

// likeQ makes q a LIKE pattern that matches it literally. The escape character is '!' because a
// backslash means different things in MySQL and SQLite string literals.
func likeQ(q string) string {
	r := strings.NewReplacer(`!`, `!!`, `%`, `!%`, `_`, `!_`)
	return "%" + strings.ToLower(r.Replace(q)) + "%"
}

func nameScope(f ListFilter, cols ...string) func(*gorm.DB) *gorm.DB {
	return func(q *gorm.DB) *gorm.DB {
		if f.Q != "" {
			var ors []string
			var args []any
			for _, c := range cols {
				ors = append(ors, "LOWER("+c+") LIKE ? ESCAPE '!'")
				args = append(args, likeQ(f.Q))
			}
			q = q.Where(strings.Join(ors, " OR "), args...)
		}
		return q
	}
}

// list runs one page of a filtered query and the total it came from.
func list[T any](ctx context.Context, db *gorm.DB, what string, p Page, scope func(*gorm.DB) *gorm.DB) ([]T, int64, error) {
	var total int64
	var items []T
	q := scope(db.WithContext(ctx).Model(new(T)))
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("store: unable to count %s: %w", what, err)
	}
	if err := q.Order("id").Offset(p.offset()).Limit(p.Size).Find(&items).Error; err != nil {
		return nil, 0, fmt.Errorf("store: unable to list %s: %w", what, err)
	}
	return items, total, nil
}

func pageOf[T any](q *gorm.DB, what string, p Page, order string) ([]T, int64, error) {
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("store: unable to count %s: %w", what, err)
	}
	var items []T
	if err := q.Order(order).Offset(p.offset()).Limit(p.Size).Find(&items).Error; err != nil {
		return nil, 0, fmt.Errorf("store: unable to list %s: %w", what, err)
	}
	return items, total, nil
}

func get[T any](ctx context.Context, db *gorm.DB, what string, cond string, args ...any) (*T, error) {
	item := new(T)
	if err := db.WithContext(ctx).Where(cond, args...).Take(item).Error; err != nil {
		return nil, fmt.Errorf("store: unable to get %s: %w", what, notFound(err))
	}
	return item, nil
}

func create[T any](ctx context.Context, db *gorm.DB, what string, item *T) error {
	if err := db.WithContext(ctx).Create(item).Error; err != nil {
		return fmt.Errorf("store: unable to create %s: %w", what, duplicate(err))
	}
	return nil
}

func save[T any](ctx context.Context, db *gorm.DB, what string, item *T) error {
	if err := db.WithContext(ctx).Save(item).Error; err != nil {
		return fmt.Errorf("store: unable to update %s: %w", what, duplicate(err))
	}
	return nil
}

func deleteByID[T any](ctx context.Context, db *gorm.DB, what string, id uint64) error {
	res := db.WithContext(ctx).Delete(new(T), id)
	if res.Error != nil {
		return fmt.Errorf("store: unable to delete %s: %w", what, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("store: unable to delete %s: %w", what, ErrNotFound)
	}
	return nil
}

// retryDeadlock runs fn in a transaction, again when MySQL picked it as a deadlock victim or its
// lock wait timed out: both roll the whole transaction back, so a retry is safe.
func (s *Store) retryDeadlock(ctx context.Context, fn func(tx *gorm.DB) error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = s.DB.WithContext(ctx).Transaction(fn)
		if !isDeadlock(err) {
			return err
		}
	}
	return err
}

// isDeadlock reports whether MySQL picked the transaction as a deadlock victim or its lock wait
// timed out.
func isDeadlock(err error) bool {
	var me *mysqldriver.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

// insertOnce runs find-or-insert in a transaction, again when a concurrent transaction inserted
// the same unique key first. (Affected-row counts cannot tell: MariaDB reports 1 for an
// ON DUPLICATE KEY UPDATE that changed nothing.)
func insertOnce(ctx context.Context, s *Store, fn func(tx *gorm.DB) error) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return duplicate(fn(tx)) })
		if !errors.Is(err, ErrDuplicate) {
			return err
		}
	}
	return err
}

// groupCommit shares transactions among concurrent writers: the first caller becomes the leader
// and writes everything queued meanwhile in one transaction, so a burst costs a few commits
// instead of one each — what SQLite's single writer needs to keep up. No goroutine of its own: it
// runs on its callers.
type groupCommit[J any] struct {
	mu      sync.Mutex
	pending []*queued[J]
	leading bool
}

type queued[J any] struct {
	job  J
	done chan error
}

// do queues job and returns its error once a batch holding it was written by write, which
// returns one error per job.
func (g *groupCommit[J]) do(ctx context.Context, job J, write func(ctx context.Context, batch []J) []error) error {
	q := &queued[J]{job: job, done: make(chan error, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, q)
	if g.leading {
		g.mu.Unlock()
		return <-q.done
	}
	g.leading = true
	g.mu.Unlock()
	for {
		g.mu.Lock()
		batch := g.pending
		g.pending = nil
		if len(batch) == 0 {
			g.leading = false
			g.mu.Unlock()
			break
		}
		g.mu.Unlock()
		jobs := make([]J, len(batch))
		for i, b := range batch {
			jobs[i] = b.job
		}
		errs := write(context.WithoutCancel(ctx), jobs)
		for i, b := range batch {
			b.done <- errs[i]
		}
	}
	return <-q.done
}

// inBatchOrEach writes a batch in one transaction; when that fails and the batch has several
// jobs, it writes each in its own, so the error lands only on the job that caused it.
func inBatchOrEach[J any](ctx context.Context, s *Store, batch []J, write func(tx *gorm.DB, jobs []J) error) []error {
	errs := make([]error, len(batch))
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return write(tx, batch) })
	for i := range batch {
		if err != nil && len(batch) > 1 {
			errs[i] = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return write(tx, batch[i:i+1]) })
			continue
		}
		errs[i] = err
	}
	return errs
}

// upsertBatch bounds the rows of one statement: its parameters stay far under SQLite's limit.
const upsertBatch = 500

// rowsPerInsert is how many rows of cols columns one multi-row INSERT carries. The pure-Go SQLite
// driver binds parameters in time quadratic in their number, so on SQLite statements stay near
// 1,000 parameters; MySQL takes the full batch.
func (s *Store) rowsPerInsert(cols int) int {
	if s.Dialect == DialectSQLite {
		return max(1, 1000/cols)
	}
	return upsertBatch
}
