package service

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
)

// WeCom userids: letters, digits and _-.@, 1–64 bytes.
var wecomUserIDRe = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)

// User is a local user as the API shows it.
type User struct {
	ID       uint64            `json:"id"`
	UserID   string            `json:"userid"`
	Name     string            `json:"name"`
	Mobile   string            `json:"mobile"`
	Email    string            `json:"email"`
	Bindings map[string]string `json:"bindings"`
	Source   string            `json:"source"`
	Timestamps
}

func userView(u *models.User) User {
	b := map[string]string{}
	if u.WeChatWK != "" {
		b["wechatwk"] = u.WeChatWK
	}
	return User{ID: u.ID, UserID: u.UserID, Name: u.Name, Mobile: u.Mobile, Email: u.Email, Bindings: b,
		Source: u.Source, Timestamps: Timestamps{CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}}
}

// UserInput is the body of a single-user create or PATCH.
type UserInput struct {
	UserID   *string           `json:"userid"`
	Name     *string           `json:"name"`
	Mobile   *string           `json:"mobile"`
	Email    *string           `json:"email"`
	Bindings map[string]string `json:"bindings"`
}

// UserFilter narrows the user list.
type UserFilter struct {
	Q      string
	Source string
}

// UserSources are where a user came from (the list filter's choices).
func UserSources() []string {
	return []string{models.SourceManual, models.SourceImport, models.SourceSync}
}

// ListUsers pages through users; q matches userid, name and the WeCom binding.
func (s *Service) ListUsers(ctx context.Context, f UserFilter, p models.Page) (models.List[User], error) {
	if f.Source != "" && !slices.Contains(UserSources(), f.Source) {
		return models.List[User]{}, problem.Invalidf("source", "must be manual, import or sync")
	}
	items, total, err := s.store.ListUsers(ctx, models.ListFilter{Q: f.Q, Source: f.Source}, p.Normalize())
	if err != nil {
		return models.List[User]{}, problem.StoreError("User", err)
	}
	return models.NewList(items, total, p, userView), nil
}

// GetUser reads one user.
func (s *Service) GetUser(ctx context.Context, id uint64) (User, error) {
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return User{}, problem.StoreError("User", err)
	}
	return userView(u), nil
}

// CreateUser adds one user by hand.
func (s *Service) CreateUser(ctx context.Context, in UserInput) (User, error) {
	u := &models.User{Source: models.SourceManual}
	errs := problem.Fields{}
	if in.UserID == nil {
		errs.Add("userid", "is required")
	}
	if err := applyUser(u, in, errs); err != nil {
		return User{}, err
	}
	ctx = access.Audit(ctx, "user.create", access.Target{Type: "user", Name: u.UserID}, access.Changes(nil, userFields(u)))
	if err := s.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, models.ErrDuplicate) {
			return User{}, &problem.Error{Code: problem.CodeConflict, Message: "A user with that userid already exists.", Err: err}
		}
		return User{}, problem.StoreError("User", err)
	}
	return userView(u), nil
}

// UpdateUser applies a partial update; the user becomes manually managed.
func (s *Service) UpdateUser(ctx context.Context, id uint64, in UserInput) (User, error) {
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return User{}, problem.StoreError("User", err)
	}
	before := userFields(u)
	if err := applyUser(u, in, problem.Fields{}); err != nil {
		return User{}, err
	}
	u.Source = models.SourceManual
	ctx = access.Audit(ctx, "user.update", access.Target{Type: "user", ID: u.ID, Name: u.UserID}, access.Changes(before, userFields(u)))
	if err := s.store.UpdateUser(ctx, u); err != nil {
		if errors.Is(err, models.ErrDuplicate) {
			return User{}, &problem.Error{Code: problem.CodeConflict, Message: "A user with that userid already exists.", Err: err}
		}
		return User{}, problem.StoreError("User", err)
	}
	return userView(u), nil
}

func applyUser(u *models.User, in UserInput, errs problem.Fields) error {
	ch := models.UserChange{UserID: u.UserID, Name: in.Name, Mobile: in.Mobile, Email: in.Email}
	if in.UserID != nil {
		ch.UserID = *in.UserID
	}
	for k, v := range in.Bindings {
		if k != "wechatwk" {
			errs.Add("bindings."+k, "unknown binding (known: wechatwk)")
			continue
		}
		ch.WeChatWK = &v
	}
	validateUserChange(ch, userAPIPaths, errs)
	if len(errs) > 0 {
		return problem.Invalid(errs)
	}
	u.UserID = ch.UserID
	setIf(&u.Name, ch.Name)
	setIf(&u.Mobile, ch.Mobile)
	setIf(&u.Email, ch.Email)
	setIf(&u.WeChatWK, ch.WeChatWK)
	return nil
}

func setIf(dst, v *string) {
	if v != nil {
		*dst = *v
	}
}

// Field paths of the user fields, as each way of writing users names them.
var (
	userAPIPaths    = map[string]string{"wechatwk": "bindings.wechatwk"}
	userBulkPaths   = map[string]string{"name": "set.name", "mobile": "set.mobile", "email": "set.email", "wechatwk": "set.wechatwk"}
	userImportPaths = map[string]string{"wechatwk": "wechatwk_userid"}
)

// validateUserChange checks one user's fields; paths renames fields for the caller's shape.
func validateUserChange(c models.UserChange, paths map[string]string, errs problem.Fields) {
	path := func(field string) string {
		if p, ok := paths[field]; ok {
			return p
		}
		return field
	}
	switch {
	case c.UserID == "":
		errs.Add(path("userid"), "is required")
	case !utf8.ValidString(c.UserID):
		errs.Add(path("userid"), "is not valid UTF-8 text")
	case strings.IndexFunc(c.UserID, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) >= 0:
		errs.Add(path("userid"), "must not contain control or invisible formatting characters")
	case utf8.RuneCountInString(c.UserID) > 128 || strings.IndexFunc(c.UserID, unicode.IsSpace) >= 0:
		errs.Add(path("userid"), "must be at most 128 characters without spaces")
	}
	checkLen := func(field string, v *string, max int) {
		switch {
		case v == nil:
		case !utf8.ValidString(*v):
			errs.Add(path(field), "is not valid UTF-8 text")
		case strings.IndexFunc(*v, hiddenInText) >= 0:
			errs.Add(path(field), "must not contain control characters or direction overrides")
		case utf8.RuneCountInString(*v) > max:
			errs.Add(path(field), "must be at most "+strconv.Itoa(max)+" characters")
		}
	}
	checkLen("name", c.Name, 255)
	checkLen("mobile", c.Mobile, 64)
	checkLen("email", c.Email, 255)
	if c.Email != nil && *c.Email != "" && !strings.Contains(*c.Email, "@") {
		errs.Add(path("email"), "must be an email address")
	}
	if c.WeChatWK != nil && *c.WeChatWK != "" && !wecomUserIDRe.MatchString(*c.WeChatWK) {
		errs.Add(path("wechatwk"), "must be a WeCom userid: 1–64 letters, digits or _-.@")
	}
}

// hiddenInText is a character that does not belong in a name, mobile or email: a control character
// (NUL, escapes, DEL) or a direction mark or override, which makes text read other than it is
// (U+202E turns "gpj.exe" into "exe.jpg"). Joiners and other formatting marks stay: names use them.
func hiddenInText(r rune) bool {
	switch {
	case unicode.IsControl(r), r == '\u061c', r == '\u200e', r == '\u200f', r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// userFields is what an audit entry compares.
func userFields(u *models.User) map[string]any {
	return map[string]any{"userid": u.UserID, "name": u.Name, "mobile": u.Mobile, "email": u.Email,
		"bindings": map[string]any{"wechatwk": u.WeChatWK}}
}

// DeleteUser removes a user.
func (s *Service) DeleteUser(ctx context.Context, id uint64) error {
	u, err := s.store.GetUser(ctx, id)
	if err != nil {
		return problem.StoreError("User", err)
	}
	ctx = access.Audit(ctx, "user.delete", access.Target{Type: "user", ID: id, Name: u.UserID}, nil)
	return problem.StoreError("User", s.store.DeleteUser(ctx, id))
}
