package service

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/wecomflow/wecomflow/callback"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
)

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

// EventStatuses are a callback event's statuses (the list filter's choices).
func EventStatuses() []string {
	return []string{models.EventReceived, models.EventProcessed, models.EventFailed}
}

// ListCallbackEvents pages through accepted callbacks, newest first.
func (s *Service) ListCallbackEvents(ctx context.Context, f EventFilter, p models.Page) (models.List[CallbackEvent], error) {
	errs := problem.Fields{}
	if f.Kind != "" && f.Kind != callback.KindApp && f.Kind != callback.KindContacts {
		errs.Add("kind", "must be app or contacts")
	}
	if f.Status != "" && !slices.Contains(EventStatuses(), f.Status) {
		errs.Add("status", "must be received, processed or failed")
	}
	if len(errs) > 0 {
		return models.List[CallbackEvent]{}, problem.Invalid(errs)
	}
	items, total, err := s.store.ListEvents(ctx, models.EventFilter{AuthenticatorID: f.AuthenticatorID, Kind: f.Kind, Event: strings.TrimSpace(f.Event), Status: f.Status}, p.Normalize())
	if err != nil {
		return models.List[CallbackEvent]{}, problem.StoreError("Callback event", err)
	}
	return models.NewList(items, total, p, eventView), nil
}

// GetCallbackEvent reads one accepted callback.
func (s *Service) GetCallbackEvent(ctx context.Context, id uint64) (CallbackEvent, error) {
	e, err := s.store.GetEvent(ctx, id)
	if err != nil {
		return CallbackEvent{}, problem.StoreError("Callback event", err)
	}
	return eventView(e), nil
}
