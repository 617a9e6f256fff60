package service

import "strings"

// mergePatch applies a JSON merge patch (RFC 7396) to dst in place: null deletes, objects merge,
// anything else replaces. It is how PATCH updates nested options without resending secrets.
func mergePatch(dst, patch map[string]any) {
	for k, v := range patch {
		if v == nil {
			delete(dst, k)
			continue
		}
		if pm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergePatch(dm, pm)
				continue
			}
			fresh := map[string]any{}
			mergePatch(fresh, pm)
			dst[k] = fresh
			continue
		}
		dst[k] = v
	}
}

// splitSecrets moves the values at the dotted secret paths out of options into a flat map.
func splitSecrets(options map[string]any, paths []string) map[string]string {
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

// joinSecrets puts flat secrets back into options at their paths.
func joinSecrets(options map[string]any, secrets map[string]string) {
	for p, v := range secrets {
		parent, leaf := walk(options, p, true)
		parent[leaf] = v
	}
}

// secretFlags marks, next to where each secret lives, whether it is set ("secretSet": true),
// the only thing the API ever says about a secret.
func secretFlags(options map[string]any, secrets map[string]string, paths []string) {
	for _, p := range paths {
		_, isSet := secrets[p]
		parent, leaf := walk(options, p, isSet)
		if parent != nil {
			parent[leaf+"Set"] = isSet
		}
	}
}

// dropSecretFlags removes the "…Set" flags secretFlags adds, so a read-modify-write round trip is
// accepted.
func dropSecretFlags(options map[string]any, paths []string) {
	for _, p := range paths {
		if parent, leaf := walk(options, p, false); parent != nil {
			delete(parent, leaf+"Set")
		}
	}
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
