package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/wecomflow/wecomflow/problem"
)

// AuthenticatorType is an authenticator's type: it knows its options.
type AuthenticatorType interface {
	// Type is the "type" value that selects it, e.g. "wecom".
	Type() string
	// Normalize validates complete options — secrets included; on update the stored options with
	// the patch merged in — and returns them in canonical form (unknown keys rejected, defaults
	// filled). Error paths are relative to options.
	Normalize(options map[string]any) (map[string]any, problem.Fields)
	// SecretPaths lists the dotted option paths that are secret: stored sealed, never returned.
	SecretPaths() []string
}

// HostBound is implemented by an authenticator type whose secrets are sent to a host that one of
// its options names (an API base). Changing that option requires those secrets to be entered
// again in the same change: a stored secret never goes to a host it was not entered for.
type HostBound interface {
	// HostBinding is the dotted path of the host option and the secret paths sent to that host.
	HostBinding() (hostPath string, secretPaths []string)
}

// ChannelType is a channel's type. A type that sends its own way (not as a WeCom app message)
// also implements Composer, and its deliverer is handed to the sender where the server is
// composed: a new type is one package and one line there.
type ChannelType interface {
	Type() string
	// AuthenticatorType is the type of authenticator a channel of this type sends through, and
	// whether it must have one.
	AuthenticatorType() (typ string, required bool)
	// Normalize validates complete channel options (secrets included; on update the stored ones
	// with the patch merged in) and fills defaults. Paths are relative to options.
	Normalize(options map[string]any) (map[string]any, problem.Fields)
	// SecretPaths lists the dotted option paths that are secret: stored sealed, never returned.
	SecretPaths() []string
}

// Composer validates and renders the sends of a channel type whose messages are not WeCom app
// messages.
type Composer interface {
	// MsgTypes are the msgtypes the type takes, in the order the documentation lists them.
	MsgTypes() []string
	// Compose checks a rendered message and its audience and returns the exact body to store and
	// deliver. Field errors are relative to the send's body ("text.content", "to").
	Compose(ctx context.Context, in Compose) (Composed, error)
}

// Compose is one send to compose.
type Compose struct {
	// Options are the channel's complete options, secrets included.
	Options map[string]any
	MsgType string
	// Body is the rendered object under the msgtype key.
	Body map[string]any
	// Mentions are the people the send names: WeCom userids, mobiles, everyone.
	Mentions Mentions
	// Media reads a "media" source ({"url"} or {"id"}); nil in a preview, which fetches nothing.
	Media func(ctx context.Context, field, mediaType string, source map[string]any) (filename string, content []byte, err error)
}

// Mentions are a send's audience as WeCom userids and mobiles.
type Mentions struct {
	UserIDs []string
	Mobiles []string
	All     bool
}

// Empty says whether nobody is named.
func (m Mentions) Empty() bool { return len(m.UserIDs)+len(m.Mobiles) == 0 && !m.All }

// MediaPlaceholder stands for a media a preview does not fetch or upload: it is only made when
// the message is sent.
const MediaPlaceholder = "(uploaded when sent)"

// Composed is a composed send.
type Composed struct {
	// Body is the object under the msgtype key, as stored and shown; the deliverer wraps it.
	Body     json.RawMessage
	Warnings []string
}

// Registry is the set of types a server knows.
type Registry struct {
	Authenticators map[string]AuthenticatorType
	Channels       map[string]ChannelType
}

// NewRegistry indexes the given types by their Type().
func NewRegistry(auths []AuthenticatorType, chans []ChannelType) Registry {
	r := Registry{Authenticators: map[string]AuthenticatorType{}, Channels: map[string]ChannelType{}}
	for _, a := range auths {
		r.Authenticators[a.Type()] = a
	}
	for _, c := range chans {
		r.Channels[c.Type()] = c
	}
	return r
}

// Decode fills the typed options v from a generic map, rejecting unknown keys and reporting
// type mismatches under their JSON path, so every type validates the same way.
func Decode(m map[string]any, v any) problem.Fields {
	raw, err := json.Marshal(m)
	if err != nil {
		return problem.Fields{"": "cannot be encoded: " + err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return problem.Fields{te.Field: fmt.Sprintf("must be %s", problem.KindName(te.Type.Kind().String()))}
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		return problem.Fields{strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`): "unknown field"}
	}
	return problem.Fields{"": err.Error()}
}

// Encode turns typed options back into the generic map form that is stored.
func Encode(v any) map[string]any {
	raw, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}
