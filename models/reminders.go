package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Reminder is the reminding of a card's recipients who have not clicked it
// (waitForResponse.remind, SPEC §11): stored with the card, in the same transaction, and claimed
// by the workflow engine's reminder loop each time a round is due. It lives beside the job, not in
// it: the job resolves on the first click, while the others are still reminded until the card's
// timeout. A done reminder (every round sent, nobody left, the timeout reached) is deleted.
type Reminder struct {
	ID uint64 `gorm:"primaryKey"`
	// MessageID is the card's message.
	MessageID   string `gorm:"size:26;not null;uniqueIndex"`
	ExecutionID string `gorm:"size:26;not null"`
	Channel     string `gorm:"size:255;not null"`
	// Recipients are the WeCom userids the card was sent to, "a|b".
	Recipients string `gorm:"type:mediumtext;not null"`
	// Text is the reminder's content, rendered when the card was.
	Text  string        `gorm:"type:text;not null"`
	Every time.Duration `gorm:"not null"`
	// Times bounds the rounds; Rounds counts those sent.
	Times  int `gorm:"not null"`
	Rounds int `gorm:"not null"`
	// NextAt is when the next round is due; Until the card's timeout, which ends the reminding.
	NextAt     time.Time `gorm:"not null;index:idx_reminders_due"`
	Until      time.Time `gorm:"not null"`
	LeaseOwner string    `gorm:"size:64;not null"`
	LeaseUntil *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// ClaimReminders leases up to limit reminders whose round is due (their lease, if any, lapsed) to
// owner until now+lease.
func (s *Store) ClaimReminders(ctx context.Context, owner string, lease time.Duration, limit int) ([]Reminder, error) {
	now := s.Now()
	var out []Reminder
	err := s.retryDeadlock(ctx, func(tx *gorm.DB) error {
		ids, err := dueIDs[uint64](tx, s.Dialect, &Reminder{}, "next_at", limit,
			where("next_at <= ? AND (lease_until IS NULL OR lease_until < ?)", now, now))
		if err != nil {
			return fmt.Errorf("store: unable to find due reminders: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		if err := tx.Model(&Reminder{}).Where("id IN ?", ids).
			Updates(map[string]any{"lease_owner": owner, "lease_until": now.Add(lease), "updated_at": now}).Error; err != nil {
			return fmt.Errorf("store: unable to claim reminders: %w", err)
		}
		return tx.Where("id IN ?", ids).Order("next_at").Find(&out).Error
	})
	return out, err
}

// RecordReminder writes a round of a claimed reminder in one transaction, so that a crash neither
// loses nor repeats it: the round's message (nil when nobody was left to remind) and the
// reminder's next round — Rounds and NextAt as r has them now — or, when done, its deletion.
// ErrInUse when owner no longer holds it (its lease lapsed and another instance took the round).
func (s *Store) RecordReminder(ctx context.Context, owner string, r *Reminder, done bool, m *MessageWithRequests) error {
	return s.retryDeadlock(ctx, func(tx *gorm.DB) error {
		q := tx.Where("id = ? AND lease_owner = ?", r.ID, owner)
		var res *gorm.DB
		if done {
			res = q.Delete(&Reminder{})
		} else {
			res = q.Model(&Reminder{}).Updates(map[string]any{"rounds": r.Rounds, "next_at": r.NextAt,
				"lease_owner": "", "lease_until": nil, "updated_at": s.Now()})
		}
		if res.Error != nil {
			return fmt.Errorf("store: unable to record a reminder: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("store: reminder %d: lease lost: %w", r.ID, ErrInUse)
		}
		if m == nil {
			return nil
		}
		return s.insertMessageRows(tx, []acceptJob{{m: m.Message, reqs: m.Requests}})
	})
}
