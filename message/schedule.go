package message

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/template"
)

// timingFields are the top-level fields of a send (and of a notification node) that say when it
// goes out (SPEC §11).
var timingFields = []string{"sendAt", "priority"}

// maxSendAhead is how far ahead sendAt may be.
const maxSendAhead = 30 * 24 * time.Hour

// Priorities of a send; urgent goes through the channel's quiet hours.
const (
	PriorityNormal = "normal"
	PriorityUrgent = "urgent"
)

// timing is when a send is due: sendAt (nil: now) and whether it is urgent.
type timing struct {
	sendAt *time.Time
	urgent bool
}

// readTiming renders and reads a send's sendAt and priority, adding a problem for each that is
// not one: sendAt an RFC 3339 time at most 30 days after now, priority normal or urgent.
// A template that renders empty counts as left out.
func readTiming(body map[string]any, vars template.Vars, now time.Time, errs problem.Fields) timing {
	var t timing
	rendered := map[string]any{}
	for _, k := range timingFields {
		if v, ok := body[k]; ok && v != nil {
			r, err := template.RenderValue(v, vars)
			if err != nil {
				errs.Add(k, err.Error())
				continue
			}
			// A variable that yields nothing leaves the field out, as in recipients: an event
			// without a time is sent now.
			if s, _ := v.(string); strings.Contains(s, "{{") && (r == nil || r == "") {
				continue
			}
			rendered[k] = r
		}
	}
	if v, ok := rendered["sendAt"]; ok {
		at, valid := parseSendAt(v)
		switch {
		case !valid:
			errs.Add("sendAt", "must be an RFC 3339 time such as 2026-01-02T15:04:05+08:00")
		case at.After(now.Add(maxSendAhead)):
			errs.Add("sendAt", "must be at most 30 days ahead")
		case at.After(now):
			t.sendAt = &at
		}
	}
	if v, ok := rendered["priority"]; ok {
		t.urgent = v == PriorityUrgent
		if !validPriority(v) {
			errs.Add("priority", "must be normal or urgent")
		}
	}
	return t
}

// checkTiming is readTiming for a send rendered later: a field that holds a variable is only
// known when it renders, so only literal values are checked (their range too, when they render).
func checkTiming(body map[string]any, errs problem.Fields) {
	literal := func(k string) (any, bool) {
		v, ok := body[k]
		s, isStr := v.(string)
		return v, ok && v != nil && !(isStr && strings.Contains(s, "{{"))
	}
	if v, ok := literal("sendAt"); ok {
		if _, valid := parseSendAt(v); !valid {
			errs.Add("sendAt", "must be an RFC 3339 time such as 2026-01-02T15:04:05+08:00, or a variable that renders to one")
		}
	}
	if v, ok := literal("priority"); ok && !validPriority(v) {
		errs.Add("priority", "must be normal or urgent")
	}
}

func parseSendAt(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	at, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	return at, err == nil
}

func validPriority(v any) bool { return v == PriorityNormal || v == PriorityUrgent }

// plan plans a send (planRequests) and times it: a send due later (its sendAt, or the end of the
// channel's quiet hours it falls in) is stored scheduled, its requests not before that time, so
// the sender's ordinary claim releases it on time on whichever instance, after any restart.
func (s *Service) plan(ctx context.Context, p *parsedSend, in Request) (*models.Message, []models.MessageRequest, error) {
	m, reqs, err := s.planRequests(ctx, p, in)
	if err != nil || len(reqs) == 0 {
		return m, reqs, err
	}
	now := m.CreatedAt
	due := now
	if p.timing.sendAt != nil {
		due = *p.timing.sendAt
	}
	var opts struct {
		QuietHours *plugin.QuietHours `json:"quietHours"`
	}
	_ = json.Unmarshal([]byte(p.channel.Options), &opts)
	// A channel test is someone trying the channel now: it goes through like an urgent send.
	if q := opts.QuietHours; q != nil && !p.timing.urgent && in.TriggerFrom != FromTest {
		if end, inside := q.Until(due); inside {
			// end is in the window's zone: the warning reads as the channel's people read clocks.
			due = end
			warnings := append(jsonList(m.Warnings), fmt.Sprintf("deferred by the channel's quiet hours (%s) until %s %s",
				q, end.Format("2006-01-02 15:04"), q.Timezone))
			w, _ := json.Marshal(warnings)
			m.Warnings = string(w)
		}
	}
	if !due.After(now) {
		return m, reqs, nil
	}
	// Stored times are UTC: SQLite compares them as text.
	due = due.UTC()
	for i := range reqs {
		reqs[i].NotBefore = due
	}
	m.Status, m.NextAttemptAt = models.MessageScheduled, &due
	return m, reqs, nil
}
