package service

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
)

// Account is a person who uses wecomflow, as the API shows it.
type Account struct {
	ID          uint64        `json:"id"`
	Name        string        `json:"name"`
	Role        string        `json:"role"`
	Enabled     bool          `json:"enabled"`
	WeCom       *AccountWeCom `json:"wecom"`
	LastLoginAt *time.Time    `json:"lastLoginAt"`
	Timestamps
}

// AccountWeCom links an account to a member of an authenticator's corp: that member signs in as it.
type AccountWeCom struct {
	AuthenticatorID uint64 `json:"authenticatorId"`
	UserID          string `json:"userid"`
}

// AccountInput is the body of a create or PATCH: absent fields stay as they are (a create needs
// name and role); "wecom": null unlinks.
type AccountInput struct {
	Name    *string `json:"name"`
	Role    *string `json:"role"`
	Enabled *bool   `json:"enabled"`
	// WeCom is set when the body names "wecom" at all; Link is then its value (nil: unlink).
	WeCom *AccountLink `json:"-"`
}

// AccountLink is the "wecom" of an AccountInput.
type AccountLink struct{ Link *AccountWeCom }

// UnmarshalJSON tells an absent "wecom" (keep the link) from "wecom": null (unlink).
func (in *AccountInput) UnmarshalJSON(b []byte) error {
	type fields AccountInput
	var raw struct {
		fields
		WeCom json.RawMessage `json:"wecom"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*in = AccountInput(raw.fields)
	if raw.WeCom != nil {
		in.WeCom = &AccountLink{}
		if string(raw.WeCom) != "null" {
			if err := json.Unmarshal(raw.WeCom, &in.WeCom.Link); err != nil {
				return err
			}
		}
	}
	return nil
}

// Me is GET /accounts/me: the caller's account, or the token that acts without one.
type Me struct {
	*Account
	Token *MeToken `json:"token,omitempty"`
}

// MeToken is the bootstrap token (or another owner-less token) as /accounts/me shows it.
type MeToken struct {
	ID   uint64 `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

// AccountFilter narrows the account list.
type AccountFilter struct {
	Q    string
	Role string
}

func accountView(a *models.Account) Account {
	v := Account{ID: a.ID, Name: a.Name, Role: a.Role, Enabled: a.Enabled, LastLoginAt: a.LastLoginAt,
		Timestamps: Timestamps{CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}}
	if a.AuthenticatorID != nil && a.WeComUserID != nil {
		v.WeCom = &AccountWeCom{AuthenticatorID: *a.AuthenticatorID, UserID: *a.WeComUserID}
	}
	return v
}

// accountPrincipal is who a session of an account acts as.
func accountPrincipal(a *models.Account) access.Principal {
	return access.Principal{Kind: access.KindAccount, ID: a.ID, Name: a.Name, Role: access.Role(a.Role), AccountID: a.ID}
}

// ListAccounts pages through accounts; q matches the name and the linked userid.
func (s *Service) ListAccounts(ctx context.Context, f AccountFilter, p models.Page) (models.List[Account], error) {
	if f.Role != "" && !access.Role(f.Role).Valid() {
		return models.List[Account]{}, problem.Invalidf("role", "must be admin, designer, operator or viewer")
	}
	items, total, err := s.store.ListAccounts(ctx, models.AccountFilter{Q: f.Q, Role: f.Role}, p.Normalize())
	if err != nil {
		return models.List[Account]{}, problem.StoreError("Account", err)
	}
	return models.NewList(items, total, p, accountView), nil
}

// GetAccount reads one account.
func (s *Service) GetAccount(ctx context.Context, id uint64) (Account, error) {
	a, err := s.store.GetAccount(ctx, id)
	if err != nil {
		return Account{}, problem.StoreError("Account", err)
	}
	return accountView(a), nil
}

// Me answers who the caller is.
func (s *Service) Me(ctx context.Context) (Me, error) {
	p := access.From(ctx)
	if p.AccountID == 0 {
		return Me{Token: &MeToken{ID: p.ID, Name: p.Name, Role: string(p.Role)}}, nil
	}
	a, err := s.GetAccount(ctx, p.AccountID)
	if err != nil {
		return Me{}, err
	}
	// A token acts with its own role, which may be below its account's.
	a.Role = string(p.Role)
	return Me{Account: &a}, nil
}

// CreateAccount adds an account.
func (s *Service) CreateAccount(ctx context.Context, in AccountInput) (Account, error) {
	a := &models.Account{Enabled: true}
	errs := problem.Fields{}
	if in.Name == nil {
		errs.Add("name", "is required")
	}
	if in.Role == nil {
		errs.Add("role", "is required: admin, designer, operator or viewer")
	}
	changes, err := s.applyAccount(ctx, a, in, errs)
	if err != nil {
		return Account{}, err
	}
	ctx = access.Audit(ctx, "account.create", access.Target{Type: "account", Name: a.Name}, changes)
	if err := s.store.CreateAccount(ctx, a); err != nil {
		return Account{}, accountStoreError(err)
	}
	return accountView(a), nil
}

// UpdateAccount changes an account. Disabling it ends its sessions and tokens; the last enabled
// admin cannot be demoted or disabled while no bootstrap token exists (409).
func (s *Service) UpdateAccount(ctx context.Context, id uint64, in AccountInput) (Account, error) {
	a, err := s.store.GetAccount(ctx, id)
	if err != nil {
		return Account{}, problem.StoreError("Account", err)
	}
	changes, err := s.applyAccount(ctx, a, in, problem.Fields{})
	if err != nil {
		return Account{}, err
	}
	ctx = access.Audit(ctx, access.Action("account", changes, a.Enabled), access.Target{Type: "account", ID: a.ID, Name: a.Name}, changes)
	if err := s.store.UpdateAccount(ctx, a); err != nil {
		return Account{}, accountStoreError(err)
	}
	return accountView(a), nil
}

// DeleteAccount removes an account with its sessions and tokens, unless it is the last admin.
func (s *Service) DeleteAccount(ctx context.Context, id uint64) error {
	a, err := s.store.GetAccount(ctx, id)
	if err != nil {
		return problem.StoreError("Account", err)
	}
	ctx = access.Audit(ctx, "account.delete", access.Target{Type: "account", ID: id, Name: a.Name}, nil)
	return accountStoreError(s.store.DeleteAccount(ctx, id))
}

func accountStoreError(err error) error {
	switch {
	case errors.Is(err, models.ErrLastAdmin):
		return &problem.Error{Code: problem.CodeConflict, Message: "This is the last enabled admin account and no bootstrap token exists: " +
			"make another account admin first, or nobody could administer the server.", Err: err}
	case errors.Is(err, models.ErrDuplicate):
		return &problem.Error{Code: problem.CodeConflict, Message: "Another account is already linked to that WeCom member.",
			Fields: problem.Fields{"wecom.userid": "is linked to another account"}, Err: err}
	}
	return problem.StoreError("Account", err)
}

// applyAccount validates in and applies it to a, returning the paths it changed.
func (s *Service) applyAccount(ctx context.Context, a *models.Account, in AccountInput, errs problem.Fields) ([]string, error) {
	var changes []string
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if msg := accountNameProblem(name); msg != "" {
			errs.Add("name", msg)
		} else if name != a.Name {
			a.Name = name
			changes = append(changes, "name")
		}
	}
	if in.Role != nil {
		if !access.Role(*in.Role).Valid() {
			errs.Add("role", "must be admin, designer, operator or viewer")
		} else if *in.Role != a.Role {
			a.Role = *in.Role
			changes = append(changes, "role")
		}
	}
	if in.Enabled != nil && *in.Enabled != a.Enabled {
		a.Enabled = *in.Enabled
		changes = append(changes, "enabled")
	}
	if in.WeCom != nil {
		changed, err := s.applyAccountLink(ctx, a, in.WeCom.Link, errs)
		if err != nil {
			return nil, err
		}
		if changed {
			changes = append(changes, "wecom")
		}
	}
	if len(errs) > 0 {
		return nil, problem.Invalid(errs)
	}
	return changes, nil
}

// accountNameProblem says what is wrong with an account's (trimmed) name, or "".
func accountNameProblem(name string) string {
	switch {
	case name == "" || utf8.RuneCountInString(name) > 64:
		return "is required, at most 64 characters"
	case !utf8.ValidString(name) || strings.IndexFunc(name, hiddenInText) >= 0:
		return "must not contain control characters or direction overrides"
	}
	return ""
}

// applyAccountLink links a to a member of an authenticator's corp (or unlinks it): the
// authenticator must exist; the userid must look like one (the member need not be synced yet).
func (s *Service) applyAccountLink(ctx context.Context, a *models.Account, link *AccountWeCom, errs problem.Fields) (bool, error) {
	if link == nil {
		changed := a.AuthenticatorID != nil
		a.AuthenticatorID, a.WeComUserID = nil, nil
		return changed, nil
	}
	if _, err := s.store.GetAuthenticator(ctx, link.AuthenticatorID); errors.Is(err, models.ErrNotFound) {
		errs.Add("wecom.authenticatorId", "there is no such authenticator")
	} else if err != nil {
		return false, problem.StoreError("Authenticator", err)
	}
	if !wecomUserIDRe.MatchString(link.UserID) {
		errs.Add("wecom.userid", "must be a WeCom userid: 1–64 letters, digits or _-.@")
	}
	if len(errs) > 0 {
		return false, nil
	}
	changed := a.AuthenticatorID == nil || *a.AuthenticatorID != link.AuthenticatorID || *a.WeComUserID != link.UserID
	auth, userid := link.AuthenticatorID, link.UserID
	a.AuthenticatorID, a.WeComUserID = &auth, &userid
	return changed, nil
}
