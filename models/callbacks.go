package models

import "time"

// Callback event statuses (SPEC §3.6).
const (
	EventReceived  = "received"
	EventProcessed = "processed"
	EventFailed    = "failed"
)

// CallbackEvent is one accepted WeCom callback, decrypted: stored before WeCom gets its 200, then
// processed by subscribers under a lease, so a crash between the two loses nothing. DedupKey
// (MsgId, or a hash of the decrypted message) makes a retried delivery one event.
type CallbackEvent struct {
	ID              uint64 `gorm:"primaryKey"`
	AuthenticatorID uint64 `gorm:"not null;uniqueIndex:idx_events_dedup,priority:1;index:idx_events_auth_created,priority:1"`
	Kind            string `gorm:"size:16;not null;index:idx_events_kind"`
	DedupKey        string `gorm:"size:128;not null;uniqueIndex:idx_events_dedup,priority:2"`
	MsgType         string `gorm:"size:64;not null"`
	Event           string `gorm:"size:64;not null;index"`
	ChangeType      string `gorm:"size:64;not null"`
	FromUser        string `gorm:"size:128;not null"`
	CreateTime      int64  `gorm:"not null"`
	// Payload is the decrypted XML as a JSON object with WeCom's field names.
	Payload    string     `gorm:"type:mediumtext;not null"`
	Status     string     `gorm:"size:16;not null;index:idx_events_due,priority:1"`
	NotBefore  time.Time  `gorm:"not null;index:idx_events_due,priority:2"`
	Deliveries int        `gorm:"not null"`
	Attempts   int        `gorm:"not null"`
	LeaseOwner string     `gorm:"size:64;not null"`
	LeaseUntil *time.Time `gorm:"index"`
	Error      string     `gorm:"type:text;not null"`
	CreatedAt  time.Time  `gorm:"index:idx_events_auth_created,priority:2;index:idx_events_created"`
	UpdatedAt  time.Time
}

// CardResponse is one click on an interactive card (template_card_event), recorded on the message
// whose task_id it names.
type CardResponse struct {
	ID            uint64 `gorm:"primaryKey"`
	MessageID     string `gorm:"size:26;not null;index"`
	EventID       uint64 `gorm:"not null;uniqueIndex"`
	TaskID        string `gorm:"size:128;not null;index"`
	UserID        string `gorm:"size:128;not null"`
	EventKey      string `gorm:"size:255;not null"`
	CardType      string `gorm:"size:64;not null"`
	SelectedItems string `gorm:"type:text;not null"`
	ResponseCode  string `gorm:"size:255;not null"`
	// Updated reports whether the card was updated (update_template_card) after the click.
	Updated     bool   `gorm:"not null"`
	UpdateError string `gorm:"type:text;not null"`
	At          time.Time
}
