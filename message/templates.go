package message

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/problem"
)

// templateNameRe is a saved template's name: lower case, as it is typed into sends and nodes.
var templateNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Template is a saved template as the API shows it (SPEC §10.2): its message body goes under
// the key its msgtype names, as in a send.
type Template struct {
	ID          uint64         `json:"id"`
	Name        string         `json:"name"`
	Title       string         `json:"title"`
	ChannelType string         `json:"channelType"`
	MsgType     string         `json:"msgtype"`
	Body        map[string]any `json:"-"`
	CreatedAt   time.Time      `json:"createdAt"`
	UpdatedAt   time.Time      `json:"updatedAt"`
}

// MarshalJSON writes the body under its msgtype's key, after the fixed fields.
func (t Template) MarshalJSON() ([]byte, error) {
	type fixed Template
	head, err := json.Marshal(fixed(t))
	if err != nil {
		return nil, err
	}
	key, _ := json.Marshal(t.MsgType)
	body, err := json.Marshal(t.Body)
	if err != nil {
		return nil, err
	}
	out := append(bytes.TrimSuffix(head, []byte("}")), ',')
	out = append(append(append(out, key...), ':'), body...)
	return append(out, '}'), nil
}

func templateView(t *models.Template) Template {
	return Template{ID: t.ID, Name: t.Name, Title: t.Title, ChannelType: t.ChannelType, MsgType: t.MsgType,
		Body: templateBody(t), CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

// templateBody decodes a stored body afresh on every call, so rendering may change it; numbers
// stay exact, as in a request.
func templateBody(t *models.Template) map[string]any {
	dec := json.NewDecoder(strings.NewReader(t.Body))
	dec.UseNumber()
	body := map[string]any{}
	_ = dec.Decode(&body)
	return body
}

// TemplateFilter narrows the template list: name is exact, q matches name and title.
type TemplateFilter struct {
	Name, Q string
}

// ListTemplates pages through saved templates.
func (s *Service) ListTemplates(ctx context.Context, f TemplateFilter, p models.Page) (models.List[Template], error) {
	items, total, err := s.store.ListTemplates(ctx, models.TemplateFilter{Name: f.Name, Q: strings.TrimSpace(f.Q)}, p.Normalize())
	if err != nil {
		return models.List[Template]{}, problem.StoreError("Template", err)
	}
	return models.NewList(items, total, p, templateView), nil
}

// GetTemplate reads one saved template.
func (s *Service) GetTemplate(ctx context.Context, id uint64) (Template, error) {
	t, err := s.store.GetTemplate(ctx, id)
	if err != nil {
		return Template{}, problem.StoreError("Template", err)
	}
	return templateView(t), nil
}

// CreateTemplate validates and stores a new template.
func (s *Service) CreateTemplate(ctx context.Context, body map[string]any) (Template, error) {
	return s.saveTemplate(ctx, &models.Template{ChannelType: wecom.Type}, body)
}

// UpdateTemplate applies a partial update. A new msgtype comes with its body; the channel type
// is fixed, and a name that an enabled workflow uses cannot change: both would break it.
func (s *Service) UpdateTemplate(ctx context.Context, id uint64, body map[string]any) (Template, error) {
	t, err := s.store.GetTemplate(ctx, id)
	if err != nil {
		return Template{}, problem.StoreError("Template", err)
	}
	if typ, ok := body["channelType"]; ok && typ != t.ChannelType {
		return Template{}, problem.Invalidf("channelType", "cannot be changed; create a new template instead")
	}
	if name, ok := body["name"]; ok && name != t.Name {
		if err := s.templateNotInUse(ctx, t, "renamed"); err != nil {
			return Template{}, err
		}
	}
	return s.saveTemplate(ctx, t, body)
}

// CheckTemplate is what a create (id 0) or an update of the template id would say of body, without
// saving anything: its field errors, none when it is valid. A form whose body cannot be read yet
// still reports its other fields' errors with the body's, in one round.
func (s *Service) CheckTemplate(ctx context.Context, id uint64, body map[string]any) (problem.Fields, error) {
	t := &models.Template{ChannelType: wecom.Type}
	if id != 0 {
		var err error
		if t, err = s.store.GetTemplate(ctx, id); err != nil {
			return nil, problem.StoreError("Template", err)
		}
	}
	_, _, errs, err := s.checkTemplate(ctx, t, body)
	return errs, err
}

func (s *Service) saveTemplate(ctx context.Context, t *models.Template, body map[string]any) (Template, error) {
	next, msgBody, errs, err := s.checkTemplate(ctx, t, body)
	if err != nil {
		return Template{}, err
	}
	if len(errs) > 0 {
		return Template{}, problem.Invalid(errs)
	}
	raw, err := json.Marshal(msgBody)
	if err != nil {
		return Template{}, problem.Invalidf(next.MsgType, "cannot be encoded: %v", err)
	}
	next.Body = string(raw)
	action, changes := "template.create", access.Changes(nil, templateFields(&next))
	if next.ID != 0 {
		action, changes = "template.update", access.Changes(templateFields(t), templateFields(&next))
	}
	ctx = access.Audit(ctx, action, access.Target{Type: "template", ID: next.ID, Name: next.Name}, changes)
	if err := s.store.SaveTemplate(ctx, &next); err != nil {
		if errors.Is(err, models.ErrDuplicate) {
			return Template{}, &problem.Error{Code: problem.CodeConflict, Message: fmt.Sprintf("A template named %q already exists.", next.Name),
				Fields: problem.Fields{"name": "is taken by another template"}, Err: err}
		}
		return Template{}, problem.StoreError("Template", err)
	}
	s.log.InfoContext(ctx, "template saved", "template", next.Name, "id", next.ID)
	return templateView(&next), nil
}

// checkTemplate is t as body changes it, the msgtype's body and the field errors.
func (s *Service) checkTemplate(ctx context.Context, t *models.Template, body map[string]any) (models.Template, any, problem.Fields, error) {
	next := *t
	errs := problem.Fields{}
	str := func(k string, into *string) {
		v, ok := body[k]
		if !ok {
			return
		}
		if *into, ok = v.(string); !ok {
			errs.Add(k, "must be a string")
		}
	}
	str("name", &next.Name)
	str("title", &next.Title)
	str("channelType", &next.ChannelType)
	str("msgtype", &next.MsgType)
	msgBody, hasBody := body[next.MsgType]
	switch {
	case next.MsgType == "":
		errs.Add("msgtype", "is required")
	case !hasBody && next.MsgType != t.MsgType:
		errs.Add(next.MsgType, "is required when msgtype is "+next.MsgType)
	case !hasBody:
		msgBody = templateBody(t)
	}
	for k := range body {
		switch k {
		case "name", "title", "channelType", "msgtype", next.MsgType, "id", "createdAt", "updatedAt":
		default:
			errs.Add(k, "unknown field")
		}
	}
	if !templateNameRe.MatchString(next.Name) {
		errs.Add("name", "must be 1–64 lower-case letters, digits, '-' or '_', starting with a letter or digit")
	}
	if next.Title == "" {
		next.Title = next.Name
	}
	if utf8.RuneCountInString(next.Title) > 255 {
		errs.Add("title", "must be at most 255 characters")
	}
	if _, ok := s.channelTypes[next.ChannelType]; !ok {
		types := slices.Sorted(maps.Keys(s.channelTypes))
		errs.Add("channelType", "must be one of "+strings.Join(types, ", "))
	} else if next.MsgType != "" {
		if err := s.checkDesign(ctx, next.ChannelType, map[string]any{"msgtype": next.MsgType, next.MsgType: msgBody}, errs); err != nil {
			return next, nil, nil, err
		}
	}
	return next, msgBody, errs, nil
}

// templateFields is what an audit entry compares.
func templateFields(t *models.Template) map[string]any {
	return map[string]any{"name": t.Name, "title": t.Title, "channelType": t.ChannelType, "msgtype": t.MsgType, t.MsgType: templateBody(t)}
}

// DeleteTemplate removes a template that no enabled workflow uses.
func (s *Service) DeleteTemplate(ctx context.Context, id uint64) error {
	t, err := s.store.GetTemplate(ctx, id)
	if err != nil {
		return problem.StoreError("Template", err)
	}
	if err := s.templateNotInUse(ctx, t, "deleted"); err != nil {
		return err
	}
	ctx = access.Audit(ctx, "template.delete", access.Target{Type: "template", ID: id, Name: t.Name}, nil)
	if err := s.store.DeleteTemplate(ctx, id); err != nil {
		return problem.StoreError("Template", err)
	}
	s.log.InfoContext(ctx, "template deleted", "template", t.Name, "id", id)
	return nil
}

// templateNotInUse is a 409 naming the enabled workflows that use t, which would fail at their
// next run if it were deleted or renamed. A disabled workflow is checked again when it is saved.
func (s *Service) templateNotInUse(ctx context.Context, t *models.Template, what string) error {
	users, err := s.templateUsers(ctx, t.Name)
	if err != nil {
		return problem.StoreError("Template", err)
	}
	if len(users) == 0 {
		return nil
	}
	return problem.Errorf(problem.CodeConflict, "Template %q cannot be %s: enabled workflows use it (%s).", t.Name, what, strings.Join(users, ", "))
}

// withTemplate returns body with the saved template it names merged in — its msgtype and body,
// which a send by template does not carry itself — and the template's name ("" without one).
func (s *Service) withTemplate(ctx context.Context, ch *models.Channel, body map[string]any) (map[string]any, string, error) {
	raw, ok := body["template"]
	if !ok || raw == nil {
		return body, "", nil
	}
	name, _ := raw.(string)
	if name == "" {
		return nil, "", problem.Invalidf("template", "must be the name of a saved template")
	}
	for k := range body {
		if k == "msgtype" || slices.Contains(s.msgTypes(ch), k) {
			return nil, "", problem.Invalidf("template", "cannot be combined with %s: the template carries the message", k)
		}
	}
	t, err := s.store.GetTemplateByName(ctx, name)
	if errors.Is(err, models.ErrNotFound) {
		return nil, "", problem.Invalidf("template", "no template is named %q", name)
	}
	if err != nil {
		return nil, "", problem.StoreError("Template", err)
	}
	if t.ChannelType != ch.Type {
		return nil, "", problem.Invalidf("template", "%q is a template for %s channels; channel %q is a %s channel", name, t.ChannelType, ch.Name, ch.Type)
	}
	merged := mergeTemplate(body, t)
	delete(merged, "template")
	return merged, t.Name, nil
}

// mergeTemplate is a copy of body with t's msgtype and body.
func mergeTemplate(body map[string]any, t *models.Template) map[string]any {
	merged := maps.Clone(body)
	merged["msgtype"], merged[t.MsgType] = t.MsgType, templateBody(t)
	return merged
}

// ExpandTemplate returns a notification node's message with the saved template it names merged
// in, as far as it can be known (body unchanged without a template or with an unknown one): what
// the workflow's own checks read (is the card interactive, which nodes does it read).
func (s *Service) ExpandTemplate(ctx context.Context, body map[string]any) (map[string]any, error) {
	name, _ := body["template"].(string)
	if name == "" {
		return body, nil
	}
	t, err := s.store.GetTemplateByName(ctx, name)
	if errors.Is(err, models.ErrNotFound) {
		return body, nil
	}
	if err != nil {
		return nil, problem.StoreError("Template", err)
	}
	return mergeTemplate(body, t), nil
}

// msgTypes are the msgtypes a channel takes, its composer's or an app's.
func (s *Service) msgTypes(ch *models.Channel) []string {
	if c, ok := s.composer(ch); ok {
		return c.MsgTypes()
	}
	return wecom.MsgTypes()
}
