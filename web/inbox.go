package web

import (
	"context"
	"encoding/json"
	"time"
)

// InboxMessage is one message a sandbox member received.
type InboxMessage struct {
	MsgType string          `json:"msgtype"`
	Body    json.RawMessage `json:"body"`
	At      time.Time       `json:"at"`
	// Recalled is set once the message was withdrawn; ReplacedWith is a clicked card's new button
	// text (update_template_card).
	Recalled     bool   `json:"recalled"`
	ReplacedWith string `json:"replacedWith,omitempty"`
}

// InboxSource is the sandbox's simulated WeCom, as the inbox page sees it.
type InboxSource interface {
	// Inboxes are the messages of every member, oldest first, by userid.
	Inboxes() map[string][]InboxMessage
	// Click plays the member clicking a card button, with the options chosen on a vote or select
	// card by question key: WeCom's callback reaches the callback URL.
	Click(ctx context.Context, userid, taskID, key string, selected map[string][]string) error
}
