package service

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

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/template"
)

// Trigger sources of a message.
const (
	FromAPI      = "api"
	FromWorkflow = "workflow"
	FromTest     = "test"
)

// WeCom's per-request recipient limits.
const (
	maxUsersPerRequest   = 1000
	maxPartiesPerRequest = 100
	maxTagsPerRequest    = 100
)

// Recipients is the "to" of a send (SPEC §3.4).
type Recipients struct {
	Users      []string `json:"users,omitempty"`
	WeComUsers []string `json:"wecomUsers,omitempty"`
	// Departments and Tags are ids; numbers and numeric strings (a template's output) are taken.
	Departments []string          `json:"departments,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	All         bool              `json:"all,omitempty"`
	Linked      *LinkedRecipients `json:"linked,omitempty"`
}

// LinkedRecipients address connected enterprises: "CorpID/userid", "LinkedID/partyid".
type LinkedRecipients struct {
	Users       []string `json:"users,omitempty"`
	Departments []string `json:"departments,omitempty"`
}

// SendRequest is a message to accept: the API body, or a workflow node's rendered config.
type SendRequest struct {
	// Body is the JSON object of SPEC §3.4: channel, idempotencyKey, to, msgtype + its body, data.
	Body map[string]any
	// Channel, when set, overrides Body["channel"] (channel test sends).
	Channel     string
	TriggerFrom string
	ExecutionID *string
	// Context is the template $context; a direct send's is {"data": body.data}.
	Context map[string]any
	// Jobs is the template $jobs (workflows).
	Jobs map[string]any
}

// RecipientSummary is how the recipients resolved.
type RecipientSummary struct {
	Requested  int      `json:"requested"`
	Resolved   int      `json:"resolved"`
	Unbound    []string `json:"unbound"`
	Invalid    []string `json:"invalid"`
	Unlicensed []string `json:"unlicensed"`
}

// MessageRequestView is one WeCom call of a message.
type MessageRequestView struct {
	ToUser       string     `json:"touser,omitempty"`
	ToParty      string     `json:"toparty,omitempty"`
	ToTag        string     `json:"totag,omitempty"`
	Status       string     `json:"status"`
	ErrCode      int        `json:"errcode"`
	ErrMsg       string     `json:"errmsg"`
	MsgID        string     `json:"msgid"`
	ResponseCode string     `json:"responseCode"`
	Attempts     int        `json:"attempts"`
	Reason       string     `json:"reason,omitempty"`
	NextAttempt  *time.Time `json:"nextAttemptAt,omitempty"`
	SentAt       *time.Time `json:"sentAt"`
}

// Message is a message as the API shows it.
type Message struct {
	ID            string               `json:"id"`
	Channel       string               `json:"channel"`
	MsgType       string               `json:"msgtype"`
	Status        string               `json:"status"`
	TriggerFrom   string               `json:"triggerFrom"`
	ExecutionID   *string              `json:"executionId"`
	Recipients    RecipientSummary     `json:"recipients"`
	Requests      []MessageRequestView `json:"requests,omitempty"`
	Attempts      int                  `json:"attempts"`
	NextAttemptAt *time.Time           `json:"nextAttemptAt"`
	Reason        string               `json:"reason"`
	Warnings      []string             `json:"warnings"`
	// Body is the WeCom object of the msgtype as sent, after rendering.
	Body       json.RawMessage `json:"body"`
	CreatedAt  time.Time       `json:"createdAt"`
	SentAt     *time.Time      `json:"sentAt"`
	RecalledAt *time.Time      `json:"recalledAt,omitempty"`
	// Responses are the clicks on an interactive card, oldest first.
	Responses []CardResponse `json:"responses,omitempty"`
}

func jsonList(s string) []string {
	out := []string{}
	_ = json.Unmarshal([]byte(s), &out)
	return out
}

func messageView(m *models.Message, reqs []models.MessageRequest) Message {
	v := Message{ID: m.ID, Channel: m.Channel, MsgType: m.MsgType, Status: m.Status, TriggerFrom: m.TriggerFrom, ExecutionID: m.ExecutionID,
		Recipients: RecipientSummary{Requested: m.Requested, Resolved: m.Resolved, Unbound: jsonList(m.Unbound), Invalid: jsonList(m.Invalid), Unlicensed: jsonList(m.Unlicensed)},
		Attempts:   m.Attempts, NextAttemptAt: m.NextAttemptAt, Reason: m.Reason, Warnings: jsonList(m.Warnings), Body: json.RawMessage(m.Body),
		CreatedAt: m.CreatedAt, SentAt: m.SentAt, RecalledAt: m.RecalledAt}
	for _, r := range reqs {
		rv := MessageRequestView{ToUser: r.ToUser, ToParty: r.ToParty, ToTag: r.ToTag, Status: r.Status, ErrCode: r.ErrCode, ErrMsg: r.ErrMsg,
			MsgID: r.MsgID, ResponseCode: r.ResponseCode, Attempts: r.Attempts, Reason: r.Reason, SentAt: r.SentAt}
		if r.ToAll {
			rv.ToUser = "@all"
		}
		if r.Status == models.RequestRetrying {
			t := r.NotBefore
			rv.NextAttempt = &t
		}
		v.Requests = append(v.Requests, rv)
	}
	return v
}

// parsedSend is a validated send, ready to store.
type parsedSend struct {
	channel     *models.Channel
	replaceName string
	msg         *wecom.Message
	body        json.RawMessage
	to          Recipients
	idemKey     *string
	warnings    []string
	opts        wecom.SendOptions
}

// SendMessage validates, renders and stores a message and its requests, then wakes the sender.
// Every problem that can be known before sending is a 422 naming the field.
func (s *Service) SendMessage(ctx context.Context, in SendRequest) (Message, error) {
	p, err := s.prepareSend(ctx, in)
	if err != nil {
		return Message{}, err
	}
	m, reqs, err := s.plan(ctx, p, in)
	if err != nil {
		return Message{}, err
	}
	stored, err := s.store.CreateMessage(ctx, m, reqs)
	if errors.Is(err, models.ErrIdempotent) {
		return s.GetMessage(ctx, stored.ID)
	}
	if err != nil {
		return Message{}, StoreError("Message", err)
	}
	s.log.InfoContext(ctx, "message accepted", "message_id", m.ID, "channel", m.Channel, "msgtype", m.MsgType,
		"requests", len(reqs), "trigger", m.TriggerFrom)
	if s.cfg.Wake != nil && len(reqs) > 0 {
		s.cfg.Wake()
	}
	return messageView(m, reqs), nil
}

// PlanMessage validates and renders a message like SendMessage and returns the message and
// requests to store, without storing them: a workflow stores them with the step that sends them.
func (s *Service) PlanMessage(ctx context.Context, in SendRequest) (*models.Message, []models.MessageRequest, error) {
	p, err := s.prepareSend(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	return s.plan(ctx, p, in)
}

// WakeSender tells the sender that messages were stored.
func (s *Service) WakeSender() {
	if s.cfg.Wake != nil {
		s.cfg.Wake()
	}
}

// RenderMessage is SendMessage without storing or sending: the exact WeCom body, warnings and
// validation errors (POST /render and the editor's preview).
func (s *Service) RenderMessage(ctx context.Context, in SendRequest) (body json.RawMessage, warnings []string, err error) {
	p, err := s.prepareSend(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	return p.body, nonNil(p.warnings), nil
}

func (s *Service) prepareSend(ctx context.Context, in SendRequest) (*parsedSend, error) {
	body := in.Body
	errs := plugin.FieldErrors{}
	p := &parsedSend{}
	channelName, _ := body["channel"].(string)
	if in.Channel != "" {
		channelName = in.Channel
	}
	if channelName == "" {
		return nil, Invalidf("channel", "is required: the name of a channel")
	}
	ch, err := s.store.GetChannelByName(ctx, channelName)
	if errors.Is(err, models.ErrNotFound) {
		return nil, Invalidf("channel", "no channel is named %q", channelName)
	}
	if err != nil {
		return nil, StoreError("Channel", err)
	}
	p.channel = ch
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
	msgtype, _ := body["msgtype"].(string)
	msgBody, rest := wecom.SplitMessage(body)
	for k := range rest {
		switch k {
		case "channel", "idempotencyKey", "to", "data", "replaceName":
		default:
			errs.Add(k, "unknown field")
		}
	}
	if _, ok := msgBody[msgtype]; !ok && msgtype != "" && !slices.Contains(wecom.MsgTypes(), msgtype) {
		errs.Add("msgtype", "must be one of "+strings.Join(wecom.MsgTypes(), ", "))
	}
	rendered, err := template.RenderValue(msgBody, vars)
	if err != nil {
		return nil, templateError(err)
	}
	msg, ferrs := parseRendered(rendered.(map[string]any))
	for k, v := range ferrs {
		errs.Add(k, v)
	}
	to, toErrs := s.renderRecipients(body["to"], vars)
	for k, v := range toErrs {
		errs.Add(k, v)
	}
	p.to = to
	if msg != nil && len(ferrs) == 0 {
		// Cards need a task_id unique per app; users need not invent one.
		msg.EnsureTaskID(func() string { return "wf_" + ulid.Make().String() })
		warnings, verrs := msg.Validate(wecom.ValidateOptions{LinkedCorp: to.Linked != nil, ToAll: to.All})
		for k, v := range verrs {
			errs.Add(k, v)
		}
		p.msg, p.warnings = msg, warnings
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
		return nil, Invalid(errs)
	}
	if err := s.resolveMedia(ctx, p); err != nil {
		return nil, err
	}
	var chOpts wecom.ChannelOptions
	_ = json.Unmarshal([]byte(ch.Options), &chOpts)
	p.opts.Safe, p.opts.EnableIDTrans, p.opts.DuplicateCheckInterval = chOpts.Safe, chOpts.EnableIDTrans, chOpts.DuplicateCheckInterval
	if p.body, err = p.msg.Body(); err != nil {
		return nil, Invalidf(msgtype, "cannot be encoded: %v", err)
	}
	return p, nil
}

// replaceName reads the optional replaceName of a send: the button text a clicked card shows.
func replaceName(body map[string]any, errs plugin.FieldErrors) string {
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
func (s *Service) checkCallback(ctx context.Context, ch *models.Channel, errs plugin.FieldErrors) error {
	auth, err := s.store.GetAuthenticator(ctx, ch.AuthenticatorID)
	if err != nil {
		return StoreError("Authenticator", err)
	}
	var opts wecom.Options
	joinSecretsInto(&opts, s.AuthenticatorOptions(auth))
	if !opts.HasCallback() {
		errs.Add("template_card", fmt.Sprintf("is interactive and needs a callback: configure options.callback on authenticator %q (WeCom answers 43012 otherwise)", auth.Name))
	}
	return nil
}

// parseRendered decodes a rendered message. A field that is exactly one variable keeps the
// variable's type, so "content": "{{$context.data.amount}}" renders to a number; where WeCom wants
// text, such numbers and true/false are taken as their text instead of being rejected.
func parseRendered(rendered map[string]any) (*wecom.Message, plugin.FieldErrors) {
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

// joinSecretsInto fills the secret fields of typed options from the full options map.
func joinSecretsInto(o *wecom.Options, full map[string]any) {
	raw, _ := json.Marshal(full)
	_ = json.Unmarshal(raw, o)
}

func (s *Service) templateVars(in SendRequest) template.Vars {
	ctx := in.Context
	if ctx == nil {
		ctx = map[string]any{"data": in.Body["data"]}
	}
	return template.Vars{Context: ctx, Jobs: in.Jobs, Env: s.cfg.TemplateEnv, Location: s.cfg.Location}
}

// templateError is a 422 naming the field whose template failed.
func templateError(err error) error {
	msg := err.Error()
	if path, rest, ok := strings.Cut(msg, ": "); ok && !strings.HasPrefix(path, "line ") {
		return Invalidf(path, "%s", rest)
	}
	return Invalidf("", "%s", msg)
}

// renderRecipients renders "to" and reads it; a variable that yields a list expands in place.
func (s *Service) renderRecipients(raw any, vars template.Vars) (Recipients, plugin.FieldErrors) {
	var to Recipients
	errs := plugin.FieldErrors{}
	if raw == nil {
		errs.Add("to", "is required: users, wecomUsers, departments, tags, all or linked")
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
	for _, k := range []string{"users", "wecomUsers", "departments", "tags"} {
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
	for k, v := range plugin.Decode(m, &to) {
		errs.Add(joinPath("to", k), v)
	}
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
	if len(to.Users)+len(to.WeComUsers)+len(to.Departments)+len(to.Tags) == 0 && !to.All && (to.Linked == nil || len(to.Linked.Users)+len(to.Linked.Departments) == 0) {
		errs.Add("to", "names nobody: give users, wecomUsers, departments, tags, all or linked")
	}
	if to.All && len(to.Users)+len(to.WeComUsers)+len(to.Departments)+len(to.Tags) > 0 {
		errs.Add("to.all", "cannot be combined with other recipients")
	}
	return to, errs
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

// plan resolves the recipients and splits them into WeCom-sized requests.
func (s *Service) plan(ctx context.Context, p *parsedSend, in SendRequest) (*models.Message, []models.MessageRequest, error) {
	now := s.store.Now()
	opts, _ := json.Marshal(p.opts)
	warnings, _ := json.Marshal(nonNil(p.warnings))
	m := &models.Message{ID: ulid.Make().String(), ChannelID: p.channel.ID, Channel: p.channel.Name, AuthenticatorID: p.channel.AuthenticatorID,
		MsgType: p.msg.MsgType, Body: string(p.body), SendOptions: string(opts), Linked: p.to.Linked != nil,
		TaskID: p.msg.TaskID(), ReplaceName: p.replaceName,
		Status: models.MessageQueued, TriggerFrom: in.TriggerFrom, ExecutionID: in.ExecutionID, IdempotencyKey: p.idemKey,
		Invalid: "[]", Unlicensed: "[]", Warnings: string(warnings), CreatedAt: now, UpdatedAt: now}
	users := dedupeStrings(p.to.WeComUsers)
	var unbound []string
	if len(p.to.Users) > 0 {
		ids, err := s.store.WeComIDs(ctx, dedupeStrings(p.to.Users))
		if err != nil {
			return nil, nil, StoreError("User", err)
		}
		for _, u := range dedupeStrings(p.to.Users) {
			if w, ok := ids[u]; ok {
				users = append(users, w)
			} else {
				unbound = append(unbound, u)
			}
		}
		users = dedupeStrings(users)
	}
	parties, tags := dedupeStrings(p.to.Departments), dedupeStrings(p.to.Tags)
	if p.to.Linked != nil {
		users = dedupeStrings(append(users, p.to.Linked.Users...))
		parties = dedupeStrings(append(parties, p.to.Linked.Departments...))
	}
	m.Requested = len(dedupeStrings(p.to.Users)) + len(dedupeStrings(p.to.WeComUsers))
	if p.to.Linked != nil {
		m.Requested += len(dedupeStrings(p.to.Linked.Users))
	}
	m.Resolved = len(users)
	ub, _ := json.Marshal(nonNil(unbound))
	m.Unbound = string(ub)
	var reqs []models.MessageRequest
	if p.to.All {
		reqs = append(reqs, models.MessageRequest{Seq: 0, ToAll: true, Status: models.RequestPending, NotBefore: now})
	}
	for i := 0; i*maxUsersPerRequest < len(users) || i*maxPartiesPerRequest < len(parties) || i*maxTagsPerRequest < len(tags); i++ {
		reqs = append(reqs, models.MessageRequest{Seq: i, Status: models.RequestPending, NotBefore: now,
			ToUser:  strings.Join(chunk(users, i, maxUsersPerRequest), "|"),
			ToParty: strings.Join(chunk(parties, i, maxPartiesPerRequest), "|"),
			ToTag:   strings.Join(chunk(tags, i, maxTagsPerRequest), "|")})
	}
	if len(reqs) == 0 {
		m.Status = models.MessageFailed
		m.Reason = "No recipient could be resolved: " + strings.Join(unbound, ", ") + " have no WeCom binding (wechatwk)."
	}
	return m, reqs, nil
}

func chunk(ids []string, i, size int) []string {
	if i*size >= len(ids) {
		return nil
	}
	return ids[i*size : min((i+1)*size, len(ids))]
}

// dedupeStrings keeps the first of each value, in order.
func dedupeStrings(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// GetMessage reads one message with its requests and, for an interactive card, its clicks.
func (s *Service) GetMessage(ctx context.Context, id string) (Message, error) {
	m, reqs, err := s.store.GetMessage(ctx, id)
	if err != nil {
		return Message{}, StoreError("Message", err)
	}
	v := messageView(m, reqs)
	if m.TaskID != "" {
		if v.Responses, err = s.cardResponses(ctx, id); err != nil {
			return Message{}, err
		}
	}
	return v, nil
}

// MessageFilter narrows the message list; times are RFC 3339.
type MessageFilter struct {
	Status, Channel, ExecutionID, Since, Until string
}

var messageStatuses = []string{models.MessageQueued, models.MessageSending, models.MessageRetrying, models.MessageSent,
	models.MessagePartial, models.MessageFailed, models.MessageCanceled}

// ListMessages pages through the send log, newest first.
func (s *Service) ListMessages(ctx context.Context, f MessageFilter, p Page) (List[Message], error) {
	errs := plugin.FieldErrors{}
	mf := models.MessageFilter{Status: f.Status, Channel: f.Channel, ExecutionID: f.ExecutionID}
	if f.Status != "" && !contains(messageStatuses, f.Status) {
		errs.Add("status", "must be one of "+strings.Join(messageStatuses, ", "))
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
		return List[Message]{}, Invalid(errs)
	}
	items, total, err := s.store.ListMessages(ctx, mf, p.model())
	if err != nil {
		return List[Message]{}, StoreError("Message", err)
	}
	return mapList(items, total, p, func(m *models.Message) Message { return messageView(m, nil) }), nil
}

func contains(list []string, v string) bool {
	for _, e := range list {
		if e == v {
			return true
		}
	}
	return false
}

// WaitMessage polls a message until it is final or d has passed, and returns it as it is then.
func (s *Service) WaitMessage(ctx context.Context, id string, d time.Duration) (Message, error) {
	deadline := time.Now().Add(d)
	for {
		m, err := s.GetMessage(ctx, id)
		if err != nil || isFinal(m.Status) || time.Now().After(deadline) {
			return m, err
		}
		select {
		case <-ctx.Done():
			return m, nil
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func isFinal(status string) bool {
	switch status {
	case models.MessageSent, models.MessagePartial, models.MessageFailed, models.MessageCanceled:
		return true
	}
	return false
}

// CancelMessage stops a queued or retrying message.
func (s *Service) CancelMessage(ctx context.Context, id string) (Message, error) {
	if err := s.store.CancelMessage(ctx, id); err != nil {
		return Message{}, stateError("Message", "Only a queued or retrying message with no send in flight can be canceled.", err)
	}
	return s.GetMessage(ctx, id)
}

// RetryMessage sends the undelivered part of a failed or partial message again.
func (s *Service) RetryMessage(ctx context.Context, id string) (Message, error) {
	if err := s.store.RetryMessage(ctx, id); err != nil {
		return Message{}, stateError("Message", "Only a failed or partial message with failed requests can be retried.", err)
	}
	if s.cfg.Wake != nil {
		s.cfg.Wake()
	}
	return s.GetMessage(ctx, id)
}

func stateError(what, msg string, err error) error {
	if errors.Is(err, models.ErrWrongState) {
		return &Error{Code: CodeConflict, Message: msg + " " + strings.TrimPrefix(err.Error(), "store: "), Err: err}
	}
	return StoreError(what, err)
}

// RecallMessage withdraws a sent message from its recipients (WeCom allows 24 h).
func (s *Service) RecallMessage(ctx context.Context, id string) (Message, error) {
	m, reqs, err := s.store.GetMessage(ctx, id)
	if err != nil {
		return Message{}, StoreError("Message", err)
	}
	if m.Status != models.MessageSent && m.Status != models.MessagePartial {
		return Message{}, Errorf(CodeConflict, "Only a sent or partial message can be recalled; this one is %s.", m.Status)
	}
	if m.RecalledAt != nil {
		return Message{}, Errorf(CodeConflict, "The message was already recalled.")
	}
	if m.SentAt != nil && s.store.Now().Sub(*m.SentAt) > 24*time.Hour {
		return Message{}, Errorf(CodeConflict, "WeCom allows recalling a message for 24 hours after it was sent.")
	}
	app, _, err := s.WeComApp(ctx, m.AuthenticatorID)
	if err != nil {
		return Message{}, err
	}
	client := s.cfg.Clients.Client(app)
	for _, r := range reqs {
		if r.Status != models.RequestSent || r.MsgID == "" {
			continue
		}
		if err := client.Recall(ctx, r.MsgID); err != nil {
			return Message{}, &Error{Code: CodeConflict, Message: "WeCom refused the recall: " + wecom.Reason(err), Err: err}
		}
	}
	if err := s.store.MarkRecalled(ctx, id); err != nil {
		return Message{}, StoreError("Message", err)
	}
	return s.GetMessage(ctx, id)
}

// WeComApp is the credentials and send options of a WeCom authenticator, for the sender.
func (s *Service) WeComApp(ctx context.Context, authenticatorID uint64) (wecom.App, wecom.SendOptions, error) {
	a, err := s.store.GetAuthenticator(ctx, authenticatorID)
	if err != nil {
		return wecom.App{}, wecom.SendOptions{}, StoreError("Authenticator", err)
	}
	if !a.Enabled {
		return wecom.App{}, wecom.SendOptions{}, Errorf(CodeConflict, "The authenticator %q is disabled; enable it to send through it.", a.Name)
	}
	var o wecom.Options
	joinSecretsInto(&o, s.AuthenticatorOptions(a))
	return wecom.App{AuthenticatorID: a.ID, CorpID: o.CorpID, AgentID: o.AgentID, Secret: o.Secret, APIBase: o.APIBaseURL},
		wecom.SendOptions{DailyQuota: o.DailyQuota}, nil
}
