package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

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

// insertMessages stores a batch in one transaction with multi-row inserts; if that fails, each
// message on its own, so one bad message cannot fail the others.
func (s *Store) insertMessages(ctx context.Context, batch []acceptJob) []error {
	return inBatchOrEach(ctx, s, batch, insertMessageRows)
}

// insertMessageRows inserts messages and their requests with multi-row statements.
func insertMessageRows(tx *gorm.DB, jobs []acceptJob) error {
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
	if err := tx.CreateInBatches(msgs, 100).Error; err != nil {
		return fmt.Errorf("store: unable to store message: %w", duplicate(err))
	}
	if len(reqs) > 0 {
		if err := tx.CreateInBatches(&reqs, 200).Error; err != nil {
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

// Claimed is a request a sender now holds, with its message.
type Claimed struct {
	Request MessageRequest
	Message Message
}

// ClaimRequests leases up to limit due requests to owner until now+lease: ones whose sender's
// lease lapsed (marked Ambiguous: that send may have reached WeCom), then retrying and pending ones
// whose time has come. Claim and mark happen in one transaction; on MySQL other instances skip the
// locked rows instead of waiting.
func (s *Store) ClaimRequests(ctx context.Context, owner string, lease time.Duration, limit int) ([]Claimed, error) {
	now := s.Now()
	var claimed []Claimed
	err := s.retryDeadlock(ctx, func(tx *gorm.DB) error {
		claimed = nil
		ids, err := dueIDs[uint64](tx, s.Dialect, &MessageRequest{}, "not_before", limit,
			where("status = ? AND lease_until < ?", RequestSending, now),
			where("status = ? AND not_before <= ?", RequestRetrying, now),
			where("status = ? AND not_before <= ?", RequestPending, now))
		if err != nil {
			return fmt.Errorf("store: unable to find due requests: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		until := now.Add(lease)
		if err := tx.Model(&MessageRequest{}).Where("id IN ?", ids).Updates(map[string]any{
			// A request still marked sending had a sender that stopped mid-send.
			"ambiguous": gorm.Expr("CASE WHEN status = ? THEN ? ELSE ambiguous END", RequestSending, true),
			"status":    RequestSending, "lease_owner": owner, "lease_until": until,
			"attempts": gorm.Expr("attempts + 1"), "updated_at": now,
		}).Error; err != nil {
			return fmt.Errorf("store: unable to claim requests: %w", err)
		}
		var reqs []MessageRequest
		if err := tx.Where("id IN ?", ids).Order("id").Find(&reqs).Error; err != nil {
			return fmt.Errorf("store: unable to read claimed requests: %w", err)
		}
		msgIDs := make([]string, 0, len(reqs))
		for _, r := range reqs {
			msgIDs = append(msgIDs, r.MessageID)
		}
		if err := tx.Model(&Message{}).Where("id IN ? AND status IN ?", msgIDs, []string{MessageQueued, MessageRetrying}).
			Updates(map[string]any{"status": MessageSending, "updated_at": now}).Error; err != nil {
			return fmt.Errorf("store: unable to mark messages sending: %w", err)
		}
		var msgs []Message
		if err := tx.Where("id IN ?", msgIDs).Find(&msgs).Error; err != nil {
			return fmt.Errorf("store: unable to read claimed messages: %w", err)
		}
		if missing := missingMessages(msgIDs, msgs); len(missing) > 0 {
			// On MariaDB the snapshot of a read right after the locking claim can miss the
			// message its request was committed with (once in ~80,000 sends under cluster load);
			// a locking read sees the newest committed row. Only the few missed are read so, as
			// a locking read that scans waits on every row other claims hold.
			var late []Message
			if err := lockForUpdate(tx, s.Dialect).Where("id IN ?", missing).Find(&late).Error; err != nil {
				return fmt.Errorf("store: unable to read claimed messages: %w", err)
			}
			msgs = append(msgs, late...)
		}
		byID := make(map[string]Message, len(msgs))
		for _, m := range msgs {
			byID[m.ID] = m
		}
		var orphans []uint64
		for _, r := range reqs {
			if m, ok := byID[r.MessageID]; ok {
				claimed = append(claimed, Claimed{Request: r, Message: m})
			} else {
				orphans = append(orphans, r.ID)
			}
		}
		return s.failOrphans(tx, orphans, now)
	})
	return claimed, err
}

// missingMessages are the ids of ids that msgs lacks.
func missingMessages(ids []string, msgs []Message) []string {
	have := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		have[m.ID] = true
	}
	var out []string
	for _, id := range ids {
		if !have[id] {
			out = append(out, id)
			have[id] = true
		}
	}
	return out
}

// failOrphans fails requests whose message does not exist (removed by hand from the database):
// there is nothing to send, and claiming them again would only fail again.
func (s *Store) failOrphans(tx *gorm.DB, ids []uint64, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	if err := tx.Model(&MessageRequest{}).Where("id IN ?", ids).Updates(map[string]any{
		"status": RequestFailed, "lease_owner": "", "lease_until": nil, "reason": "its message no longer exists", "updated_at": now,
	}).Error; err != nil {
		return fmt.Errorf("store: unable to fail requests without a message: %w", err)
	}
	return nil
}

// Outcome is one claimed request's result to record.
type Outcome struct {
	Request *MessageRequest
	// Message is the request's message as claimed (with Requests counting any split since).
	Message *Message
	// Owned is set by RecordOutcomes: false when the lease was lost to another sender, which will
	// record the request itself.
	Owned bool
}

// outcomeColumns are what recording an attempt changes on a request.
var outcomeColumns = []string{"to_user", "status", "not_before", "lease_owner", "lease_until", "attempts", "ambiguous", "err_code", "err_msg",
	"msg_id", "response_code", "invalid_user", "invalid_party", "invalid_tag", "unlicensed_user", "reason", "sent_at", "updated_at"}

// RecordOutcomes writes the outcomes of claimed requests in one transaction and brings their
// messages' status up to date. Senders group concurrent outcomes into one call: on SQLite's single
// writer one commit for many outcomes is what lets delivery keep up with acceptance.
func (s *Store) RecordOutcomes(ctx context.Context, owner string, outs []Outcome) error {
	// Requests in id order, as RenewRequests locks them, so a renewal and a recording cannot
	// deadlock on each other's rows.
	byID := make([]int, len(outs))
	for i := range byID {
		byID[i] = i
	}
	sort.Slice(byID, func(a, b int) bool { return outs[byID[a]].Request.ID < outs[byID[b]].Request.ID })
	return s.retryDeadlock(ctx, func(tx *gorm.DB) error {
		touched := map[string]bool{}
		var order []string
		for _, i := range byID {
			r := outs[i].Request
			r.LeaseOwner, r.LeaseUntil, r.UpdatedAt = "", nil, s.Now()
			res := tx.Model(&MessageRequest{}).Where("id = ? AND lease_owner = ?", r.ID, owner).Select(outcomeColumns).Updates(r)
			if res.Error != nil {
				return fmt.Errorf("store: unable to record request: %w", res.Error)
			}
			outs[i].Owned = res.RowsAffected > 0
			if !outs[i].Owned {
				continue
			}
			if m := outs[i].Message; m != nil && m.Requests == 1 {
				// The only request decides the message: no need to read it back.
				u := deriveStatus(*m, []MessageRequest{*r})
				u["updated_at"] = s.Now()
				if err := tx.Model(&Message{}).Where("id = ? AND status <> ?", m.ID, MessageCanceled).Updates(u).Error; err != nil {
					return fmt.Errorf("store: unable to update message status: %w", err)
				}
				if err := s.wakeIfFinal(tx, m.ExecutionID, u); err != nil {
					return err
				}
				continue
			}
			if !touched[r.MessageID] {
				touched[r.MessageID] = true
				order = append(order, r.MessageID)
			}
		}
		// One lock order for every recorder, so parallel recorders cannot deadlock on messages.
		sort.Strings(order)
		for _, id := range order {
			if err := s.refreshMessage(tx, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// SplitRequest narrows a claimed request to the members that may receive it now and stores the
// deferred ones as a new request, before anything is sent: a resend after a crash must repeat the
// narrowed request byte for byte, or WeCom's duplicate check cannot drop the twin. ErrInUse when
// owner no longer holds the lease.
func (s *Store) SplitRequest(ctx context.Context, owner string, r *MessageRequest, deferred *MessageRequest) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&MessageRequest{}).Where("id = ? AND lease_owner = ?", r.ID, owner).
			Updates(map[string]any{"to_user": r.ToUser, "updated_at": s.Now()})
		if res.Error != nil {
			return fmt.Errorf("store: unable to narrow the request: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("store: lease lost: %w", ErrInUse)
		}
		if err := tx.Create(deferred).Error; err != nil {
			return fmt.Errorf("store: unable to store the deferred request: %w", err)
		}
		return tx.Model(&Message{}).Where("id = ?", r.MessageID).Update("requests", gorm.Expr("requests + 1")).Error
	})
}

// refreshMessage derives a message's status, counts and reason from its requests.
func (s *Store) refreshMessage(tx *gorm.DB, id string) error {
	// Lock the message first: two recorders finishing two requests of one message must not each
	// read the other's request as unfinished (write skew) and leave the message "sending".
	var m Message
	if err := lockForUpdate(tx, s.Dialect).Select("id", "status", "unbound", "requested", "execution_id").Where("id = ?", id).Take(&m).Error; err != nil {
		return fmt.Errorf("store: unable to read message: %w", err)
	}
	var reqs []MessageRequest
	if err := tx.Where("message_id = ?", id).Order("seq, id").Find(&reqs).Error; err != nil {
		return fmt.Errorf("store: unable to read requests: %w", err)
	}
	if m.Status == MessageCanceled {
		return nil
	}
	u := deriveStatus(m, reqs)
	u["updated_at"] = s.Now()
	if err := tx.Model(&Message{}).Where("id = ?", id).Updates(u).Error; err != nil {
		return fmt.Errorf("store: unable to update message status: %w", err)
	}
	return s.wakeIfFinal(tx, m.ExecutionID, u)
}

// wakeIfFinal wakes the execution waiting for a message that the update u made final.
func (s *Store) wakeIfFinal(tx *gorm.DB, executionID *string, u map[string]any) error {
	switch u["status"] {
	case MessageSent, MessagePartial, MessageFailed:
		return s.wakeExecution(tx, executionID)
	}
	return nil
}

func deriveStatus(m Message, reqs []MessageRequest) map[string]any {
	var open, retrying, sent, failed, attempts int
	var next *time.Time
	var reasons []string
	var sentAt *time.Time
	invalid, unlicensed := newIDSet(), newIDSet()
	for _, r := range reqs {
		attempts = max(attempts, r.Attempts)
		switch r.Status {
		case RequestPending, RequestSending:
			open++
		case RequestRetrying:
			retrying++
			if next == nil || r.NotBefore.Before(*next) {
				t := r.NotBefore
				next = &t
			}
		case RequestSent:
			sent++
			if r.SentAt != nil && (sentAt == nil || r.SentAt.After(*sentAt)) {
				sentAt = r.SentAt
			}
		case RequestFailed:
			failed++
			if r.Reason != "" {
				reasons = append(reasons, r.Reason)
			}
		}
		invalid.add("", r.InvalidUser)
		invalid.add("department:", r.InvalidParty)
		invalid.add("tag:", r.InvalidTag)
		unlicensed.add("", r.UnlicensedUser)
	}
	u := map[string]any{"attempts": attempts, "invalid": invalid.json(), "unlicensed": unlicensed.json(),
		"next_attempt_at": next, "reason": strings.Join(dedupe(reasons), " ")}
	switch {
	case open > 0:
		u["status"] = MessageSending
	case retrying > 0:
		u["status"] = MessageRetrying
	case sent == 0:
		u["status"] = MessageFailed
	case failed > 0 || invalid.len() > 0 || unlicensed.len() > 0 || m.Unbound != "[]" && m.Unbound != "":
		u["status"], u["sent_at"] = MessagePartial, sentAt
	default:
		u["status"], u["sent_at"] = MessageSent, sentAt
	}
	if open == 0 && retrying == 0 {
		u["next_attempt_at"] = nil
	}
	return u
}

// idSet collects "|"-joined id lists into one sorted, duplicate-free JSON list; departments and
// tags carry a prefix so they cannot be mistaken for userids.
type idSet map[string]bool

func newIDSet() idSet { return idSet{} }

func (s idSet) add(prefix, list string) {
	for _, id := range strings.Split(list, "|") {
		if id != "" {
			s[prefix+id] = true
		}
	}
}

func (s idSet) len() int { return len(s) }

func (s idSet) json() string {
	ids := make([]string, 0, len(s))
	for id := range s {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	b, _ := json.Marshal(ids)
	return string(b)
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	out := ss[:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// RecentSend is a request delivered since some time: what the rate limiter needs after a restart.
type RecentSend struct {
	AuthenticatorID uint64
	ToUser          string
	SentAt          time.Time
}

// RenewRequests extends owner's leases on the requests ids to now+lease: a sender renews what it
// is still sending, so a short lease rescues a dead instance's sends quickly without taking a slow
// send from a live one.
func (s *Store) RenewRequests(ctx context.Context, owner string, ids []uint64, lease time.Duration) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.retryDeadlock(ctx, func(tx *gorm.DB) error {
		return tx.Model(&MessageRequest{}).Where("id IN ? AND lease_owner = ? AND status = ?", ids, owner, RequestSending).
			Update("lease_until", s.Now().Add(lease)).Error
	})
	if err != nil {
		return fmt.Errorf("store: unable to renew send leases: %w", err)
	}
	return nil
}

// RecentSends lists the member sends since since, oldest first.
func (s *Store) RecentSends(ctx context.Context, since time.Time) ([]RecentSend, error) {
	var out []RecentSend
	err := s.Read.WithContext(ctx).Table("message_requests r").
		Select("m.authenticator_id, r.to_user, r.sent_at").
		Joins("JOIN messages m ON m.id = r.message_id").
		Where("r.status = ? AND r.sent_at >= ? AND r.to_user <> '' AND m.linked = ?", RequestSent, since, false).
		Order("r.sent_at").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to read recent sends: %w", err)
	}
	return out, nil
}

// MessageFilter narrows the message list.
type MessageFilter struct {
	Status, Channel, ExecutionID string
	Since, Until                 *time.Time
}

// ListMessages pages through messages, newest first.
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
	if err := q.Order("created_at DESC, id DESC").Offset(p.offset()).Limit(p.Size).Find(&items).Error; err != nil {
		return nil, 0, fmt.Errorf("store: unable to list messages: %w", err)
	}
	return items, total, nil
}

// GetMessage reads a message and its requests.
func (s *Store) GetMessage(ctx context.Context, id string) (*Message, []MessageRequest, error) {
	m, err := get[Message](ctx, s.Read, "message", "id = ?", id)
	if err != nil {
		return nil, nil, err
	}
	var reqs []MessageRequest
	if err := s.Read.WithContext(ctx).Where("message_id = ?", id).Order("seq, id").Find(&reqs).Error; err != nil {
		return nil, nil, fmt.Errorf("store: unable to read requests: %w", err)
	}
	return m, reqs, nil
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
		if m.Status != MessageQueued && m.Status != MessageRetrying && m.Status != MessageSending {
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

// OutboxDepth counts the requests not yet finished, by status.
func (s *Store) OutboxDepth(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		Status string
		N      int64
	}
	err := s.Read.WithContext(ctx).Model(&MessageRequest{}).Select("status, COUNT(*) AS n").
		Where("status IN ?", []string{RequestPending, RequestRetrying, RequestSending}).Group("status").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to count the outbox: %w", err)
	}
	out := map[string]int64{RequestPending: 0, RequestRetrying: 0, RequestSending: 0}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}
