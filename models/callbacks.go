package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Callback event statuses (SPEC §3.6).
const (
	EventReceived  = "received"
	EventProcessed = "processed"
	EventFailed    = "failed"
)

// CallbackEvent is one accepted WeCom callback, decrypted: stored before WeCom gets its 200, then
// processed by subscribers under a lease, so a crash between the two loses nothing. DedupKey
// (MsgId, or a hash of the decrypted message) makes a retried delivery one event.
type CallbackEvent struct {
	ID              uint64 `gorm:"primaryKey"`
	AuthenticatorID uint64 `gorm:"not null;uniqueIndex:idx_events_dedup,priority:1;index:idx_events_auth_created,priority:1"`
	Kind            string `gorm:"size:16;not null;index:idx_events_kind"`
	DedupKey        string `gorm:"size:128;not null;uniqueIndex:idx_events_dedup,priority:2"`
	MsgType         string `gorm:"size:64;not null"`
	Event           string `gorm:"size:64;not null;index"`
	ChangeType      string `gorm:"size:64;not null"`
	FromUser        string `gorm:"size:128;not null"`
	CreateTime      int64  `gorm:"not null"`
	// Payload is the decrypted XML as a JSON object with WeCom's field names.
	Payload    string    `gorm:"type:mediumtext;not null"`
	Status     string    `gorm:"size:16;not null;index:idx_events_due,priority:1"`
	NotBefore  time.Time `gorm:"not null;index:idx_events_due,priority:2"`
	Deliveries int       `gorm:"not null"`
	Attempts   int       `gorm:"not null"`
	LeaseOwner string    `gorm:"size:64;not null"`
	LeaseUntil *time.Time
	Error      string    `gorm:"type:text;not null"`
	CreatedAt  time.Time `gorm:"index:idx_events_auth_created,priority:2;index:idx_events_created"`
	UpdatedAt  time.Time
}

// CardResponse is one click on an interactive card (template_card_event), recorded on the message
// whose task_id it names.
type CardResponse struct {
	ID            uint64 `gorm:"primaryKey"`
	MessageID     string `gorm:"size:26;not null;index"`
	EventID       uint64 `gorm:"not null;uniqueIndex"`
	TaskID        string `gorm:"size:128;not null;index"`
	UserID        string `gorm:"size:128;not null"`
	EventKey      string `gorm:"size:255;not null"`
	CardType      string `gorm:"size:64;not null"`
	SelectedItems string `gorm:"type:text;not null"`
	ResponseCode  string `gorm:"size:255;not null"`
	// Updated reports whether the card was updated (update_template_card) after the click.
	Updated     bool   `gorm:"not null"`
	UpdateError string `gorm:"type:text;not null"`
	At          time.Time
}

// SaveEvent stores a callback event unless one with the same authenticator and DedupKey exists,
// in which case that one's delivery count goes up and it is returned with stored=false. Safe
// under concurrent retries: the unique index decides, and the loser of a race counts instead.
// Concurrent calls share transactions (group commit): a burst of callbacks costs few commits.
func (s *Store) SaveEvent(ctx context.Context, e *CallbackEvent) (existing *CallbackEvent, stored bool, err error) {
	e.Status, e.Deliveries, e.NotBefore = EventReceived, 1, s.Now()
	job := &eventJob{e: e}
	for attempt := 0; attempt < 3; attempt++ {
		job.existing = nil
		err = s.events.do(ctx, job, s.saveEvents)
		if !errors.Is(err, ErrDuplicate) {
			break
		}
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: unable to store callback event: %w", err)
	}
	return job.existing, job.existing == nil, nil
}

// eventJob is one event waiting to be stored, and what storing found.
type eventJob struct {
	e        *CallbackEvent
	existing *CallbackEvent
}

func (s *Store) saveEvents(ctx context.Context, batch []*eventJob) []error {
	return inBatchOrEach(ctx, s, batch, s.saveEventsTx)
}

// eventDedupChunk bounds the keys of one dedup lookup (its IN list).
const eventDedupChunk = 500

// eventColumns are the table's columns in the order of fields().
var eventColumns = []string{"id", "authenticator_id", "kind", "dedup_key", "msg_type", "event", "change_type", "from_user",
	"create_time", "payload", "status", "not_before", "deliveries", "attempts", "lease_owner", "lease_until", "error",
	"created_at", "updated_at"}

// fields are pointers to e's fields in eventColumns' order.
func (e *CallbackEvent) fields() []any {
	return []any{&e.ID, &e.AuthenticatorID, &e.Kind, &e.DedupKey, &e.MsgType, &e.Event, &e.ChangeType, &e.FromUser,
		&e.CreateTime, &e.Payload, &e.Status, &e.NotBefore, &e.Deliveries, &e.Attempts, &e.LeaseOwner, &e.LeaseUntil, &e.Error,
		&e.CreatedAt, &e.UpdatedAt}
}

// insertEventValues inserts events with multi-row statements of their own, as messages are
// (gorm's batch insert by reflection was a sixth of the server's CPU under a burst of callbacks),
// and gives each its id.
func (s *Store) insertEventValues(tx *gorm.DB, events []*CallbackEvent) error {
	now := s.Now()
	for _, e := range events {
		if e.CreatedAt.IsZero() {
			e.CreatedAt = now
		}
		if e.UpdatedAt.IsZero() {
			e.UpdatedAt = now
		}
	}
	return insertWithIDs(s, tx, "callback_events", eventColumns, events, func(e *CallbackEvent) *uint64 { return &e.ID })
}

// saveEventsTx stores a batch in statements shared by the batch, not two per event: one lookup of
// the batch's dedup keys per authenticator, the new events in multi-row INSERTs, and a delivery
// count per event seen before. Twins within the batch become one event whose Deliveries counts
// them. A concurrent insert of the same key (another instance, on MySQL) fails the INSERT on the
// unique index: ErrDuplicate, and SaveEvent tries again, then finding the stored one.
func (s *Store) saveEventsTx(tx *gorm.DB, jobs []*eventJob) error {
	type dedup struct {
		auth uint64
		key  string
	}
	// A rolled-back attempt may have left an id, a count or a find behind.
	for _, j := range jobs {
		j.existing, j.e.ID, j.e.Deliveries = nil, 0, 1
	}
	keys := map[uint64][]string{}
	for _, j := range jobs {
		keys[j.e.AuthenticatorID] = append(keys[j.e.AuthenticatorID], j.e.DedupKey)
	}
	prior := make(map[dedup]*CallbackEvent, len(jobs))
	for auth, ks := range keys {
		for len(ks) > 0 {
			chunk := ks[:min(len(ks), eventDedupChunk)]
			ks = ks[len(chunk):]
			var found []CallbackEvent
			if err := lockForUpdate(tx, s.Dialect).Where("authenticator_id = ? AND dedup_key IN ?", auth, chunk).Find(&found).Error; err != nil {
				return err
			}
			for i := range found {
				prior[dedup{auth, found[i].DedupKey}] = &found[i]
			}
		}
	}
	var fresh []*CallbackEvent
	first := make(map[dedup]*CallbackEvent, len(jobs)) // the event of a key new in this batch
	seen := map[uint64]int{}                           // deliveries to add to events stored before
	var seenOrder []*CallbackEvent
	for _, j := range jobs {
		k := dedup{j.e.AuthenticatorID, j.e.DedupKey}
		if p := prior[k]; p != nil {
			if seen[p.ID] == 0 {
				seenOrder = append(seenOrder, p)
			}
			seen[p.ID]++
			j.existing = p
			continue
		}
		if f := first[k]; f != nil {
			f.Deliveries++
			j.existing = f
			continue
		}
		first[k] = j.e
		fresh = append(fresh, j.e)
	}
	for _, p := range seenOrder {
		if err := tx.Model(p).Update("deliveries", gorm.Expr("deliveries + ?", seen[p.ID])).Error; err != nil {
			return err
		}
	}
	if len(fresh) > 0 {
		if err := s.insertEventValues(tx, fresh); err != nil {
			return duplicate(err)
		}
	}
	// Each caller gets its own copy of the stored event, not one that another caller holds.
	for _, j := range jobs {
		if j.existing != nil {
			cp := *j.existing
			j.existing = &cp
		}
	}
	return nil
}

// ClaimEvents leases up to limit events that are due for processing: received ones, failed ones
// whose retry time has come, and ones whose processor's lease lapsed (it crashed).
func (s *Store) ClaimEvents(ctx context.Context, owner string, lease time.Duration, limit int) ([]CallbackEvent, error) {
	now := s.Now()
	var events []CallbackEvent
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ids []uint64
		q := tx.Model(&CallbackEvent{}).Select("id").
			Where("status = ? AND not_before <= ? AND (lease_until IS NULL OR lease_until < ?)", EventReceived, now, now).
			Order("not_before, id").Limit(limit)
		q = skipLocked(q, s.Dialect)
		if err := q.Pluck("id", &ids).Error; err != nil {
			return fmt.Errorf("store: unable to find due events: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		if err := tx.Model(&CallbackEvent{}).Where("id IN ?", ids).Updates(map[string]any{
			"lease_owner": owner, "lease_until": now.Add(lease), "attempts": gorm.Expr("attempts + 1"), "updated_at": now,
		}).Error; err != nil {
			return fmt.Errorf("store: unable to claim events: %w", err)
		}
		return tx.Where("id IN ?", ids).Order("id").Find(&events).Error
	})
	return events, err
}

// FinishEvents records one outcome of processing for events owner holds: processed, or (with
// retryAt) received again for a later attempt, or failed for good. One statement for a batch:
// a write transaction per event cost the single SQLite writer what the callbacks' inserts needed.
// It returns how many of them owner still held (the others' leases lapsed).
func (s *Store) FinishEvents(ctx context.Context, owner string, ids []uint64, status, errText string, retryAt time.Time) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	u := map[string]any{"status": status, "error": errText, "lease_owner": "", "lease_until": nil, "updated_at": s.Now()}
	if !retryAt.IsZero() {
		u["not_before"] = retryAt.UTC()
	}
	res := s.DB.WithContext(ctx).Model(&CallbackEvent{}).Where("id IN ? AND lease_owner = ?", ids, owner).Updates(u)
	if res.Error != nil {
		return 0, fmt.Errorf("store: unable to record event processing: %w", res.Error)
	}
	return int(res.RowsAffected), nil
}

// EventFilter narrows the event list.
type EventFilter struct {
	AuthenticatorID     uint64
	Kind, Event, Status string
}

// ListEvents pages through callback events, newest first.
func (s *Store) ListEvents(ctx context.Context, f EventFilter, p Page) ([]CallbackEvent, int64, error) {
	q := s.Read.WithContext(ctx).Model(&CallbackEvent{})
	if f.AuthenticatorID != 0 {
		q = q.Where("authenticator_id = ?", f.AuthenticatorID)
	}
	for col, v := range map[string]string{"kind": f.Kind, "event": f.Event, "status": f.Status} {
		if v != "" {
			q = q.Where(col+" = ?", v)
		}
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("store: unable to count events: %w", err)
	}
	var items []CallbackEvent
	if err := q.Order("id DESC").Offset(p.offset()).Limit(p.Size).Find(&items).Error; err != nil {
		return nil, 0, fmt.Errorf("store: unable to list events: %w", err)
	}
	return items, total, nil
}

// GetEvent reads one callback event.
func (s *Store) GetEvent(ctx context.Context, id uint64) (*CallbackEvent, error) {
	return get[CallbackEvent](ctx, s.Read, "callback event", "id = ?", id)
}

// SaveCardResponse records a click once per event; a repeat returns the stored one.
func (s *Store) SaveCardResponse(ctx context.Context, r *CardResponse) (*CardResponse, error) {
	out := r
	err := insertOnce(ctx, s, func(tx *gorm.DB) error {
		var prior CardResponse
		err := tx.Where("event_id = ?", r.EventID).Take(&prior).Error
		if err == nil {
			out = &prior
			return nil
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		if err := tx.Create(r).Error; err != nil {
			return err
		}
		if err := s.emit(tx, hookEvent{EventMessageResponse, r.MessageID}); err != nil {
			return err
		}
		// A workflow waiting for this click goes on now.
		return s.nudge(tx, "id = (SELECT execution_id FROM messages WHERE id = ?)", r.MessageID)
	})
	if err != nil {
		return nil, fmt.Errorf("store: unable to record the card response: %w", err)
	}
	return out, nil
}

// MarkCardUpdated records the outcome of updating the clicked card.
func (s *Store) MarkCardUpdated(ctx context.Context, id uint64, updateErr string) error {
	return s.DB.WithContext(ctx).Model(&CardResponse{}).Where("id = ?", id).
		Updates(map[string]any{"updated": updateErr == "", "update_error": updateErr}).Error
}

// CardResponses lists the clicks on a message, oldest first.
func (s *Store) CardResponses(ctx context.Context, messageID string) ([]CardResponse, error) {
	var out []CardResponse
	if err := s.Read.WithContext(ctx).Where("message_id = ?", messageID).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("store: unable to read card responses: %w", err)
	}
	return out, nil
}
