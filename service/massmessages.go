package service

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/problem"
)

// A mass message is refreshed from WeCom every massRefreshEvery for massRefreshFor after it was
// created (SPEC §9.5): members confirm when they get to it, and WeCom keeps the task open for
// days. A refresh holds the message for massRefreshLease, longer than refreshing 10,000 members
// takes, so a lapsed lease means the instance died.
const (
	massRefreshEvery = 5 * time.Minute
	massRefreshFor   = 3 * 24 * time.Hour
	massRefreshLease = 5 * time.Minute
	// massRefreshBatch is how many due messages one pass of the leader claims.
	massRefreshBatch = 10
)

// MassMessageInput is the body of POST /mass-messages: customers by externalUserIds or tagFilter
// (WeCom's tag_filter shape), the sender as a local userid (sender) or a WeCom one (wecomSender),
// text and attachments in WeCom's shape.
type MassMessageInput struct {
	AuthenticatorID uint64               `json:"authenticatorId"`
	ChatType        string               `json:"chatType"`
	Sender          string               `json:"sender"`
	WeComSender     string               `json:"wecomSender"`
	ExternalUserIDs []string             `json:"externalUserIds"`
	TagFilter       *wecom.MassTagFilter `json:"tagFilter"`
	Text            *wecom.Text          `json:"text"`
	Attachments     []any                `json:"attachments"`
}

// MassMessage is a mass message as the API shows it. Members and Request are on the detail only.
type MassMessage struct {
	ID              uint64           `json:"id"`
	AuthenticatorID uint64           `json:"authenticatorId"`
	ChatType        string           `json:"chatType"`
	Sender          string           `json:"wecomSender"`
	MsgID           string           `json:"msgid"`
	Status          string           `json:"status"`
	FailList        []string         `json:"failList"`
	Results         wecom.MassCounts `json:"results"`
	MemberCount     int              `json:"memberCount"`
	SentMembers     int              `json:"sentMembers"`
	Reminders       int              `json:"reminders"`
	RefreshError    string           `json:"refreshError,omitempty"`
	RefreshedAt     *time.Time       `json:"refreshedAt"`
	NextRefreshAt   *time.Time       `json:"nextRefreshAt"`
	RefreshUntil    time.Time        `json:"refreshUntil"`
	Request         json.RawMessage  `json:"request,omitempty"`
	Members         []MassMember     `json:"members,omitempty"`
	Timestamps
}

// MassMember is one member's task: unsent until they confirm in the app.
type MassMember struct {
	UserID  string           `json:"userid"`
	Status  string           `json:"status"`
	SentAt  *time.Time       `json:"sentAt,omitempty"`
	Results wecom.MassCounts `json:"results"`
}

func massMessageView(m *models.MassMessage) MassMessage {
	v := MassMessage{ID: m.ID, AuthenticatorID: m.AuthenticatorID, ChatType: m.ChatType, Sender: m.Sender, MsgID: m.MsgID,
		Status: m.Status, FailList: []string{}, Results: massCounts(m.Sent, m.Unsent, m.NotFriend, m.AlreadyReceived),
		MemberCount: m.Members, SentMembers: m.SentMembers, Reminders: m.Reminders, RefreshError: m.RefreshError,
		RefreshedAt: m.RefreshedAt, NextRefreshAt: m.NextRefreshAt, RefreshUntil: m.RefreshUntil,
		Timestamps: Timestamps{CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}}
	_ = json.Unmarshal([]byte(m.FailList), &v.FailList)
	return v
}

func massCounts(sent, unsent, notFriend, already int) wecom.MassCounts {
	return wecom.MassCounts{Sent: sent, Unsent: unsent, NotFriend: notFriend, AlreadyReceived: already}
}

// MassMessageFilter narrows the list.
type MassMessageFilter struct {
	AuthenticatorID uint64
	Status          string
}

// ListMassMessages pages through mass messages, newest first.
func (s *Service) ListMassMessages(ctx context.Context, f MassMessageFilter, p models.Page) (models.List[MassMessage], error) {
	if f.Status != "" && !slices.Contains([]string{models.MassCreated, models.MassSending, models.MassFinished, models.MassCanceled}, f.Status) {
		return models.List[MassMessage]{}, problem.Invalidf("status", "must be created, sending, finished or canceled")
	}
	items, total, err := s.store.ListMassMessages(ctx, models.MassMessageFilter(f), p.Normalize())
	if err != nil {
		return models.List[MassMessage]{}, problem.StoreError("Mass message", err)
	}
	return models.NewList(items, total, p, massMessageView), nil
}

// GetMassMessage reads one mass message with its members, as the last refresh left them.
func (s *Service) GetMassMessage(ctx context.Context, id uint64) (MassMessage, error) {
	m, err := s.store.GetMassMessage(ctx, id)
	if err != nil {
		return MassMessage{}, problem.StoreError("Mass message", err)
	}
	return s.massMessageDetail(ctx, m)
}

func (s *Service) massMessageDetail(ctx context.Context, m *models.MassMessage) (MassMessage, error) {
	members, err := s.store.MassMessageMembers(ctx, m.ID)
	if err != nil {
		return MassMessage{}, problem.StoreError("Mass message", err)
	}
	v := massMessageView(m)
	v.Request = json.RawMessage(m.Body)
	v.Members = make([]MassMember, len(members))
	for i, mm := range members {
		v.Members[i] = MassMember{UserID: mm.UserID, Status: mm.Status, SentAt: mm.SentAt,
			Results: massCounts(mm.Sent, mm.Unsent, mm.NotFriend, mm.AlreadyReceived)}
	}
	return v, nil
}

// CreateMassMessage validates the input, has WeCom create the mass message (add_msg_template)
// and stores it. Nothing reaches a customer until each member confirms it in the WeCom app.
func (s *Service) CreateMassMessage(ctx context.Context, in MassMessageInput) (MassMessage, error) {
	errs := problem.Fields{}
	client, err := s.massClient(ctx, in.AuthenticatorID, errs)
	if err != nil {
		return MassMessage{}, err
	}
	t := &wecom.MassTemplate{ChatType: in.ChatType, ExternalUserID: in.ExternalUserIDs, TagFilter: in.TagFilter, Text: in.Text}
	if t.ChatType == "" {
		t.ChatType = "single" // WeCom's default
	}
	if t.Sender, err = s.massSender(ctx, in, errs); err != nil {
		return MassMessage{}, err
	}
	var shapeErrs problem.Fields
	if in.Attachments != nil {
		t.Attachments, shapeErrs = wecom.ParseMassAttachments(in.Attachments)
	}
	if shapeErrs == nil {
		shapeErrs = t.Validate()
	}
	errs.AddAll("", shapeErrs)
	if len(errs) > 0 {
		return MassMessage{}, problem.Invalid(errs)
	}
	created, err := client.AddMsgTemplate(ctx, t)
	if err != nil {
		return MassMessage{}, massRefusal(err, created.FailList)
	}
	body, _ := json.Marshal(t)
	now := s.store.Now()
	m := &models.MassMessage{AuthenticatorID: in.AuthenticatorID, ChatType: t.ChatType, Sender: t.Sender, Body: string(body),
		MsgID: created.MsgID, Status: models.MassCreated, FailList: wecom.MaskSecrets(encodeJSON(created.FailList)),
		// The first refresh learns the members soon; then every massRefreshEvery.
		NextRefreshAt: &now, RefreshUntil: now.Add(massRefreshFor)}
	ctx = access.Audit(ctx, "mass_message.create", access.Target{Type: "mass_message", Name: created.MsgID}, massInputFields(in))
	if err := s.store.CreateMassMessage(ctx, m); err != nil {
		// WeCom holds the message now; the log keeps its msgid for whoever cancels it by hand.
		s.log.ErrorContext(ctx, "a mass message WeCom created could not be stored", "msgid", created.MsgID, "err", err)
		return MassMessage{}, problem.StoreError("A mass message", err)
	}
	s.log.InfoContext(ctx, "mass message created", "id", m.ID, "msgid", m.MsgID, "authenticator_id", m.AuthenticatorID)
	return massMessageView(m), nil
}

// massClient is the 客户联系 client of an enabled WeCom authenticator that has the secret; any
// other is a 422 on authenticatorId (added to errs, with a nil client).
func (s *Service) massClient(ctx context.Context, authenticatorID uint64, errs problem.Fields) (*wecom.Client, error) {
	app, o, ok, err := s.wecomApp(ctx, authenticatorID, errs)
	if !ok || err != nil {
		return nil, err
	}
	if o.ExternalContact.Secret == "" {
		errs.Add("authenticatorId", "has no options.externalContact.secret (客户联系 → API → Secret); mass messages need it")
		return nil, nil
	}
	return s.clients.ExternalContactClient(app, o.ExternalContact.Secret), nil
}

// massSender is the WeCom userid of the sender: a local user's wechatwk binding, or wecomSender.
func (s *Service) massSender(ctx context.Context, in MassMessageInput, errs problem.Fields) (string, error) {
	switch {
	case in.Sender != "" && in.WeComSender != "":
		errs.Add("wecomSender", "cannot be used together with sender")
	case in.WeComSender != "":
		return in.WeComSender, nil
	case in.Sender != "":
		ids, err := s.store.WeComIDs(ctx, []string{in.Sender})
		if err != nil {
			return "", problem.StoreError("User", err)
		}
		if ids[in.Sender] == "" {
			errs.Add("sender", "no local user with this userid has a wechatwk binding; give the WeCom userid as wecomSender instead")
		}
		return ids[in.Sender], nil
	}
	return "", nil
}

// massFieldOf names the input field behind WeCom's refusals of add_msg_template (page 90313).
var massFieldOf = map[int64]string{
	40003: "sender", 41048: "externalUserIds", 40096: "externalUserIds", 86214: "chatType",
	41065: "attachments", 40007: "attachments", 44004: "text.content", 45002: "text.content",
}

// massRefusal is the user's error for add_msg_template failing: 422 on the field WeCom objected
// to, 409 otherwise; failList (41048's unknown customers) is named in the message.
func massRefusal(err error, failList []string) error {
	msg := "WeCom did not create the mass message: " + wecom.MaskSecrets(wecom.Reason(err))
	if len(failList) > 0 {
		msg += " Customers it could not send to: " + encodeJSON(failList) + "."
	}
	if field, ok := massFieldOf[wecom.ErrCode(err)]; ok {
		return &problem.Error{Code: problem.CodeValidation, Message: msg, Fields: problem.Fields{field: msg}, Err: err}
	}
	return &problem.Error{Code: problem.CodeConflict, Message: msg, Err: err}
}

// massInputFields are the fields a create was given, for its audit entry.
func massInputFields(in MassMessageInput) []string {
	given := map[string]bool{"authenticatorId": true, "chatType": in.ChatType != "", "sender": in.Sender != "",
		"wecomSender": in.WeComSender != "", "externalUserIds": in.ExternalUserIDs != nil, "tagFilter": in.TagFilter != nil,
		"text": in.Text != nil, "attachments": in.Attachments != nil}
	var out []string
	for f, ok := range given {
		if ok {
			out = append(out, f)
		}
	}
	return out
}

// RemindMassMessage asks the members who have not sent yet to send (remind_groupmsg_send; WeCom
// allows 3 reminders in 24 hours).
func (s *Service) RemindMassMessage(ctx context.Context, id uint64) (MassMessage, error) {
	return s.massAction(ctx, id, "remind", (*wecom.Client).RemindMassMessage, s.store.RemindedMassMessage)
}

// CancelMassMessage stops a mass message (cancel_groupmsg_send): members who have not sent can no
// longer send it, and it is refreshed no more.
func (s *Service) CancelMassMessage(ctx context.Context, id uint64) (MassMessage, error) {
	return s.massAction(ctx, id, "cancel", (*wecom.Client).CancelMassMessage, s.store.CanceledMassMessage)
}

// massAction calls WeCom's action on a message that is still sending, then records it with its
// audit entry.
func (s *Service) massAction(ctx context.Context, id uint64, action string, call func(*wecom.Client, context.Context, string) error,
	record func(context.Context, uint64) error) (MassMessage, error) {
	m, err := s.store.GetMassMessage(ctx, id)
	if err != nil {
		return MassMessage{}, problem.StoreError("Mass message", err)
	}
	if m.Status != models.MassCreated && m.Status != models.MassSending {
		return MassMessage{}, problem.Errorf(problem.CodeConflict, "Mass message %d is %s; only one still sending can be %s.", id, m.Status,
			map[string]string{"remind": "reminded", "cancel": "canceled"}[action])
	}
	errs := problem.Fields{}
	client, err := s.massClient(ctx, m.AuthenticatorID, errs)
	if err != nil {
		return MassMessage{}, err
	}
	if len(errs) > 0 {
		return MassMessage{}, problem.Errorf(problem.CodeConflict, "The mass message's authenticator cannot be used: %s", errs["authenticatorId"])
	}
	if err := call(client, ctx, m.MsgID); err != nil {
		return MassMessage{}, &problem.Error{Code: problem.CodeConflict, Err: err,
			Message: "WeCom refused to " + action + " the mass message: " + wecom.MaskSecrets(wecom.Reason(err))}
	}
	ctx = access.Audit(ctx, "mass_message."+action, access.Target{Type: "mass_message", ID: id, Name: m.MsgID}, nil)
	if err := record(ctx, id); err != nil {
		return MassMessage{}, problem.StoreError("Mass message", err)
	}
	return s.GetMassMessage(ctx, id)
}

// RefreshMassMessage reads the message's progress from WeCom now. A message that is finished or
// canceled has nothing more to learn and is answered as stored; one another instance is
// refreshing is a 409.
func (s *Service) RefreshMassMessage(ctx context.Context, id uint64) (MassMessage, error) {
	m, err := s.store.GetMassMessage(ctx, id)
	if err != nil {
		return MassMessage{}, problem.StoreError("Mass message", err)
	}
	if m.Status == models.MassCreated || m.Status == models.MassSending {
		m, err = s.store.ClaimMassMessage(ctx, id, s.cfg.Owner, massRefreshLease)
		if errors.Is(err, models.ErrMassBusy) {
			return MassMessage{}, &problem.Error{Code: problem.CodeConflict, Err: err,
				Message: "The mass message is being refreshed right now; read it again in a moment."}
		}
		if err != nil {
			return MassMessage{}, problem.StoreError("Mass message", err)
		}
		if err := s.refreshMass(ctx, m); err != nil {
			return MassMessage{}, err
		}
	}
	return s.GetMassMessage(ctx, id)
}

// RefreshDueMassMessages refreshes the mass messages whose time has come, until none is due or
// ctx ends: the leader's periodic work.
func (s *Service) RefreshDueMassMessages(ctx context.Context) {
	for ctx.Err() == nil {
		due, err := s.store.ClaimDueMassMessages(ctx, s.cfg.Owner, massRefreshLease, massRefreshBatch)
		if err != nil {
			s.log.ErrorContext(ctx, "claiming mass messages to refresh failed", "err", err)
			return
		}
		for i := range due {
			_ = s.refreshMass(ctx, &due[i]) // it logs and records its failures
		}
		if len(due) < massRefreshBatch {
			return
		}
	}
}

// refreshMass reads a claimed message's tasks and, for the members whose task changed since they
// were last counted, their customers' results; then it writes the counts and ends the lease. A
// failure is recorded on the message (refreshError) and retried at the next refresh.
func (s *Service) refreshMass(ctx context.Context, m *models.MassMessage) error {
	now := s.store.Now()
	m.NextRefreshAt = nil
	if next := now.Add(massRefreshEvery); next.Before(m.RefreshUntil) {
		m.NextRefreshAt = &next
	}
	changed, err := s.readMassProgress(ctx, m)
	if err != nil {
		m.RefreshError = refreshReason(err)
		s.log.WarnContext(ctx, "refreshing a mass message failed", "id", m.ID, "msgid", m.MsgID, "errcode", wecom.ErrCode(err), "err", m.RefreshError)
	} else {
		m.RefreshError, m.RefreshedAt = "", &now
	}
	if m.Status == models.MassFinished || m.Status == models.MassCanceled {
		m.NextRefreshAt = nil
	}
	if ferr := s.store.FinishMassRefresh(ctx, m, changed, s.cfg.Owner); ferr != nil {
		if errors.Is(ferr, models.ErrMassLeaseLost) {
			return problem.Errorf(problem.CodeConflict, "The mass message changed during the refresh (canceled, or refreshed elsewhere); read it again.")
		}
		s.log.ErrorContext(ctx, "recording a mass message refresh failed", "id", m.ID, "err", ferr)
		return problem.StoreError("Mass message", ferr)
	}
	if err != nil {
		return &problem.Error{Code: problem.CodeConflict, Err: err, Message: "WeCom did not answer the refresh: " + m.RefreshError}
	}
	return nil
}

// refreshReason says why a refresh failed, for refreshError: WeCom's answer (masked), or ours.
func refreshReason(err error) string {
	var pe *problem.Error
	var te *wecom.TransportError
	switch {
	case errors.As(err, &pe):
		return pe.Message
	case wecom.ErrCode(err) != 0 || errors.As(err, &te):
		return wecom.MaskSecrets(wecom.Reason(err))
	default:
		return err.Error()
	}
}

// readMassProgress updates m's status and counts from WeCom and returns the members to write
// (on an error, those counted before it).
func (s *Service) readMassProgress(ctx context.Context, m *models.MassMessage) ([]models.MassMessageMember, error) {
	client, err := s.massClient(ctx, m.AuthenticatorID, problem.Fields{})
	if err != nil {
		return nil, err
	}
	if client == nil {
		return nil, errors.New("the authenticator is gone, disabled, or has no options.externalContact.secret")
	}
	tasks, err := client.MassTasks(ctx, m.MsgID)
	if wecom.ErrCode(err) == 41093 {
		m.Status = models.MassCanceled // canceled outside wecomflow (the admin console)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	stored, err := s.store.MassMessageMembers(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	members := make(map[string]models.MassMessageMember, len(stored))
	for _, mm := range stored {
		members[mm.UserID] = mm
	}
	var ask []string
	for _, t := range tasks {
		if mm, ok := members[t.UserID]; !ok || !mm.Counted || mm.Status != massMemberStatus(t) {
			ask = append(ask, t.UserID)
		}
	}
	counts, countErr := client.MassResultsOf(ctx, m.MsgID, ask)
	changed := make([]models.MassMessageMember, 0, len(ask))
	var total wecom.MassCounts
	sent := 0
	for _, t := range tasks {
		mm := members[t.UserID]
		if n, asked := counts[t.UserID]; asked {
			mm = models.MassMessageMember{MassMessageID: m.ID, UserID: t.UserID, Status: massMemberStatus(t), Counted: true,
				Sent: n.Sent, Unsent: n.Unsent, NotFriend: n.NotFriend, AlreadyReceived: n.AlreadyReceived}
			if t.Sent() && t.SendTime > 0 {
				at := time.Unix(t.SendTime, 0).UTC()
				mm.SentAt = &at
			}
			changed = append(changed, mm)
		}
		total.Add(massCounts(mm.Sent, mm.Unsent, mm.NotFriend, mm.AlreadyReceived))
		if t.Sent() {
			sent++
		}
	}
	if countErr != nil {
		// The members counted are kept, so the next refresh goes on from there (a message of
		// 10,000 members may meet WeCom's per-minute limit); the totals wait for a complete one.
		return changed, countErr
	}
	m.Members, m.SentMembers = len(tasks), sent
	m.Sent, m.Unsent, m.NotFriend, m.AlreadyReceived = total.Sent, total.Unsent, total.NotFriend, total.AlreadyReceived
	switch {
	case sent == 0:
		m.Status = models.MassCreated
	case sent < len(tasks):
		m.Status = models.MassSending
	default:
		m.Status = models.MassFinished
	}
	return changed, nil
}

func massMemberStatus(t wecom.MassTask) string {
	if t.Sent() {
		return models.MassMemberSent
	}
	return models.MassMemberUnsent
}
