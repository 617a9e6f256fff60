package service

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
)

// AuditEntry is one line of the audit log as the API shows it.
type AuditEntry struct {
	ID     uint64    `json:"id"`
	At     time.Time `json:"at"`
	Actor  AuditRef  `json:"actor"`
	Action string    `json:"action"`
	Target AuditRef  `json:"target"`
	// Changes are the paths of the fields the change touched, never their values.
	Changes []string `json:"changes"`
	// Counts are a bulk change's (created, updated, failed).
	Counts    map[string]int `json:"counts,omitempty"`
	IP        string         `json:"ip"`
	UserAgent string         `json:"userAgent"`
}

// AuditRef names an actor or a target.
type AuditRef struct {
	Type string `json:"type"`
	ID   uint64 `json:"id"`
	Name string `json:"name"`
}

// AuditQuery is the audit log's filters as given: actor "account", "token:7" …; since and until
// RFC 3339 times.
type AuditQuery struct {
	Actor, Action, TargetType, Since, Until string
}

var (
	auditActionRe = regexp.MustCompile(`^[a-z_]{1,32}(\.[a-z_]{1,31})?$`)
	auditTypeRe   = regexp.MustCompile(`^[a-z_]{1,32}$`)
)

func auditView(e *models.AuditEntry) AuditEntry {
	v := AuditEntry{ID: e.ID, At: e.At, Actor: AuditRef{Type: e.ActorType, ID: e.ActorID, Name: e.ActorName}, Action: e.Action,
		Target: AuditRef{Type: e.TargetType, ID: e.TargetID, Name: e.TargetName}, Changes: []string{}, IP: e.IP, UserAgent: e.UserAgent}
	_ = json.Unmarshal([]byte(e.Changes), &v.Changes)
	if e.Counts != "" {
		_ = json.Unmarshal([]byte(e.Counts), &v.Counts)
	}
	return v
}

// ListAudit pages through the audit log, newest first.
func (s *Service) ListAudit(ctx context.Context, q AuditQuery, p models.Page) (models.List[AuditEntry], error) {
	f, err := parseAuditQuery(q)
	if err != nil {
		return models.List[AuditEntry]{}, err
	}
	items, total, err := s.store.ListAudit(ctx, f, p.Normalize())
	if err != nil {
		return models.List[AuditEntry]{}, problem.StoreError("Audit log", err)
	}
	return models.NewList(items, total, p, auditView), nil
}

func parseAuditQuery(q AuditQuery) (models.AuditFilter, error) {
	var f models.AuditFilter
	errs := problem.Fields{}
	if q.Actor != "" {
		kind, id, hasID := strings.Cut(q.Actor, ":")
		switch kind {
		case access.KindAccount, access.KindToken, access.KindSystem:
			f.ActorType = kind
		default:
			errs.Add("actor", "must be account, token or system, optionally with :id (token:7)")
		}
		if hasID {
			n, err := strconv.ParseUint(id, 10, 64)
			if err != nil || n == 0 {
				errs.Add("actor", "must end in a positive id after the colon (account:4)")
			}
			f.ActorID = n
		}
	}
	if q.Action != "" {
		if !auditActionRe.MatchString(q.Action) {
			errs.Add("action", "must be an action name such as authenticator.update or auth.login")
		}
		f.Action = q.Action
	}
	if q.TargetType != "" {
		if !auditTypeRe.MatchString(q.TargetType) {
			errs.Add("targetType", "must be a resource type such as authenticator, channel or account")
		}
		f.TargetType = q.TargetType
	}
	for _, b := range []struct {
		field, raw string
		dst        *time.Time
	}{{"since", q.Since, &f.Since}, {"until", q.Until, &f.Until}} {
		if b.raw == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, b.raw)
		if err != nil {
			errs.Add(b.field, "must be an RFC 3339 time such as 2026-12-01T00:00:00Z")
		}
		*b.dst = t
	}
	if len(errs) > 0 {
		return f, problem.Invalid(errs)
	}
	return f, nil
}
