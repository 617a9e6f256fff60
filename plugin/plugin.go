package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// FieldErrors maps a field path ("options.agentId", "[3].set.name") to what is wrong with it.
type FieldErrors map[string]string

// Add records msg for path unless the path already has one (the first problem is the useful one).
func (fe FieldErrors) Add(path, msg string) {
	if _, ok := fe[path]; !ok {
		fe[path] = msg
	}
}

// Prefixed returns fe with every path under prefix.
func (fe FieldErrors) Prefixed(prefix string) FieldErrors {
	out := FieldErrors{}
	for k, v := range fe {
		out[prefix+"."+k] = v
	}
	return out
}

// String lists the errors in path order, for logs and single-line messages.
func (fe FieldErrors) String() string {
	keys := make([]string, 0, len(fe))
	for k := range fe {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + fe[k]
	}
	return strings.Join(parts, "; ")
}

// AuthenticatorType is an authenticator's type: it knows its options.
type AuthenticatorType interface {
	// Type is the "type" value that selects it, e.g. "wecom".
	Type() string
	// Normalize validates complete options — secrets included; on update the stored options with
	// the patch merged in — and returns them in canonical form (unknown keys rejected, defaults
	// filled). Error paths are relative to options.
	Normalize(options map[string]any) (map[string]any, FieldErrors)
	// SecretPaths lists the dotted option paths that are secret: stored sealed, never returned.
	SecretPaths() []string
}

// ChannelType is a channel's type.
type ChannelType interface {
	Type() string
	// AuthenticatorType is the type of authenticator a channel of this type sends through.
	AuthenticatorType() string
	// Normalize validates the channel options and fills defaults. Paths are relative to options.
	Normalize(options map[string]any) (map[string]any, FieldErrors)
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
func Decode(m map[string]any, v any) FieldErrors {
	raw, err := json.Marshal(m)
	if err != nil {
		return FieldErrors{"": "cannot be encoded: " + err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return FieldErrors{te.Field: fmt.Sprintf("must be %s", KindName(te.Type.Kind().String()))}
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		return FieldErrors{strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`): "unknown field"}
	}
	return FieldErrors{"": err.Error()}
}

// Encode turns typed options back into the generic map form that is stored.
func Encode(v any) map[string]any {
	raw, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

// KindName says in JSON terms what a Go kind expects, for "must be …" messages.
func KindName(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "slice", "array":
		return "a list"
	default:
		return "an object"
	}
}
