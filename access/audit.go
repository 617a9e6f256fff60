package access

import (
	"context"
	"encoding/json"
	"slices"
	"unicode/utf8"

	"github.com/wecomflow/wecomflow/models"
)

// Target is what an audited change is made to.
type Target struct {
	Type string
	ID   uint64
	Name string
}

// Audit returns ctx carrying the audit entry of a change the caller is about to make through the
// store: who (the principal of ctx), what (action, target, the paths of the changed fields) and
// from where. The store writes it in the change's own transaction; a zero Target.ID is filled
// with the created row's.
func Audit(ctx context.Context, action string, t Target, changes []string) context.Context {
	return models.WithAudit(ctx, Entry(ctx, action, t, changes))
}

// Entry is the audit entry of an action of ctx's principal, for actions that change nothing of
// ours (a sign-in) and for Audit.
func Entry(ctx context.Context, action string, t Target, changes []string) *models.AuditEntry {
	p, c := From(ctx), ClientOf(ctx)
	if changes == nil {
		changes = []string{}
	}
	changes = slices.Clone(changes)
	slices.Sort(changes)
	raw, _ := json.Marshal(slices.Compact(changes))
	return &models.AuditEntry{ActorType: p.Kind, ActorID: p.ID, ActorName: clip(p.Name, 255), Action: action,
		TargetType: t.Type, TargetID: t.ID, TargetName: clip(t.Name, 255), Changes: string(raw),
		IP: clip(c.IP, 64), UserAgent: clip(c.UserAgent, 512)}
}

// clip keeps the first n bytes of s, cut at a character boundary, so a long User-Agent never
// fails the write of the change it comes with.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Changes names the paths whose values differ between two views of a resource (nested objects
// by dotted path, "options.corpId"): what an audit entry's changes say, never the values.
func Changes(before, after map[string]any) []string {
	b, a := map[string]string{}, map[string]string{}
	flatten("", before, b)
	flatten("", after, a)
	var out []string
	for k, v := range a {
		if old, ok := b[k]; !ok || old != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// flatten writes the leaves of v under prefix, each as its JSON text.
func flatten(prefix string, v any, out map[string]string) {
	if m, ok := v.(map[string]any); ok && (len(m) > 0 || prefix == "") {
		for k, x := range m {
			if prefix != "" {
				k = prefix + "." + k
			}
			flatten(k, x, out)
		}
		return
	}
	raw, _ := json.Marshal(v)
	out[prefix] = string(raw)
}

// Action names an update in the audit log: kind.enable or kind.disable when only "enabled"
// changed, kind.update otherwise.
func Action(kind string, changes []string, enabled bool) string {
	if len(changes) == 1 && changes[0] == "enabled" {
		if enabled {
			return kind + ".enable"
		}
		return kind + ".disable"
	}
	return kind + ".update"
}
