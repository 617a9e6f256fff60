// Package siminbox shows the in-process WeCom simulator's inboxes in the web UI — for the sandbox
// and the browser test: every member's deliveries, and a click on a card button played as WeCom
// would play it (the simulator makes the template_card_event, WeCom's callback caller posts it to
// the callback URL).
package siminbox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
	"github.com/wecomflow/wecomflow/web"
)

// Inbox is a web.InboxSource over the simulator's corp corpID.
type Inbox struct {
	sim    *wecomtest.Server
	corpID string
	mu     sync.Mutex
	caller *wecomtest.CallbackCaller
}

// New makes the inbox; caller may be set later, once the callback URL is configured.
func New(sim *wecomtest.Server, corpID string, caller *wecomtest.CallbackCaller) *Inbox {
	return &Inbox{sim: sim, corpID: corpID, caller: caller}
}

// SetCaller sets who posts clicks to the callback URL.
func (s *Inbox) SetCaller(c *wecomtest.CallbackCaller) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.caller = c
}

// Inboxes are the members' deliveries, oldest first, each app group chat's conversation (as
// "chat:<name>") and each robot's group's (as "group:<chat name>"). A card replaced by update_template_card shows as the new card, as it does
// in WeCom.
func (s *Inbox) Inboxes() map[string][]web.InboxMessage {
	out := map[string][]web.InboxMessage{}
	for user, ds := range s.sim.Inboxes(s.corpID) {
		msgs := make([]web.InboxMessage, len(ds))
		for i, d := range ds {
			body := d.Body
			if len(d.UpdatedCard) > 0 {
				body = d.UpdatedCard
			}
			msgs[i] = web.InboxMessage{MsgType: d.MsgType, Body: body, At: d.At, Recalled: d.Recalled, ReplacedWith: d.ReplacedWith}
		}
		out[user] = msgs
	}
	for _, c := range s.sim.Chats(s.corpID) {
		var msgs []web.InboxMessage
		for _, m := range s.sim.ChatMessages(s.corpID, c.ChatID) {
			msgs = append(msgs, web.InboxMessage{MsgType: m.MsgType, Body: m.Body, At: m.At})
		}
		out["chat:"+c.Name] = msgs
	}
	for _, r := range s.sim.Robots(s.corpID) {
		var msgs []web.InboxMessage
		for _, m := range s.sim.RobotMessages(r.Key) {
			msgs = append(msgs, web.InboxMessage{MsgType: m.MsgType, Body: m.Body, At: m.At})
		}
		out["group:"+r.ChatName] = msgs
	}
	return out
}

// Click plays userid clicking the button key of the card taskID, with the options chosen on a
// vote or select card by question key.
func (s *Inbox) Click(ctx context.Context, userid, taskID, key string, selected map[string][]string) error {
	s.mu.Lock()
	caller := s.caller
	s.mu.Unlock()
	if caller == nil {
		return errors.New("sandbox: no callback URL is configured yet")
	}
	var items []wecomtest.SelectedItem
	for q, ids := range selected {
		items = append(items, wecomtest.SelectedItem{QuestionKey: q, OptionIDs: ids})
	}
	xml, err := s.sim.ClickCard(s.corpID, userid, taskID, key, items...)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	status, body, err := caller.Post(ctx, xml)
	if err != nil {
		return fmt.Errorf("sandbox: posting the click to the callback URL: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("sandbox: the callback URL answered %d to the click: %s", status, body)
	}
	return nil
}
