package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Mass message statuses (SPEC §9.5): created until a member sends, sending until every member
// has, then finished; canceled stops it.
const (
	MassCreated  = "created"
	MassSending  = "sending"
	MassFinished = "finished"
	MassCanceled = "canceled"
)

// A member's status in a mass message.
const (
	MassMemberUnsent = "unsent"
	MassMemberSent   = "sent"
)

// MassMessage is a customer mass message (企业群发) created with add_msg_template, and what the
// last refresh learnt of it from WeCom. The leader refreshes it every few minutes until
// RefreshUntil (NextRefreshAt in the database, so a new leader carries on), one instance at a
// time under a lease in LeaseOwner and LeaseUntil.
type MassMessage struct {
	ID              uint64 `gorm:"primaryKey"`
	AuthenticatorID uint64 `gorm:"not null;index"`
	ChatType        string `gorm:"size:16;not null"`
	// Sender is the WeCom userid that sends, "" when every member who added a customer does.
	Sender string `gorm:"size:64;not null"`
	// Body is the add_msg_template request as sent.
	Body   string `gorm:"type:text;not null"`
	MsgID  string `gorm:"column:msgid;size:64;not null;index"`
	Status string `gorm:"size:16;not null;index"`
	// FailList is WeCom's fail_list (a JSON array): customers it could not send to.
	FailList        string `gorm:"type:text;not null"`
	Members         int    `gorm:"not null"`
	SentMembers     int    `gorm:"not null"`
	Sent            int    `gorm:"not null"`
	Unsent          int    `gorm:"not null"`
	NotFriend       int    `gorm:"not null"`
	AlreadyReceived int    `gorm:"not null"`
	Reminders       int    `gorm:"not null"`
	// RefreshError is why the last refresh failed (WeCom's answer, secrets masked), "" after one
	// that worked.
	RefreshError  string `gorm:"type:text;not null"`
	RefreshedAt   *time.Time
	NextRefreshAt *time.Time `gorm:"index:idx_mass_next_refresh"`
	RefreshUntil  time.Time  `gorm:"not null"`
	LeaseOwner    string     `gorm:"size:64;not null"`
	LeaseUntil    *time.Time
	CreatedAt     time.Time `gorm:"index:idx_mass_created"`
	UpdatedAt     time.Time
}

// MassMessageMember is one member's task of a mass message and the count of their customers by
// send result.
type MassMessageMember struct {
	MassMessageID   uint64 `gorm:"primaryKey;autoIncrement:false"`
	UserID          string `gorm:"column:userid;primaryKey;size:64"`
	Status          string `gorm:"size:16;not null"`
	SentAt          *time.Time
	Sent            int `gorm:"not null"`
	Unsent          int `gorm:"not null"`
	NotFriend       int `gorm:"not null"`
	AlreadyReceived int `gorm:"not null"`
	// Counted says the counts were read while the member had Status: a member's results change
	// only when they send, so a counted member is not asked for again until then.
	Counted bool `gorm:"not null"`
}

var massMemberColumns = []string{"status", "sent_at", "sent", "unsent", "not_friend", "already_received", "counted"}

// Mass message errors callers branch on.
var (
	// ErrMassBusy is a mass message another instance is refreshing.
	ErrMassBusy error = &kindError{"being refreshed by another instance", "in_use"}
	// ErrMassLeaseLost is a refresh whose lease lapsed and was taken over, or whose message was
	// canceled meanwhile: its results are not written.
	ErrMassLeaseLost = errors.New("the mass message was taken over or canceled during the refresh")
)

// massRefreshing are the statuses a refresh can still change.
var massRefreshing = []string{MassCreated, MassSending}

// CreateMassMessage stores a mass message WeCom created, with its audit entry.
func (s *Store) CreateMassMessage(ctx context.Context, m *MassMessage) error {
	return s.audited(ctx, &m.ID, func(tx *gorm.DB) error { return create(ctx, tx, "mass message", m) })
}

// MassMessageFilter narrows the list; zero fields do not filter.
type MassMessageFilter struct {
	AuthenticatorID uint64
	Status          string
}

// ListMassMessages pages through mass messages, newest first.
func (s *Store) ListMassMessages(ctx context.Context, f MassMessageFilter, p Page) ([]MassMessage, int64, error) {
	q := s.Read.WithContext(ctx).Model(&MassMessage{})
	if f.AuthenticatorID != 0 {
		q = q.Where("authenticator_id = ?", f.AuthenticatorID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	return pageOf[MassMessage](q, "mass messages", p, "id DESC")
}

// GetMassMessage reads one mass message.
func (s *Store) GetMassMessage(ctx context.Context, id uint64) (*MassMessage, error) {
	return get[MassMessage](ctx, s.Read, "mass message", "id = ?", id)
}

// MassMessageMembers lists the members of a mass message by userid.
func (s *Store) MassMessageMembers(ctx context.Context, id uint64) ([]MassMessageMember, error) {
	var out []MassMessageMember
	if err := s.Read.WithContext(ctx).Where("mass_message_id = ?", id).Order("userid").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("store: unable to list mass message members: %w", err)
	}
	return out, nil
}

// ClaimMassMessage leases one mass message to owner for a refresh: ErrMassBusy while another
// instance holds it, ErrNotFound when it does not exist or no longer refreshes.
func (s *Store) ClaimMassMessage(ctx context.Context, id uint64, owner string, lease time.Duration) (*MassMessage, error) {
	now := s.Now()
	res := s.DB.WithContext(ctx).Model(&MassMessage{}).
		Where("id = ? AND status IN ? AND (lease_until IS NULL OR lease_until < ?)", id, massRefreshing, now).
		Updates(map[string]any{"lease_owner": owner, "lease_until": now.Add(lease)})
	if res.Error != nil {
		return nil, fmt.Errorf("store: unable to claim mass message: %w", res.Error)
	}
	m, err := s.GetMassMessage(ctx, id)
	if err != nil {
		return nil, err
	}
	if res.RowsAffected == 0 {
		if m.LeaseUntil != nil && !m.LeaseUntil.Before(now) {
			return nil, fmt.Errorf("store: mass message %d: %w", id, ErrMassBusy)
		}
		return nil, fmt.Errorf("store: mass message %d no longer refreshes: %w", id, ErrNotFound)
	}
	return m, nil
}

// ClaimDueMassMessages leases to owner up to limit mass messages whose next refresh is due,
// soonest first; on MySQL instances claiming at once pass over each other's rows.
func (s *Store) ClaimDueMassMessages(ctx context.Context, owner string, lease time.Duration, limit int) ([]MassMessage, error) {
	now := s.Now()
	var out []MassMessage
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ids []uint64
		q := tx.Model(&MassMessage{}).Select("id").
			Where("next_refresh_at <= ? AND (lease_until IS NULL OR lease_until < ?)", now, now).Order("next_refresh_at").Limit(limit)
		if err := skipLocked(q, s.Dialect).Pluck("id", &ids).Error; err != nil {
			return fmt.Errorf("store: unable to find due mass messages: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		if err := tx.Model(&MassMessage{}).Where("id IN ?", ids).
			Updates(map[string]any{"lease_owner": owner, "lease_until": now.Add(lease)}).Error; err != nil {
			return fmt.Errorf("store: unable to claim mass messages: %w", err)
		}
		return tx.Where("id IN ?", ids).Order("next_refresh_at").Find(&out).Error
	})
	return out, err
}

// FinishMassRefresh writes what a refresh learnt — the message's status, counts, error and next
// refresh, and the members that changed — and ends owner's lease, in one transaction. A refresh
// that lost its lease, or whose message was canceled meanwhile, writes nothing: ErrMassLeaseLost.
func (s *Store) FinishMassRefresh(ctx context.Context, m *MassMessage, changed []MassMessageMember, owner string) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&MassMessage{}).Where("id = ? AND lease_owner = ? AND status IN ?", m.ID, owner, massRefreshing).
			Updates(map[string]any{"status": m.Status, "members": m.Members, "sent_members": m.SentMembers,
				"sent": m.Sent, "unsent": m.Unsent, "not_friend": m.NotFriend, "already_received": m.AlreadyReceived,
				"refresh_error": m.RefreshError, "refreshed_at": m.RefreshedAt, "next_refresh_at": m.NextRefreshAt,
				"lease_owner": "", "lease_until": nil})
		if res.Error != nil {
			return fmt.Errorf("store: unable to record the mass message refresh: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("store: mass message %d: %w", m.ID, ErrMassLeaseLost)
		}
		if len(changed) == 0 {
			return nil
		}
		err := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "mass_message_id"}, {Name: "userid"}},
			DoUpdates: clause.AssignmentColumns(massMemberColumns),
		}).CreateInBatches(&changed, s.rowsPerInsert(len(massMemberColumns)+2)).Error
		if err != nil {
			return fmt.Errorf("store: unable to record mass message members: %w", err)
		}
		return nil
	})
}

// RemindedMassMessage counts a reminder WeCom accepted, with its audit entry.
func (s *Store) RemindedMassMessage(ctx context.Context, id uint64) error {
	return s.updateMassMessage(ctx, id, map[string]any{"reminders": gorm.Expr("reminders + 1")})
}

// CanceledMassMessage records that WeCom canceled the message: it is refreshed no more.
func (s *Store) CanceledMassMessage(ctx context.Context, id uint64) error {
	return s.updateMassMessage(ctx, id, map[string]any{"status": MassCanceled, "next_refresh_at": nil})
}

func (s *Store) updateMassMessage(ctx context.Context, id uint64, updates map[string]any) error {
	return s.audited(ctx, &id, func(tx *gorm.DB) error {
		res := tx.Model(&MassMessage{}).Where("id = ?", id).Updates(updates)
		if res.Error != nil {
			return fmt.Errorf("store: unable to update mass message: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("store: unable to update mass message: %w", ErrNotFound)
		}
		return nil
	})
}

// deleteMassMessages removes the mass messages created before before that are no longer
// refreshed, with their members.
func (s *Store) deleteMassMessages(ctx context.Context, before time.Time, batch int, removed map[string]int64) error {
	return deleteInBatches(ctx, s, batch, removed, func(tx *gorm.DB) *gorm.DB {
		return tx.Model(&MassMessage{}).Where("next_refresh_at IS NULL AND created_at < ?", before)
	}, func(tx *gorm.DB, ids []uint64, n map[string]int64) error {
		return deleteEach(tx, n,
			deletion{"mass_message_members", &MassMessageMember{}, "mass_message_id IN ?", ids},
			deletion{"mass_messages", &MassMessage{}, "id IN ?", ids})
	})
}
