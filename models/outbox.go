package models

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
)

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
		if err := tx.Model(&Message{}).Where("id IN ? AND status IN ?", msgIDs, []string{MessageScheduled, MessageQueued, MessageRetrying}).
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

// recordColumns are what recording an attempt writes of a request, in outcomeValues' order;
// recordRequestSQL writes them while owner still holds the request's lease.
var (
	recordColumns = []string{"to_user", "status", "not_before", "attempts", "ambiguous", "err_code", "err_msg", "msg_id", "response_code",
		"invalid_user", "invalid_party", "invalid_tag", "unlicensed_user", "reason", "sent_at"}
	recordRequestSQL = "UPDATE message_requests SET " + strings.Join(recordColumns, " = ?, ") + " = ?, lease_owner = '', lease_until = NULL, " +
		"updated_at = ? WHERE id = ? AND lease_owner = ?"
)

// outcomeValues are r's values of recordColumns.
func (r *MessageRequest) outcomeValues() []any {
	return []any{r.ToUser, r.Status, r.NotBefore, r.Attempts, r.Ambiguous, r.ErrCode, r.ErrMsg, r.MsgID, r.ResponseCode,
		r.InvalidUser, r.InvalidParty, r.InvalidTag, r.UnlicensedUser, r.Reason, r.SentAt}
}

// messageStatusSQL writes deriveStatus's update u of a message that is not canceled; sent_at is
// kept where u has none.
const messageStatusSQL = "UPDATE messages SET status = ?, attempts = ?, invalid = ?, unlicensed = ?, next_attempt_at = ?, reason = ?, " +
	"sent_at = COALESCE(?, sent_at), updated_at = ? WHERE id = ? AND status <> ?"

func (s *Store) updateMessageStatus(tx *gorm.DB, id string, u map[string]any) (int64, error) {
	res, err := s.exec(tx, messageStatusSQL, u["status"], u["attempts"], u["invalid"], u["unlicensed"], u["next_attempt_at"], u["reason"],
		u["sent_at"], s.Now(), id, MessageCanceled)
	if err != nil {
		return 0, fmt.Errorf("store: unable to update message status: %w", err)
	}
	return res.RowsAffected()
}

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
		if done, err := s.recordAtOnce(tx, owner, outs); done || err != nil {
			return err
		}
		touched := map[string]bool{}
		var order []string
		for _, i := range byID {
			r := outs[i].Request
			r.LeaseOwner, r.LeaseUntil, r.UpdatedAt = "", nil, s.Now()
			res, err := s.exec(tx, recordRequestSQL, append(r.outcomeValues(), r.UpdatedAt, r.ID, owner)...)
			if err != nil {
				return fmt.Errorf("store: unable to record request: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("store: unable to record request: %w", err)
			}
			outs[i].Owned = n > 0
			if !outs[i].Owned {
				continue
			}
			if m := outs[i].Message; m != nil && m.Requests == 1 {
				// The only request decides the message: no need to read it back.
				u := deriveStatus(*m, []MessageRequest{*r}, s.Now())
				changed, err := s.updateMessageStatus(tx, m.ID, u)
				if err != nil {
					return err
				}
				if err := s.wakeIfFinal(tx, m.ExecutionID, u); err != nil {
					return err
				}
				// Claiming made it sending, so a final status here is a change; a canceled
				// message (no row updated) has none.
				if changed > 0 {
					if err := s.emit(tx, messageEvent(m.ID, u["status"])...); err != nil {
						return err
					}
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

// recordAtOnce records outcomes of one-request messages, all still leased to owner, with one
// UPDATE of the requests and one of the messages, on MySQL: there each statement is a round trip
// and the server's work of a statement, which for a batch of single sends were most of a
// message's cost. done is false when it does not apply (SQLite, whose prepared statements cost
// little each; a message of several requests; a lease lost or a message canceled meanwhile, which
// the statements' counts show): nothing is left changed and the caller records one by one.
func (s *Store) recordAtOnce(tx *gorm.DB, owner string, outs []Outcome) (done bool, err error) {
	if s.Dialect != DialectMySQL || len(outs) < 2 {
		return false, nil
	}
	for _, o := range outs {
		if o.Message == nil || o.Message.Requests != 1 {
			return false, nil
		}
	}
	const sp = "record_at_once"
	if err := tx.SavePoint(sp).Error; err != nil {
		return false, fmt.Errorf("store: unable to record requests: %w", err)
	}
	now := s.Now()
	reqIDs := make([]any, len(outs))
	msgIDs := make([]any, len(outs))
	updates := make([]map[string]any, len(outs))
	values := make([][]any, len(outs))
	for i, o := range outs {
		reqIDs[i], msgIDs[i], values[i] = o.Request.ID, o.Message.ID, o.Request.outcomeValues()
		r := *o.Request
		r.LeaseOwner, r.LeaseUntil, r.UpdatedAt = "", nil, now
		updates[i] = deriveStatus(*o.Message, []MessageRequest{r}, now)
	}
	var sets []string
	var args []any
	set := func(col, format string, ids []any, value func(i int) any) {
		expr, vals := caseByID(ids, value)
		sets = append(sets, col+" = "+fmt.Sprintf(format, expr))
		args = append(args, vals...)
	}
	for c, col := range recordColumns {
		set(col, "%s", reqIDs, func(i int) any { return values[i][c] })
	}
	q := "UPDATE message_requests SET " + strings.Join(sets, ", ") + ", lease_owner = '', lease_until = NULL, updated_at = ? " +
		"WHERE lease_owner = ? AND id IN " + inList(len(outs))
	args = append(append(args, now, owner), reqIDs...)
	if n, err := s.affected(tx, q, args); err != nil || n != int64(len(outs)) {
		return false, s.rollbackTo(tx, sp, err)
	}
	sets, args = nil, nil
	for _, col := range []string{"status", "attempts", "invalid", "unlicensed", "next_attempt_at", "reason"} {
		set(col, "%s", msgIDs, func(i int) any { return updates[i][col] })
	}
	set("sent_at", "COALESCE(%s, sent_at)", msgIDs, func(i int) any { return updates[i]["sent_at"] })
	q = "UPDATE messages SET " + strings.Join(sets, ", ") + ", updated_at = ? WHERE status <> ? AND id IN " + inList(len(outs))
	args = append(append(args, now, MessageCanceled), msgIDs...)
	if n, err := s.affected(tx, q, args); err != nil || n != int64(len(outs)) {
		return false, s.rollbackTo(tx, sp, err)
	}
	var events []hookEvent
	for i, o := range outs {
		r := o.Request
		r.LeaseOwner, r.LeaseUntil, r.UpdatedAt = "", nil, now
		outs[i].Owned = true
		if err := s.wakeIfFinal(tx, o.Message.ExecutionID, updates[i]); err != nil {
			return false, err
		}
		events = append(events, messageEvent(o.Message.ID, updates[i]["status"])...)
	}
	return true, s.emit(tx, events...)
}

// caseByID is "CASE id WHEN ? THEN ? … END" giving row i (of ids) value(i), and its arguments.
func caseByID(ids []any, value func(i int) any) (string, []any) {
	args := make([]any, 0, 2*len(ids))
	for i, id := range ids {
		args = append(args, id, value(i))
	}
	return "CASE id" + strings.Repeat(" WHEN ? THEN ?", len(ids)) + " END", args
}

// inList is "(?, ?, …)" for n values.
func inList(n int) string {
	return "(" + strings.Repeat("?, ", n-1) + "?)"
}

// affected runs a statement and returns how many rows it changed.
func (s *Store) affected(tx *gorm.DB, query string, args []any) (int64, error) {
	res, err := s.run(tx, query, args, false)
	if err != nil {
		return 0, fmt.Errorf("store: unable to record requests: %w", err)
	}
	return res.RowsAffected()
}

// rollbackTo undoes the statements since the savepoint sp; err, if any, is the caller's failure.
func (s *Store) rollbackTo(tx *gorm.DB, sp string, err error) error {
	if rerr := tx.RollbackTo(sp).Error; rerr != nil {
		return errors.Join(err, fmt.Errorf("store: unable to roll back to %s: %w", sp, rerr))
	}
	return err
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
	u := deriveStatus(m, reqs, s.Now())
	if _, err := s.updateMessageStatus(tx, id, u); err != nil {
		return err
	}
	if u["status"] != m.Status {
		if err := s.emit(tx, messageEvent(id, u["status"])...); err != nil {
			return err
		}
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

// deriveStatus is a message's status from its requests: a request paced to later than now makes
// the message queued (with nextAttemptAt) unless another is being sent or retried.
func deriveStatus(m Message, reqs []MessageRequest, now time.Time) map[string]any {
	var sending, waiting, retrying, sent, failed, attempts int
	var next *time.Time
	later := func(t time.Time) {
		if next == nil || t.Before(*next) {
			next = &t
		}
	}
	var reasons []string
	var sentAt *time.Time
	invalid, unlicensed := newIDSet(), newIDSet()
	for _, r := range reqs {
		attempts = max(attempts, r.Attempts)
		switch r.Status {
		case RequestSending:
			sending++
		case RequestPending:
			if !r.NotBefore.After(now) {
				sending++
				break
			}
			// Paced (a member's or a robot's rate window): waiting is not a failure.
			waiting++
			later(r.NotBefore)
		case RequestRetrying:
			retrying++
			later(r.NotBefore)
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
	case sending > 0:
		u["status"] = MessageSending
	case retrying > 0:
		u["status"] = MessageRetrying
	case waiting > 0:
		u["status"] = MessageQueued
	case sent == 0:
		u["status"] = MessageFailed
	case failed > 0 || invalid.len() > 0 || unlicensed.len() > 0 || m.Unbound != "[]" && m.Unbound != "":
		u["status"], u["sent_at"] = MessagePartial, sentAt
	default:
		u["status"], u["sent_at"] = MessageSent, sentAt
	}
	if waiting+retrying == 0 {
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
	ChannelID       uint64
	ChannelType     string
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
		Select("m.authenticator_id, m.channel_id, m.channel_type, r.to_user, r.sent_at").
		Joins("JOIN messages m ON m.id = r.message_id").
		Where("r.status = ? AND r.sent_at >= ? AND (r.to_user <> '' OR m.channel_type <> ?) AND m.linked = ?", RequestSent, since, "wecom", false).
		Order("r.sent_at").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to read recent sends: %w", err)
	}
	return out, nil
}

// OutboxWaiting is OutboxDepth's name for pending requests not due yet (a sendAt, quiet hours,
// pacing): thousands scheduled for tomorrow are not a backlog.
const OutboxWaiting = "waiting"

// OutboxDepth counts the requests not yet finished, by status, with pending ones not due yet
// counted as OutboxWaiting.
func (s *Store) OutboxDepth(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		Status string
		Later  bool
		N      int64
	}
	err := s.Read.WithContext(ctx).Model(&MessageRequest{}).Select("status, not_before > ? AS later, COUNT(*) AS n", s.Now()).
		Where("status IN ?", []string{RequestPending, RequestRetrying, RequestSending}).Group("status, later").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: unable to count the outbox: %w", err)
	}
	out := map[string]int64{RequestPending: 0, OutboxWaiting: 0, RequestRetrying: 0, RequestSending: 0}
	for _, r := range rows {
		if r.Status == RequestPending && r.Later {
			r.Status = OutboxWaiting
		}
		out[r.Status] += r.N
	}
	return out, nil
}
