package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// What a person is looked up by in WeCom (SPEC §9.4).
const (
	LookupMobile = "mobile"
	LookupEmail  = "email"
)

// UserLookup is WeCom's answer about a mobile or email of a corp, kept until ExpiresAt so that
// repeated sends do not ask again: the userid found, or "" when WeCom knew nobody by it.
type UserLookup struct {
	CorpID string `gorm:"primaryKey;size:64"`
	Kind   string `gorm:"primaryKey;size:8"`
	// Value is the mobile as given, or the email lower-cased (WeCom matches emails ignoring case).
	Value       string    `gorm:"primaryKey;size:255"`
	WeComUserID string    `gorm:"column:wecom_userid;size:64;not null"`
	ExpiresAt   time.Time `gorm:"not null;index"`
}

// LookupFailure counts a corp's lookups on one day (WeCom's day, China time) that failed or may
// still fail: WeCom blocks a corp's lookups for the rest of the day once too many fail.
type LookupFailure struct {
	CorpID   string `gorm:"primaryKey;size:64"`
	Day      string `gorm:"primaryKey;size:10"`
	Failures int    `gorm:"not null"`
}

// UsersByContact reads the users whose mobile is one of mobiles or whose email, ignoring case, is
// one of emails (given lower-cased).
func (s *Store) UsersByContact(ctx context.Context, mobiles, emails []string) ([]User, error) {
	var out []User
	for start := 0; start < max(len(mobiles), len(emails)); start += upsertBatch {
		var rows []User
		q := s.Read.WithContext(ctx).Select("id", "userid", "mobile", "email", "wechatwk").Order("id").
			Where("mobile IN ? OR LOWER(email) IN ?", nonEmpty(window(mobiles, start)), nonEmpty(window(emails, start)))
		if err := q.Find(&rows).Error; err != nil {
			return nil, fmt.Errorf("store: unable to find users by mobile or email: %w", err)
		}
		out = append(out, rows...)
	}
	return out, nil
}

// window is the upsertBatch values of ids from start, or none.
func window(ids []string, start int) []string {
	if start >= len(ids) {
		return nil
	}
	return ids[start:min(start+upsertBatch, len(ids))]
}

// nonEmpty keeps "IN ?" valid SQL for an empty list: it matches no stored mobile or email, which
// are never "".
func nonEmpty(ids []string) []string {
	if len(ids) == 0 {
		return []string{""}
	}
	return ids
}

// BindUsersByContact writes wecomUserID as the wechatwk binding of the users without one whose
// mobile (kind LookupMobile) or email, ignoring case (LookupEmail, value lower-cased), is value.
// It returns how many it bound.
func (s *Store) BindUsersByContact(ctx context.Context, kind, value, wecomUserID string) (int64, error) {
	cond := "mobile = ?"
	if kind == LookupEmail {
		cond = "LOWER(email) = ?"
	}
	res := s.DB.WithContext(ctx).Model(&User{}).Where(cond+" AND wechatwk = ''", value).
		Updates(map[string]any{"wechatwk": wecomUserID, "updated_at": s.Now()})
	if res.Error != nil {
		return 0, fmt.Errorf("store: unable to bind users: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// CachedLookups maps the values of a kind that a corp's unexpired lookups answered to the userid
// found ("" for nobody); values never looked up, or expired, are absent.
func (s *Store) CachedLookups(ctx context.Context, corpID, kind string, values []string) (map[string]string, error) {
	out := map[string]string{}
	for start := 0; start < len(values); start += upsertBatch {
		var rows []UserLookup
		err := s.Read.WithContext(ctx).Where("corp_id = ? AND kind = ? AND value IN ? AND expires_at > ?", corpID, kind, window(values, start), s.Now()).
			Find(&rows).Error
		if err != nil {
			return nil, fmt.Errorf("store: unable to read cached lookups: %w", err)
		}
		for _, r := range rows {
			out[r.Value] = r.WeComUserID
		}
	}
	return out, nil
}

// SaveLookup stores (or replaces) a lookup's answer for ttl.
func (s *Store) SaveLookup(ctx context.Context, l UserLookup, ttl time.Duration) error {
	l.ExpiresAt = s.Now().Add(ttl)
	err := s.DB.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "corp_id"}, {Name: "kind"}, {Name: "value"}},
		DoUpdates: clause.AssignmentColumns([]string{"wecom_userid", "expires_at"}),
	}).Create(&l).Error
	if err != nil {
		return fmt.Errorf("store: unable to cache a lookup: %w", err)
	}
	return nil
}

// TakeLookupBudget counts one more lookup of a corp on day as failed, unless limit are counted
// already: then it reports false and the lookup must not be made. A lookup that succeeds gives
// its count back (ReturnLookupBudget). Counting before asking keeps concurrent senders, on every
// instance, from overshooting the limit together; a crash in between costs one count, never a block.
func (s *Store) TakeLookupBudget(ctx context.Context, corpID, day string, limit int) (bool, error) {
	if limit <= 0 {
		return false, nil
	}
	taken := false
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&LookupFailure{CorpID: corpID, Day: day}).Error
		if err != nil {
			return err
		}
		res := tx.Model(&LookupFailure{}).Where("corp_id = ? AND day = ? AND failures < ?", corpID, day, limit).
			Update("failures", gorm.Expr("failures + 1"))
		taken = res.RowsAffected == 1
		return res.Error
	})
	if err != nil {
		return false, fmt.Errorf("store: unable to count a lookup: %w", err)
	}
	return taken, nil
}

// ReturnLookupBudget takes back the count of a lookup that did not fail.
func (s *Store) ReturnLookupBudget(ctx context.Context, corpID, day string) error {
	err := s.DB.WithContext(ctx).Model(&LookupFailure{}).Where("corp_id = ? AND day = ? AND failures > 0", corpID, day).
		Update("failures", gorm.Expr("failures - 1")).Error
	if err != nil {
		return fmt.Errorf("store: unable to count a lookup: %w", err)
	}
	return nil
}

// UseUpLookupBudget spends what is left of a corp's budget on day: WeCom already blocks its
// lookups (other software of the corp may have failed lookups this server never saw).
func (s *Store) UseUpLookupBudget(ctx context.Context, corpID, day string, limit int) error {
	err := s.DB.WithContext(ctx).Model(&LookupFailure{}).Where("corp_id = ? AND day = ? AND failures < ?", corpID, day, limit).
		Update("failures", limit).Error
	if err != nil {
		return fmt.Errorf("store: unable to count a lookup: %w", err)
	}
	return nil
}

// deleteExpiredLookups removes the cached lookups that expired and the failure counts of days
// that ended: two days back is past in China and everywhere else.
func (s *Store) deleteExpiredLookups(ctx context.Context, _ time.Time, _ int, removed map[string]int64) error {
	now := s.Now()
	for _, d := range []struct {
		table string
		model any
		cond  string
		arg   any
	}{
		{"user_lookups", &UserLookup{}, "expires_at <= ?", now},
		{"lookup_failures", &LookupFailure{}, "day < ?", now.AddDate(0, 0, -2).Format(time.DateOnly)},
	} {
		res := s.DB.WithContext(ctx).Where(d.cond, d.arg).Delete(d.model)
		if res.Error != nil {
			return fmt.Errorf("%s: %w", d.table, res.Error)
		}
		if res.RowsAffected > 0 {
			removed[d.table] += res.RowsAffected
		}
	}
	return nil
}
