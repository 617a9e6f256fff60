package message

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/problem"
)

// Get reads one message with its requests and, for an interactive card, its clicks.
func (s *Service) Get(ctx context.Context, id string) (View, error) {
	m, reqs, err := s.store.GetMessage(ctx, id)
	if err != nil {
		return View{}, problem.StoreError("Message", err)
	}
	v := view(m, reqs)
	if m.TaskID != "" {
		if v.Responses, err = s.cardResponses(ctx, id); err != nil {
			return View{}, err
		}
	}
	return v, nil
}

// Filter narrows the message list; times are RFC 3339.
type Filter struct {
	Status, Channel, ExecutionID, Since, Until string
	// DueFirst lists the soonest next attempt first (a scheduled message's sendAt), not the newest.
	DueFirst bool
}

// statuses are the message statuses of SPEC §3.4, in the order a message goes through them.
var statuses = []string{models.MessageScheduled, models.MessageQueued, models.MessageSending, models.MessageRetrying, models.MessageSent,
	models.MessagePartial, models.MessageFailed, models.MessageCanceled}

// Statuses are the message statuses, in the order a message goes through them (the list filter's
// choices).
func Statuses() []string { return slices.Clone(statuses) }

// List pages through the send log, newest first.
func (s *Service) List(ctx context.Context, f Filter, p models.Page) (models.List[View], error) {
	errs := problem.Fields{}
	mf := models.MessageFilter{Status: f.Status, Channel: strings.TrimSpace(f.Channel), ExecutionID: strings.TrimSpace(f.ExecutionID), DueFirst: f.DueFirst}
	if f.Status != "" && !slices.Contains(statuses, f.Status) {
		errs.Add("status", "must be one of "+strings.Join(statuses, ", "))
	}
	for field, dst := range map[string]**time.Time{"since": &mf.Since, "until": &mf.Until} {
		v := map[string]string{"since": f.Since, "until": f.Until}[field]
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			errs.Add(field, "must be an RFC 3339 time like 2026-01-02T15:04:05Z")
			continue
		}
		*dst = &t
	}
	if len(errs) > 0 {
		return models.List[View]{}, problem.Invalid(errs)
	}
	p = p.Normalize()
	items, total, err := s.store.ListMessages(ctx, mf, p)
	if err != nil {
		return models.List[View]{}, problem.StoreError("Message", err)
	}
	return models.NewList(items, total, p, func(m *models.Message) View { return view(m, nil) }), nil
}

// recallWindow is how long after its sending WeCom takes a recall of a message.
const recallWindow = 24 * time.Hour

// Actions are what a message still allows: the one statement of the state rules that the API's
// refusals, the wait and the pages' buttons share.
type Actions struct {
	// Final: nothing about the message changes any more (but a recall).
	Final bool
	// Cancel: scheduled, queued, retrying or sending with no send in flight.
	Cancel bool
	// Retry: failed or partial, with a failed request to send again.
	Retry bool
	// Recall: sent or partial, not recalled, within WeCom's 24 hours.
	Recall bool
}

// Actions says what v allows now, by the store's clock (the clock the recall itself is checked
// by). The requests decide Cancel and Retry; a view without them (a list row) allows neither.
func (s *Service) Actions(v View) Actions {
	a := Actions{Final: isFinal(v.Status), Recall: recallRefusal(v.Status, v.RecalledAt, v.SentAt, s.store.Now()) == ""}
	inFlight, failed := false, false
	for _, r := range v.Requests {
		inFlight = inFlight || r.Status == models.RequestSending
		failed = failed || r.Status == models.RequestFailed
	}
	switch v.Status {
	case models.MessageScheduled, models.MessageQueued, models.MessageRetrying, models.MessageSending:
		a.Cancel = len(v.Requests) > 0 && !inFlight
	case models.MessageFailed, models.MessagePartial:
		a.Retry = failed
	}
	return a
}

func isFinal(status string) bool {
	switch status {
	case models.MessageSent, models.MessagePartial, models.MessageFailed, models.MessageCanceled:
		return true
	}
	return false
}

// recallRefusal is why a message cannot be recalled at now, or "" when it can.
func recallRefusal(status string, recalledAt, sentAt *time.Time, now time.Time) string {
	switch {
	case status != models.MessageSent && status != models.MessagePartial:
		return fmt.Sprintf("Only a sent or partial message can be recalled; this one is %s.", status)
	case recalledAt != nil:
		return "The message was already recalled."
	case sentAt != nil && now.Sub(*sentAt) > recallWindow:
		return "WeCom allows recalling a message for 24 hours after it was sent."
	}
	return ""
}

// Wait reads a message until it is final or d has passed, and returns it as it is then. It reads
// again when this process records an outcome of the message or cancels it, and every WaitPoll for
// what another instance records.
func (s *Service) Wait(ctx context.Context, id string, d time.Duration) (View, error) {
	var m View
	err := s.waiters.Wait(ctx, id, d, s.waitPoll, func() (bool, error) {
		var err error
		m, err = s.waitRead(ctx, id)
		return isFinal(m.Status), err
	})
	return m, err
}

// Recorded wakes the Waits on the messages of outcomes the sender has committed (the ones whose
// lease it still held: another sender records the others).
func (s *Service) Recorded(outs []models.Outcome) {
	for _, o := range outs {
		if o.Owned {
			s.waiters.Notify(o.Request.MessageID)
		}
	}
}

// testWait is how long a channel test waits for the final delivery result.
const testWait = 30 * time.Second

// Test sends body through a channel now (trigger "test") and answers with the delivery result as
// far as it comes within 30 s: the channel test of the API and of the channel page.
func (s *Service) Test(ctx context.Context, channelID uint64, body map[string]any) (View, error) {
	ch, err := s.store.GetChannel(ctx, channelID)
	if err != nil {
		return View{}, problem.StoreError("Channel", err)
	}
	m, err := s.Send(ctx, Request{Body: body, Channel: ch.Name, TriggerFrom: FromTest})
	if err != nil {
		return View{}, err
	}
	return s.Wait(ctx, m.ID, testWait)
}

// Cancel stops a scheduled, queued or retrying message.
func (s *Service) Cancel(ctx context.Context, id string) (View, error) {
	if err := s.store.CancelMessage(ctx, id); err != nil {
		return View{}, stateError("Message", "Only a scheduled, queued or retrying message with no send in flight can be canceled.", err)
	}
	// The one way besides the sender's outcomes that a message becomes final (a retry makes it
	// queued again, a recall keeps its status).
	s.waiters.Notify(id)
	return s.Get(ctx, id)
}

// Retry sends the undelivered part of a failed or partial message again.
func (s *Service) Retry(ctx context.Context, id string) (View, error) {
	if err := s.store.RetryMessage(ctx, id); err != nil {
		return View{}, stateError("Message", "Only a failed or partial message with failed requests can be retried.", err)
	}
	s.wake()
	return s.Get(ctx, id)
}

func stateError(what, msg string, err error) error {
	if errors.Is(err, models.ErrWrongState) {
		return &problem.Error{Code: problem.CodeConflict, Message: msg + " " + strings.TrimPrefix(err.Error(), "store: "), Err: err}
	}
	return problem.StoreError(what, err)
}

// Recall withdraws a sent message from its recipients (WeCom allows 24 h).
func (s *Service) Recall(ctx context.Context, id string) (View, error) {
	m, reqs, err := s.store.GetMessage(ctx, id)
	if err != nil {
		return View{}, problem.StoreError("Message", err)
	}
	if why := recallRefusal(m.Status, m.RecalledAt, m.SentAt, s.store.Now()); why != "" {
		return View{}, problem.Errorf(problem.CodeConflict, "%s", why)
	}
	app, _, err := s.apps.App(ctx, m.AuthenticatorID)
	if err != nil {
		return View{}, err
	}
	client := s.clients.Client(app)
	for _, r := range reqs {
		if r.Status != models.RequestSent || r.MsgID == "" {
			continue
		}
		if err := client.Recall(ctx, r.MsgID); err != nil {
			return View{}, &problem.Error{Code: problem.CodeConflict, Message: "WeCom refused the recall: " + wecom.Reason(err), Err: err}
		}
	}
	if err := s.store.MarkRecalled(ctx, id); err != nil {
		return View{}, problem.StoreError("Message", err)
	}
	return s.Get(ctx, id)
}
