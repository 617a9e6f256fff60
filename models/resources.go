package models

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

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

// ListAuthenticators pages through authenticators, filtered by name or title.
func (s *Store) ListAuthenticators(ctx context.Context, f ListFilter, p Page) ([]Authenticator, int64, error) {
	return list[Authenticator](ctx, s.Read, "authenticators", p, nameScope(f, "name", "title"))
}

// GetAuthenticator reads one authenticator by id.
func (s *Store) GetAuthenticator(ctx context.Context, id uint64) (*Authenticator, error) {
	return get[Authenticator](ctx, s.Read, "authenticator", "id = ?", id)
}

// GetAuthenticatorByName reads one authenticator by its unique name.
func (s *Store) GetAuthenticatorByName(ctx context.Context, name string) (*Authenticator, error) {
	return get[Authenticator](ctx, s.Read, "authenticator", "name = ?", name)
}

// CreateAuthenticator inserts a; a taken name is ErrDuplicate.
func (s *Store) CreateAuthenticator(ctx context.Context, a *Authenticator) error {
	return create(ctx, s.DB, "authenticator", a)
}

// UpdateAuthenticator writes every field of a.
func (s *Store) UpdateAuthenticator(ctx context.Context, a *Authenticator) error {
	return save(ctx, s.DB, "authenticator", a)
}

// DeleteAuthenticator removes an authenticator no channel uses (ErrInUse otherwise).
func (s *Store) DeleteAuthenticator(ctx context.Context, id uint64) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var a Authenticator
		// The lock keeps a channel from being created against it between the check and the delete.
		// Only id and name: deleting must work even when the secrets cannot be decrypted (lost key).
		if err := lockForUpdate(tx, s.Dialect).Select("id", "name").Where("id = ?", id).Take(&a).Error; err != nil {
			return fmt.Errorf("store: unable to delete authenticator: %w", notFound(err))
		}
		var users int64
		if err := tx.Model(&Channel{}).Where("authenticator_id = ?", id).Count(&users).Error; err != nil {
			return fmt.Errorf("store: unable to check channels of authenticator: %w", err)
		}
		if users > 0 {
			return fmt.Errorf("store: authenticator %q is used by %d channel(s): %w", a.Name, users, ErrInUse)
		}
		if err := tx.Delete(&Authenticator{}, id).Error; err != nil {
			return fmt.Errorf("store: unable to delete authenticator: %w", err)
		}
		return nil
	})
}

// ListChannels pages through channels, filtered by name/title and authenticator.
func (s *Store) ListChannels(ctx context.Context, f ListFilter, p Page) ([]Channel, int64, error) {
	return list[Channel](ctx, s.Read, "channels", p, func(q *gorm.DB) *gorm.DB {
		if f.AuthenticatorID != 0 {
			q = q.Where("authenticator_id = ?", f.AuthenticatorID)
		}
		return nameScope(f, "name", "title")(q)
	})
}

// GetChannel reads one channel by id.
func (s *Store) GetChannel(ctx context.Context, id uint64) (*Channel, error) {
	return get[Channel](ctx, s.Read, "channel", "id = ?", id)
}

// GetChannelByName reads one channel by its unique name.
func (s *Store) GetChannelByName(ctx context.Context, name string) (*Channel, error) {
	return get[Channel](ctx, s.Read, "channel", "name = ?", name)
}

// SaveChannel creates c (ID 0) or updates it, in a transaction that checks its authenticator
// exists and holds it so a concurrent delete of the authenticator cannot slip in between.
func (s *Store) SaveChannel(ctx context.Context, c *Channel) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var a Authenticator
		if err := lockForUpdate(tx, s.Dialect).Select("id").Where("id = ?", c.AuthenticatorID).Take(&a).Error; err != nil {
			return fmt.Errorf("store: authenticator %d: %w", c.AuthenticatorID, notFound(err))
		}
		if c.ID == 0 {
			return create(ctx, tx, "channel", c)
		}
		return save(ctx, tx, "channel", c)
	})
}

// DeleteChannel removes one channel.
func (s *Store) DeleteChannel(ctx context.Context, id uint64) error {
	return deleteByID[Channel](ctx, s.DB, "channel", id)
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

// lockForUpdate adds FOR UPDATE on MySQL; SQLite's single writer already serializes.
func lockForUpdate(tx *gorm.DB, dialect string) *gorm.DB {
	if dialect == DialectMySQL {
		return tx.Clauses(forUpdate)
	}
	return tx
}

// skipLocked adds FOR UPDATE SKIP LOCKED on MySQL, so concurrent claims pass over each other's rows
// instead of waiting; SQLite has one writer.
func skipLocked(q *gorm.DB, dialect string) *gorm.DB {
	if dialect == DialectMySQL {
		return q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
	}
	return q
}

// cond is one WHERE condition with its arguments.
type cond struct {
	query string
	args  []any
}

func where(query string, args ...any) cond { return cond{query, args} }

// dueIDs locks the ids of up to limit rows of model that are due, taking the conditions in turn
// (each an equality on the first column of an index ordered by order). One query per condition
// lets the database read and lock only the rows it returns: one query over an IN list or an OR
// sorts the whole due backlog and locks all of it, and other instances then find nothing to claim.
func dueIDs[ID any](tx *gorm.DB, dialect string, model any, order string, limit int, conds ...cond) ([]ID, error) {
	var ids []ID
	for _, c := range conds {
		var some []ID
		q := tx.Model(model).Select("id").Where(c.query, c.args...).Order(order).Limit(limit - len(ids))
		if err := skipLocked(q, dialect).Pluck("id", &some).Error; err != nil {
			return nil, err
		}
		if ids = append(ids, some...); len(ids) == limit {
			break
		}
	}
	return ids, nil
}
