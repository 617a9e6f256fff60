package wecomtest

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// App group chats (应用群聊), pages 90245 创建群聊会话, 90246 修改群聊会话, 90247 获取群聊会话,
// 90248 应用推送消息:
//   - Only a self-built app whose visible range is the root department may call them; the chat
//     must have been created by the calling app (update, get, send).
//   - create: name ≤ 50 utf8 characters, longer is truncated; owner optional (else a random
//     member of userlist); userlist 2–2000 members; chatid optional, [0-9a-zA-Z]{1,32}, not an
//     existing chat's (else WeCom makes one up). At most 1000 chats per corp a day.
//   - update: name, owner, add_user_list, del_user_list; at most 100 changes per corp an hour.
//   - send: text, image, voice, video, file, textcard, news, mpnews, markdown, with message/send's
//     bodies and safe; at most 20,000 person-sends per corp a minute (a chat of 100 members is
//     100). The answer is {errcode, errmsg} only.
//
// Errcodes from page 90313: 86001 chatid invalid, 86003 chatid not exist, 86005 invalid owner,
// 86006 member count, 86007 invalid member, 86008 not the app's chat, 86201 chatid missing,
// 86207 owner not a member, 86215 chatid exists, 86216 add/del of a member that is not one.
//
// Not in the docs, chosen here: an app whose range is not the root is 48002; past the daily,
// hourly and per-minute limits is 45009; the 2000 bound counts userlist (the page's "含应用"
// is not modelled); disabled or departed members are invalid (86007); an update may leave fewer
// than 2 members; the per-member limits of send (200 a minute, 10,000 a day from one app, the
// excess silently dropped) are not simulated: a sent message is in the chat's history.

const (
	chatMaxMembers     = 2000
	chatCreatesPerDay  = 1000
	chatUpdatesPerHour = 100
	chatSendsPerMinute = 20000
	chatNameLimit      = 50
)

// AppChat is a group chat an app created with appchat/create.
type AppChat struct {
	CorpID  string
	ChatID  string
	Name    string
	Owner   string
	Members []string // userids as the chat holds them (canonical)
	// AgentID is the app that created the chat; only it may update, read or post to it.
	AgentID   int64
	CreatedAt time.Time
}

type chatRef struct{ corp, chatID string }

type appChat struct {
	AppChat
}

// Chats lists a corp's app group chats in the order they were created.
func (s *Server) Chats(corpID string) []AppChat {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []AppChat
	for _, ref := range s.chatOrder {
		if ref.corp == corpID {
			out = append(out, s.chats[ref].snapshot())
		}
	}
	return out
}

// ChatMessages returns what was posted into an app group chat, oldest first.
func (s *Server) ChatMessages(corpID, chatID string) []ChatMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneChatMessages(s.t.chatMessages[chatRef{corpID, chatID}])
}

func (c *appChat) snapshot() AppChat {
	out := c.AppChat
	out.Members = append([]string(nil), c.Members...)
	return out
}

func containsFold(xs []string, x string) bool {
	for _, v := range xs {
		if strings.EqualFold(v, x) {
			return true
		}
	}
	return false
}

// decodeJSON reads a JSON request body into v; false means WeCom's 47001.
func decodeJSON(r *http.Request, v any) ([]byte, bool) {
	raw, err := readBody(r)
	return raw, err == nil && json.Unmarshal(raw, v) == nil
}

// withChatApp is withSession for the appchat endpoints: JSON format, then an app secret whose
// visible range is the root department.
func (s *Server) withChatApp(r *http.Request, ip string, formatOK bool, h func(sess *session) any) any {
	return s.withSession(r, ip, func(sess *session) any {
		switch {
		case !formatOK:
			return s.fail(codeDataFormat, "Warning: wrong json format. data format error", ip)
		case sess.app.kind() != appSecret:
			return s.fail(codeAPIForbidden, "", ip)
		case !sess.c.rootVisible(sess.app):
			return s.fail(codeAPIForbidden, "api forbidden: appchat needs an app whose visible range is the root department", ip)
		}
		return h(sess)
	})
}

// rootVisible reports whether the app's visible range includes a root department.
func (c *corp) rootVisible(app *appState) bool {
	if app.visible == nil {
		return true
	}
	for id, d := range c.depts {
		if d.ParentID == 0 && app.visible[id] {
			return true
		}
	}
	return false
}

// ownChatLocked finds the chat the caller's app created, in WeCom's errcode order. Callers
// hold mu.
func (s *Server) ownChatLocked(sess *session, chatID string) (*appChat, *apiError) {
	if chatID == "" {
		return nil, s.fail(codeMissingChatID, "", sess.ip)
	}
	ch, ok := s.chats[chatRef{sess.c.info.ID, chatID}]
	switch {
	case !ok:
		return nil, s.fail(codeChatNotFound, "", sess.ip)
	case ch.AgentID != sess.app.AgentID:
		return nil, s.fail(codeNotChatCreator, "", sess.ip)
	}
	return ch, nil
}

// activeMember returns the canonical userid of an active member of the corp.
func (c *corp) activeMember(userid string) (string, bool) {
	u, ok := c.users[strings.ToLower(userid)]
	if !ok || u.Status != 1 {
		return "", false
	}
	return u.UserID, true
}

func validChatID(id string) bool {
	if len(id) == 0 || len(id) > 32 {
		return false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// handleChatCreate is POST /cgi-bin/appchat/create (page 90245).
func (s *Server) handleChatCreate(r *http.Request, ip string) any {
	var req struct {
		Name     string   `json:"name"`
		Owner    string   `json:"owner"`
		UserList []string `json:"userlist"`
		ChatID   string   `json:"chatid"`
	}
	_, ok := decodeJSON(r, &req)
	return s.withChatApp(r, ip, ok, func(sess *session) any {
		c := sess.c
		var members []string
		for _, id := range req.UserList {
			if !containsFold(members, id) {
				members = append(members, id)
			}
		}
		if len(members) < 2 || len(members) > chatMaxMembers {
			return s.fail(codeChatMemberCount, "", ip)
		}
		for i, id := range members {
			canon, ok := c.activeMember(id)
			if !ok {
				return s.fail(codeInvalidChatMember, "invalid chat member: "+id, ip)
			}
			members[i] = canon
		}
		owner := req.Owner
		if owner != "" {
			canon, ok := c.activeMember(owner)
			switch {
			case !ok:
				return s.fail(codeInvalidChatOwner, "", ip)
			case !containsFold(members, canon):
				return s.fail(codeOwnerNotMember, "", ip)
			}
			owner = canon
		}
		if req.ChatID != "" && !validChatID(req.ChatID) {
			return s.fail(codeInvalidChatID, "chatid invalid: 1 to 32 characters of 0-9a-zA-Z", ip)
		}
		if _, taken := s.chats[chatRef{c.info.ID, req.ChatID}]; taken {
			return s.fail(codeChatIDExists, "", ip)
		}
		now := s.now()
		if !s.countToday(s.t.chatCreates, c.info.ID, 1, chatCreatesPerDay, now) {
			return s.fail(codeFreqOutOfLimit, "api freq out of limit: at most 1000 chats a day per corp", ip)
		}
		if owner == "" {
			owner = members[s.rng.IntN(len(members))]
		}
		id := req.ChatID
		for id == "" || s.chats[chatRef{c.info.ID, id}] != nil {
			id = s.alnumID("wr", 19)
		}
		s.storeChatLocked(AppChat{
			CorpID: c.info.ID, ChatID: id, Name: truncateRunes(req.Name, chatNameLimit), Owner: owner,
			Members: members, AgentID: sess.app.AgentID, CreatedAt: now,
		})
		return struct {
			apiError
			ChatID string `json:"chatid"`
		}{apiError{ErrMsg: "ok"}, id}
	})
}

// storeChatLocked remembers a created chat. Callers hold mu.
func (s *Server) storeChatLocked(ch AppChat) {
	ref := chatRef{ch.CorpID, ch.ChatID}
	s.chats[ref] = &appChat{ch}
	s.chatOrder = append(s.chatOrder, ref)
}

// alnumID draws a chatid-shaped id ([0-9a-zA-Z]) after prefix, with a sequence folded in.
// Callers hold mu.
func (s *Server) alnumID(prefix string, n int) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[s.rng.IntN(len(alphabet))]
	}
	return prefix + string(b) + encodeSeq(s.nextSeq())
}

// handleChatUpdate is POST /cgi-bin/appchat/update (page 90246).
func (s *Server) handleChatUpdate(r *http.Request, ip string) any {
	var req struct {
		ChatID  string   `json:"chatid"`
		Name    *string  `json:"name"`
		Owner   string   `json:"owner"`
		AddUser []string `json:"add_user_list"`
		DelUser []string `json:"del_user_list"`
	}
	_, ok := decodeJSON(r, &req)
	return s.withChatApp(r, ip, ok, func(sess *session) any {
		ch, e := s.ownChatLocked(sess, req.ChatID)
		if e != nil {
			return e
		}
		members := append([]string(nil), ch.Members...)
		for _, id := range req.AddUser {
			canon, ok := sess.c.activeMember(id)
			if !ok {
				return s.fail(codeInvalidChatMemberID, "invalid chat member id: "+id+" is not in the directory", ip)
			}
			if !containsFold(members, canon) {
				members = append(members, canon)
			}
		}
		for _, id := range req.DelUser {
			if !containsFold(members, id) {
				return s.fail(codeInvalidChatMemberID, "invalid chat member id: "+id+" is not in the chat", ip)
			}
			members = removeFold(members, id)
		}
		if len(members) > chatMaxMembers {
			return s.fail(codeChatMemberCount, "", ip)
		}
		owner := ch.Owner
		if req.Owner != "" {
			canon, ok := sess.c.activeMember(req.Owner)
			if !ok {
				return s.fail(codeInvalidChatOwner, "", ip)
			}
			owner = canon
		}
		if !containsFold(members, owner) {
			return s.fail(codeOwnerNotMember, "", ip)
		}
		w := s.t.chatUpdates[sess.c.info.ID]
		if w == nil {
			w = &rateWindow{}
			s.t.chatUpdates[sess.c.info.ID] = w
		}
		if !w.admit(s.now(), math.MaxInt, chatUpdatesPerHour) {
			return s.fail(codeFreqOutOfLimit, "api freq out of limit: at most 100 chat changes an hour per corp", ip)
		}
		if req.Name != nil {
			ch.Name = truncateRunes(*req.Name, chatNameLimit)
		}
		ch.Owner, ch.Members = owner, members
		return apiError{ErrMsg: "ok"}
	})
}

func removeFold(xs []string, x string) []string {
	var out []string
	for _, v := range xs {
		if !strings.EqualFold(v, x) {
			out = append(out, v)
		}
	}
	return out
}

type chatInfoJSON struct {
	ChatID   string   `json:"chatid"`
	Name     string   `json:"name"`
	Owner    string   `json:"owner"`
	UserList []string `json:"userlist"`
}

// handleChatGet is GET /cgi-bin/appchat/get?chatid= (page 90247).
func (s *Server) handleChatGet(r *http.Request, ip string) any {
	return s.withChatApp(r, ip, true, func(sess *session) any {
		ch, e := s.ownChatLocked(sess, r.URL.Query().Get("chatid"))
		if e != nil {
			return e
		}
		return struct {
			apiError
			ChatInfo chatInfoJSON `json:"chat_info"`
		}{apiError{ErrMsg: "ok"}, chatInfoJSON{ch.ChatID, ch.Name, ch.Owner, append([]string{}, ch.Members...)}}
	})
}

// handleChatSend is POST /cgi-bin/appchat/send (page 90248). The bodies are message/send's and
// are checked by the same code; template_card and miniprogram_notice are not among the types.
func (s *Server) handleChatSend(r *http.Request, ip string) any {
	out := parseOutgoing(r, false)
	var chatID string
	var chatErr *vErr
	if !out.formatErr {
		chatID, chatErr = rawString(out.fields, "chatid")
	}
	if out.bodyErr == nil && (out.msgType == "template_card" || out.msgType == "miniprogram_notice") {
		out.bodyErr = bad(codeInvalidMsgType, "invalid message type: appchat does not send %s", out.msgType)
	}
	return s.withChatApp(r, ip, !out.formatErr, func(sess *session) any {
		if chatErr != nil {
			return s.failV(chatErr, ip)
		}
		ch, e := s.ownChatLocked(sess, chatID)
		if e != nil {
			return e
		}
		if out.bodyErr != nil {
			return s.failV(out.bodyErr, ip)
		}
		if e := s.checkMediaLocked(sess.c.info.ID, "", out.info.media); e != nil {
			return s.failV(e, ip)
		}
		now := s.now()
		ps := s.t.chatSends[sess.c.info.ID]
		if ps == nil {
			ps = &personSends{}
			s.t.chatSends[sess.c.info.ID] = ps
		}
		if !ps.admit(now, len(ch.Members), chatSendsPerMinute) {
			return s.fail(codeFreqOutOfLimit, "api freq out of limit: at most 20,000 person-sends a minute per corp", ip)
		}
		ref := chatRef{sess.c.info.ID, ch.ChatID}
		s.t.chatMessages[ref] = append(s.t.chatMessages[ref], &ChatMessage{
			MsgType: out.msgType, Body: out.body, Request: out.raw, At: now, AgentID: sess.app.AgentID,
		})
		return apiError{ErrMsg: "ok"}
	})
}

// personSends counts person-sends (a message times its chat's members) in a sliding minute.
type personSends struct {
	batches []personBatch
}

type personBatch struct {
	at time.Time
	n  int
}

// admit records n person-sends at now unless the last minute would then hold more than limit.
func (p *personSends) admit(now time.Time, n, limit int) bool {
	live, total := p.batches[:0], 0
	for _, b := range p.batches {
		if now.Sub(b.at) < time.Minute {
			live = append(live, b)
			total += b.n
		}
	}
	p.batches = live
	if total+n > limit {
		return false
	}
	p.batches = append(p.batches, personBatch{now, n})
	return true
}
