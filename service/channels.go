package service

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/problem"
)

var channelNameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

// ChannelInput is the body of a channel create or PATCH (options merge as a JSON merge patch).
type ChannelInput struct {
	Name            *string        `json:"name"`
	Title           *string        `json:"title"`
	Type            *string        `json:"type"`
	AuthenticatorID *uint64        `json:"authenticatorId"`
	Description     *string        `json:"description"`
	Options         map[string]any `json:"options"`
}

// Channel is a channel as the API shows it.
type Channel struct {
	ID              uint64         `json:"id"`
	Name            string         `json:"name"`
	Title           string         `json:"title"`
	Type            string         `json:"type"`
	AuthenticatorID uint64         `json:"authenticatorId"`
	Description     string         `json:"description"`
	Options         map[string]any `json:"options"`
	Timestamps
}

func (s *Service) channelView(c *models.Channel) Channel {
	opts := plugin.DecodeObject(c.Options)
	if t, ok := s.plugins.Channels[c.Type]; ok {
		plugin.MarkSecrets(opts, plugin.ParseSecrets(c.Secrets.Plain), t.SecretPaths())
	}
	return Channel{ID: c.ID, Name: c.Name, Title: c.Title, Type: c.Type, AuthenticatorID: c.AuthenticatorID,
		Description: c.Description, Options: opts,
		Timestamps: Timestamps{CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}}
}

// ChannelTypes are the channel types this server knows, app messages (wecom) first.
func (s *Service) ChannelTypes() []string {
	first := func(t string) int {
		if t == wecom.Type {
			return 0
		}
		return 1
	}
	return slices.SortedFunc(maps.Keys(s.plugins.Channels), func(a, b string) int {
		return cmp.Or(cmp.Compare(first(a), first(b)), strings.Compare(a, b))
	})
}

// ListChannels pages through channels; q matches name and title, authenticatorID filters.
func (s *Service) ListChannels(ctx context.Context, q string, authenticatorID uint64, p models.Page) (models.List[Channel], error) {
	items, total, err := s.store.ListChannels(ctx, models.ListFilter{Q: q, AuthenticatorID: authenticatorID}, p.Normalize())
	if err != nil {
		return models.List[Channel]{}, problem.StoreError("Channel", err)
	}
	return models.NewList(items, total, p, s.channelView), nil
}

// GetChannel reads one channel.
func (s *Service) GetChannel(ctx context.Context, id uint64) (Channel, error) {
	c, err := s.store.GetChannel(ctx, id)
	if err != nil {
		return Channel{}, problem.StoreError("Channel", err)
	}
	return s.channelView(c), nil
}

// CreateChannel validates and stores a new channel.
func (s *Service) CreateChannel(ctx context.Context, in ChannelInput) (Channel, error) {
	c := &models.Channel{Type: "wecom"}
	errs := problem.Fields{}
	if in.Name == nil {
		errs.Add("name", "is required")
	}
	return s.saveChannel(ctx, c, in, errs)
}

// UpdateChannel applies a partial update.
func (s *Service) UpdateChannel(ctx context.Context, id uint64, in ChannelInput) (Channel, error) {
	c, err := s.store.GetChannel(ctx, id)
	if err != nil {
		return Channel{}, problem.StoreError("Channel", err)
	}
	if in.Type != nil && *in.Type != c.Type {
		return Channel{}, problem.Invalidf("type", "cannot be changed; create a new channel instead")
	}
	return s.saveChannel(ctx, c, in, problem.Fields{})
}

func (s *Service) saveChannel(ctx context.Context, c *models.Channel, in ChannelInput, errs problem.Fields) (Channel, error) {
	next := *c
	if in.Name != nil {
		next.Name = *in.Name
		if !channelNameRe.MatchString(next.Name) {
			errs.Add("name", "must start with a letter, then letters, digits or '_', at most 64")
		}
	}
	if in.Title != nil {
		next.Title = *in.Title
	}
	if next.Title == "" {
		next.Title = next.Name
	}
	if utf8.RuneCountInString(next.Title) > 255 {
		errs.Add("title", "must be at most 255 characters")
	}
	if in.Description != nil {
		next.Description = *in.Description
	}
	if utf8.RuneCountInString(next.Description) > 2000 {
		errs.Add("description", "must be at most 2000 characters")
	}
	if in.Type != nil {
		next.Type = *in.Type
	}
	typ, ok := s.plugins.Channels[next.Type]
	if !ok {
		errs.Add("type", "must be one of the known types ("+strings.Join(s.ChannelTypes(), ", ")+")")
	}
	if in.AuthenticatorID != nil {
		next.AuthenticatorID = *in.AuthenticatorID
	}
	if ok {
		if err := s.checkChannelAuthenticator(ctx, typ, next.AuthenticatorID, errs); err != nil {
			return Channel{}, err
		}
		full := plugin.FullOptions(next.Options, c.Secrets.Plain)
		// A client that sends back what it read also sends the "…Set" flags; they are output only.
		plugin.DropSecretMarks(in.Options, typ.SecretPaths())
		mergePatch(full, in.Options)
		norm, ferrs := typ.Normalize(full)
		errs.AddAll("options", ferrs)
		if ferrs == nil {
			next.Secrets = models.NewSecret("")
			if secrets := plugin.SplitSecrets(norm, typ.SecretPaths()); len(secrets) > 0 {
				next.Secrets = models.NewSecret(encodeJSON(secrets))
			}
			next.Options = encodeJSON(norm)
		}
	}
	if len(errs) > 0 {
		return Channel{}, problem.Invalid(errs)
	}
	action, changes := "channel.create", access.Changes(nil, channelFields(&next))
	if next.ID != 0 {
		changes = access.Changes(channelFields(c), channelFields(&next))
		action = "channel.update"
	}
	ctx = access.Audit(ctx, action, access.Target{Type: "channel", ID: next.ID, Name: next.Name}, changes)
	if err := s.store.SaveChannel(ctx, &next); err != nil {
		if errors.Is(err, models.ErrNotFound) {
			// The authenticator was deleted between the check and the save.
			return Channel{}, problem.Invalidf("authenticatorId", "no authenticator has this id")
		}
		return Channel{}, problem.StoreError("A channel", err)
	}
	s.log.InfoContext(ctx, "channel saved", "channel", next.Name, "id", next.ID)
	return s.channelView(&next), nil
}

// checkChannelAuthenticator checks the authenticator a channel of typ names: one of the type's
// authenticator type, required or not as the type says (0 = none).
func (s *Service) checkChannelAuthenticator(ctx context.Context, typ plugin.ChannelType, id uint64, errs problem.Fields) error {
	want, required := typ.AuthenticatorType()
	if id == 0 {
		if required {
			errs.Add("authenticatorId", "is required")
		}
		return nil
	}
	a, err := s.store.GetAuthenticator(ctx, id)
	switch {
	case errors.Is(err, models.ErrNotFound):
		errs.Add("authenticatorId", "no authenticator has this id")
	case err != nil:
		return problem.StoreError("Authenticator", err)
	case a.Type != want:
		errs.Add("authenticatorId", "must be a "+want+" authenticator")
	}
	return nil
}

// channelFields is what an audit entry compares: secrets by path (compared, never shown).
func channelFields(c *models.Channel) map[string]any {
	return withSecrets(map[string]any{"name": c.Name, "title": c.Title, "description": c.Description, "type": c.Type,
		"authenticatorId": c.AuthenticatorID, "options": plugin.DecodeObject(c.Options)}, c.Secrets)
}

// DeleteChannel removes a channel.
func (s *Service) DeleteChannel(ctx context.Context, id uint64) error {
	c, err := s.store.GetChannel(ctx, id)
	if err != nil {
		return problem.StoreError("Channel", err)
	}
	ctx = access.Audit(ctx, "channel.delete", access.Target{Type: "channel", ID: id, Name: c.Name}, nil)
	if err := s.store.DeleteChannel(ctx, id); err != nil {
		return problem.StoreError("Channel", err)
	}
	s.log.InfoContext(ctx, "channel deleted", "id", id)
	return nil
}
