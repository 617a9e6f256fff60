package models

import "time"

// Message statuses (SPEC §3.4).
const (
	MessageQueued   = "queued"
	MessageSending  = "sending"
	MessageRetrying = "retrying"
	MessageSent     = "sent"
	MessagePartial  = "partial"
	MessageFailed   = "failed"
	MessageCanceled = "canceled"
)

// Request statuses: one WeCom call's part of a message.
const (
	RequestPending  = "pending"
	RequestSending  = "sending"
	RequestRetrying = "retrying"
	RequestSent     = "sent"
	RequestFailed   = "failed"
	RequestCanceled = "canceled"
)

// Message is one accepted send: stored before the API answers 202, so nothing accepted is lost.
// Body is the validated, rendered WeCom message ({"msgtype": …, "<type>": {…}}); the recipients
// it resolved to are split into MessageRequests, the units the sender claims.
type Message struct {
	ID              string `gorm:"primaryKey;size:26"`
	ChannelID       uint64 `gorm:"not null;index:idx_messages_channel_created,priority:1"`
	Channel         string `gorm:"size:64;not null;index:idx_messages_channel_name,priority:1"`
	AuthenticatorID uint64 `gorm:"not null"`
	MsgType         string `gorm:"size:32;not null"`
	Body            string `gorm:"type:mediumtext;not null"`
	// TaskID is an interactive card's task_id, by which a click (template_card_event) finds it.
	TaskID string `gorm:"size:128;not null;index"`
	// ReplaceName, when set, is what the clicked card's button says after a click: the server calls
	// update_template_card with the click's ResponseCode.
	ReplaceName string `gorm:"size:255;not null"`
	// SendOptions are the channel's send options when the message was accepted (JSON), so every
	// attempt sends byte-identical requests even if the channel is edited meanwhile.
	SendOptions string  `gorm:"type:text;not null"`
	Linked      bool    `gorm:"not null"`
	Status      string  `gorm:"size:16;not null;index:idx_messages_status_next,priority:1"`
	TriggerFrom string  `gorm:"size:16;not null"`
	ExecutionID *string `gorm:"size:64;index"`
	// IdempotencyKey is unique per channel while set; it is cleared when the 24 h window has passed
	// and a new message claims the key.
	IdempotencyKey *string `gorm:"size:128;uniqueIndex:idx_messages_idempotency,priority:2"`
	IdemChannelID  *uint64 `gorm:"uniqueIndex:idx_messages_idempotency,priority:1"`
	// Requests counts the message's requests, so recording the outcome of a one-request message
	// needs no read of the others.
	Requests      int        `gorm:"not null"`
	Requested     int        `gorm:"not null"`
	Resolved      int        `gorm:"not null"`
	Unbound       string     `gorm:"type:text;not null"`
	Invalid       string     `gorm:"type:text;not null"`
	Unlicensed    string     `gorm:"type:text;not null"`
	Attempts      int        `gorm:"not null"`
	NextAttemptAt *time.Time `gorm:"index:idx_messages_status_next,priority:2"`
	Reason        string     `gorm:"type:text;not null"`
	Warnings      string     `gorm:"type:text;not null"`
	CreatedAt     time.Time  `gorm:"index;index:idx_messages_channel_created,priority:2;index:idx_messages_channel_name,priority:2"`
	UpdatedAt     time.Time
	SentAt        *time.Time
	// RecalledAt is when the message was withdrawn (POST /messages/{id}/recall).
	RecalledAt *time.Time
}

// MessageRequest is one message/send call of a message: at most 1000 users, 100 departments and
// 100 tags. It is claimed by one sender at a time under a lease; a lease that lapses (the sender
// died) is taken over, and the resend is byte-identical so WeCom's duplicate check drops a twin.
type MessageRequest struct {
	ID        uint64 `gorm:"primaryKey"`
	MessageID string `gorm:"size:26;not null;index"`
	Seq       int    `gorm:"not null"`
	// Recipients as WeCom takes them: "|"-joined ids.
	ToUser  string `gorm:"type:mediumtext;not null"`
	ToParty string `gorm:"type:text;not null"`
	ToTag   string `gorm:"type:text;not null"`
	ToAll   bool   `gorm:"not null"`
	Status  string `gorm:"size:16;not null;index:idx_requests_due,priority:1"`
	// NotBefore is when the request may be sent: now, after a backoff, or when a member's rate
	// window frees up.
	NotBefore  time.Time  `gorm:"not null;index:idx_requests_due,priority:2"`
	LeaseOwner string     `gorm:"size:64;not null"`
	LeaseUntil *time.Time `gorm:"index"`
	Attempts   int        `gorm:"not null"`
	// Ambiguous: an earlier attempt may have reached WeCom (a timeout after sending, or a lease
	// that lapsed mid-send).
	Ambiguous      bool   `gorm:"not null"`
	ErrCode        int    `gorm:"not null"`
	ErrMsg         string `gorm:"type:text;not null"`
	MsgID          string `gorm:"size:128;not null;index"`
	ResponseCode   string `gorm:"size:255;not null"`
	InvalidUser    string `gorm:"type:text;not null"`
	InvalidParty   string `gorm:"type:text;not null"`
	InvalidTag     string `gorm:"type:text;not null"`
	UnlicensedUser string `gorm:"type:text;not null"`
	Reason         string `gorm:"type:text;not null"`
	// SentAt is indexed for RecentSends, which seeds the pacing at start.
	SentAt    *time.Time `gorm:"index:idx_requests_sent_at"`
	UpdatedAt time.Time
}

// AccessToken is the shared cache of an app's WeCom access token, so every instance uses one token
// per app per lifetime. SecretHash ties it to the secret it was fetched with.
type AccessToken struct {
	AuthenticatorID uint64 `gorm:"primaryKey;autoIncrement:false"`
	SecretHash      string `gorm:"size:64;not null"`
	Token           Secret
	ExpiresAt       time.Time `gorm:"not null"`
	UpdatedAt       time.Time
}

// Media is a file uploaded to wecomflow for sending (POST /api/v1/media), kept so it can be
// uploaded to WeCom again when a media_id expires after 3 days.
type Media struct {
	ID              string `gorm:"primaryKey;size:26"`
	AuthenticatorID uint64 `gorm:"not null;index"`
	Type            string `gorm:"size:16;not null"`
	Filename        string `gorm:"size:255;not null"`
	// SourceURL is set for files fetched from a message's "media": {"url": …}.
	SourceURL      string `gorm:"size:2048;not null"`
	Size           int64  `gorm:"not null"`
	SHA256         string `gorm:"size:64;not null"`
	Content        []byte `gorm:"type:longblob"`
	MediaID        string `gorm:"size:255;not null"`
	MediaExpiresAt *time.Time
	CreatedAt      time.Time
}
