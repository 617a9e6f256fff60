package message

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/template"
	"github.com/wecomflow/wecomflow/worker"
)

// parsedSend is a validated send, ready to store.
type parsedSend struct {
	channel     *models.Channel
	replaceName string
	msgtype     string
	// template is the saved template the send names, or "".
	template string
	// msg is an app message; nil for a channel type with its own composer.
	msg  *wecom.Message
	body json.RawMessage
	// unbound are local users a composed send names who have no WeCom binding.
	unbound  []string
	to       Recipients
	idemKey  *string
	warnings []string
	opts     wecom.SendOptions
	timing   timing
}

// Send validates, renders and stores a message and its requests, then wakes the sender.
// Every problem that can be known before sending is a 422 naming the field.
func (s *Service) Send(ctx context.Context, in Request) (View, error) {
	return s.SendWait(ctx, in, 0)
}

// SendWait is Send, then a wait of up to d for the message's final status (POST ?wait=); 0 does
// not wait. The wait is registered before the message is stored, so it reads the message only
// once its outcome is recorded, not also right after the accept.
func (s *Service) SendWait(ctx context.Context, in Request, d time.Duration) (View, error) {
	p, err := s.prepareSend(ctx, in, false)
	if err != nil {
		return View{}, err
	}
	m, reqs, err := s.plan(ctx, p, in)
	if err != nil {
		return View{}, err
	}
	var wake worker.Wakeup
	if d > 0 {
		var remove func()
		wake, remove = s.waiters.Add(m.ID)
		defer remove()
	}
	// The answer is the message as accepted; a handed-over one is stored already sending.
	accepted := view(m, reqs)
	res := s.handOver(m, reqs)
	if res != nil {
		// However this ends, the room is handed over or given back: a reservation left open
		// would keep the sender from stopping.
		defer func() {
			if res != nil {
				res.Cancel()
			}
		}()
	}
	stored, err := s.store.CreateMessage(ctx, m, reqs)
	if errors.Is(err, models.ErrIdempotent) {
		if d > 0 {
			return s.Wait(ctx, stored.ID, d)
		}
		return s.Get(ctx, stored.ID)
	}
	if err != nil {
		return View{}, problem.StoreError("Message", err)
	}
	s.log.InfoContext(ctx, "message accepted", "message_id", m.ID, "channel", m.Channel, "msgtype", m.MsgType,
		"requests", len(reqs), "trigger", m.TriggerFrom)
	switch {
	case res != nil:
		cs := make([]models.Claimed, len(reqs))
		for i := range reqs {
			cs[i] = models.Claimed{Request: reqs[i], Message: *m}
		}
		res.Hand(cs)
		res = nil
	case len(reqs) > 0:
		s.wake()
	}
	if d == 0 {
		return accepted, nil
	}
	final, read := accepted, false
	err = worker.Await(ctx, wake, d, s.waitPoll, len(reqs) == 0, func() (bool, error) {
		v, err := s.waitRead(ctx, m.ID)
		if err == nil {
			final, read = v, true
		}
		return isFinal(v.Status), err
	})
	if !read && err == nil {
		// The caller went away before the outcome.
		return accepted, nil
	}
	return final, err
}

// handOver leases a message's requests to this process's sender before they are stored, when all
// are due now and the sender has room: it then sends them as soon as they are committed, without
// claiming them. Nil leaves them pending for the claim.
func (s *Service) handOver(m *models.Message, reqs []models.MessageRequest) *wecom.Reservation {
	now := s.store.Now()
	for _, r := range reqs {
		if r.Status != models.RequestPending || r.NotBefore.After(now) {
			return nil
		}
	}
	res := s.reserve(len(reqs))
	if res == nil {
		return nil
	}
	m.Status = models.MessageSending
	for i := range reqs {
		until := res.Until
		reqs[i].Status, reqs[i].LeaseOwner, reqs[i].LeaseUntil, reqs[i].Attempts = models.RequestSending, res.Owner, &until, 1
	}
	return res
}

// Plan validates and renders a message like Send and returns the message and
// requests to store, without storing them: a workflow stores them with the step that sends them.
func (s *Service) Plan(ctx context.Context, in Request) (*models.Message, []models.MessageRequest, error) {
	p, err := s.prepareSend(ctx, in, false)
	if err != nil {
		return nil, nil, err
	}
	return s.plan(ctx, p, in)
}

// WakeSender tells the sender that messages were stored.
func (s *Service) WakeSender() { s.wake() }

// Render is Send without storing or sending: the exact WeCom body, warnings and
// validation errors (POST /render and the editor's preview). It fetches and uploads nothing: a
// preview anyone may ask for as often as they like must not download URLs or spend WeCom uploads.
func (s *Service) Render(ctx context.Context, in Request) (body json.RawMessage, warnings []string, err error) {
	p, err := s.prepareSend(ctx, in, true)
	if err != nil {
		return nil, nil, err
	}
	return p.body, nonNil(p.warnings), nil
}

// prepareSend validates and renders a send. A preview fetches and uploads no media. A channel
// whose type has its own composer (a robot) is prepared by it; the rest is an app message.
func (s *Service) prepareSend(ctx context.Context, in Request, preview bool) (*parsedSend, error) {
	body := in.Body
	errs := problem.Fields{}
	p := &parsedSend{}
	channelName, _ := body["channel"].(string)
	if in.Channel != "" {
		channelName = in.Channel
	}
	if channelName == "" {
		return nil, problem.Invalidf("channel", "is required: the name of a channel")
	}
	ch, err := s.store.SendChannel(ctx, channelName)
	if errors.Is(err, models.ErrNotFound) {
		return nil, problem.Invalidf("channel", "no channel is named %q", channelName)
	}
	if err != nil {
		return nil, problem.StoreError("Channel", err)
	}
	if err := access.ChannelAllowed(ctx, ch.Name); err != nil {
		return nil, err
	}
	p.channel = ch
	if body, p.template, err = s.withTemplate(ctx, ch, body); err != nil {
		return nil, err
	}
	if k, ok := body["idempotencyKey"]; ok && k != nil {
		key, isStr := k.(string)
		if !isStr || key == "" || len(key) > 128 {
			errs.Add("idempotencyKey", "must be a string of 1–128 characters")
		} else {
			p.idemKey = &key
		}
	}
	p.replaceName = replaceName(body, errs)
	vars := s.templateVars(in)
	p.timing = readTiming(body, vars, s.store.Now(), errs)
	msgtype, _ := body["msgtype"].(string)
	p.msgtype = msgtype
	if c, ok := s.composer(ch); ok {
		return s.prepareComposed(ctx, c, p, body, vars, preview, errs)
	}
	msgBody, rest := wecom.SplitMessage(body)
	unknownFields(rest, errs)
	if _, ok := msgBody[msgtype]; !ok && msgtype != "" && !slices.Contains(wecom.MsgTypes(), msgtype) {
		errs.Add("msgtype", "must be one of "+strings.Join(wecom.MsgTypes(), ", "))
	}
	rendered, err := template.RenderValue(msgBody, vars)
	if err != nil {
		return nil, templateError(err)
	}
	msg, ferrs := parseRendered(rendered.(map[string]any))
	errs.AddAll("", ferrs)
	to, toErrs := s.renderRecipients(body["to"], vars, false)
	errs.AddAll("", toErrs)
	p.to = to
	if msg != nil && len(ferrs) == 0 {
		// Cards need a task_id unique per app; users need not invent one.
		msg.EnsureTaskID(func() string { return "wf_" + ulid.Make().String() })
		warnings, verrs := msg.Validate(wecom.ValidateOptions{LinkedCorp: to.Linked != nil, ToAll: to.All})
		errs.AddAll("", verrs)
		p.msg, p.warnings = msg, warnings
		if len(to.Chats) > 0 && !slices.Contains(wecom.ChatMsgTypes(), msgtype) {
			errs.Add("to.chats", "cannot take a "+msgtype+": a chat is sent "+strings.Join(wecom.ChatMsgTypes(), ", "))
		}
		if p.replaceName != "" && !msg.IsInteractive() {
			errs.Add("replaceName", "applies only to interactive template cards")
		}
		if msg.IsInteractive() {
			if err := s.checkCallback(ctx, ch, errs); err != nil {
				return nil, err
			}
		}
	}
	if len(errs) > 0 {
		return nil, problem.Invalid(errs)
	}
	media := s.resolveMedia
	if preview {
		media = s.previewMedia
	}
	if err := media(ctx, p); err != nil {
		return nil, err
	}
	var chOpts wecom.ChannelOptions
	_ = json.Unmarshal([]byte(ch.Options), &chOpts)
	p.opts.Safe, p.opts.EnableIDTrans, p.opts.DuplicateCheckInterval = chOpts.Safe, chOpts.EnableIDTrans, chOpts.DuplicateCheckInterval
	p.opts.NoDuplicateCheck = in.NoDuplicateCheck
	if p.body, err = p.msg.Body(); err != nil {
		return nil, problem.Invalidf(msgtype, "cannot be encoded: %v", err)
	}
	return p, nil
}

// unknownFields adds an error for each key of a send's body besides its message keys that is
// not one of the send's own.
func unknownFields(rest map[string]any, errs problem.Fields) {
	for k := range rest {
		switch k {
		case "channel", "idempotencyKey", "to", "data", "replaceName":
		default:
			if !slices.Contains(timingFields, k) {
				errs.Add(k, "unknown field")
			}
		}
	}
}

// replaceName reads the optional replaceName of a send: the button text a clicked card shows.
func replaceName(body map[string]any, errs problem.Fields) string {
	rn, ok := body["replaceName"]
	if !ok || rn == nil {
		return ""
	}
	name, isStr := rn.(string)
	if !isStr || name == "" || len([]rune(name)) > 10 {
		errs.Add("replaceName", "must be the button text to show after a click, 1–10 characters")
		return ""
	}
	return name
}

// checkCallback adds an error when the channel's authenticator has no callback, which interactive
// cards need. Only interactive cards read the (sealed) callback settings; other sends skip
// decrypting.
func (s *Service) checkCallback(ctx context.Context, ch *models.Channel, errs problem.Fields) error {
	name, ok, err := s.apps.HasCallback(ctx, ch.AuthenticatorID)
	if err != nil {
		return err
	}
	if !ok {
		errs.Add("template_card", fmt.Sprintf("is interactive and needs a callback: configure options.callback on authenticator %q (WeCom answers 43012 otherwise)", name))
	}
	return nil
}

// parseRendered decodes a rendered message. A field that is exactly one variable keeps the
// variable's type, so "content": "{{$context.data.amount}}" renders to a number; where WeCom wants
// text, such numbers and true/false are taken as their text instead of being rejected.
func parseRendered(rendered map[string]any) (*wecom.Message, problem.Fields) {
	msg, errs := wecom.ParseMessage(rendered)
	fixed := false
	for path, e := range errs {
		if e == "must be a string" && scalarToString(rendered, path) {
			fixed = true
		}
	}
	if fixed {
		return wecom.ParseMessage(rendered)
	}
	return msg, errs
}

// scalarToString replaces the number or boolean at a field path ("news.articles[0].title") with
// its text, reporting whether it did.
func scalarToString(root map[string]any, path string) bool {
	cur, set, ok := locate(root, path)
	if !ok {
		return false
	}
	switch v := cur.(type) {
	case json.Number:
		set(string(v))
	case float64:
		set(strconv.FormatFloat(v, 'f', -1, 64))
	case bool:
		set(strconv.FormatBool(v))
	default:
		return false
	}
	return true
}

// locate finds the value at a field path ("news.articles[0].title") and a function that
// replaces it.
func locate(root map[string]any, path string) (any, func(any), bool) {
	var cur any = root
	var set func(any)
	for _, part := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(part, "[")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, nil, false
		}
		cur, set = m[name], func(v any) { m[name] = v }
		for rest != "" {
			idx, tail, _ := strings.Cut(rest, "]")
			rest = strings.TrimPrefix(tail, "[")
			i, err := strconv.Atoi(idx)
			list, ok := cur.([]any)
			if err != nil || !ok || i < 0 || i >= len(list) {
				return nil, nil, false
			}
			cur, set = list[i], func(v any) { list[i] = v }
		}
	}
	return cur, set, true
}

func (s *Service) templateVars(in Request) template.Vars {
	ctx := in.Context
	if ctx == nil {
		ctx = map[string]any{"data": in.Body["data"]}
	}
	return template.Vars{Context: ctx, Jobs: in.Jobs, Env: s.env, Location: s.loc}
}

// templateError is a 422 naming the field whose template failed.
func templateError(err error) error {
	msg := err.Error()
	if path, rest, ok := strings.Cut(msg, ": "); ok && !strings.HasPrefix(path, "line ") {
		return problem.Invalidf(path, "%s", rest)
	}
	return problem.Invalidf("", "%s", msg)
}

// renderRecipients renders "to" and reads it; a variable that yields a list expands in place.
// With mentions, the channel has an audience of its own (a robot's group) and "to" only names
// whom to mention: it may be left out, and @all goes with other names.
func (s *Service) renderRecipients(raw any, vars template.Vars, mentions bool) (Recipients, problem.Fields) {
	var to Recipients
	errs := problem.Fields{}
	if raw == nil {
		if !mentions {
			errs.Add("to", "is required: users, wecomUsers, mobiles, emails, departments, tags, all or linked")
		}
		return to, errs
	}
	rendered, err := template.RenderValue(raw, vars)
	if err != nil {
		errs.Add("to", err.Error())
		return to, errs
	}
	m, ok := rendered.(map[string]any)
	if !ok {
		errs.Add("to", "must be an object")
		return to, errs
	}
	for _, k := range []string{"users", "wecomUsers", "departments", "tags", "mobiles", "emails", "chats", "leadersOf"} {
		if v, ok := m[k]; ok {
			m[k] = flatten(v)
		}
	}
	if l, ok := m["linked"].(map[string]any); ok {
		for _, k := range []string{"users", "departments"} {
			if v, ok := l[k]; ok {
				l[k] = flatten(v)
			}
		}
	}
	errs.AddAll("to", plugin.Decode(m, &to))
	if len(errs) > 0 {
		return to, errs
	}
	for field, ids := range map[string][]string{"to.departments": to.Departments, "to.tags": to.Tags} {
		for _, id := range ids {
			if n, err := strconv.ParseInt(id, 10, 64); err != nil || n <= 0 {
				errs.Add(field, fmt.Sprintf("%q is not a positive integer id", id))
			}
		}
	}
	checkContacts(to, errs)
	if mentions {
		return to, errs
	}
	people := len(to.Users) + len(to.WeComUsers) + len(to.Mobiles) + len(to.Emails) + len(to.Departments) + len(to.Tags) + len(to.LeadersOf)
	if people+len(to.Chats) == 0 && !to.All && (to.Linked == nil || len(to.Linked.Users)+len(to.Linked.Departments) == 0) {
		errs.Add("to", "names nobody: give users, wecomUsers, mobiles, emails, departments, tags, all, linked, chats or leadersOf")
	}
	for _, id := range to.Chats {
		if !wecom.ValidChatID(id) {
			errs.Add("to.chats", fmt.Sprintf("%q is not a chatid: 1 to 32 letters or digits", id))
		}
	}
	if to.All && people > 0 {
		errs.Add("to.all", "cannot be combined with other recipients")
	}
	return to, errs
}

// IDList reads a rendered value as a list of ids, the way recipients are read: a list expands,
// numbers become their text, empty strings vanish, one string is a list of one.
func IDList(v any) []string {
	var out []string
	for _, e := range flatten([]any{v}).([]any) {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// flatten turns ["a", ["b", "c"], 3] into ["a", "b", "c", "3"] and drops empty strings: a
// template variable that yields a list expands into it, one that yields nothing vanishes.
func flatten(v any) any {
	list, ok := v.([]any)
	if !ok {
		return v
	}
	out := make([]any, 0, len(list))
	for _, e := range list {
		switch e := e.(type) {
		case []any:
			out = append(out, flatten(e).([]any)...)
		case string:
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		case float64:
			out = append(out, strconv.FormatFloat(e, 'f', -1, 64))
		case json.Number:
			out = append(out, string(e))
		case nil:
		default:
			out = append(out, e)
		}
	}
	return out
}
