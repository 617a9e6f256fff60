package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"

	"github.com/wecomflow/wecomflow/callback"
	"github.com/wecomflow/wecomflow/models"
)

// change reads the fields of a change_contact payload (the decrypted XML as a JSON object: values
// are strings, numbers are tolerated).
type change map[string]any

func (c change) str(k string) (string, bool) {
	switch v := c[k].(type) {
	case string:
		return strings.TrimSpace(v), true
	case json.Number:
		return v.String(), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	}
	return "", false
}

// name is str for a name: every member and department has one, so an empty one was not sent.
func (c change) name(k string) (string, bool) {
	v, ok := c.str(k)
	return v, ok && v != ""
}

// take copies field k of the change into *dst, read by get, and marks bit in *fields when the
// change carries it.
func take[T any, F models.MemberFields | models.DepartmentFields](get func(string) (T, bool), k string, dst *T, fields *F, bit F) {
	if v, ok := get(k); ok {
		*dst, *fields = v, *fields|bit
	}
}

func (c change) number(k string) (int64, bool) {
	s, ok := c.str(k)
	if !ok || s == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// flags reads a list like IsLeaderInDept "1,0".
func (c change) flags(k string) ([]int, bool) {
	ids, ok := c.ids(k)
	out := make([]int, len(ids))
	for i, v := range ids {
		out[i] = int(v)
	}
	return out, ok
}

func (c change) ids(k string) ([]int64, bool) {
	s, ok := c.str(k)
	if !ok {
		return nil, false
	}
	out := []int64{}
	for _, part := range strings.Split(s, ",") {
		if n, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64); err == nil {
			out = append(out, n)
		}
	}
	return out, true
}

// HandleEvent is the callback subscriber for change_contact events of the contacts-sync URL: it
// applies the change to the directory and the linked users. Idempotent per event.
func (s *Syncer) HandleEvent(ctx context.Context, ev *callback.Event) error {
	if ev.Event != "change_contact" {
		return nil
	}
	return s.ApplyChange(ctx, ev.AuthenticatorID, ev.Payload)
}

// ApplyChange applies one decrypted change_contact event of an authenticator to the directory:
// create_user/update_user (only the fields present change; NewUserID renames the member and its
// link follows), delete_user (marked deleted), create_party/update_party/delete_party likewise;
// update_tag is accepted and ignored (wecomflow keeps no tags). An event that carries only ids
// (URLs configured after 2022-08) has the member's or department's details read from WeCom; when
// WeCom refuses, the ids are applied and the details wait for the next full sync. Applying the
// same event twice leaves the same state. An authenticator that cannot be used (gone, disabled)
// makes the event a no-op; only database failures are errors.
func (s *Syncer) ApplyChange(ctx context.Context, authenticatorID uint64, payload map[string]any) error {
	c := change(payload)
	kind, _ := c.str("ChangeType")
	log := s.log.With("authenticator", authenticatorID, "change_type", kind)
	app, opts, err := s.apps.Options(ctx, authenticatorID)
	if errors.Is(err, ErrNoApp) {
		log.Info("change_contact ignored: the authenticator cannot be used", "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	switch kind {
	case "create_user", "update_user":
		return s.applyMember(ctx, log, app, opts, c)
	case "delete_user":
		if id, _ := c.str("UserID"); id != "" {
			return s.store.MarkMemberDeleted(ctx, authenticatorID, id)
		}
	case "create_party", "update_party":
		return s.applyDepartment(ctx, log, app, opts, c)
	case "delete_party":
		if id, ok := c.number("Id"); ok {
			return s.store.MarkDepartmentDeleted(ctx, authenticatorID, id)
		}
	case "update_tag":
		// Tags are not kept: messages address them by id and WeCom resolves their members.
	default:
		log.Debug("change_contact type not handled")
	}
	return nil
}

func (s *Syncer) applyMember(ctx context.Context, log *slog.Logger, app App, opts Options, c change) error {
	userid, _ := c.str("UserID")
	if userid == "" {
		log.Warn("change_contact without UserID ignored")
		return nil
	}
	if to, _ := c.str("NewUserID"); to != "" && to != userid {
		if err := s.store.RenameMember(ctx, app.AuthenticatorID, userid, to); err != nil {
			return err
		}
		userid = to
	}
	m := models.MemberUpdate{WeComUserID: userid}
	take(c.name, "Name", &m.Name, &m.Fields, models.MemberName)
	take(c.ids, "Department", &m.Departments, &m.Fields, models.MemberDepartments)
	take(c.number, "MainDepartment", &m.MainDepartment, &m.Fields, models.MemberMainDepartment)
	take(c.str, "Position", &m.Position, &m.Fields, models.MemberPosition)
	take(c.flags, "IsLeaderInDept", &m.IsLeaderInDept, &m.Fields, models.MemberLeaderOf)
	take(c.str, "Mobile", &m.Mobile, &m.Fields, models.MemberMobile)
	take(c.str, "Email", &m.Email, &m.Fields, models.MemberEmail)
	if v, ok := c.number("Status"); ok {
		m.Status, m.Fields = int(v), m.Fields|models.MemberStatus
	}
	pending := false
	if m.Fields&models.MemberName == 0 {
		// An id-only event: read the member as WeCom has it now.
		if details, err := s.readMember(ctx, app, opts, userid); err == nil {
			m = details
		} else {
			pending = true
			log.Info("member details could not be read; the next full sync fills them", "userid", userid,
				"errcode", ErrCode(err), "err", err)
		}
	}
	_, err := s.store.SyncMembers(ctx, app.AuthenticatorID, []models.MemberUpdate{m},
		models.MemberSyncOptions{AutoCreateUsers: opts.Sync.AutoCreateUsers, DetailsPending: pending})
	return err
}

// readMember reads one member with user/get: with the contacts secret when there is one (mobile
// and email included), else — or when refused — with the app secret.
func (s *Syncer) readMember(ctx context.Context, app App, opts Options, userid string) (models.MemberUpdate, error) {
	var err error
	for _, c := range s.directoryClients(app, opts) {
		var m *Member
		if m, err = c.client.GetMember(ctx, userid); err == nil {
			return models.MemberUpdate{WeComUserID: userid, Name: m.Name, Departments: m.Department, MainDepartment: m.MainDepartment,
				Position: m.Position, Mobile: m.Mobile, Email: m.Email, Status: m.Status, IsLeaderInDept: m.IsLeaderInDept, Fields: c.fields}, nil
		}
	}
	return models.MemberUpdate{}, err
}

type directoryClient struct {
	client *Client
	fields models.MemberFields
}

func (s *Syncer) directoryClients(app App, opts Options) []directoryClient {
	var out []directoryClient
	if opts.Sync.ContactSecret != "" {
		out = append(out, directoryClient{s.clients.ContactsClient(app, opts.Sync.ContactSecret), models.MemberAll})
	}
	return append(out, directoryClient{s.clients.Client(app), models.MemberDetails})
}

func (s *Syncer) applyDepartment(ctx context.Context, log *slog.Logger, app App, opts Options, c change) error {
	id, ok := c.number("Id")
	if !ok {
		log.Warn("change_contact without Id ignored")
		return nil
	}
	d := models.DepartmentUpdate{ID: id}
	take(c.name, "Name", &d.Name, &d.Fields, models.DepartmentName)
	take(c.number, "ParentId", &d.ParentID, &d.Fields, models.DepartmentParent)
	take(c.number, "Order", &d.Order, &d.Fields, models.DepartmentOrder)
	if d.Fields&models.DepartmentName == 0 {
		var err error
		for _, dc := range s.directoryClients(app, opts) {
			var got *Department
			if got, err = dc.client.GetDepartment(ctx, id); err == nil {
				d = models.DepartmentUpdate{ID: id, ParentID: got.ParentID, Name: got.Name, Order: got.Order, Fields: models.DepartmentAll}
				break
			}
		}
		if err != nil {
			log.Info("department details could not be read; the next full sync fills them", "department", id,
				"errcode", ErrCode(err), "err", err)
		}
	}
	_, err := s.store.UpsertDepartment(ctx, app.AuthenticatorID, d)
	return err
}
