package message

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/template"
)

// prepareComposed prepares a send to a channel whose type composes its own messages (a group
// robot): the body keys, the audience as mentions, then the type's composer.
func (s *Service) prepareComposed(ctx context.Context, c plugin.Composer, p *parsedSend, body map[string]any, vars template.Vars,
	preview bool, errs problem.Fields) (*parsedSend, error) {
	msgtype := p.msgtype
	rest := map[string]any{}
	for k, v := range body {
		if k != "msgtype" && k != msgtype {
			rest[k] = v
		}
	}
	unknownFields(rest, errs)
	if p.replaceName != "" {
		errs.Add("replaceName", "applies only to interactive template cards of app channels")
	}
	raw, isObj := body[msgtype].(map[string]any)
	switch {
	case msgtype == "":
		errs.Add("msgtype", "is required: one of "+strings.Join(c.MsgTypes(), ", "))
	case !isObj:
		errs.Add(msgtype, "is required when msgtype is "+msgtype+" (an object)")
	}
	to, toErrs := s.renderRecipients(body["to"], vars, true)
	errs.AddAll("", toErrs)
	for field, n := range map[string]int{"to.departments": len(to.Departments), "to.tags": len(to.Tags), "to.emails": len(to.Emails),
		"to.chats": len(to.Chats), "to.leadersOf": len(to.LeadersOf)} {
		if n > 0 {
			errs.Add(field, "cannot be used on a "+p.channel.Type+" channel: it posts to its group, mentioning users, wecomUsers, mobiles or all")
		}
	}
	if to.Linked != nil {
		errs.Add("to.linked", "cannot be used on a "+p.channel.Type+" channel: it posts to its group")
	}
	if len(errs) > 0 {
		return nil, problem.Invalid(errs)
	}
	rendered, err := template.RenderValue(raw, vars)
	if err != nil {
		return nil, templateError(err)
	}
	mentions := plugin.Mentions{UserIDs: dedupeStrings(to.WeComUsers), Mobiles: dedupeStrings(to.Mobiles), All: to.All}
	if users := dedupeStrings(to.Users); len(users) > 0 {
		ids, err := s.store.WeComIDs(ctx, users)
		if err != nil {
			return nil, problem.StoreError("User", err)
		}
		for _, u := range users {
			if w, ok := ids[u]; ok {
				mentions.UserIDs = append(mentions.UserIDs, w)
			} else {
				p.unbound = append(p.unbound, u)
			}
		}
		mentions.UserIDs = dedupeStrings(mentions.UserIDs)
	}
	in := plugin.Compose{Options: plugin.FullOptions(p.channel.Options, p.channel.Secrets.Plain), MsgType: msgtype,
		Body: rendered.(map[string]any), Mentions: mentions}
	if !preview {
		in.Media = s.mediaContent(p.channel.AuthenticatorID)
	}
	out, err := c.Compose(ctx, in)
	if err != nil {
		return nil, err
	}
	p.body, p.warnings, p.to = out.Body, out.Warnings, to
	return p, nil
}

// composer is the composer of the channel's type, if it has one (nil: no channel).
func (s *Service) composer(ch *models.Channel) (plugin.Composer, bool) {
	if ch == nil {
		return nil, false
	}
	c, ok := s.channelTypes[ch.Type].(plugin.Composer)
	return c, ok
}

// checkComposed is Check of the message of a send to a channel whose type composes its own
// (msgtype and its object), sample standing in for body's variables: the type composes the
// sample as a preview would — no mentions, no media fetched — and its errors count on every
// field without a variable.
func (s *Service) checkComposed(ctx context.Context, c plugin.Composer, body, sample map[string]any, errs problem.Fields) error {
	msgtype, _ := sample["msgtype"].(string)
	if !slices.Contains(c.MsgTypes(), msgtype) {
		errs.Add("msgtype", "must be one of "+strings.Join(c.MsgTypes(), ", "))
		return nil
	}
	raw, ok := sample[msgtype].(map[string]any)
	if !ok {
		errs.Add(msgtype, "is required when msgtype is "+msgtype+" (an object)")
		return nil
	}
	_, err := c.Compose(ctx, plugin.Compose{MsgType: msgtype, Body: raw})
	var pe *problem.Error
	if !errors.As(err, &pe) || pe.Code != problem.CodeValidation {
		return err
	}
	templated := templatedIn(body)
	for k, v := range pe.Fields {
		if !templated(k) {
			errs.Add(k, v)
		}
	}
	return nil
}

// mediaContent reads a composed send's media source: a prior upload of the channel's
// authenticator, or a URL downloaded through the server's fetcher.
func (s *Service) mediaContent(authID uint64) func(ctx context.Context, field, mediaType string, source map[string]any) (string, []byte, error) {
	return func(ctx context.Context, field, mediaType string, source map[string]any) (string, []byte, error) {
		if id, _ := source["id"].(string); id != "" {
			m, err := s.storedMedia(ctx, id, authID, field+".id")
			if err != nil {
				return "", nil, err
			}
			return m.Filename, m.Content, nil
		}
		rawURL, _ := source["url"].(string)
		return s.download(ctx, mediaType, rawURL, field+".url")
	}
}

// composedRecipients counts a composed send's audience: everyone named, and the mentions that
// resolved.
func composedRecipients(p *parsedSend) (requested, resolved int) {
	named := len(dedupeStrings(p.to.WeComUsers)) + len(dedupeStrings(p.to.Mobiles))
	users := len(dedupeStrings(p.to.Users))
	return named + users, named + users - len(p.unbound)
}
