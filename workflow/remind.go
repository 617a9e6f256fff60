package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wecomflow/wecomflow/message"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/template"
	"github.com/wecomflow/wecomflow/worker"
)

// A card's waitForResponse.remind (SPEC §11) reminds, every `every`, each recipient who has not
// clicked, at most `times` times. The job resolves on the first click while the others are still
// reminded, so the reminding cannot live in the job: it is a models.Reminder stored with the card,
// whose rounds a loop of its own claims under a lease (once across instances) and writes together
// with their message (a crash neither loses nor repeats a round).

// Reminding more often than every minute, or more than ten times, is nagging.
const (
	minRemindEvery = time.Minute
	maxRemindTimes = 10
)

// validateRemind checks a waitForResponse.remind at save.
func validateRemind(v any, at string, keys map[string]int, errs problem.Fields) {
	at += "waitForResponse.remind"
	rm, ok := v.(map[string]any)
	if !ok {
		errs.Add(at, "must be an object with every, times and text")
		return
	}
	for k := range rm {
		if k != "every" && k != "times" && k != "text" {
			errs.Add(at+"."+k, "unknown field")
		}
	}
	if d, err := parseDuration(str(rm, "every")); err != nil || d < minRemindEvery {
		errs.Add(at+".every", "is required: how often to remind, at least \"1m\", such as \"30m\"")
	}
	if n, ok := wholeNumber(rm["times"]); !ok || n < 1 || n > maxRemindTimes {
		errs.Add(at+".times", fmt.Sprintf("must be a whole number from 1 to %d: how many reminders a person gets at most", maxRemindTimes))
	}
	text, ok := rm["text"].(map[string]any)
	if !ok {
		errs.Add(at+".text", "is required: {\"content\": \"…\"}, the reminder's text")
		return
	}
	for k := range text {
		if k != "content" {
			errs.Add(at+".text."+k, "unknown field")
		}
	}
	if s, _ := text["content"].(string); strings.TrimSpace(s) == "" {
		errs.Add(at+".text.content", "is required: the reminder's text (templates allowed)")
	}
	for _, p := range template.Problems(text, nil) {
		if !p.Err.Warning { // $env is checked with the card's own fields
			errs.Add(at+".text."+p.Path, p.Err.Error())
		}
	}
	checkJobRefs(jobRefs(text), at+".", keys, errs)
}

// remindText renders the reminder text of a card's waitForResponse, with the card's variables;
// "" when the card does not remind.
func (r *run) remindText(wr map[string]any) (string, error) {
	rm, _ := wr["remind"].(map[string]any)
	if rm == nil {
		return "", nil
	}
	text, _ := rm["text"].(map[string]any)
	t, err := template.Parse(str(text, "content"))
	if err == nil {
		var s string
		if s, err = t.Render(r.templateVars()); err == nil {
			return s, nil
		}
	}
	return "", fmt.Errorf("waitForResponse.remind.text.content: %w", err)
}

// reminder is the Reminder of a card that reminds (text is its rendered text), or nil: no
// reminder fits before the card's timeout (until), or the card names nobody who can be reminded.
// Departments, tags, @all, chats and a linked corp's people cannot be told apart from who clicked
// (WeCom names them only as they click): only the card's named members are reminded.
func (r *run) reminder(wr map[string]any, text string, m *models.Message, reqs []models.MessageRequest, until time.Time) *models.Reminder {
	rm, _ := wr["remind"].(map[string]any)
	if rm == nil || m.Linked {
		return nil
	}
	every, _ := parseDuration(str(rm, "every"))
	times, _ := wholeNumber(rm["times"])
	next := r.now.Add(every)
	if !next.Before(until) {
		return nil
	}
	var users []string
	for _, q := range reqs {
		if q.ToUser != "" && !q.ToAll && q.ChatID == "" {
			users = append(users, strings.Split(q.ToUser, "|")...)
		}
	}
	if len(users) == 0 {
		return nil
	}
	return &models.Reminder{MessageID: m.ID, ExecutionID: r.x.ID, Channel: m.Channel, Recipients: strings.Join(users, "|"),
		Text: text, Every: every, Times: times, NextAt: next, Until: until, CreatedAt: r.now, UpdatedAt: r.now}
}

// runReminders sends the rounds of reminders as they come due, until ctx ends. Nothing makes a
// round due before its time, so the poll alone wakes the loop.
func (e *Engine) runReminders(ctx context.Context) {
	worker.Run(ctx, nil, e.opts.Poll, e.remindDue)
}

// remindDue claims the due reminders and sends a round of each, until none is due.
func (e *Engine) remindDue(ctx context.Context) {
	for ctx.Err() == nil {
		due, err := e.store.ClaimReminders(ctx, e.opts.Owner, e.opts.Lease, e.opts.Concurrency)
		if err != nil {
			if ctx.Err() == nil {
				e.log.ErrorContext(ctx, "cannot claim reminders", "error", err)
			}
			return
		}
		if len(due) == 0 {
			return
		}
		// Claimed rounds are written even when shutdown starts: none is left leased.
		ctx := context.WithoutCancel(ctx)
		sent := false
		for i := range due {
			stored, err := e.remindRound(ctx, &due[i])
			if err != nil {
				// Its lease lapses and the round is tried again.
				e.log.ErrorContext(ctx, "cannot send a round of reminders; it is retried", "message_id", due[i].MessageID,
					"execution_id", due[i].ExecutionID, "error", err)
			}
			sent = sent || stored
		}
		if sent {
			e.messages.WakeSender()
		}
	}
}

// remindRound sends a claimed reminder's round to the recipients who have not clicked, and
// schedules the next round or ends the reminding; it reports whether it stored a message.
func (e *Engine) remindRound(ctx context.Context, rm *models.Reminder) (bool, error) {
	now := e.store.Now()
	pending, err := e.unanswered(ctx, rm, now)
	if err != nil {
		return false, err
	}
	var round *models.MessageWithRequests
	if len(pending) > 0 {
		m, reqs, err := e.messages.Plan(ctx, message.Request{Body: map[string]any{
			"channel": rm.Channel, "to": map[string]any{"wecomUsers": pending}, "msgtype": "text",
			// The text was rendered with the card; as a variable's value it is inserted as it is.
			"text": map[string]any{"content": "{{$context.text}}"},
		}, Context: map[string]any{"text": rm.Text}, TriggerFrom: message.FromWorkflow, ExecutionID: &rm.ExecutionID, NoDuplicateCheck: true})
		var se *problem.Error
		switch {
		case errors.As(err, &se) && se.Code == problem.CodeValidation:
			// The channel is gone, or the text rendered too long: no round will do better.
			e.log.WarnContext(ctx, "a card's reminders end: the reminder cannot be sent", "message_id", rm.MessageID,
				"execution_id", rm.ExecutionID, "reason", se.Message)
			pending = nil
		case err != nil:
			return false, err
		default:
			round = &models.MessageWithRequests{Message: m, Requests: reqs}
			rm.Rounds++
		}
	}
	// After a downtime the next round is one interval away, not at once; a round held back by the
	// channel's quiet hours counts from its release, so the night's rounds do not pile up at its end.
	if rm.NextAt = rm.NextAt.Add(rm.Every); !rm.NextAt.After(now) {
		rm.NextAt = now.Add(rm.Every)
	}
	if round != nil && round.Message.Status == models.MessageScheduled && round.Message.NextAttemptAt != nil {
		rm.NextAt = later(rm.NextAt, round.Message.NextAttemptAt.Add(rm.Every))
	}
	done := len(pending) == 0 || rm.Rounds >= rm.Times || !rm.NextAt.Before(rm.Until)
	err = e.store.RecordReminder(ctx, e.opts.Owner, rm, done, round)
	if errors.Is(err, models.ErrInUse) {
		e.log.InfoContext(ctx, "a reminder was taken over during its round; the round is dropped", "message_id", rm.MessageID)
		return false, nil
	}
	return round != nil && err == nil, err
}

// unanswered are the card's recipients to remind now: those who have not clicked, while the job
// waits for a click or was resolved by one; nobody once the job ended otherwise (the card's
// timeout, a cancel, the card failing) or the card's timeout has passed.
func (e *Engine) unanswered(ctx context.Context, rm *models.Reminder, now time.Time) ([]any, error) {
	if !now.Before(rm.Until) {
		return nil, nil
	}
	jobs, err := e.store.JobsOf(ctx, rm.ExecutionID)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(jobs, func(j models.Job) bool { return j.MessageID != nil && *j.MessageID == rm.MessageID })
	if i < 0 || (jobs[i].Status != models.JobPending && jobs[i].Status != models.JobResolved) {
		return nil, nil
	}
	clicks, err := e.store.CardResponses(ctx, rm.MessageID)
	if err != nil {
		return nil, err
	}
	clicked := map[string]bool{}
	for _, c := range clicks {
		clicked[strings.ToLower(c.UserID)] = true // WeCom userids ignore case
	}
	var out []any
	for _, u := range strings.Split(rm.Recipients, "|") {
		if !clicked[strings.ToLower(u)] {
			out = append(out, u)
		}
	}
	return out, nil
}
