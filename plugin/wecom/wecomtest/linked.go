package wecomtest

import (
	"net/http"
	"strconv"
	"strings"
)

type linkedResponse struct {
	ErrCode      int      `json:"errcode"`
	ErrMsg       string   `json:"errmsg"`
	InvalidUser  []string `json:"invaliduser"`
	InvalidParty []string `json:"invalidparty"`
	InvalidTag   []string `json:"invalidtag"`
}

// handleLinkedSend is POST /cgi-bin/linkedcorp/message/send (page 90250). Recipients are JSON
// arrays; "CorpID/userid" and "CorpID/partyid" address a connected corp. WeCom's answer carries
// no msgid, so such messages cannot be recalled; the simulator still gives each Delivery an id.
// Unlicensed members are reported in invaliduser: the answer has no unlicenseduser field.
func (s *Server) handleLinkedSend(r *http.Request, ip string) any {
	out := parseOutgoing(r, true)
	var users, parties, tags []string
	var toAll int64
	var rcptErr *vErr
	if !out.formatErr {
		var e1, e2, e3, e4 *vErr
		users, e1 = rawStrings(out.fields, "touser")
		parties, e2 = rawStrings(out.fields, "toparty")
		tags, e3 = rawStrings(out.fields, "totag")
		toAll, e4 = rawInt(out.fields, "toall")
		rcptErr = firstErr(e1, e2, e3, e4)
	}

	return s.withSender(r, ip, out, func(sess *session) any {
		if e := s.recipientLimits(rcptErr, users, parties, tags, toAll == 1, ip); e != nil {
			return e
		}
		lr := s.resolveLinkedLocked(sess, users, parties, tags, toAll == 1)
		resp := linkedResponse{InvalidUser: lr.invalidUser, InvalidParty: lr.invalidParty, InvalidTag: lr.invalidTag}
		if len(lr.targets) == 0 && len(resp.InvalidUser)+len(resp.InvalidParty)+len(resp.InvalidTag) > 0 {
			resp.ErrCode, resp.ErrMsg = codeAllInvalid, s.errmsg(codeAllInvalid, "", ip)
			return resp
		}
		now := s.now()
		if !s.consumeQuotaLocked(sess.c, len(lr.targets), now) {
			return s.fail(codeFreqOutOfLimit, "", ip)
		}
		s.deliverLocked(sess.c.info.ID, out, lr.targets, now)
		resp.ErrMsg = "ok"
		return resp
	})
}

type linkedResolution struct {
	targets                               []target
	seen                                  map[string]bool
	invalidUser, invalidParty, invalidTag []string
}

func (lr *linkedResolution) add(corpID string, u *User) bool {
	if u.Status != 1 || u.Unlicensed {
		return false
	}
	k := corpID + "/" + strings.ToLower(u.UserID)
	if !lr.seen[k] {
		lr.seen[k] = true
		lr.targets = append(lr.targets, target{corp: corpID, user: u})
	}
	return true
}

// resolveLinkedLocked resolves linkedcorp recipients. A connected corp's members are all
// addressable (its share range is not modelled). Callers hold mu.
func (s *Server) resolveLinkedLocked(sess *session, users, parties, tags []string, toAll bool) *linkedResolution {
	own := sess.c
	lr := &linkedResolution{seen: map[string]bool{}, invalidUser: []string{}, invalidParty: []string{}, invalidTag: []string{}}
	// corpFor maps an optional "CorpID/" prefix to the corp it names, if it may be addressed.
	corpFor := func(id string) (*corp, string) {
		prefix, rest, ok := strings.Cut(id, "/")
		if !ok {
			return own, id
		}
		if prefix == own.info.ID {
			return own, rest
		}
		if s.links[own.info.ID][prefix] {
			return s.corps[prefix], rest
		}
		return nil, rest
	}
	visible := func(c *corp, u *User) bool { return c != own || own.userVisible(sess.app, u) }
	if toAll {
		for _, key := range own.order {
			if u := own.users[key]; visible(own, u) {
				lr.add(own.info.ID, u)
			}
		}
		for linked := range s.links[own.info.ID] {
			c := s.corps[linked]
			for _, key := range c.order {
				lr.add(c.info.ID, c.users[key])
			}
		}
	}
	for _, id := range users {
		c, uid := corpFor(id)
		var u *User
		if c != nil {
			u = c.users[strings.ToLower(uid)]
		}
		if u == nil || !visible(c, u) || !lr.add(c.info.ID, u) {
			lr.invalidUser = append(lr.invalidUser, id)
		}
	}
	for _, p := range parties {
		c, pid := corpFor(p)
		n, err := strconv.Atoi(pid)
		if c == nil || err != nil || (c == own && !own.deptVisible(sess.app, n)) || c.depts[n] == nil {
			lr.invalidParty = append(lr.invalidParty, p)
			continue
		}
		for _, u := range c.departmentMembers(n, true) {
			if visible(c, u) {
				lr.add(c.info.ID, u)
			}
		}
	}
	for _, tg := range tags {
		members, ok := own.tagMembers(tg)
		if !ok {
			lr.invalidTag = append(lr.invalidTag, tg)
			continue
		}
		for _, u := range members {
			if visible(own, u) {
				lr.add(own.info.ID, u)
			}
		}
	}
	return lr
}
