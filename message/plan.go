package message

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/oklog/ulid/v2"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
)

// planRequests resolves the recipients and splits them into WeCom-sized requests, due now.
func (s *Service) planRequests(ctx context.Context, p *parsedSend, in Request) (*models.Message, []models.MessageRequest, error) {
	now := s.store.Now()
	opts, _ := json.Marshal(p.opts)
	warnings, _ := json.Marshal(nonNil(p.warnings))
	m := &models.Message{ID: ulid.Make().String(), ChannelID: p.channel.ID, Channel: p.channel.Name, ChannelType: p.channel.Type,
		AuthenticatorID: p.channel.AuthenticatorID, MsgType: p.msgtype, Template: p.template, Body: string(p.body), SendOptions: string(opts), Linked: p.to.Linked != nil,
		ReplaceName: p.replaceName, Status: models.MessageQueued, TriggerFrom: in.TriggerFrom, ExecutionID: in.ExecutionID, IdempotencyKey: p.idemKey,
		Invalid: "[]", Unlicensed: "[]", Warnings: string(warnings), CreatedAt: now, UpdatedAt: now}
	if p.msg == nil {
		// A composed send (a robot's) is one request to the channel's own audience.
		m.Requested, m.Resolved = composedRecipients(p)
		ub, _ := json.Marshal(nonNil(p.unbound))
		m.Unbound = string(ub)
		return m, []models.MessageRequest{{Status: models.RequestPending, NotBefore: now}}, nil
	}
	contacts, err := s.resolveContacts(ctx, p.channel, p.to)
	if err != nil {
		return nil, nil, err
	}
	leaders, err := s.resolveLeaders(ctx, p.channel, p.to.LeadersOf)
	if err != nil {
		return nil, nil, err
	}
	contacts.add(leaders)
	if len(contacts.warnings) > 0 {
		w, _ := json.Marshal(slices.Concat(p.warnings, contacts.warnings))
		m.Warnings = string(w)
	}
	m.TaskID = p.msg.TaskID()
	users := dedupeStrings(append(p.to.WeComUsers, contacts.userids...))
	var unbound []string
	if len(p.to.Users) > 0 {
		ids, err := s.store.WeComIDs(ctx, dedupeStrings(p.to.Users))
		if err != nil {
			return nil, nil, problem.StoreError("User", err)
		}
		for _, u := range dedupeStrings(p.to.Users) {
			if w, ok := ids[u]; ok {
				users = append(users, w)
			} else {
				unbound = append(unbound, u)
			}
		}
		users = dedupeStrings(users)
	}
	unbound = append(unbound, contacts.unbound...)
	parties, tags := dedupeStrings(p.to.Departments), dedupeStrings(p.to.Tags)
	if p.to.Linked != nil {
		users = dedupeStrings(append(users, p.to.Linked.Users...))
		parties = dedupeStrings(append(parties, p.to.Linked.Departments...))
	}
	m.Requested = len(dedupeStrings(p.to.Users)) + len(dedupeStrings(p.to.WeComUsers)) + contacts.requested
	if p.to.Linked != nil {
		m.Requested += len(dedupeStrings(p.to.Linked.Users))
	}
	m.Resolved = len(users)
	ub, _ := json.Marshal(nonNil(unbound))
	m.Unbound = string(ub)
	var reqs []models.MessageRequest
	if p.to.All {
		reqs = append(reqs, models.MessageRequest{Seq: 0, ToAll: true, Status: models.RequestPending, NotBefore: now})
	}
	for i := 0; i*maxUsersPerRequest < len(users) || i*maxPartiesPerRequest < len(parties) || i*maxTagsPerRequest < len(tags); i++ {
		reqs = append(reqs, models.MessageRequest{Seq: i, Status: models.RequestPending, NotBefore: now,
			ToUser:  strings.Join(chunk(users, i, maxUsersPerRequest), "|"),
			ToParty: strings.Join(chunk(parties, i, maxPartiesPerRequest), "|"),
			ToTag:   strings.Join(chunk(tags, i, maxTagsPerRequest), "|")})
	}
	// A chat's members are WeCom's business: each chat is one appchat/send.
	for _, id := range dedupeStrings(p.to.Chats) {
		reqs = append(reqs, models.MessageRequest{Seq: len(reqs), ChatID: id, Status: models.RequestPending, NotBefore: now})
	}
	if len(reqs) == 0 {
		m.Status = models.MessageFailed
		m.Reason = "No recipient could be resolved: " + strings.Join(unbound, ", ") + " have no WeCom binding (wechatwk) or are unknown to WeCom."
		if len(contacts.warnings) > 0 {
			m.Reason += " " + strings.Join(contacts.warnings, " ")
		}
	}
	return m, reqs, nil
}

func chunk(ids []string, i, size int) []string {
	if i*size >= len(ids) {
		return nil
	}
	return ids[i*size : min((i+1)*size, len(ids))]
}

// dedupeStrings keeps the first of each value, in order.
func dedupeStrings(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}
