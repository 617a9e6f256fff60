package models

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"gorm.io/gorm"
)

// Event types an event hook may subscribe to (SPEC §10.3).
const (
	EventMessageSent       = "message.sent"
	EventMessagePartial    = "message.partial"
	EventMessageFailed     = "message.failed"
	EventMessageResponse   = "message.response"
	EventExecutionResolved = "execution.resolved"
	EventExecutionFailed   = "execution.failed"
)

const (
	hookCacheTTL   = 2 * time.Second
	hookEventBatch = 200
	// hookErrorMaxBytes bounds an attempt's logged error: a receiver's answer is not ours to store.
	hookErrorMaxBytes = 1000
)

// HookEventTypes lists every event type, in the order the API documents them.
func HookEventTypes() []string {
	return []string{EventMessageSent, EventMessagePartial, EventMessageFailed, EventMessageResponse,
		EventExecutionResolved, EventExecutionFailed}
}

// Hook event statuses: pending (due at NotBefore, a retry when Attempts > 0), delivering (leased),
// delivered, failed (given up after 24 h).
const (
	HookPending    = "pending"
	HookDelivering = "delivering"
	HookDelivered  = "delivered"
	HookFailed     = "failed"
)

// EventHook is a URL told of state changes as they happen (SPEC §10.3).
type EventHook struct {
	ID  uint64 `gorm:"primaryKey"`
	URL string `gorm:"size:2048;not null"`
	// Events is the JSON list of subscribed event types.
	Events  string `gorm:"type:text;not null"`
	Secret  Secret
	Enabled bool `gorm:"not null"`
	// CreatedAt and UpdatedAt are set by gorm.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Subscribes reports whether the hook wants events of typ.
func (h *EventHook) Subscribes(typ string) bool {
	var events []string
	_ = json.Unmarshal([]byte(h.Events), &events)
	return slices.Contains(events, typ)
}

// HookEvent is one event queued for one hook: a durable job leased to one deliverer at a time,
// like a message request. Events of one subject (a message, an execution) are delivered in id
// order: a later one is not claimed while an earlier one is unfinished.
type HookEvent struct {
	ID uint64 `gorm:"primaryKey"`
	// EventID is the event's id, the same for every hook and every attempt.
	EventID string `gorm:"size:26;not null;index"`
	HookID  uint64 `gorm:"not null;index:idx_hook_events_subject,priority:1"`
	Type    string `gorm:"size:32;not null"`
	// Subject is the id of the message or execution the event is about.
	Subject string    `gorm:"size:26;not null;index:idx_hook_events_subject,priority:2"`
	At      time.Time `gorm:"not null;index"`
	// Body is the payload as first sent, kept so every retry sends the same bytes; "" until then.
	Body       string     `gorm:"type:mediumtext;not null"`
	Status     string     `gorm:"size:16;not null;index:idx_hook_events_due,priority:1"`
	NotBefore  time.Time  `gorm:"not null;index:idx_hook_events_due,priority:2"`
	Attempts   int        `gorm:"not null"`
	LeaseOwner string     `gorm:"size:64;not null"`
	LeaseUntil *time.Time `gorm:"index"`
	UpdatedAt  time.Time
}

// HookAttempt is one POST of an event to a hook, as the delivery log shows it.
type HookAttempt struct {
	ID          uint64 `gorm:"primaryKey"`
	HookID      uint64 `gorm:"not null;index:idx_hook_attempts_hook,priority:1"`
	HookEventID uint64 `gorm:"not null;index"`
	EventID     string `gorm:"size:26;not null"`
	Type        string `gorm:"size:32;not null"`
	Subject     string `gorm:"size:26;not null"`
	Attempt     int    `gorm:"not null"`
	// StatusCode is the receiver's answer, 0 when there was none (timeout, refused address).
	StatusCode int    `gorm:"not null"`
	Error      string `gorm:"type:text;not null"`
	DurationMS int64  `gorm:"not null"`
	// NextAttemptAt is when the event is tried again; nil once delivered or given up.
	NextAttemptAt *time.Time
	At            time.Time `gorm:"not null;index:idx_hook_attempts_hook,priority:2"`
}

// hookCache holds the enabled hooks for a short while: every state change that may produce an
// event asks, and hooks change rarely. A change made on this instance clears it; one made on
// another instance is seen within hookCacheTTL.
type hookCache struct {
	mu    sync.Mutex
	hooks []EventHook
	until time.Time
}

func (c *hookCache) clear() {
	c.mu.Lock()
	c.until = time.Time{}
	c.mu.Unlock()
}

// enabledHooks reads the enabled hooks, from the cache when it is fresh.
func (s *Store) enabledHooks(ctx context.Context) ([]EventHook, error) {
	c := &s.hookCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Now().Before(c.until) {
		return c.hooks, nil
	}
	var hooks []EventHook
	if err := s.Read.WithContext(ctx).Where("enabled = ?", true).Order("id").Find(&hooks).Error; err != nil {
		return nil, fmt.Errorf("store: unable to read event hooks: %w", err)
	}
	c.hooks, c.until = hooks, time.Now().Add(hookCacheTTL)
	return hooks, nil
}

// HooksEnabled reports whether any event hook is enabled, from the same cache as the events
// queued: with none, nothing was queued and a wake-up of the deliverer would only cost a claim
// on the writer. An error counts as yes, so the deliverer looks.
func (s *Store) HooksEnabled(ctx context.Context) bool {
	hooks, err := s.enabledHooks(ctx)
	return err != nil || len(hooks) > 0
}

// hookEvent is a state change that event hooks may be told of.
type hookEvent struct{ typ, subject string }

// emit queues the events for the enabled hooks subscribed to them, in tx: the event exists exactly
// when the change that caused it was committed.
func (s *Store) emit(tx *gorm.DB, evs ...hookEvent) error {
	if len(evs) == 0 {
		return nil
	}
	hooks, err := s.enabledHooks(tx.Statement.Context)
	if err != nil || len(hooks) == 0 {
		return err
	}
	now := s.Now()
	var rows []HookEvent
	for _, ev := range evs {
		id := ulid.Make().String()
		for i := range hooks {
			if hooks[i].Subscribes(ev.typ) {
				rows = append(rows, HookEvent{EventID: id, HookID: hooks[i].ID, Type: ev.typ, Subject: ev.subject, At: now,
					Status: HookPending, NotBefore: now, UpdatedAt: now})
			}
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if err := tx.CreateInBatches(rows, hookEventBatch).Error; err != nil {
		return fmt.Errorf("store: unable to queue hook events: %w", err)
	}
	return nil
}

// messageEvent is the event of a message reaching status, if that status has one.
func messageEvent(id string, status any) []hookEvent {
	switch status {
	case MessageSent:
		return []hookEvent{{EventMessageSent, id}}
	case MessagePartial:
		return []hookEvent{{EventMessagePartial, id}}
	case MessageFailed:
		return []hookEvent{{EventMessageFailed, id}}
	}
	return nil
}

// executionEvent is the event of an execution reaching status: error (the workflow could not run
// on) counts as failed for the receiver, whose data shows which.
func executionEvent(id string, status any) []hookEvent {
	switch status {
	case ExecutionResolved:
		return []hookEvent{{EventExecutionResolved, id}}
	case ExecutionFailed, ExecutionError:
		return []hookEvent{{EventExecutionFailed, id}}
	}
	return nil
}

// ListEventHooks pages through the hooks.
func (s *Store) ListEventHooks(ctx context.Context, p Page) ([]EventHook, int64, error) {
	return list[EventHook](ctx, s.Read, "event hooks", p, func(q *gorm.DB) *gorm.DB { return q })
}

// GetEventHook reads one hook.
func (s *Store) GetEventHook(ctx context.Context, id uint64) (*EventHook, error) {
	return get[EventHook](ctx, s.Read, "event hook", "id = ?", id)
}

// SaveEventHook creates h (ID 0) or updates it.
func (s *Store) SaveEventHook(ctx context.Context, h *EventHook) error {
	defer s.hookCache.clear()
	return s.audited(ctx, &h.ID, func(tx *gorm.DB) error {
		if h.ID == 0 {
			return create(ctx, tx, "event hook", h)
		}
		return save(ctx, tx, "event hook", h)
	})
}

// DeleteEventHook removes a hook with its queued events and its delivery log.
func (s *Store) DeleteEventHook(ctx context.Context, id uint64) error {
	defer s.hookCache.clear()
	return s.audited(ctx, &id, func(tx *gorm.DB) error {
		if err := deleteByID[EventHook](ctx, tx, "event hook", id); err != nil {
			return err
		}
		for _, model := range []any{&HookEvent{}, &HookAttempt{}} {
			if err := tx.Where("hook_id = ?", id).Delete(model).Error; err != nil {
				return fmt.Errorf("store: unable to delete the hook's deliveries: %w", err)
			}
		}
		return nil
	})
}

// ClaimHookEvents leases up to limit due events to owner until now+lease: ones whose deliverer's
// lease lapsed, then pending ones whose time has come, each only when no earlier event of its
// hook and subject is unfinished (so a message's events arrive in order) and its hook is enabled
// (disabling a hook pauses its queue).
func (s *Store) ClaimHookEvents(ctx context.Context, owner string, lease time.Duration, limit int) ([]HookEvent, error) {
	now := s.Now()
	var out []HookEvent
	ready := "hook_id IN (SELECT id FROM event_hooks WHERE enabled = ?) AND NOT EXISTS (SELECT 1 FROM hook_events p" +
		" WHERE p.hook_id = hook_events.hook_id AND p.subject = hook_events.subject AND p.id < hook_events.id AND p.status IN ?)"
	unfinished := []string{HookPending, HookDelivering}
	err := s.retryDeadlock(ctx, func(tx *gorm.DB) error {
		out = nil
		ids, err := dueIDs[uint64](tx, s.Dialect, &HookEvent{}, "not_before", limit,
			where("status = ? AND lease_until < ? AND "+ready, HookDelivering, now, true, unfinished),
			where("status = ? AND not_before <= ? AND "+ready, HookPending, now, true, unfinished))
		if err != nil {
			return fmt.Errorf("store: unable to find due hook events: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		if err := tx.Model(&HookEvent{}).Where("id IN ?", ids).Updates(map[string]any{
			"status": HookDelivering, "lease_owner": owner, "lease_until": now.Add(lease),
			"attempts": gorm.Expr("attempts + 1"), "updated_at": now,
		}).Error; err != nil {
			return fmt.Errorf("store: unable to claim hook events: %w", err)
		}
		return tx.Where("id IN ?", ids).Order("id").Find(&out).Error
	})
	return out, err
}

// HookOutcome is the result of one attempt at a claimed event.
type HookOutcome struct {
	Event HookEvent
	// Status is the event's status after the attempt: delivered, pending (retried at NextAttemptAt)
	// or failed.
	Status        string
	StatusCode    int
	Error         string
	Duration      time.Duration
	NextAttemptAt *time.Time
}

// RecordHookAttempts writes attempts and their events' new status in one transaction, each only
// where owner still holds the event's lease (a deliverer that lost it was overtaken and its
// attempt is the other's to log). Delivered events, nearly all of them, are updated by one
// statement; an event to retry keeps its body, so the retry sends the same bytes.
func (s *Store) RecordHookAttempts(ctx context.Context, owner string, outs []HookOutcome) error {
	now := s.Now()
	ids := make([]uint64, len(outs))
	for i, o := range outs {
		ids[i] = o.Event.ID
	}
	return s.retryDeadlock(ctx, func(tx *gorm.DB) error {
		var held []uint64
		if err := lockForUpdate(tx, s.Dialect).Model(&HookEvent{}).Where("id IN ? AND lease_owner = ?", ids, owner).
			Pluck("id", &held).Error; err != nil {
			return fmt.Errorf("store: unable to read hook event leases: %w", err)
		}
		var delivered []uint64
		var attempts []HookAttempt
		for _, o := range outs {
			e := o.Event
			if !slices.Contains(held, e.ID) {
				continue
			}
			if o.Status == HookDelivered {
				delivered = append(delivered, e.ID)
			} else {
				u := map[string]any{"status": o.Status, "body": e.Body, "lease_owner": "", "lease_until": nil, "updated_at": now}
				if o.NextAttemptAt != nil {
					u["not_before"] = *o.NextAttemptAt
				}
				if err := tx.Model(&HookEvent{}).Where("id = ?", e.ID).Updates(u).Error; err != nil {
					return fmt.Errorf("store: unable to record a hook event: %w", err)
				}
			}
			errText := o.Error
			if len(errText) > hookErrorMaxBytes {
				errText = strings.ToValidUTF8(errText[:hookErrorMaxBytes], "")
			}
			attempts = append(attempts, HookAttempt{HookID: e.HookID, HookEventID: e.ID, EventID: e.EventID, Type: e.Type,
				Subject: e.Subject, Attempt: e.Attempts, StatusCode: o.StatusCode, Error: errText,
				DurationMS: o.Duration.Milliseconds(), NextAttemptAt: o.NextAttemptAt, At: now})
		}
		if len(delivered) > 0 {
			if err := tx.Model(&HookEvent{}).Where("id IN ?", delivered).Updates(map[string]any{"status": HookDelivered,
				"lease_owner": "", "lease_until": nil, "updated_at": now}).Error; err != nil {
				return fmt.Errorf("store: unable to record delivered hook events: %w", err)
			}
		}
		if len(attempts) == 0 {
			return nil
		}
		if err := tx.CreateInBatches(attempts, hookEventBatch).Error; err != nil {
			return fmt.Errorf("store: unable to log hook attempts: %w", err)
		}
		return nil
	})
}

// ListHookAttempts pages through a hook's delivery log, newest first.
func (s *Store) ListHookAttempts(ctx context.Context, hookID uint64, p Page) ([]HookAttempt, int64, error) {
	q := s.Read.WithContext(ctx).Model(&HookAttempt{}).Where("hook_id = ?", hookID)
	return pageOf[HookAttempt](q, "hook attempts", p, "at DESC, id DESC")
}

// EventHooks reads the hooks with the given ids (the missing ones were deleted).
func (s *Store) EventHooks(ctx context.Context, ids []uint64) ([]EventHook, error) {
	var out []EventHook
	if err := s.Read.WithContext(ctx).Where("id IN ?", ids).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("store: unable to read event hooks: %w", err)
	}
	return out, nil
}
