package wecomtest

import (
	"net/http"
	"strings"
)

// Id lookups, pages 96267 手机号获取userid and 96268 邮箱获取userid (both last updated
// 2025-08-29):
//   - POST /cgi-bin/user/getuserid {mobile}: the mobile in the directory, 5–32 bytes.
//   - POST /cgi-bin/user/get_userid_by_email {email, email_type}: email_type 1 the enterprise
//     email (default), 2 the personal email.
//   - Both answer {errcode, errmsg, userid}; the app must be allowed to see the member.
//   - "若出错的次数超出企业人数上限的20%，会导致1天不可调用": failed lookups beyond 20% of the
//     seat count block the API for a day.
//
// Errcodes from page 90313: 46004 指定的用户不存在, 60103 手机号码不合法, 60105 邮箱不合法,
// 60011 member outside the app's range (as user/get answers it).
//
// Not in the docs, chosen here: failures are counted per corp over both lookups together, per
// China calendar day on the simulator clock, and the block lasts until the next China midnight;
// a failure is an answer of 46004, 60103, 60105 or 60011; a blocked corp gets 45009 for every
// lookup, found or not; Seats 0 (unlimited) never blocks; departed members (status 5) are not
// found; email matches case-insensitively, mobile exactly.

const (
	lookupFailPercent = 20
	maxEmailBytes     = 64
)

// handleGetUserIDByMobile is POST /cgi-bin/user/getuserid (page 96267).
func (s *Server) handleGetUserIDByMobile(r *http.Request, ip string) any {
	var req struct {
		Mobile string `json:"mobile"`
	}
	_, ok := decodeJSON(r, &req)
	return s.withLookup(r, ip, ok, func(c *corp) (*User, *vErr) {
		if n := len(req.Mobile); n < 5 || n > 32 {
			return nil, bad(codeInvalidMobile, "mobile invalid: 5 to 32 bytes")
		}
		return c.findUser(func(u *User) bool { return u.Mobile == req.Mobile }), nil
	})
}

// handleGetUserIDByEmail is POST /cgi-bin/user/get_userid_by_email (page 96268).
func (s *Server) handleGetUserIDByEmail(r *http.Request, ip string) any {
	var req struct {
		Email     string `json:"email"`
		EmailType int    `json:"email_type"`
	}
	_, ok := decodeJSON(r, &req)
	return s.withLookup(r, ip, ok, func(c *corp) (*User, *vErr) {
		switch {
		case req.EmailType < 0 || req.EmailType > 2:
			return nil, invalid("email_type must be 1 (enterprise email) or 2 (personal email)")
		case len(req.Email) > maxEmailBytes || !strings.Contains(req.Email, "@"):
			return nil, bad(codeInvalidEmail, "")
		}
		return c.findUser(func(u *User) bool {
			mail := u.BizMail
			if req.EmailType == 2 {
				mail = u.Email
			}
			return mail != "" && strings.EqualFold(mail, req.Email)
		}), nil
	})
}

// findUser returns the first member, in the order added, that matches and has not left.
func (c *corp) findUser(match func(u *User) bool) *User {
	for _, key := range c.order {
		if u := c.users[key]; u.Status != 5 && match(u) {
			return u
		}
	}
	return nil
}

// withLookup runs a lookup for an app or contacts-secret token: the corp's block first, then
// find; a failed answer counts towards the block.
func (s *Server) withLookup(r *http.Request, ip string, formatOK bool, find func(c *corp) (*User, *vErr)) any {
	return s.withSession(r, ip, func(sess *session) any {
		c, now := sess.c, s.now()
		failures := today(s.t.lookupFailures, c.info.ID, now)
		if seats := c.info.Seats; seats > 0 && failures.used*100 > seats*lookupFailPercent {
			return s.fail(codeFreqOutOfLimit, "api freq out of limit: too many failed lookups today (more than 20% of the seats)", ip)
		}
		if !formatOK {
			return s.fail(codeDataFormat, "Warning: wrong json format. data format error", ip)
		}
		u, e := find(c)
		switch {
		case e != nil && e.code == codeInvalidParameter:
			return s.failV(e, ip)
		case e == nil && u == nil:
			e = bad(codeUserNotExist, "")
		case e == nil && !c.userVisible(sess.app, u):
			e = bad(codeNoPrivilege, "")
		}
		if e != nil {
			failures.used++
			return s.failV(e, ip)
		}
		return struct {
			apiError
			UserID string `json:"userid"`
		}{apiError{ErrMsg: "ok"}, u.UserID}
	})
}

// LookupFailures counts today's failed user/getuserid and user/get_userid_by_email calls of a
// corp (China calendar day, simulator clock).
func (s *Server) LookupFailures(corpID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return today(s.t.lookupFailures, corpID, s.now()).used
}
