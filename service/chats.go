package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wecomflow/wecomflow/access"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/problem"
)

// WeCom's bounds of an app group chat (pages 90245, 90246): a name of at most 50 characters
// (WeCom would cut a longer one silently), 2 to 2000 members, chatids of [0-9A-Za-z]{1,32}.
const (
	chatNameMax    = 50
	chatMembersMin = 2
	chatMembersMax = 2000
)

// ChatInput is the body of a chat create: people as local userids (resolved to their wechatwk
// binding) or as WeCom userids.
type ChatInput struct {
	Name       string   `json:"name"`
	Owner      string   `json:"owner"`
	Users      []string `json:"users"`
	WeComOwner string   `json:"wecomOwner"`
	WeComUsers []string `json:"wecomUsers"`
	ChatID     string   `json:"chatid"`
}

// ChatChangeInput is the body of a chat PATCH; what is absent stays as it is.
type ChatChangeInput struct {
	Name          *string  `json:"name"`
	Owner         string   `json:"owner"`
	AddUsers      []string `json:"addUsers"`
	DelUsers      []string `json:"delUsers"`
	WeComOwner    string   `json:"wecomOwner"`
	WeComAddUsers []string `json:"wecomAddUsers"`
	WeComDelUsers []string `json:"wecomDelUsers"`
}

// Chat is an app group chat as the API shows it: owner and users as WeCom userids.
type Chat struct {
	ChatID string   `json:"chatid"`
	Name   string   `json:"name"`
	Owner  string   `json:"owner"`
	Users  []string `json:"users"`
	Timestamps
}

func chatView(c *models.Chat) Chat {
	return Chat{ChatID: c.ChatID, Name: c.Name, Owner: c.Owner, Users: slices.Clone(c.Users),
		Timestamps: Timestamps{CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}}
}

// chatFields is what an audit entry of a chat compares.
func chatFields(c *models.Chat) map[string]any {
	return map[string]any{"chatid": c.ChatID, "name": c.Name, "owner": c.Owner, "users": strings.Join(c.Users, "|")}
}

// chatClient is the WeCom client of a channel that has chats: an app (wecom) channel only, in
// the caller's channel scope (a chat is an audience of that channel).
func (s *Service) chatClient(ctx context.Context, channelID uint64) (*models.Channel, *wecom.Client, error) {
	ch, err := s.store.GetChannel(ctx, channelID)
	if err != nil {
		return nil, nil, problem.StoreError("Channel", err)
	}
	if ch.Type != wecom.Type {
		return nil, nil, problem.Errorf(problem.CodeNotFound,
			"Channel %q is a %s channel: app group chats exist only on wecom (app) channels.", ch.Name, ch.Type)
	}
	if err := access.ChannelAllowed(ctx, ch.Name); err != nil {
		return nil, nil, err
	}
	app, _, err := s.apps.App(ctx, ch.AuthenticatorID)
	if err != nil {
		return nil, nil, err
	}
	return ch, s.clients.Client(app), nil
}

// ListChats pages through the chats a channel created (WeCom cannot list them).
func (s *Service) ListChats(ctx context.Context, channelID uint64, p models.Page) (models.List[Chat], error) {
	if _, _, err := s.chatClient(ctx, channelID); err != nil {
		return models.List[Chat]{}, err
	}
	items, total, err := s.store.ListChats(ctx, channelID, p.Normalize())
	if err != nil {
		return models.List[Chat]{}, problem.StoreError("Chat", err)
	}
	return models.NewList(items, total, p, chatView), nil
}

// CreateChat checks the input, creates the chat with appchat/create and records it.
func (s *Service) CreateChat(ctx context.Context, channelID uint64, in ChatInput) (Chat, error) {
	ch, client, err := s.chatClient(ctx, channelID)
	if err != nil {
		return Chat{}, err
	}
	errs := problem.Fields{}
	if utf8.RuneCountInString(in.Name) > chatNameMax {
		errs.Add("name", fmt.Sprintf("must be at most %d characters", chatNameMax))
	}
	if in.ChatID != "" && !wecom.ValidChatID(in.ChatID) {
		errs.Add("chatid", "must be 1 to 32 letters or digits")
	}
	users, err := s.chatPeople(ctx, "users", in.Users, "wecomUsers", in.WeComUsers, errs)
	if err != nil {
		return Chat{}, err
	}
	owner, err := s.chatOwner(ctx, in.Owner, in.WeComOwner, errs)
	if err != nil {
		return Chat{}, err
	}
	switch {
	case len(users) < chatMembersMin || len(users) > chatMembersMax:
		if errs["users"] == "" {
			errs.Add("users", fmt.Sprintf("must name %d to %d different people (with wecomUsers)", chatMembersMin, chatMembersMax))
		}
	case owner == "":
		// WeCom would pick a member at random; the first one is predictable.
		owner = users[0]
	case !containsFold(users, owner):
		errs.Add(ownerField(in.Owner), "must be one of the chat's users")
	}
	if len(errs) > 0 {
		return Chat{}, problem.Invalid(errs)
	}
	if in.ChatID != "" {
		if _, err := s.store.GetChat(ctx, channelID, in.ChatID); err == nil {
			return Chat{}, problem.Errorf(problem.CodeConflict, "This channel already has a chat with the chatid %q.", in.ChatID)
		}
	}
	id, err := client.CreateChat(ctx, wecom.Chat{ChatID: in.ChatID, Name: in.Name, Owner: owner, Users: users})
	if err != nil {
		return Chat{}, chatError(err, in.ChatID)
	}
	c := &models.Chat{ChannelID: channelID, ChatID: id, Name: in.Name, Owner: owner, Users: users}
	ctx = access.Audit(ctx, "chat.create", access.Target{Type: "chat", Name: ch.Name + "/" + id}, access.Changes(nil, chatFields(c)))
	if err := s.store.SaveChat(ctx, c); err != nil {
		return Chat{}, problem.StoreError("A chat", err)
	}
	s.log.InfoContext(ctx, "chat created", "channel", ch.Name, "chatid", id)
	return chatView(c), nil
}

// CreateChatOn is CreateChat on the channel of that name (a workflow's chat node).
func (s *Service) CreateChatOn(ctx context.Context, channel string, in ChatInput) (Chat, error) {
	ch, err := s.store.GetChannelByName(ctx, channel)
	if err != nil {
		return Chat{}, problem.StoreError("Channel "+channel, err)
	}
	return s.CreateChat(ctx, ch.ID, in)
}

// GetChat reads a chat the channel created, as WeCom holds it now (appchat/get); the record
// follows what WeCom answers.
func (s *Service) GetChat(ctx context.Context, channelID uint64, chatID string) (Chat, error) {
	_, client, err := s.chatClient(ctx, channelID)
	if err != nil {
		return Chat{}, err
	}
	c, err := s.store.GetChat(ctx, channelID, chatID)
	if err != nil {
		return Chat{}, problem.StoreError("Chat", err)
	}
	got, err := client.GetChat(ctx, chatID)
	if err != nil {
		return Chat{}, chatError(err, chatID)
	}
	if got.Name != c.Name || got.Owner != c.Owner || !slices.Equal(got.Users, c.Users) {
		c.Name, c.Owner, c.Users = got.Name, got.Owner, got.Users
		// A refresh is not a change anyone made: no audit entry.
		if err := s.store.SaveChat(ctx, c); err != nil {
			return Chat{}, problem.StoreError("Chat", err)
		}
	}
	return chatView(c), nil
}

// UpdateChat renames a chat, hands it to another owner, adds and removes members
// (appchat/update).
func (s *Service) UpdateChat(ctx context.Context, channelID uint64, chatID string, in ChatChangeInput) (Chat, error) {
	ch, client, err := s.chatClient(ctx, channelID)
	if err != nil {
		return Chat{}, err
	}
	c, err := s.store.GetChat(ctx, channelID, chatID)
	if err != nil {
		return Chat{}, problem.StoreError("Chat", err)
	}
	errs := problem.Fields{}
	next := *c
	if in.Name != nil {
		next.Name = *in.Name
		if utf8.RuneCountInString(next.Name) > chatNameMax {
			errs.Add("name", fmt.Sprintf("must be at most %d characters", chatNameMax))
		}
	}
	add, err := s.chatPeople(ctx, "addUsers", in.AddUsers, "wecomAddUsers", in.WeComAddUsers, errs)
	if err != nil {
		return Chat{}, err
	}
	del, err := s.chatPeople(ctx, "delUsers", in.DelUsers, "wecomDelUsers", in.WeComDelUsers, errs)
	if err != nil {
		return Chat{}, err
	}
	owner, err := s.chatOwner(ctx, in.Owner, in.WeComOwner, errs)
	if err != nil {
		return Chat{}, err
	}
	next.Users = slices.Clone(c.Users)
	for _, u := range add {
		if !containsFold(next.Users, u) {
			next.Users = append(next.Users, u)
		}
	}
	for _, u := range del {
		if !containsFold(next.Users, u) {
			errs.Add(delField(in.DelUsers), u+" is not a member of the chat")
		}
		next.Users = slices.DeleteFunc(next.Users, func(m string) bool { return strings.EqualFold(m, u) })
	}
	if owner != "" {
		next.Owner = owner
	}
	switch {
	case len(next.Users) > chatMembersMax:
		errs.Add("addUsers", fmt.Sprintf("would make more than %d members", chatMembersMax))
	case !containsFold(next.Users, next.Owner):
		errs.Add(ownerField(in.Owner), "must be a member of the chat after the change (name a new owner before removing this one)")
	}
	if len(errs) > 0 {
		return Chat{}, problem.Invalid(errs)
	}
	changes := access.Changes(chatFields(c), chatFields(&next))
	if len(changes) == 0 {
		return chatView(c), nil
	}
	change := wecom.ChatChange{ChatID: chatID, AddUsers: add, DelUsers: del}
	if next.Name != c.Name {
		change.Name = &next.Name
	}
	if next.Owner != c.Owner {
		change.Owner = next.Owner
	}
	if err := client.UpdateChat(ctx, change); err != nil {
		return Chat{}, chatError(err, chatID)
	}
	ctx = access.Audit(ctx, "chat.update", access.Target{Type: "chat", ID: c.ID, Name: ch.Name + "/" + chatID}, changes)
	if err := s.store.SaveChat(ctx, &next); err != nil {
		return Chat{}, problem.StoreError("Chat", err)
	}
	s.log.InfoContext(ctx, "chat updated", "channel", ch.Name, "chatid", chatID)
	return chatView(&next), nil
}

// chatPeople resolves local userids (field local) to their WeCom userids and adds the WeCom
// userids given as such (field wecom), each person once. A local user without a wechatwk binding
// is a field error: a chat member must be someone WeCom knows.
func (s *Service) chatPeople(ctx context.Context, local string, userids []string, wecomField string, wecomIDs []string, errs problem.Fields) ([]string, error) {
	bound, err := s.store.WeComIDs(ctx, userids)
	if err != nil {
		return nil, problem.StoreError("User", err)
	}
	var out []string
	for i, u := range userids {
		id, ok := bound[u]
		if !ok {
			errs.Add(fmt.Sprintf("%s[%d]", local, i), "no local user "+u+" with a wechatwk binding")
			continue
		}
		if !containsFold(out, id) {
			out = append(out, id)
		}
	}
	for i, id := range wecomIDs {
		if strings.TrimSpace(id) == "" {
			errs.Add(fmt.Sprintf("%s[%d]", wecomField, i), "must not be empty")
			continue
		}
		if !containsFold(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// chatOwner resolves the owner given as a local userid or as a WeCom userid ("" when neither).
func (s *Service) chatOwner(ctx context.Context, owner, wecomOwner string, errs problem.Fields) (string, error) {
	switch {
	case owner != "" && wecomOwner != "":
		errs.Add("owner", "give owner or wecomOwner, not both")
		return "", nil
	case owner == "":
		return wecomOwner, nil
	}
	bound, err := s.store.WeComIDs(ctx, []string{owner})
	if err != nil {
		return "", problem.StoreError("User", err)
	}
	id, ok := bound[owner]
	if !ok {
		errs.Add("owner", "no local user "+owner+" with a wechatwk binding")
	}
	return id, nil
}

func ownerField(owner string) string {
	if owner != "" {
		return "owner"
	}
	return "wecomOwner"
}

func delField(delUsers []string) string {
	if len(delUsers) > 0 {
		return "delUsers"
	}
	return "wecomDelUsers"
}

// containsFold reports whether xs holds x, ignoring case as WeCom userids do.
func containsFold(xs []string, x string) bool {
	return slices.ContainsFunc(xs, func(v string) bool { return strings.EqualFold(v, x) })
}

// chatError turns WeCom's answer to an appchat call into the user's error: its errcodes name the
// field at fault (page 90313).
func chatError(err error, chatID string) error {
	var ae *wecom.APIError
	if !errors.As(err, &ae) {
		return wecomFailure(err)
	}
	reason := wecom.Reason(err)
	field := map[int64]string{86001: "chatid", 86005: "owner", 86006: "users", 86007: "users", 86207: "owner", 86216: "delUsers"}[ae.Code]
	switch {
	case field != "":
		return &problem.Error{Code: problem.CodeValidation, Message: reason, Fields: problem.Fields{field: reason}, Err: err}
	case ae.Code == 86215:
		return &problem.Error{Code: problem.CodeConflict, Message: fmt.Sprintf("The chatid %q is taken in this corp. %s", chatID, reason), Err: err}
	case ae.Code == 86003 || ae.Code == 86008:
		return &problem.Error{Code: problem.CodeNotFound, Message: fmt.Sprintf("WeCom has no chat %q made by this channel's app. %s", chatID, reason), Err: err}
	default:
		return wecomFailure(err)
	}
}

// wecomFailure is the user's error for a WeCom call made while they wait, with WeCom's reason:
// 429 for its rate limit (45009), 409 for another refusal, 500 when WeCom could not be reached.
func wecomFailure(err error) error {
	reason := wecom.Reason(err)
	var ae *wecom.APIError
	switch {
	case !errors.As(err, &ae):
		return &problem.Error{Code: problem.CodeInternal, Message: reason, Err: err}
	case ae.Code == 45009:
		return &problem.Error{Code: problem.CodeRateLimited, Message: reason, RetryAfter: time.Minute, Err: err}
	default:
		return &problem.Error{Code: problem.CodeConflict, Message: "WeCom refused: " + reason, Err: err}
	}
}
