package message

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/template"
)

// Check validates a message that will be rendered later (a workflow's notification node):
// everything that can be known before the data exists. Template syntax is checked everywhere;
// WeCom's rules are checked on every field that holds no variable — a field with a variable is
// only known when it renders. A saved template the message names must exist and suit the
// channel. extra names further allowed top-level fields. The returned field errors are the
// problems; err is a failure to check at all.
func (s *Service) Check(ctx context.Context, body map[string]any, extra ...string) (problem.Fields, error) {
	errs := problem.Fields{}
	s.checkSyntax(body, errs)
	channelName, _ := body["channel"].(string)
	var ch *models.Channel
	switch {
	case channelName == "":
		errs.Add("channel", "is required: the name of a channel")
	case strings.Contains(channelName, "{{"):
		errs.Add("channel", "must be a channel's name, not a variable")
	default:
		c, err := s.store.GetChannelByName(ctx, channelName)
		if errors.Is(err, models.ErrNotFound) {
			errs.Add("channel", "no channel is named \""+channelName+"\"")
		} else if err != nil {
			return nil, problem.StoreError("Channel", err)
		}
		ch = c
	}
	if ch != nil {
		merged, _, err := s.withTemplate(ctx, ch, body)
		var pe *problem.Error
		if errors.As(err, &pe) && pe.Code == problem.CodeValidation {
			errs.AddAll("", pe.Fields)
			return errs, nil
		}
		if err != nil {
			return nil, err
		}
		body = merged
	}
	checkTiming(body, errs)
	extra = slices.Concat(extra, timingFields)
	sample := sampleOf(body).(map[string]any)
	if c, ok := s.composer(ch); ok {
		msgtype, _ := sample["msgtype"].(string)
		for k := range sample {
			if k != "channel" && k != "to" && k != "msgtype" && k != msgtype && !slices.Contains(extra, k) {
				errs.Add(k, "unknown field")
			}
		}
		_, toErrs := s.renderRecipients(sample["to"], template.Vars{}, true)
		errs.AddAll("", toErrs)
		return errs, s.checkComposed(ctx, c, body, sample, errs)
	}
	_, rest := wecom.SplitMessage(sample)
	for k := range rest {
		switch {
		// A template without a channel to look it up for: the channel's error says it.
		case k == "channel" || k == "to" || k == "replaceName" || k == "template":
		case slices.Contains(extra, k):
		default:
			errs.Add(k, "unknown field")
		}
	}
	to, toErrs := s.renderRecipients(sample["to"], template.Vars{}, false)
	errs.AddAll("", toErrs)
	msg := checkApp(body, sample, wecom.ValidateOptions{LinkedCorp: to.Linked != nil, ToAll: to.All}, errs)
	if msg == nil {
		return errs, nil
	}
	if replaceName(body, errs) != "" && !msg.IsInteractive() {
		errs.Add("replaceName", "applies only to interactive template cards")
	}
	if msg.IsInteractive() && ch != nil {
		if err := s.checkCallback(ctx, ch, errs); err != nil {
			return nil, err
		}
	}
	return errs, nil
}

// checkDesign is Check for a saved template's message ({"msgtype", <msgtype>}) on channels of a
// type: the same rules, with no channel or audience yet.
func (s *Service) checkDesign(ctx context.Context, channelType string, msg map[string]any, errs problem.Fields) error {
	s.checkSyntax(msg, errs)
	sample := sampleOf(msg).(map[string]any)
	if c, ok := s.channelTypes[channelType].(plugin.Composer); ok {
		return s.checkComposed(ctx, c, msg, sample, errs)
	}
	checkApp(msg, sample, wecom.ValidateOptions{}, errs)
	return nil
}

// checkSyntax adds the template syntax errors of body (not its warnings).
func (s *Service) checkSyntax(body map[string]any, errs problem.Fields) {
	for _, p := range template.Problems(body, s.envNames()) {
		if !p.Err.Warning {
			errs.Add(p.Path, p.Err.Error())
		}
	}
}

// checkApp checks an app message's msgtype and body, sample standing in for body's variables,
// and returns it parsed (nil when it does not parse).
func checkApp(body, sample map[string]any, opts wecom.ValidateOptions, errs problem.Fields) *wecom.Message {
	msgBody, _ := wecom.SplitMessage(sample)
	templated := templatedIn(body)
	msg, ferrs := parseRendered(msgBody)
	for k, v := range ferrs {
		if !templated(k) {
			errs.Add(k, v)
		}
	}
	if msg == nil || len(ferrs) > 0 {
		return nil
	}
	msg.EnsureTaskID(func() string { return "check" })
	_, verrs := msg.Validate(opts)
	for k, v := range verrs {
		if !templated(k) {
			errs.Add(k, v)
		}
	}
	return msg
}

// templatedIn reports whether the field at a path of body holds a variable: only known when it
// renders, so WeCom's rules are not applied to it before.
func templatedIn(body map[string]any) func(path string) bool {
	return func(path string) bool {
		v, _, ok := locate(body, path)
		str, isStr := v.(string)
		return ok && isStr && strings.Contains(str, "{{")
	}
}

// IsInteractive reports whether a message body is an interactive template card (one WeCom calls
// back about when clicked).
func IsInteractive(body map[string]any) bool {
	msgBody, _ := wecom.SplitMessage(sampleOf(body).(map[string]any))
	msg, _ := wecom.ParseMessage(msgBody)
	return msg != nil && msg.IsInteractive()
}

// sampleOf copies a value with every string that holds a variable replaced by "1" — a stand-in
// that passes as text, an id and a list item — so the rules of WeCom can be checked on the rest.
// A recipient field that is one variable becomes a one-item list, as a list variable would.
func sampleOf(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = sampleOf(e)
		}
		if to, ok := out["to"].(map[string]any); ok {
			for k, e := range to {
				if s, ok := e.(string); ok && s == "1" {
					to[k] = []any{"1"}
				}
			}
			standInContacts(to, v["to"].(map[string]any))
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = sampleOf(e)
		}
		return out
	case string:
		if strings.Contains(v, "{{") {
			return "1"
		}
	}
	return v
}

// envNames are the names {{$env.…}} may read.
func (s *Service) envNames() []string {
	names := make([]string, 0, len(s.env))
	for k := range s.env {
		names = append(names, k)
	}
	return names
}
