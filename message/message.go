package message

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/wecomflow/wecomflow/fetch"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/worker"
)

// Config is what the message service needs of the server's configuration.
type Config struct {
	// Wake tells the sender that messages were stored.
	Wake func()
	// Reserve asks the sender to take n requests straight from their acceptance (nil: it will
	// not; the default).
	Reserve func(n int) *wecom.Reservation
	// TemplateEnv is what {{$env.NAME}} may read: the names of WECOMFLOW_TEMPLATE_ENV and their values.
	TemplateEnv map[string]string
	// Location is the time zone of {{$system.now}} and the date filter.
	Location *time.Location
	// Fetcher downloads media.url sources: the server's one fetcher of user URLs, which refuses
	// internal addresses. Nil means one with no ranges allowed.
	Fetcher *fetch.Fetcher
	// WaitPoll is how often Wait reads a message again without being notified (default 500 ms):
	// on MySQL another instance may record its outcome, and only this process's are notified.
	WaitPoll time.Duration
	// ChannelTypes are the server's channel types; one with a composer (a robot) prepares its own
	// sends, the others send app messages.
	ChannelTypes map[string]plugin.ChannelType
	// TemplateUsers names the enabled workflows that use a saved template by name: a template
	// they use is not deleted or renamed under them. Nil means none do.
	TemplateUsers func(ctx context.Context, name string) ([]string, error)
}

// maxWaiters bounds the Waits registered for notifications; one more polls every WaitPoll only.
const maxWaiters = 10_000

// Service accepts, plans and logs messages: the operations of SPEC §3.4 that the REST API, the
// pages and the workflow engine share.
type Service struct {
	store   *models.Store
	clients *wecom.Clients
	apps    *wecom.Apps
	wake    func()
	reserve func(n int) *wecom.Reservation
	env     map[string]string
	loc     *time.Location
	fetcher *fetch.Fetcher
	log     *slog.Logger
	// waiters are the Waits in progress, woken when this process records or cancels their message.
	waiters *worker.Waiters
	// waitRead is how a Wait reads its message (Get; a test delivers the message right after).
	waitRead      func(ctx context.Context, id string) (View, error)
	waitPoll      time.Duration
	channelTypes  map[string]plugin.ChannelType
	templateUsers func(ctx context.Context, name string) ([]string, error)
}

// New builds the message service over a store, WeCom's clients and the authenticators' apps.
func New(store *models.Store, clients *wecom.Clients, apps *wecom.Apps, cfg Config, log *slog.Logger) *Service {
	if cfg.Wake == nil {
		cfg.Wake = func() {}
	}
	if cfg.Reserve == nil {
		cfg.Reserve = func(int) *wecom.Reservation { return nil }
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Fetcher == nil {
		cfg.Fetcher = fetch.New(fetch.Options{})
	}
	if cfg.TemplateUsers == nil {
		cfg.TemplateUsers = func(context.Context, string) ([]string, error) { return nil, nil }
	}
	if cfg.WaitPoll == 0 {
		cfg.WaitPoll = 500 * time.Millisecond
	}
	s := &Service{store: store, clients: clients, apps: apps, wake: cfg.Wake, reserve: cfg.Reserve, env: cfg.TemplateEnv, loc: cfg.Location,
		fetcher: cfg.Fetcher, log: log, waiters: worker.NewWaiters(maxWaiters), waitPoll: cfg.WaitPoll, channelTypes: cfg.ChannelTypes,
		templateUsers: cfg.TemplateUsers}
	s.waitRead = s.Get
	return s
}

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
	// Mobiles and Emails name people WeCom knows by them (SPEC §9.4); on a robot, Mobiles are
	// @-mentions by mobile.
	Mobiles []string `json:"mobiles,omitempty"`
	Emails  []string `json:"emails,omitempty"`
	// Chats are app group chats (appchat) of the channel's app, by chatid (SPEC §9.3).
	Chats []string `json:"chats,omitempty"`
	// LeadersOf are local userids whose department leaders receive the message (SPEC §11).
	LeadersOf []string `json:"leadersOf,omitempty"`
}

// LinkedRecipients address connected enterprises: "CorpID/userid", "LinkedID/partyid".
type LinkedRecipients struct {
	Users       []string `json:"users,omitempty"`
	Departments []string `json:"departments,omitempty"`
}

// Request is a message to accept: the API body, or a workflow node's rendered config.
type Request struct {
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
	// NoDuplicateCheck sends without WeCom's duplicate check (a card's reminder, which repeats).
	NoDuplicateCheck bool
}

// RecipientSummary is how the recipients resolved.
type RecipientSummary struct {
	Requested  int      `json:"requested"`
	Resolved   int      `json:"resolved"`
	Unbound    []string `json:"unbound"`
	Invalid    []string `json:"invalid"`
	Unlicensed []string `json:"unlicensed"`
}

// RequestView is one WeCom call of a message.
type RequestView struct {
	ToUser       string     `json:"touser,omitempty"`
	ToParty      string     `json:"toparty,omitempty"`
	ToTag        string     `json:"totag,omitempty"`
	ChatID       string     `json:"chatid,omitempty"`
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

// View is a message as the API shows it.
type View struct {
	ID      string `json:"id"`
	Channel string `json:"channel"`
	MsgType string `json:"msgtype"`
	// Template is the saved template the message was sent by, when it was.
	Template      string           `json:"template,omitempty"`
	Status        string           `json:"status"`
	TriggerFrom   string           `json:"triggerFrom"`
	ExecutionID   *string          `json:"executionId"`
	Recipients    RecipientSummary `json:"recipients"`
	Requests      []RequestView    `json:"requests,omitempty"`
	Attempts      int              `json:"attempts"`
	NextAttemptAt *time.Time       `json:"nextAttemptAt"`
	Reason        string           `json:"reason"`
	Warnings      []string         `json:"warnings"`
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

func view(m *models.Message, reqs []models.MessageRequest) View {
	v := View{ID: m.ID, Channel: m.Channel, MsgType: m.MsgType, Template: m.Template, Status: m.Status, TriggerFrom: m.TriggerFrom, ExecutionID: m.ExecutionID,
		Recipients: RecipientSummary{Requested: m.Requested, Resolved: m.Resolved, Unbound: jsonList(m.Unbound), Invalid: jsonList(m.Invalid), Unlicensed: jsonList(m.Unlicensed)},
		Attempts:   m.Attempts, NextAttemptAt: m.NextAttemptAt, Reason: m.Reason, Warnings: jsonList(m.Warnings), Body: json.RawMessage(m.Body),
		CreatedAt: m.CreatedAt, SentAt: m.SentAt, RecalledAt: m.RecalledAt}
	for _, r := range reqs {
		rv := RequestView{ToUser: r.ToUser, ToParty: r.ToParty, ToTag: r.ToTag, ChatID: r.ChatID, Status: r.Status, ErrCode: r.ErrCode, ErrMsg: r.ErrMsg,
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
