package plugin

import (
	"encoding/json"
	"strings"
)

// An authenticator's options are stored in two halves: the options JSON without secrets, and the
// secrets (sealed at rest) as a JSON object of dotted option path → value. These functions take
// them apart and put them back together at the type's SecretPaths.

// FullOptions is an authenticator's complete options — its stored options JSON with the secrets
// put back at their paths — for the code that talks to the integration. Never send it to a client.
func FullOptions(options, secrets string) map[string]any {
	full := DecodeObject(options)
	for p, v := range ParseSecrets(secrets) {
		parent, leaf := walk(full, p, true)
		parent[leaf] = v
	}
	return full
}

// ParseSecrets reads the stored secrets half: dotted path → value.
func ParseSecrets(secrets string) map[string]string {
	m := map[string]string{}
	if secrets != "" {
		_ = json.Unmarshal([]byte(secrets), &m)
	}
	return m
}

// DecodeObject reads a stored JSON object; anything unreadable is an empty one.
func DecodeObject(s string) map[string]any {
	m := map[string]any{}
	if s != "" {
		_ = json.Unmarshal([]byte(s), &m)
	}
	return m
}

// SplitSecrets moves the values at the dotted secret paths out of options into a flat map.
func SplitSecrets(options map[string]any, paths []string) map[string]string {
	secrets := map[string]string{}
	for _, p := range paths {
		parent, leaf := walk(options, p, false)
		if parent == nil {
			continue
		}
		if s, ok := parent[leaf].(string); ok && s != "" {
			secrets[p] = s
		}
		delete(parent, leaf)
	}
	return secrets
}

// MarkSecrets marks, next to where each secret lives, whether it is set ("secretSet": true), the
// only thing the API ever says about a secret.
func MarkSecrets(options map[string]any, secrets map[string]string, paths []string) {
	for _, p := range paths {
		_, isSet := secrets[p]
		parent, leaf := walk(options, p, isSet)
		if parent != nil {
			parent[leaf+"Set"] = isSet
		}
	}
}

// DropSecretMarks removes the "…Set" marks MarkSecrets adds, so a read-modify-write round trip is
// accepted.
func DropSecretMarks(options map[string]any, paths []string) {
	for _, p := range paths {
		if parent, leaf := walk(options, p, false); parent != nil {
			delete(parent, leaf+"Set")
		}
	}
}

// ValueAt is the value at a dotted path of options, if there is one.
func ValueAt(options map[string]any, path string) (any, bool) {
	parent, leaf := walk(options, path, false)
	if parent == nil {
		return nil, false
	}
	v, ok := parent[leaf]
	return v, ok
}

// walk finds the object holding the last element of a dotted path, creating the objects on the
// way when create is set; nil when it is missing.
func walk(m map[string]any, path string, create bool) (map[string]any, string) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			if !create {
				return nil, ""
			}
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	return m, parts[len(parts)-1]
}
