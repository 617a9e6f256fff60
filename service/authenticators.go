package service

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/problem"
)

var authenticatorNameRe = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

// AuthenticatorInput is the body of a create (all required fields) or a PATCH (any subset;
// options is a JSON merge patch, so omitted secrets keep their stored value).
type AuthenticatorInput struct {
	Name    *string        `json:"name"`
	Title   *string        `json:"title"`
	Type    *string        `json:"type"`
	Enabled *bool          `json:"enabled"`
	Options map[string]any `json:"options"`
}

// Authenticator is an authenticator as the API shows it: secrets replaced by "…Set" flags.
type Authenticator struct {
	ID                  uint64         `json:"id"`
	Name                string         `json:"name"`
	Title               string         `json:"title"`
	Type                string         `json:"type"`
	Enabled             bool           `json:"enabled"`
	Options             map[string]any `json:"options"`
	CallbackURL         string         `json:"callbackUrl"`
	ContactsCallbackURL string         `json:"contactsCallbackUrl"`
	Timestamps
}

// CallbackURL is where WeCom calls an authenticator of type typ named name (its contacts
// callback adds "/contacts"): the form shows it before the authenticator is saved.
func (s *Service) CallbackURL(typ, name string) string {
	return s.cfg.PublicURL + "/callback/" + typ + "/" + name
}

func (s *Service) authenticatorView(a *models.Authenticator) Authenticator {
	opts := plugin.DecodeObject(a.Options)
	if t, ok := s.plugins.Authenticators[a.Type]; ok {
		plugin.MarkSecrets(opts, plugin.ParseSecrets(a.Secrets.Plain), t.SecretPaths())
	}
	base := s.CallbackURL(a.Type, a.Name)
	return Authenticator{ID: a.ID, Name: a.Name, Title: a.Title, Type: a.Type, Enabled: a.Enabled, Options: opts,
		CallbackURL: base, ContactsCallbackURL: base + "/contacts",
		Timestamps: Timestamps{CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}}
}

// ListAuthenticators pages through authenticators; q matches name and title.
func (s *Service) ListAuthenticators(ctx context.Context, q string, p models.Page) (models.List[Authenticator], error) {
	items, total, err := s.store.ListAuthenticators(ctx, models.ListFilter{Q: q}, p.Normalize())
	if err != nil {
		return models.List[Authenticator]{}, problem.StoreError("Authenticator", err)
	}
	return models.NewList(items, total, p, s.authenticatorView), nil
}

// GetAuthenticator reads one authenticator.
func (s *Service) GetAuthenticator(ctx context.Context, id uint64) (Authenticator, error) {
	a, err := s.store.GetAuthenticator(ctx, id)
	if err != nil {
		return Authenticator{}, problem.StoreError("Authenticator", err)
	}
	return s.authenticatorView(a), nil
}

// CreateAuthenticator validates and stores a new authenticator.
func (s *Service) CreateAuthenticator(ctx context.Context, in AuthenticatorInput) (Authenticator, error) {
	a := &models.Authenticator{Type: "wecom", Enabled: true}
	if in.Type == nil {
		in.Type = &a.Type
	}
	if in.Enabled == nil {
		in.Enabled = &a.Enabled
	}
	errs := problem.Fields{}
	if in.Name == nil {
		errs.Add("name", "is required")
	}
	if in.Options == nil {
		errs.Add("options", "is required")
	}
	if err := s.applyAuthenticator(a, in, errs); err != nil {
		return Authenticator{}, err
	}
	if err := s.oneAutoLogin(ctx, a); err != nil {
		return Authenticator{}, err
	}
	ctx = access.Audit(ctx, "authenticator.create", access.Target{Type: "authenticator", Name: a.Name},
		access.Changes(nil, authenticatorFields(a)))
	if err := s.store.CreateAuthenticator(ctx, a); err != nil {
		return Authenticator{}, problem.StoreError("An authenticator", err)
	}
	s.log.InfoContext(ctx, "authenticator created", "authenticator", a.Name, "id", a.ID)
	return s.authenticatorView(a), nil
}

// UpdateAuthenticator applies a partial update.
func (s *Service) UpdateAuthenticator(ctx context.Context, id uint64, in AuthenticatorInput) (Authenticator, error) {
	a, err := s.store.GetAuthenticator(ctx, id)
	if err != nil {
		return Authenticator{}, problem.StoreError("Authenticator", err)
	}
	if in.Type != nil && *in.Type != a.Type {
		return Authenticator{}, problem.Invalidf("type", "cannot be changed; create a new authenticator instead")
	}
	before := authenticatorFields(a)
	if err := s.applyAuthenticator(a, in, problem.Fields{}); err != nil {
		return Authenticator{}, err
	}
	if err := s.oneAutoLogin(ctx, a); err != nil {
		return Authenticator{}, err
	}
	changes := access.Changes(before, authenticatorFields(a))
	ctx = access.Audit(ctx, access.Action("authenticator", changes, a.Enabled), access.Target{Type: "authenticator", ID: a.ID, Name: a.Name}, changes)
	if err := s.store.UpdateAuthenticator(ctx, a); err != nil {
		return Authenticator{}, problem.StoreError("An authenticator", err)
	}
	s.log.InfoContext(ctx, "authenticator updated", "authenticator", a.Name, "id", a.ID)
	return s.authenticatorView(a), nil
}

// applyAuthenticator validates in against a (a new or the stored authenticator) and writes it
// into a only when everything is valid.
func (s *Service) applyAuthenticator(a *models.Authenticator, in AuthenticatorInput, errs problem.Fields) error {
	name, title := a.Name, a.Title
	if in.Name != nil {
		name = *in.Name
		if !authenticatorNameRe.MatchString(name) {
			errs.Add("name", "must start with a lowercase letter, then lowercase letters, digits, '_' or '-', at most 64")
		}
	}
	if in.Title != nil {
		title = *in.Title
	}
	if title == "" {
		title = name
	}
	if utf8.RuneCountInString(title) > 255 {
		errs.Add("title", "must be at most 255 characters")
	}
	typ, ok := s.plugins.Authenticators[a.Type]
	if in.Type != nil {
		typ, ok = s.plugins.Authenticators[*in.Type]
	}
	if !ok {
		errs.Add("type", "must be one of the known types (wecom)")
	}
	var options string
	var secrets map[string]string
	if ok && (in.Options != nil || a.ID == 0) {
		full := plugin.FullOptions(a.Options, a.Secrets.Plain)
		// A client that sends back what it read also sends the "…Set" flags; they are output only.
		plugin.DropSecretMarks(in.Options, typ.SecretPaths())
		hb, hostBound := typ.(plugin.HostBound)
		var storedHost string
		if hostBound {
			storedHost = hostOf(hb, full)
		}
		mergePatch(full, in.Options)
		if hostBound && a.ID != 0 && hostOf(hb, full) != storedHost {
			secretsFollowHost(hb, plugin.ParseSecrets(a.Secrets.Plain), in.Options, errs)
		}
		norm, ferrs := typ.Normalize(full)
		errs.AddAll("options", ferrs)
		if ferrs == nil {
			secrets = plugin.SplitSecrets(norm, typ.SecretPaths())
			options = encodeJSON(norm)
		}
	}
	if len(errs) > 0 {
		return problem.Invalid(errs)
	}
	a.Name, a.Title = name, title
	if in.Type != nil {
		a.Type = *in.Type
	}
	if in.Enabled != nil {
		a.Enabled = *in.Enabled
	}
	if secrets != nil {
		a.Options = options
		a.Secrets = models.NewSecret(encodeJSON(secrets))
	}
	return nil
}

// oneAutoLogin refuses login.autoLogin on a second authenticator: a page opened inside WeCom
// without a session can go to one sign-in only. (Two saves at the same instant could both pass;
// the pages then take the first by id.)
func (s *Service) oneAutoLogin(ctx context.Context, a *models.Authenticator) error {
	autoLogin := func(x *models.Authenticator) bool {
		return x.Type == wecom.Type && wecom.SignInAppOf(x).Login.AutoLogin
	}
	if !autoLogin(a) {
		return nil
	}
	var other string
	err := s.eachAuthenticator(ctx, func(x *models.Authenticator) {
		if other == "" && x.ID != a.ID && autoLogin(x) {
			other = x.Name
		}
	})
	if err != nil {
		return err
	}
	if other != "" {
		return problem.Invalidf("options.login.autoLogin", "is already on for the authenticator %q; turn it off there first: "+
			"a page opened inside WeCom goes to one sign-in only", other)
	}
	return nil
}

// hostOf is the host option (apiBaseUrl) of options, as compared: a trailing slash is no change.
func hostOf(hb plugin.HostBound, options map[string]any) string {
	path, _ := hb.HostBinding()
	v, _ := plugin.ValueAt(options, path)
	host, _ := v.(string)
	return strings.TrimRight(strings.TrimSpace(host), "/")
}

// secretsFollowHost refuses a change of the host option (apiBaseUrl) that does not enter again
// every stored secret that goes to that host: otherwise the next check, sync or send would hand
// a secret to a host whoever changed the option chose, though secrets are write-only.
func secretsFollowHost(hb plugin.HostBound, stored map[string]string, patch map[string]any, errs problem.Fields) {
	hostPath, secretPaths := hb.HostBinding()
	for _, p := range secretPaths {
		if stored[p] == "" {
			continue
		}
		if v, _ := plugin.ValueAt(patch, p); v == nil || v == "" {
			errs.Add("options."+p, "must be entered again when options."+hostPath+" changes: a stored secret is never sent to a host it was not entered for")
		}
	}
}

// authenticatorFields is what an audit entry compares: the fields and options, secrets included
// by path (their values are compared, never shown).
func authenticatorFields(a *models.Authenticator) map[string]any {
	return withSecrets(map[string]any{"name": a.Name, "title": a.Title, "type": a.Type, "enabled": a.Enabled,
		"options": plugin.DecodeObject(a.Options)}, a.Secrets)
}

// withSecrets adds the stored secrets to the fields an audit entry compares, each under
// "options.<path>": a change of one is named, its value never shown.
func withSecrets(fields map[string]any, secrets models.Secret) map[string]any {
	for path, v := range plugin.ParseSecrets(secrets.Plain) {
		fields["options."+path] = v
	}
	return fields
}

// DeleteAuthenticator removes an authenticator that no channel uses (409 otherwise).
func (s *Service) DeleteAuthenticator(ctx context.Context, id uint64) error {
	a, err := s.store.GetAuthenticator(ctx, id)
	if err != nil {
		return problem.StoreError("Authenticator", err)
	}
	ctx = access.Audit(ctx, "authenticator.delete", access.Target{Type: "authenticator", ID: id, Name: a.Name}, nil)
	if err := s.store.DeleteAuthenticator(ctx, id); err != nil {
		if errors.Is(err, models.ErrInUse) {
			return &problem.Error{Code: problem.CodeConflict, Err: err,
				Message: "The authenticator is used by a channel; delete those channels or point them at another authenticator first."}
		}
		return problem.StoreError("Authenticator", err)
	}
	s.log.InfoContext(ctx, "authenticator deleted", "id", id)
	return nil
}
