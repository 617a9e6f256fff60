package callback

import "context"

// Event kinds: which of an authenticator's two URLs received it.
const (
	KindApp      = "app"
	KindContacts = "contacts"
)

// Event is a stored, decrypted callback as subscribers see it.
type Event struct {
	ID              uint64
	AuthenticatorID uint64
	Kind            string
	MsgType         string
	Event           string
	ChangeType      string
	FromUser        string
	CreateTime      int64
	// Payload is the decrypted XML as a JSON object with WeCom's field names; nested elements
	// (SelectedItems) are nested objects, repeated ones lists.
	Payload map[string]any
}

// Subscriber processes events after WeCom has been answered. An error makes the event be retried
// later; a subscriber must therefore be idempotent per event ID.
type Subscriber interface {
	HandleEvent(ctx context.Context, ev *Event) error
}

// SubscriberFunc adapts a function to Subscriber.
type SubscriberFunc func(ctx context.Context, ev *Event) error

// HandleEvent calls f.
func (f SubscriberFunc) HandleEvent(ctx context.Context, ev *Event) error { return f(ctx, ev) }
