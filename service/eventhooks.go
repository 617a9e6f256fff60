package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/fetch"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
)

// EventHookInput is the body of an event hook create or PATCH; the secret is write-only.
type EventHookInput struct {
	URL     *string   `json:"url"`
	Events  *[]string `json:"events"`
	Secret  *string   `json:"secret"`
	Enabled *bool     `json:"enabled"`
}

// EventHook is an event hook as the API shows it: whether a secret is set, never the secret.
type EventHook struct {
	ID        uint64   `json:"id"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	SecretSet bool     `json:"secretSet"`
	Enabled   bool     `json:"enabled"`
	Timestamps
}

// HookAttempt is one line of a hook's delivery log.
type HookAttempt struct {
	ID      uint64 `json:"id"`
	EventID string `json:"eventId"`
	Type    string `json:"type"`
	// Subject is the id of the message or execution the event is about.
	Subject    string `json:"subject"`
	Attempt    int    `json:"attempt"`
	StatusCode int    `json:"statusCode"`
	Error      string `json:"error"`
	DurationMS int64  `json:"durationMs"`
	// NextAttemptAt is when the event goes again; null once delivered or given up.
	NextAttemptAt *time.Time `json:"nextAttemptAt"`
	At            time.Time  `json:"at"`
}

func eventHookView(h *models.EventHook) EventHook {
	return EventHook{ID: h.ID, URL: h.URL, Events: hookEvents(h), SecretSet: h.Secret.Set(), Enabled: h.Enabled,
		Timestamps: Timestamps{CreatedAt: h.CreatedAt, UpdatedAt: h.UpdatedAt}}
}

func hookEvents(h *models.EventHook) []string {
	var out []string
	for _, t := range models.HookEventTypes() {
		if h.Subscribes(t) {
			out = append(out, t)
		}
	}
	return out
}

func hookAttemptView(a *models.HookAttempt) HookAttempt {
	return HookAttempt{ID: a.ID, EventID: a.EventID, Type: a.Type, Subject: a.Subject, Attempt: a.Attempt,
		StatusCode: a.StatusCode, Error: a.Error, DurationMS: a.DurationMS, NextAttemptAt: a.NextAttemptAt, At: a.At}
}

// ListEventHooks pages through the event hooks.
func (s *Service) ListEventHooks(ctx context.Context, p models.Page) (models.List[EventHook], error) {
	items, total, err := s.store.ListEventHooks(ctx, p.Normalize())
	if err != nil {
		return models.List[EventHook]{}, problem.StoreError("Event hook", err)
	}
	return models.NewList(items, total, p, eventHookView), nil
}

// GetEventHook reads one event hook.
func (s *Service) GetEventHook(ctx context.Context, id uint64) (EventHook, error) {
	h, err := s.store.GetEventHook(ctx, id)
	if err != nil {
		return EventHook{}, problem.StoreError("Event hook", err)
	}
	return eventHookView(h), nil
}

// CreateEventHook validates and stores a new event hook (enabled unless told otherwise).
func (s *Service) CreateEventHook(ctx context.Context, in EventHookInput) (EventHook, error) {
	errs := problem.Fields{}
	for field, missing := range map[string]bool{"url": in.URL == nil, "events": in.Events == nil, "secret": in.Secret == nil} {
		if missing {
			errs.Add(field, "is required")
		}
	}
	return s.saveEventHook(ctx, &models.EventHook{Enabled: true, Events: "[]"}, in, errs)
}

// UpdateEventHook applies a partial update; a secret not given is kept.
func (s *Service) UpdateEventHook(ctx context.Context, id uint64, in EventHookInput) (EventHook, error) {
	h, err := s.store.GetEventHook(ctx, id)
	if err != nil {
		return EventHook{}, problem.StoreError("Event hook", err)
	}
	return s.saveEventHook(ctx, h, in, problem.Fields{})
}

func (s *Service) saveEventHook(ctx context.Context, h *models.EventHook, in EventHookInput, errs problem.Fields) (EventHook, error) {
	next := *h
	if in.URL != nil {
		next.URL = strings.TrimSpace(*in.URL)
		if err := s.checkHookURL(ctx, next.URL); err != "" {
			errs.Add("url", err)
		}
	}
	if in.Events != nil {
		var events []string
		for _, t := range *in.Events {
			if !slices.Contains(models.HookEventTypes(), t) {
				errs.Add("events", "must list event types among "+strings.Join(models.HookEventTypes(), ", "))
				break
			}
			if !slices.Contains(events, t) {
				events = append(events, t)
			}
		}
		if len(events) == 0 {
			errs.Add("events", "must list at least one event type")
		}
		next.Events = encodeJSON(events)
	}
	if in.Secret != nil {
		if n := utf8.RuneCountInString(*in.Secret); n == 0 || n > 255 {
			errs.Add("secret", "must be 1 to 255 characters")
		}
		next.Secret = models.NewSecret(*in.Secret)
	}
	if in.Enabled != nil {
		next.Enabled = *in.Enabled
	}
	if len(errs) > 0 {
		return EventHook{}, problem.Invalid(errs)
	}
	action, changes := "event_hook.create", access.Changes(nil, eventHookFields(&next))
	if next.ID != 0 {
		action, changes = "event_hook.update", access.Changes(eventHookFields(h), eventHookFields(&next))
	}
	ctx = access.Audit(ctx, action, access.Target{Type: "event_hook", ID: next.ID, Name: next.URL}, changes)
	if err := s.store.SaveEventHook(ctx, &next); err != nil {
		return EventHook{}, problem.StoreError("An event hook", err)
	}
	s.log.InfoContext(ctx, "event hook saved", "id", next.ID, "enabled", next.Enabled)
	return eventHookView(&next), nil
}

// checkHookURL is why url cannot be a hook's target (SPEC §8.6), or "".
func (s *Service) checkHookURL(ctx context.Context, url string) string {
	if url == "" || len(url) > 2048 {
		return "must be an http or https URL of at most 2048 bytes"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var fe *fetch.Error
	switch err := s.cfg.Fetcher.Check(ctx, url); {
	case errors.As(err, &fe):
		return fe.Reason
	case err != nil:
		return "could not be checked"
	}
	return ""
}

// eventHookFields is what an audit entry compares (the secret by path, never shown).
func eventHookFields(h *models.EventHook) map[string]any {
	return map[string]any{"url": h.URL, "events": hookEvents(h), "secret": h.Secret.Plain, "enabled": h.Enabled}
}

// DeleteEventHook removes an event hook, its queued events and its delivery log.
func (s *Service) DeleteEventHook(ctx context.Context, id uint64) error {
	h, err := s.store.GetEventHook(ctx, id)
	if err != nil {
		return problem.StoreError("Event hook", err)
	}
	ctx = access.Audit(ctx, "event_hook.delete", access.Target{Type: "event_hook", ID: id, Name: h.URL}, nil)
	if err := s.store.DeleteEventHook(ctx, id); err != nil {
		return problem.StoreError("Event hook", err)
	}
	s.log.InfoContext(ctx, "event hook deleted", "id", id)
	return nil
}

// ListHookAttempts pages through a hook's delivery log, newest first.
func (s *Service) ListHookAttempts(ctx context.Context, id uint64, p models.Page) (models.List[HookAttempt], error) {
	if _, err := s.store.GetEventHook(ctx, id); err != nil {
		return models.List[HookAttempt]{}, problem.StoreError("Event hook", err)
	}
	items, total, err := s.store.ListHookAttempts(ctx, id, p.Normalize())
	if err != nil {
		return models.List[HookAttempt]{}, problem.StoreError("Event hook", err)
	}
	return models.NewList(items, total, p, hookAttemptView), nil
}
