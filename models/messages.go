package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Message statuses (SPEC §3.4).
const (
	// MessageScheduled waits for its sendAt or the end of its channel's quiet hours (SPEC §11):
	// its requests' NotBefore is that time, so the ordinary claim releases it.
	MessageScheduled = "scheduled"
	MessageQueued    = "queued"
	MessageSending   = "sending"
	MessageRetrying  = "retrying"
	MessageSent      = "sent"
	MessagePartial   = "partial"
	MessageFailed    = "failed"
	MessageCanceled  = "canceled"
)

// Request statuses: one WeCom call's part of a message.
const (
	RequestPending  = "pending"
	RequestSending  = "sending"
	RequestRetrying = "retrying"
	RequestSent     = "sent"
	RequestFailed   = "failed"
	RequestCanceled = "canceled"
)

// Message is one accepted send: stored before the API answers 202, so nothing accepted is lost.
// Body is the validated, rendered WeCom message ({"msgtype": …, "<type>": {…}}); the recipients
// it resolved to are split into MessageRequests, the units the sender claims.
type Message struct {
	ID        string `gorm:"primaryKey;size:26"`
	ChannelID uint64 `gorm:"not null"`
	Channel   string `gorm:"size:64;not null;index:idx_messages_channel_name,priority:1"`
	// ChannelType is the channel's type when the message was accepted: it picks the deliverer.
	ChannelType     string `gorm:"size:32;not null;default:wecom"`
	AuthenticatorID uint64 `gorm:"not null"`
	MsgType         string `gorm:"size:32;not null"`
	// Template is the name of the saved template the message was sent by, or "".
	Template string `gorm:"size:64;not null;default:''"`
	Body     string `gorm:"type:mediumtext;not null"`
	// TaskID is an interactive card's task_id, by which a click (template_card_event) finds it.
	TaskID string `gorm:"size:128;not null;index"`
	// ReplaceName, when set, is what the clicked card's button says after a click: the server calls
	// update_template_card with the click's ResponseCode.
	ReplaceName string `gorm:"size:255;not null"`
	// SendOptions are the channel's send options when the message was accepted (JSON), so every
	// attempt sends byte-identical requests even if the channel is edited meanwhile.
	SendOptions string  `gorm:"type:text;not null"`
	Linked      bool    `gorm:"not null"`
	Status      string  `gorm:"size:16;not null;index:idx_messages_status_next,priority:1"`
	TriggerFrom string  `gorm:"size:16;not null"`
	ExecutionID *string `gorm:"size:64;index"`
	// IdempotencyKey is unique per channel while set; it is cleared when the 24 h window has passed
	// and a new message claims the key.
	IdempotencyKey *string `gorm:"size:128;uniqueIndex:idx_messages_idempotency,priority:2"`
	IdemChannelID  *uint64 `gorm:"uniqueIndex:idx_messages_idempotency,priority:1"`
	// Requests counts the message's requests, so recording the outcome of a one-request message
	// needs no read of the others.
	Requests      int        `gorm:"not null"`
	Requested     int        `gorm:"not null"`
	Resolved      int        `gorm:"not null"`
	Unbound       string     `gorm:"type:text;not null"`
	Invalid       string     `gorm:"type:text;not null"`
	Unlicensed    string     `gorm:"type:text;not null"`
	Attempts      int        `gorm:"not null"`
	NextAttemptAt *time.Time `gorm:"index:idx_messages_status_next,priority:2"`
	Reason        string     `gorm:"type:text;not null"`
	Warnings      string     `gorm:"type:text;not null"`
	CreatedAt     time.Time  `gorm:"index;index:idx_messages_channel_name,priority:2"`
	UpdatedAt     time.Time
	SentAt        *time.Time
	// RecalledAt is when the message was withdrawn (POST /messages/{id}/recall).
	RecalledAt *time.Time
}

// MessageRequest is one message/send call of a message: at most 1000 users, 100 departments and
// 100 tags. It is claimed by one sender at a time under a lease; a lease that lapses (the sender
// died) is taken over, and the resend is byte-identical so WeCom's duplicate check drops a twin.
type MessageRequest struct {
	ID        uint64 `gorm:"primaryKey"`
	MessageID string `gorm:"size:26;not null;index"`
	Seq       int    `gorm:"not null"`
	// Recipients as WeCom takes them: "|"-joined ids.
	ToUser  string `gorm:"type:mediumtext;not null"`
	ToParty string `gorm:"type:text;not null"`
	ToTag   string `gorm:"type:text;not null"`
	ToAll   bool   `gorm:"not null"`
	// ChatID is the app group chat the request posts to (appchat/send) instead of the To fields.
	ChatID string `gorm:"size:32;not null;default:''"`
	Status string `gorm:"size:16;not null;index:idx_requests_due,priority:1"`
	// NotBefore is when the request may be sent: now, after a backoff, or when a member's rate
	// window frees up.
	NotBefore  time.Time `gorm:"not null;index:idx_requests_due,priority:2"`
	LeaseOwner string    `gorm:"size:64;not null"`
	LeaseUntil *time.Time
	Attempts   int `gorm:"not null"`
	// Ambiguous: an earlier attempt may have reached WeCom (a timeout after sending, or a lease
	// that lapsed mid-send).
	Ambiguous      bool   `gorm:"not null"`
	ErrCode        int    `gorm:"not null"`
	ErrMsg         string `gorm:"type:text;not null"`
	MsgID          string `gorm:"size:128;not null"`
	ResponseCode   string `gorm:"size:255;not null"`
	InvalidUser    string `gorm:"type:text;not null"`
	InvalidParty   string `gorm:"type:text;not null"`
	InvalidTag     string `gorm:"type:text;not null"`
	UnlicensedUser string `gorm:"type:text;not null"`
	Reason         string `gorm:"type:text;not null"`
	// SentAt is indexed for RecentSends, which seeds the pacing at start.
	SentAt    *time.Time `gorm:"index:idx_requests_sent_at"`
	UpdatedAt time.Time
}

// ErrIdempotent is returned by CreateMessage when the idempotency key already names a message of
// the last 24 h; the existing message is returned with it.
var ErrIdempotent = errors.New("idempotency key already used")

// IdempotencyWindow is how long an idempotency key keeps returning the first message.
const IdempotencyWindow = 24 * time.Hour

// CreateMessage stores m and its requests in one transaction. With an idempotency key that a
// message of the same channel took within IdempotencyWindow, nothing is stored and that message is
// returned with ErrIdempotent.
func (s *Store) CreateMessage(ctx context.Context, m *Message, reqs []MessageRequest) (*Message, error) {
	if m.IdempotencyKey == nil {
		return nil, s.accepts.do(ctx, acceptJob{m: m, reqs: reqs}, s.insertMessages)
	}
	for attempt := 0; ; attempt++ {
		existing, err := s.createMessage(ctx, m, reqs)
		// Two requests with one new key race on the unique index: the loser reads the winner's.
		if errors.Is(err, ErrDuplicate) && m.IdempotencyKey != nil && attempt < 3 {
			continue
		}
		return existing, err
	}
}

func (s *Store) createMessage(ctx context.Context, m *Message, reqs []MessageRequest) (*Message, error) {
	var existing *Message
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if m.IdempotencyKey != nil {
			var prior Message
			err := lockForUpdate(tx, s.Dialect).Where("idem_channel_id = ? AND idempotency_key = ?", m.ChannelID, *m.IdempotencyKey).Take(&prior).Error
			switch {
			case err == nil && prior.CreatedAt.After(s.Now().Add(-IdempotencyWindow)):
				existing = &prior
				return ErrIdempotent
			case err == nil:
				// The window has passed: the key is free again; the old message keeps its data.
				if err := tx.Model(&Message{}).Where("id = ?", prior.ID).
					Updates(map[string]any{"idempotency_key": nil, "idem_channel_id": nil}).Error; err != nil {
					return fmt.Errorf("store: unable to release idempotency key: %w", err)
				}
			case !errors.Is(err, gorm.ErrRecordNotFound):
				return fmt.Errorf("store: unable to check idempotency key: %w", err)
			}
			m.IdemChannelID = &m.ChannelID
		}
		m.Requests = len(reqs)
		if err := tx.Create(m).Error; err != nil {
			return fmt.Errorf("store: unable to store message: %w", duplicate(err))
		}
		if len(reqs) == 0 {
			return nil
		}
		for i := range reqs {
			reqs[i].MessageID = m.ID
		}
		if err := tx.CreateInBatches(&reqs, 200).Error; err != nil {
			return fmt.Errorf("store: unable to store message requests: %w", err)
		}
		return nil
	})
	if errors.Is(err, ErrIdempotent) {
		return existing, ErrIdempotent
	}
	return nil, err
}

// acceptJob is one message waiting to be stored.
type acceptJob struct {
	m    *Message
	reqs []MessageRequest
}

// insertMessages stores a batch in one transaction with multi-row inserts; if that fails, each
// message on its own, so one bad message cannot fail the others.
func (s *Store) insertMessages(ctx context.Context, batch []acceptJob) []error {
	return inBatchOrEach(ctx, s, batch, s.insertMessageRows)
}

// insertMessageRows inserts messages and their requests with multi-row statements, and queues the
// events of the messages that are final from the start (nobody to send to: failed).
func (s *Store) insertMessageRows(tx *gorm.DB, jobs []acceptJob) error {
	msgs := make([]*Message, len(jobs))
	var reqs []MessageRequest
	for i, j := range jobs {
		j.m.Requests = len(j.reqs)
		msgs[i] = j.m
		for k := range j.reqs {
			// ID 0: a rolled-back attempt may have left generated ids behind.
			j.reqs[k].MessageID, j.reqs[k].ID = j.m.ID, 0
		}
		reqs = append(reqs, j.reqs...)
	}
	if err := s.insertMessageValues(tx, msgs); err != nil {
		return fmt.Errorf("store: unable to store message: %w", duplicate(err))
	}
	var events []hookEvent
	for _, m := range msgs {
		events = append(events, messageEvent(m.ID, m.Status)...)
	}
	if err := s.emit(tx, events...); err != nil {
		return err
	}
	if len(reqs) > 0 {
		if err := s.insertRequestValues(tx, reqs); err != nil {
			return fmt.Errorf("store: unable to store message requests: %w", err)
		}
		// Hand the ids back to each caller's requests.
		at := 0
		for _, j := range jobs {
			at += copy(j.reqs, reqs[at:at+len(j.reqs)])
		}
	}
	return nil
}

// messageColumns and requestColumns are the tables' columns in the order of fields(): the
// message path's inserts and reads name them by hand instead of through gorm
// (TestInsertedMessageReadsBackWhole keeps them whole).
var (
	messageColumns = []string{"id", "channel_id", "channel", "channel_type", "authenticator_id", "msg_type", "template", "body", "task_id",
		"replace_name", "send_options", "linked", "status", "trigger_from", "execution_id", "idempotency_key", "idem_channel_id", "requests",
		"requested", "resolved", "unbound", "invalid", "unlicensed", "attempts", "next_attempt_at", "reason", "warnings", "created_at",
		"updated_at", "sent_at", "recalled_at"}
	requestColumns = []string{"id", "message_id", "seq", "to_user", "to_party", "to_tag", "to_all", "chat_id", "status", "not_before",
		"lease_owner", "lease_until", "attempts", "ambiguous", "err_code", "err_msg", "msg_id", "response_code", "invalid_user",
		"invalid_party", "invalid_tag", "unlicensed_user", "reason", "sent_at", "updated_at"}
)

// fields are pointers to m's fields in messageColumns' order: a row scans into them, and as
// arguments they are the row's values (database/sql reads through pointers).
func (m *Message) fields() []any {
	return []any{&m.ID, &m.ChannelID, &m.Channel, &m.ChannelType, &m.AuthenticatorID, &m.MsgType, &m.Template, &m.Body, &m.TaskID,
		&m.ReplaceName, &m.SendOptions, &m.Linked, &m.Status, &m.TriggerFrom, &m.ExecutionID, &m.IdempotencyKey, &m.IdemChannelID, &m.Requests,
		&m.Requested, &m.Resolved, &m.Unbound, &m.Invalid, &m.Unlicensed, &m.Attempts, &m.NextAttemptAt, &m.Reason, &m.Warnings, &m.CreatedAt,
		&m.UpdatedAt, &m.SentAt, &m.RecalledAt}
}

// fields are pointers to r's fields in requestColumns' order.
func (r *MessageRequest) fields() []any {
	return []any{&r.ID, &r.MessageID, &r.Seq, &r.ToUser, &r.ToParty, &r.ToTag, &r.ToAll, &r.ChatID, &r.Status, &r.NotBefore,
		&r.LeaseOwner, &r.LeaseUntil, &r.Attempts, &r.Ambiguous, &r.ErrCode, &r.ErrMsg, &r.MsgID, &r.ResponseCode, &r.InvalidUser,
		&r.InvalidParty, &r.InvalidTag, &r.UnlicensedUser, &r.Reason, &r.SentAt, &r.UpdatedAt}
}

// insertMessageValues inserts messages with multi-row statements of their own: every send makes
// one, and gorm's building of a batch insert by reflection cost more than SQLite's writing it.
func (s *Store) insertMessageValues(tx *gorm.DB, msgs []*Message) error {
	now := s.Now()
	args := make([]any, 0, len(msgs)*len(messageColumns))
	for _, m := range msgs {
		if m.CreatedAt.IsZero() {
			m.CreatedAt = now
		}
		if m.UpdatedAt.IsZero() {
			m.UpdatedAt = now
		}
		if m.ChannelType == "" {
			m.ChannelType = "wecom"
		}
		args = append(args, m.fields()...)
	}
	_, err := s.insertValues(tx, "messages", messageColumns, args)
	return err
}

// insertRequestValues inserts requests like insertMessageValues and gives each its id.
func (s *Store) insertRequestValues(tx *gorm.DB, reqs []MessageRequest) error {
	now := s.Now()
	rows := make([]*MessageRequest, len(reqs))
	for i := range reqs {
		rows[i] = &reqs[i]
		if rows[i].UpdatedAt.IsZero() {
			rows[i].UpdatedAt = now
		}
	}
	return insertWithIDs(s, tx, "message_requests", requestColumns, rows, func(r *MessageRequest) *uint64 { return &r.ID })
}

// MessageFilter narrows the message list.
type MessageFilter struct {
	Status, Channel, ExecutionID string
	Since, Until                 *time.Time
	// DueFirst orders by the next attempt, soonest first (scheduled messages by their sendAt):
	// idx_messages_status_next serves it with a Status.
	DueFirst bool
}

// ListMessages pages through messages, newest first (or due first).
func (s *Store) ListMessages(ctx context.Context, f MessageFilter, p Page) ([]Message, int64, error) {
	q := s.Read.WithContext(ctx).Model(&Message{})
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.Channel != "" {
		q = q.Where("channel = ?", f.Channel)
	}
	if f.ExecutionID != "" {
		q = q.Where("execution_id = ?", f.ExecutionID)
	}
	if f.Since != nil {
		q = q.Where("created_at >= ?", *f.Since)
	}
	if f.Until != nil {
		q = q.Where("created_at < ?", *f.Until)
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("store: unable to count messages: %w", err)
	}
	var items []Message
	order := "created_at DESC, id DESC"
	if f.DueFirst {
		order = "next_attempt_at, id"
	}
	if err := q.Order(order).Offset(p.offset()).Limit(p.Size).Find(&items).Error; err != nil {
		return nil, 0, fmt.Errorf("store: unable to list messages: %w", err)
	}
	return items, total, nil
}

// The reads of GetMessage, prepared: every ?wait= answer and message page makes them.
var (
	getMessageSQL  = "SELECT " + strings.Join(messageColumns, ", ") + " FROM messages WHERE id = ?"
	getRequestsSQL = "SELECT " + strings.Join(requestColumns, ", ") + " FROM message_requests WHERE message_id = ? ORDER BY seq, id"
)

// GetMessage reads a message and its requests.
func (s *Store) GetMessage(ctx context.Context, id string) (*Message, []MessageRequest, error) {
	var m Message
	found := false
	err := s.scan(ctx, getMessageSQL, []any{id}, func() []any { found = true; return m.fields() })
	if err == nil && !found {
		err = ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("store: unable to get message: %w", err)
	}
	var reqs []MessageRequest
	err = s.scan(ctx, getRequestsSQL, []any{id}, func() []any {
		reqs = append(reqs, MessageRequest{})
		return reqs[len(reqs)-1].fields()
	})
	if err != nil {
		return nil, nil, fmt.Errorf("store: unable to read requests: %w", err)
	}
	return &m, reqs, nil
}

// MessageByTaskID finds the message an interactive card with task_id was sent in.
func (s *Store) MessageByTaskID(ctx context.Context, authenticatorID uint64, taskID string) (*Message, error) {
	var m Message
	err := s.DB.WithContext(ctx).Where("authenticator_id = ? AND task_id = ?", authenticatorID, taskID).Order("created_at DESC").Take(&m).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to find the card's message: %w", notFound(err))
	}
	return &m, nil
}

// ErrWrongState is a message action that its current status does not allow.
var ErrWrongState = errors.New("not possible in this status")

// CancelMessage stops a message that has not been sent: its waiting requests are canceled. A
// request already in flight finishes; the message then reports what it delivered.
func (s *Store) CancelMessage(ctx context.Context, id string) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var m Message
		if err := lockForUpdate(tx, s.Dialect).Select("id", "status", "execution_id").Where("id = ?", id).Take(&m).Error; err != nil {
			return fmt.Errorf("store: unable to cancel message: %w", notFound(err))
		}
		if !slices.Contains([]string{MessageScheduled, MessageQueued, MessageRetrying, MessageSending}, m.Status) {
			return fmt.Errorf("store: message is %s: %w", m.Status, ErrWrongState)
		}
		if err := tx.Model(&MessageRequest{}).Where("message_id = ? AND status IN ?", id, []string{RequestPending, RequestRetrying}).
			Updates(map[string]any{"status": RequestCanceled, "updated_at": s.Now()}).Error; err != nil {
			return fmt.Errorf("store: unable to cancel requests: %w", err)
		}
		var inFlight int64
		if err := tx.Model(&MessageRequest{}).Where("message_id = ? AND status = ?", id, RequestSending).Count(&inFlight).Error; err != nil {
			return fmt.Errorf("store: unable to cancel message: %w", err)
		}
		if inFlight > 0 {
			return fmt.Errorf("store: a send of this message is in flight: %w", ErrWrongState)
		}
		if err := tx.Model(&Message{}).Where("id = ?", id).Updates(map[string]any{"status": MessageCanceled, "next_attempt_at": nil, "updated_at": s.Now()}).Error; err != nil {
			return fmt.Errorf("store: unable to cancel message: %w", err)
		}
		return s.wakeExecution(tx, m.ExecutionID)
	})
}

// RetryMessage queues the failed requests of a failed or partial message again, with fresh
// attempts; what was delivered is not sent again.
func (s *Store) RetryMessage(ctx context.Context, id string) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var m Message
		if err := lockForUpdate(tx, s.Dialect).Select("id", "status").Where("id = ?", id).Take(&m).Error; err != nil {
			return fmt.Errorf("store: unable to retry message: %w", notFound(err))
		}
		if m.Status != MessageFailed && m.Status != MessagePartial {
			return fmt.Errorf("store: message is %s: %w", m.Status, ErrWrongState)
		}
		res := tx.Model(&MessageRequest{}).Where("message_id = ? AND status = ?", id, RequestFailed).Updates(map[string]any{
			"status": RequestPending, "not_before": s.Now(), "attempts": 0, "reason": "", "err_code": 0, "err_msg": "", "updated_at": s.Now(),
		})
		if res.Error != nil {
			return fmt.Errorf("store: unable to retry requests: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("store: nothing of this message failed to send: %w", ErrWrongState)
		}
		return tx.Model(&Message{}).Where("id = ?", id).Updates(map[string]any{"status": MessageQueued, "reason": "", "updated_at": s.Now()}).Error
	})
}

// MarkRecalled notes that a message was withdrawn from its recipients.
func (s *Store) MarkRecalled(ctx context.Context, id string) error {
	return s.DB.WithContext(ctx).Model(&Message{}).Where("id = ?", id).
		Updates(map[string]any{"recalled_at": s.Now(), "updated_at": s.Now()}).Error
}
