package service

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/wecomflow/wecomflow/callback"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/plugin/wecom"
)

// CallbackCredentials finds the Token, EncodingAESKey and corp ID of an authenticator's
// message-reception URL (kind app) or contacts-sync URL (kind contacts).
func (s *Service) CallbackCredentials(ctx context.Context, name, kind string) (callback.Credentials, error) {
	a, err := s.store.GetAuthenticatorByName(ctx, name)
	if errors.Is(err, models.ErrNotFound) {
		return callback.Credentials{}, callback.ErrUnknownAuthenticator
	}
	if err != nil {
		return callback.Credentials{}, err
	}
	var o wecom.Options
	joinSecretsInto(&o, s.AuthenticatorOptions(a))
	cb := o.Callback
	if kind == callback.KindContacts {
		cb = o.ContactsCallback
	}
	if cb == nil || cb.Token == "" || cb.EncodingAESKey == "" {
		return callback.Credentials{}, callback.ErrNotConfigured
	}
	return callback.Credentials{AuthenticatorID: a.ID, CorpID: o.CorpID, Token: cb.Token, EncodingAESKey: cb.EncodingAESKey}, nil
}

// CardResponse is a click on an interactive card, as a message shows it.
type CardResponse struct {
	UserID        string          `json:"userid"`
	EventKey      string          `json:"eventKey"`
	CardType      string          `json:"cardType"`
	SelectedItems json.RawMessage `json:"selectedItems"`
	Updated       bool            `json:"updated"`
	UpdateError   string          `json:"updateError,omitempty"`
	At            time.Time       `json:"at"`
}

// HandleCardEvent is the subscriber for template_card_event and template_card_menu_event: it
// finds the message by TaskId, records who clicked what, and — when the message asked for it —
// updates the clicked card with the event's ResponseCode. Idempotent per event.
func (s *Service) HandleCardEvent(ctx context.Context, ev *callback.Event) error {
	if ev.Kind != callback.KindApp || (ev.Event != "template_card_event" && ev.Event != "template_card_menu_event") {
		return nil
	}
	str := func(k string) string { v, _ := ev.Payload[k].(string); return v }
	m, err := s.store.MessageByTaskID(ctx, ev.AuthenticatorID, str("TaskId"))
	if errors.Is(err, models.ErrNotFound) {
		return nil // a card wecomflow did not send
	}
	if err != nil {
		return err
	}
	selected, _ := json.Marshal(ev.Payload["SelectedItems"])
	r, err := s.store.SaveCardResponse(ctx, &models.CardResponse{MessageID: m.ID, EventID: ev.ID, TaskID: str("TaskId"),
		UserID: ev.FromUser, EventKey: str("EventKey"), CardType: str("CardType"), SelectedItems: string(selected),
		ResponseCode: str("ResponseCode"), At: time.Unix(ev.CreateTime, 0).UTC()})
	if err != nil || m.ReplaceName == "" || r.Updated || r.UpdateError != "" || r.ResponseCode == "" {
		return err
	}
	app, _, err := s.WeComApp(ctx, m.AuthenticatorID)
	if err != nil {
		return err
	}
	err = s.cfg.Clients.Client(app).UpdateTemplateCard(ctx, []string{r.UserID}, r.ResponseCode, m.ReplaceName)
	switch {
	case err == nil:
		return s.store.MarkCardUpdated(ctx, r.ID, "")
	case wecom.ErrCode(err) != 0:
		// WeCom answered (e.g. 60140, the code was used or expired): retrying cannot help.
		return s.store.MarkCardUpdated(ctx, r.ID, wecom.Reason(err))
	default:
		return err
	}
}

func (s *Service) cardResponses(ctx context.Context, messageID string) ([]CardResponse, error) {
	rs, err := s.store.CardResponses(ctx, messageID)
	if err != nil {
		return nil, StoreError("Message", err)
	}
	out := make([]CardResponse, len(rs))
	for i, r := range rs {
		out[i] = CardResponse{UserID: r.UserID, EventKey: r.EventKey, CardType: r.CardType, SelectedItems: json.RawMessage(r.SelectedItems),
			Updated: r.Updated, UpdateError: r.UpdateError, At: r.At}
	}
	return out, nil
}

// CallbackEvent is an accepted callback as the API shows it (SPEC §3.6).
type CallbackEvent struct {
	ID              uint64          `json:"id"`
	AuthenticatorID uint64          `json:"authenticatorId"`
	Kind            string          `json:"kind"`
	MsgType         string          `json:"msgType"`
	Event           string          `json:"event"`
	ChangeType      string          `json:"changeType"`
	FromUser        string          `json:"fromUser"`
	CreateTime      int64           `json:"createTime"`
	Payload         json.RawMessage `json:"payload"`
	Status          string          `json:"status"`
	Deliveries      int             `json:"deliveries"`
	Attempts        int             `json:"attempts"`
	Error           string          `json:"error"`
	CreatedAt       time.Time       `json:"createdAt"`
	UpdatedAt       time.Time       `json:"updatedAt"`
}

func eventView(e *models.CallbackEvent) CallbackEvent {
	return CallbackEvent{ID: e.ID, AuthenticatorID: e.AuthenticatorID, Kind: e.Kind, MsgType: e.MsgType, Event: e.Event, ChangeType: e.ChangeType,
		FromUser: e.FromUser, CreateTime: e.CreateTime, Payload: json.RawMessage(e.Payload), Status: e.Status, Deliveries: e.Deliveries,
		Attempts: e.Attempts, Error: e.Error, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
}

// EventFilter narrows the callback event list.
type EventFilter struct {
	AuthenticatorID     uint64
	Kind, Event, Status string
}

// ListCallbackEvents pages through accepted callbacks, newest first.
func (s *Service) ListCallbackEvents(ctx context.Context, f EventFilter, p Page) (List[CallbackEvent], error) {
	errs := plugin.FieldErrors{}
	if f.Kind != "" && f.Kind != callback.KindApp && f.Kind != callback.KindContacts {
		errs.Add("kind", "must be app or contacts")
	}
	if f.Status != "" && !contains([]string{models.EventReceived, models.EventProcessed, models.EventFailed}, f.Status) {
		errs.Add("status", "must be received, processed or failed")
	}
	if len(errs) > 0 {
		return List[CallbackEvent]{}, Invalid(errs)
	}
	items, total, err := s.store.ListEvents(ctx, models.EventFilter{AuthenticatorID: f.AuthenticatorID, Kind: f.Kind, Event: strings.TrimSpace(f.Event), Status: f.Status}, p.model())
	if err != nil {
		return List[CallbackEvent]{}, StoreError("Callback event", err)
	}
	return mapList(items, total, p, eventView), nil
}

// GetCallbackEvent reads one accepted callback.
func (s *Service) GetCallbackEvent(ctx context.Context, id uint64) (CallbackEvent, error) {
	e, err := s.store.GetEvent(ctx, id)
	if err != nil {
		return CallbackEvent{}, StoreError("Callback event", err)
	}
	return eventView(e), nil
}
