package message

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/wecomflow/wecomflow/callback"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/problem"
)

// CardResponse is a click on an interactive card, as a message shows it.
type CardResponse struct {
	UserID   string `json:"userid"`
	EventKey string `json:"eventKey"`
	CardType string `json:"cardType"`
	// SelectedItems are the choices as WeCom sent them; Selected are the same, normalized.
	SelectedItems json.RawMessage     `json:"selectedItems"`
	Selected      map[string][]string `json:"selected"`
	Updated       bool                `json:"updated"`
	UpdateError   string              `json:"updateError,omitempty"`
	At            time.Time           `json:"at"`
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
	app, _, err := s.apps.App(ctx, m.AuthenticatorID)
	if err != nil {
		return err
	}
	err = s.clients.Client(app).UpdateTemplateCard(ctx, []string{r.UserID}, r.ResponseCode, m.ReplaceName)
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
		return nil, problem.StoreError("Message", err)
	}
	out := make([]CardResponse, len(rs))
	for i, r := range rs {
		out[i] = CardResponse{UserID: r.UserID, EventKey: r.EventKey, CardType: r.CardType, SelectedItems: json.RawMessage(r.SelectedItems),
			Selected: Selected(json.RawMessage(r.SelectedItems)), Updated: r.Updated, UpdateError: r.UpdateError, At: r.At}
	}
	return out, nil
}

// Selected reads WeCom's SelectedItems as the options picked per question key:
// {"q1": ["opt1", "opt2"]}, {} for a click without choices (a button). The callback's XML decodes
// a single element as an object, repeated ones as a list and an empty one as "", so SelectedItem
// and OptionIds each come in every one of these shapes.
func Selected(raw json.RawMessage) map[string][]string {
	out := map[string][]string{}
	var items struct{ SelectedItem any }
	if json.Unmarshal(raw, &items) != nil {
		return out
	}
	for _, it := range each(items.SelectedItem) {
		item, _ := it.(map[string]any)
		key, _ := item["QuestionKey"].(string)
		if key == "" {
			continue
		}
		if out[key] == nil {
			out[key] = []string{}
		}
		ids := item["OptionIds"]
		if m, ok := ids.(map[string]any); ok {
			ids = m["OptionId"]
		}
		for _, id := range each(ids) {
			if s, _ := id.(string); s != "" {
				out[key] = append(out[key], s)
			}
		}
	}
	return out
}

// each is v as a list: v itself, v alone, or nothing for nil.
func each(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	default:
		return []any{v}
	}
}
