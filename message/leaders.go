package message

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
)

// resolveLeaders turns to.leadersOf (local userids) into the WeCom userids of the leaders of each
// person's own departments, as the synced directory of the channel's authenticator has them:
// person → wechatwk binding → member → departments → members leading them. Parent departments
// are not climbed: the leader of the person's own team is who knows the matter. A person who
// leads one of their departments is not sent their own escalation, but still reaches the other
// leaders. Whoever yields nobody is unbound as "leadersOf:<userid>", and a warning says why.
func (s *Service) resolveLeaders(ctx context.Context, ch *models.Channel, people []string) (contactsResolved, error) {
	people = dedupeStrings(people)
	r := contactsResolved{requested: len(people)}
	if len(people) == 0 {
		return r, nil
	}
	bindings, err := s.store.WeComIDs(ctx, people)
	if err != nil {
		return r, problem.StoreError("User", err)
	}
	wecomIDs := make([]string, 0, len(bindings))
	for _, id := range bindings {
		wecomIDs = append(wecomIDs, id)
	}
	members, err := s.store.MembersByUserID(ctx, ch.AuthenticatorID, dedupeStrings(wecomIDs))
	if err != nil {
		return r, problem.StoreError("Member", err)
	}
	var depts []int64
	for _, m := range members {
		depts = append(depts, models.DecodeDepartments(m.Departments)...)
	}
	slices.Sort(depts)
	leaders, err := s.store.DepartmentLeaders(ctx, ch.AuthenticatorID, slices.Compact(depts))
	if err != nil {
		return r, problem.StoreError("Member", err)
	}
	var unbound, absent, leaderless []string
	for _, p := range people {
		id, bound := bindings[p]
		m, known := members[id]
		var found []string
		for _, d := range models.DecodeDepartments(m.Departments) {
			for _, l := range leaders[d] {
				if l != id {
					found = append(found, l)
				}
			}
		}
		switch {
		case !bound:
			unbound = append(unbound, p)
		case !known:
			absent = append(absent, p)
		case len(found) == 0:
			leaderless = append(leaderless, p)
		default:
			r.userids = append(r.userids, found...)
			continue
		}
		r.unbound = append(r.unbound, "leadersOf:"+p)
	}
	r.userids = dedupeStrings(r.userids)
	for _, w := range []struct {
		who    []string
		format string
	}{
		{unbound, "to.leadersOf: %s are unknown or have no WeCom binding (wechatwk)."},
		{absent, "to.leadersOf: %s are not in the synced directory of the channel's authenticator."},
		{leaderless, "to.leadersOf: %s have no department leader in the synced directory besides themselves."},
	} {
		if len(w.who) > 0 {
			r.warnings = append(r.warnings, fmt.Sprintf(w.format, strings.Join(w.who, ", ")))
		}
	}
	return r, nil
}

// add takes in what another selector resolved.
func (r *contactsResolved) add(o contactsResolved) {
	r.requested += o.requested
	r.userids = append(r.userids, o.userids...)
	r.unbound = append(r.unbound, o.unbound...)
	r.warnings = append(r.warnings, o.warnings...)
}
