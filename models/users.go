package models

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// User sources: who owns a user's fields. A directory sync only links manual and import users.
const (
	SourceManual = "manual"
	SourceImport = "import"
	SourceSync   = "sync"
)

// User is a person of the local user system that message receivers resolve against.
type User struct {
	ID     uint64 `gorm:"primaryKey"`
	UserID string `gorm:"column:userid;size:128;not null;uniqueIndex"`
	Name   string `gorm:"size:255;not null"`
	Mobile string `gorm:"size:64;not null"`
	Email  string `gorm:"size:255;not null"`
	// WeChatWK is the "wechatwk" binding: the person's WeCom userid, shared by every app of a corp.
	WeChatWK  string `gorm:"column:wechatwk;size:64;not null;index"`
	Source    string `gorm:"size:16;not null;index:idx_users_source"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// UserChange is one row of a bulk upsert: the user with UserID gets the fields that are not nil;
// the others keep their stored value (or start empty when the user is new).
type UserChange struct {
	UserID                        string
	Name, Mobile, Email, WeChatWK *string
}

// UpsertResult counts what an upsert did.
type UpsertResult struct{ Created, Updated int }

// insertRows is the rows per multi-row INSERT: the pure-Go SQLite driver slows sharply past about
// 1,000 parameters per statement (125 user rows), while a networked MySQL gains from fewer round trips.
func (s *Store) insertRows() int {
	if s.Dialect == DialectSQLite {
		return 125
	}
	return upsertBatch
}

// UpsertUsers creates or updates users by userid in one transaction and marks them with source.
// Rows are written with INSERT … ON CONFLICT/ON DUPLICATE KEY UPDATE grouped by the set of
// fields they change, so concurrent uploads that overlap never duplicate a userid and never
// blank a field the other upload set. Created/Updated are counted from what this transaction
// saw before writing. changes must not repeat a userid. The audit entry ctx carries (WithAudit)
// is written once for the whole upsert, with its counts.
func (s *Store) UpsertUsers(ctx context.Context, changes []UserChange, source string) (UpsertResult, error) {
	if len(changes) == 0 {
		return UpsertResult{}, nil
	}
	sorted := append([]UserChange(nil), changes...)
	// One global order for every writer keeps MySQL row locks from deadlocking in the common case.
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].UserID < sorted[j].UserID })
	var res UpsertResult
	err := s.retryDeadlock(ctx, func(tx *gorm.DB) error {
		existing := map[string]bool{}
		ids := make([]string, len(sorted))
		for i, c := range sorted {
			ids[i] = c.UserID
		}
		for start := 0; start < len(ids); start += upsertBatch {
			var found []string
			chunk := ids[start:min(start+upsertBatch, len(ids))]
			if err := tx.Model(&User{}).Where("userid IN ?", chunk).Pluck("userid", &found).Error; err != nil {
				return fmt.Errorf("store: unable to read users: %w", err)
			}
			for _, id := range found {
				existing[id] = true
			}
		}
		groups := map[string][]User{}
		var order []string
		for _, c := range sorted {
			u, cols := c.row(source)
			key := strings.Join(cols, ",")
			if _, ok := groups[key]; !ok {
				order = append(order, key)
			}
			groups[key] = append(groups[key], u)
		}
		for _, key := range order {
			rows := groups[key]
			cols := append(strings.Split(key, ","), "source", "updated_at")
			err := tx.Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "userid"}},
				DoUpdates: clause.AssignmentColumns(cols),
			}).CreateInBatches(&rows, s.insertRows()).Error
			if err != nil {
				return fmt.Errorf("store: unable to upsert users: %w", err)
			}
		}
		res = UpsertResult{}
		for _, c := range sorted {
			if existing[c.UserID] {
				res.Updated++
			} else {
				res.Created++
			}
		}
		return writeAudit(ctx, tx, 0, map[string]int{"created": res.Created, "updated": res.Updated})
	})
	return res, err
}

// row is the insert form of c and the columns an update of an existing row may touch.
func (c UserChange) row(source string) (User, []string) {
	u := User{UserID: c.UserID, Source: source}
	var cols []string
	set := func(col string, dst *string, v *string) {
		if v != nil {
			*dst = *v
			cols = append(cols, col)
		}
	}
	set("name", &u.Name, c.Name)
	set("mobile", &u.Mobile, c.Mobile)
	set("email", &u.Email, c.Email)
	set("wechatwk", &u.WeChatWK, c.WeChatWK)
	if len(cols) == 0 {
		// Nothing to change but the source: still a valid upsert (it creates the user).
		cols = []string{"userid"}
	}
	return u, cols
}

// ListUsers pages through users, filtered by userid/name/wechatwk and source.
func (s *Store) ListUsers(ctx context.Context, f ListFilter, p Page) ([]User, int64, error) {
	return list[User](ctx, s.Read, "users", p, func(q *gorm.DB) *gorm.DB {
		if f.Source != "" {
			q = q.Where("source = ?", f.Source)
		}
		return nameScope(f, "userid", "name", "wechatwk")(q)
	})
}

// GetUser reads one user by id.
func (s *Store) GetUser(ctx context.Context, id uint64) (*User, error) {
	return get[User](ctx, s.Read, "user", "id = ?", id)
}

// CreateUser inserts u; a taken userid is ErrDuplicate.
func (s *Store) CreateUser(ctx context.Context, u *User) error {
	return s.audited(ctx, &u.ID, func(tx *gorm.DB) error { return create(ctx, tx, "user", u) })
}

// UpdateUser writes every field of u.
func (s *Store) UpdateUser(ctx context.Context, u *User) error {
	return s.audited(ctx, &u.ID, func(tx *gorm.DB) error { return save(ctx, tx, "user", u) })
}

// DeleteUser removes one user.
func (s *Store) DeleteUser(ctx context.Context, id uint64) error {
	return s.audited(ctx, &id, func(tx *gorm.DB) error { return deleteByID[User](ctx, tx, "user", id) })
}

// WeComIDs maps local userids to their wechatwk binding; users missing or unbound are absent.
func (s *Store) WeComIDs(ctx context.Context, userids []string) (map[string]string, error) {
	out := make(map[string]string, len(userids))
	// Every message to local users asks this: a prepared statement (one per list length), no gorm.
	for start := 0; start < len(userids); start += upsertBatch {
		chunk := userids[start:min(start+upsertBatch, len(userids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		var rows []User
		err := s.scan(ctx, "SELECT userid, wechatwk FROM users WHERE wechatwk <> '' AND userid IN "+inList(len(chunk)), args, func() []any {
			rows = append(rows, User{})
			return []any{&rows[len(rows)-1].UserID, &rows[len(rows)-1].WeChatWK}
		})
		if err != nil {
			return nil, fmt.Errorf("store: unable to resolve users: %w", err)
		}
		for _, u := range rows {
			out[u.UserID] = u.WeChatWK
		}
	}
	return out, nil
}
