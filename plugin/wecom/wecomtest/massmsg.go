package wecomtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Customer mass messaging (企业群发), with the 客户联系 secret only (page 90313 on 48002):
//   - POST externalcontact/add_msg_template (page 92135 创建企业群发): chat_type single (default)
//     or group; external_userid ≤ 10,000 customers, "不可与sender同时为空"; sender required for
//     group; text.content ≤ 4000 bytes; attachments ≤ 9 of image, link, miniprogram, video,
//     file (link: title ≤ 128 bytes, url ≤ 2048 bytes required, desc ≤ 512 bytes). Answer
//     {errcode, errmsg, fail_list, msgid}. Nothing reaches a customer until the member confirms
//     in the app ("需要成员确认后才会执行发送"): ConfirmMassMessage plays that tap.
//     "同一个企业每个自然月内仅可针对一个客户/客户群发送4条消息".
//   - POST externalcontact/get_groupmsg_task {msgid, limit, cursor} (page 93338): task_list
//     [{userid, status 0 未发送 | 2 已发送, send_time}], next_cursor.
//   - POST externalcontact/get_groupmsg_send_result {msgid, userid, limit, cursor} (page 93338):
//     send_list [{external_userid, chat_id, userid, status, send_time}], status 0 未发送,
//     1 已发送, 2 客户不是好友, 3 客户已经收到其他群发消息.
//     Both: limit "最大值1000，默认值500，超过最大值时取默认值"; a cursor not issued is 50100.
//   - POST externalcontact/remind_groupmsg_send {msgid} (page 97610): "24小时内每个群发最多触发
//     三次提醒". POST externalcontact/cancel_groupmsg_send {msgid} (page 97611) stops it.
//
// Errcodes from page 90313: 41046 msgid missing, 41047 invalid msgid, 41048 无可发送的客户,
// 41065 invalid attachment type, 86214 invalid chat_type, 40003 invalid sender userid.
// 41093 "group message canceled" for a canceled message is from a client that checked it
// against a live tenant, not from the docs.
//
// Not in the docs, chosen here: a fourth reminder within 24 h is 45009; without sender every
// member who added a listed customer gets a task for that customer, and the first to confirm
// delivers (the others' rows become status 3); unknown customers, and with sender those not
// friends of the sender, go to fail_list; when nothing is left to send the answer is 41048;
// tag_filter {group_list: [{tag_list}]} selects customers having any tag of every group;
// customer groups are not modelled, so chat_type group gives the sender a task with no
// send_list rows; cancel of a canceled message is ok; send_result for a member without a task
// is an empty list.

const (
	massMaxCustomers   = 10000
	massMaxAttachments = 9
	massTextLimit      = 4000
	massPerMonth       = 4
	massRemindsPer24h  = 3
	massDefaultLimit   = 500
	massMaxLimit       = 1000
)

// Send results of get_groupmsg_send_result.
const (
	massUnsent = iota
	massSent
	massNotFriend
	massAlreadyReceived
)

type customer struct {
	id     string
	name   string
	owners []string // canonical userids of the members who added the customer, in order
	tags   map[string]bool
}

type customerKey struct{ corp, externalUserID string }

// AddExternalContact makes externalUserID (a WeChat user, "wm…") a customer (客户) of the
// member ownerUserID. A customer may be added by several members; name is their WeChat name.
func (s *Server) AddExternalContact(corpID, ownerUserID, externalUserID, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mustCorp(corpID)
	cu := c.customers[externalUserID]
	if cu == nil {
		cu = &customer{id: externalUserID, tags: map[string]bool{}}
		c.customers[externalUserID] = cu
		c.custOrder = append(c.custOrder, externalUserID)
	}
	cu.name = name
	owner := s.canonical(corpID, ownerUserID)
	if !containsFold(cu.owners, owner) {
		cu.owners = append(cu.owners, owner)
	}
}

// RemoveExternalContact plays the customer deleting the member: a mass message the member
// confirms afterwards reports status 2 (not a friend) for that customer.
func (s *Server) RemoveExternalContact(corpID, ownerUserID, externalUserID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cu := s.mustCorp(corpID).customers[externalUserID]; cu != nil {
		cu.owners = removeFold(cu.owners, ownerUserID)
	}
}

// TagExternalContact gives a customer corp customer tags (企业客户标签, "et…") that
// add_msg_template's tag_filter selects on.
func (s *Server) TagExternalContact(corpID, externalUserID string, tagIDs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cu := s.mustCorp(corpID).customers[externalUserID]; cu != nil {
		for _, t := range tagIDs {
			cu.tags[t] = true
		}
	}
}

// MassMessage is a customer mass message as add_msg_template created it.
type MassMessage struct {
	MsgID    string
	CorpID   string
	ChatType string
	Sender   string
	// Members are the members who got a sending task, in the order of the tasks.
	Members   []string
	Request   json.RawMessage
	CreatedAt time.Time
	Canceled  bool
	// Reminders counts accepted remind_groupmsg_send calls.
	Reminders int
}

type massMessage struct {
	MassMessage
	reminds []time.Time
	tasks   []*massTask
}

type massTask struct {
	userid string
	sentAt time.Time // zero until the member confirms
	rows   []*massRow
}

type massRow struct {
	externalUserID string
	status         int
	sentAt         time.Time
}

func (m *massMessage) task(userid string) *massTask {
	for _, t := range m.tasks {
		if strings.EqualFold(t.userid, userid) {
			return t
		}
	}
	return nil
}

// MassMessages lists a corp's mass messages, oldest first.
func (s *Server) MassMessages(corpID string) []MassMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []MassMessage
	for _, id := range s.t.massOrder {
		m := s.t.massMessages[id]
		if m.CorpID != corpID {
			continue
		}
		mm := m.MassMessage
		mm.Request = append(json.RawMessage(nil), m.Request...)
		mm.Reminders = len(m.reminds)
		for _, t := range m.tasks {
			mm.Members = append(mm.Members, t.userid)
		}
		out = append(out, mm)
	}
	return out
}

// ConfirmMassMessage plays the member tapping send on a mass message in the app: each of the
// member's customers receives it (status 1), unless the customer is no longer the member's
// friend (2) or already got it from another member or this month's 4 (3).
func (s *Server) ConfirmMassMessage(corpID, msgid, userid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.t.massMessages[msgid]
	if m == nil || m.CorpID != corpID {
		return fmt.Errorf("wecomtest: no mass message %s in %s", msgid, corpID)
	}
	t := m.task(userid)
	switch {
	case t == nil:
		return fmt.Errorf("wecomtest: %s has no task in mass message %s", userid, msgid)
	case m.Canceled:
		return errors.New("wecomtest: the mass message was canceled")
	case !t.sentAt.IsZero():
		return fmt.Errorf("wecomtest: %s already sent mass message %s", userid, msgid)
	}
	now := s.now()
	t.sentAt = now
	c := s.corps[corpID]
	month := now.In(china()).Format("2006-01")
	for _, row := range t.rows {
		cu := c.customers[row.externalUserID]
		received := counterFor(s.t.customerMonths, customerKey{corpID, row.externalUserID}, month)
		switch {
		case cu == nil || !containsFold(cu.owners, t.userid):
			row.status = massNotFriend
		case m.delivered(row.externalUserID) || received.used >= massPerMonth:
			row.status = massAlreadyReceived
		default:
			row.status, row.sentAt = massSent, now
			received.used++
		}
	}
	return nil
}

// delivered reports whether any member already sent this message to the customer.
func (m *massMessage) delivered(externalUserID string) bool {
	for _, t := range m.tasks {
		for _, row := range t.rows {
			if row.externalUserID == externalUserID && row.status == massSent {
				return true
			}
		}
	}
	return false
}

// withExternalSession is withSession for the externalcontact APIs: the 客户联系 secret only,
// then the JSON body.
func (s *Server) withExternalSession(r *http.Request, ip string, formatOK bool, h func(sess *session) any) any {
	return s.withSecret(r, ip, func(sess *session) any {
		switch {
		case sess.app.kind() != externalSecret:
			return s.fail(codeAPIForbidden, "api forbidden: externalcontact APIs need the 客户联系 secret", ip)
		case !formatOK:
			return s.fail(codeDataFormat, "Warning: wrong json format. data format error", ip)
		}
		return h(sess)
	})
}

type msgTemplateRequest struct {
	ChatType       string   `json:"chat_type"`
	ExternalUserID []string `json:"external_userid"`
	Sender         string   `json:"sender"`
	TagFilter      *struct {
		GroupList []struct {
			TagList []string `json:"tag_list"`
		} `json:"group_list"`
	} `json:"tag_filter"`
	Text *struct {
		Content string `json:"content"`
	} `json:"text"`
	Attachments []json.RawMessage `json:"attachments"`
}

// handleAddMsgTemplate is POST /cgi-bin/externalcontact/add_msg_template (page 92135).
func (s *Server) handleAddMsgTemplate(r *http.Request, ip string) any {
	var req msgTemplateRequest
	raw, ok := decodeJSON(r, &req)
	var media []mediaRef
	contentErr := func() *vErr {
		if req.ChatType != "" && req.ChatType != "single" && req.ChatType != "group" {
			return bad(codeInvalidChatType, "")
		}
		var e *vErr
		media, e = validateMassContent(&req)
		return e
	}
	return s.withExternalSession(r, ip, ok, func(sess *session) any {
		if e := contentErr(); e != nil {
			return s.failV(e, ip)
		}
		if e := s.checkMediaLocked(sess.c.info.ID, "", media); e != nil {
			return s.failV(e, ip)
		}
		group := req.ChatType == "group"
		switch {
		case group && req.Sender == "":
			return s.fail(codeMissingUserID, "userid missing: sender is required for chat_type group", ip)
		case len(req.ExternalUserID) > massMaxCustomers:
			return s.fail(codeInvalidParameter, "invalid parameter: at most 10000 external_userid", ip)
		case !group && len(req.ExternalUserID) == 0 && req.Sender == "" && req.TagFilter == nil:
			return s.fail(codeInvalidParameter, "invalid parameter: external_userid and sender cannot both be empty", ip)
		}
		sender := ""
		if req.Sender != "" {
			canon, ok := sess.c.activeMember(req.Sender)
			if !ok {
				return s.fail(codeInvalidUserID, "invalid userid: sender "+req.Sender, ip)
			}
			sender = canon
		}
		m := &massMessage{MassMessage: MassMessage{
			CorpID: sess.c.info.ID, ChatType: "single", Sender: sender, Request: raw, CreatedAt: s.now(),
		}}
		failList := []string{}
		if group {
			m.ChatType = "group"
			m.tasks = []*massTask{{userid: sender}}
		} else {
			failList = m.assign(sess.c, &req, sender)
		}
		if len(m.tasks) == 0 {
			return struct {
				apiError
				FailList []string `json:"fail_list"`
			}{*s.fail(codeNoCustomers, "", ip), failList}
		}
		m.MsgID = s.alnumID("msg", 24)
		s.t.massMessages[m.MsgID] = m
		s.t.massOrder = append(s.t.massOrder, m.MsgID)
		return struct {
			apiError
			FailList []string `json:"fail_list"`
			MsgID    string   `json:"msgid"`
		}{apiError{ErrMsg: "ok"}, failList, m.MsgID}
	})
}

// assign gives each member a task for the customers they will send to and returns fail_list.
func (m *massMessage) assign(c *corp, req *msgTemplateRequest, sender string) []string {
	failList := []string{}
	ids := req.ExternalUserID
	if len(ids) == 0 {
		for _, id := range c.custOrder {
			if cu := c.customers[id]; sender == "" || containsFold(cu.owners, sender) {
				ids = append(ids, id)
			}
		}
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		cu := c.customers[id]
		switch {
		case cu == nil || len(cu.owners) == 0 || (sender != "" && !containsFold(cu.owners, sender)):
			failList = append(failList, id)
			continue
		case !cu.matches(req):
			continue
		}
		owners := cu.owners
		if sender != "" {
			owners = []string{sender}
		}
		for _, o := range owners {
			t := m.task(o)
			if t == nil {
				t = &massTask{userid: o}
				m.tasks = append(m.tasks, t)
			}
			t.rows = append(t.rows, &massRow{externalUserID: id})
		}
	}
	return failList
}

// matches applies tag_filter: a tag of every group.
func (cu *customer) matches(req *msgTemplateRequest) bool {
	if req.TagFilter == nil {
		return true
	}
	for _, g := range req.TagFilter.GroupList {
		hit := false
		for _, t := range g.TagList {
			hit = hit || cu.tags[t]
		}
		if !hit {
			return false
		}
	}
	return true
}

// validateMassContent checks text and attachments and returns the media they use.
func validateMassContent(req *msgTemplateRequest) ([]mediaRef, *vErr) {
	content := ""
	if req.Text != nil {
		content = req.Text.Content
	}
	switch {
	case content == "" && len(req.Attachments) == 0:
		return nil, bad(codeEmptyContent, "empty content: text.content or attachments required")
	case len(content) > massTextLimit:
		return nil, bad(codeContentTooLarge, "content size out of limit: text.content is %d bytes, at most 4000", len(content))
	case len(req.Attachments) > massMaxAttachments:
		return nil, invalid("at most 9 attachments")
	}
	var media []mediaRef
	for i, raw := range req.Attachments {
		v, err := decodeAny(raw)
		a := asObj(v)
		if err != nil || a == nil {
			return nil, invalid("attachments[%d] must be an object", i)
		}
		typ, e := a.str("", "msgtype")
		if e != nil {
			return nil, e
		}
		p := fmt.Sprintf("attachments[%d].%s.", i, typ)
		o := a.obj(typ)
		switch typ {
		case "link":
			title, e1 := o.required(p, "title", codeMissingTitle)
			u, e2 := o.required(p, "url", codeMissingURL)
			desc, e3 := o.str(p, "desc")
			if e := firstErr(e1, e2, e3, maxBytes(p, "title", title, 128), checkURL(p, "url", u), maxBytes(p, "desc", desc, 512)); e != nil {
				return nil, e
			}
		case "image":
			id, _ := o.str(p, "media_id")
			pic, _ := o.str(p, "pic_url")
			if id == "" && pic == "" {
				return nil, bad(codeMissingMediaID, "%smedia_id or %spic_url missing", p, p)
			}
			if id != "" {
				media = append(media, mediaRef{id: id, typ: "image", path: p + "media_id"})
			}
		case "video", "file":
			id, e := o.required(p, "media_id", codeMissingMediaID)
			if e != nil {
				return nil, e
			}
			media = append(media, mediaRef{id: id, typ: typ, path: p + "media_id"})
		case "miniprogram":
			title, e1 := o.required(p, "title", codeMissingTitle)
			_, e2 := o.required(p, "appid", codeMiniAppIDMissing)
			_, e3 := o.required(p, "page", codeInvalidParameter)
			id, e4 := o.required(p, "pic_media_id", codeMissingMediaID)
			if e := firstErr(e1, e2, e3, e4, maxBytes(p, "title", title, 64)); e != nil {
				return nil, e
			}
			media = append(media, mediaRef{id: id, typ: "image", path: p + "pic_media_id"})
		default:
			return nil, bad(codeInvalidAttachment, "invalid attachment type %q", typ)
		}
	}
	return media, nil
}

// msgQuery is the body of the get/remind/cancel endpoints.
type msgQuery struct {
	MsgID  string `json:"msgid"`
	UserID string `json:"userid"`
	Limit  int    `json:"limit"`
	Cursor string `json:"cursor"`
}

// withMassMessage decodes a msgQuery and finds the caller's corp's message, in WeCom's order:
// 41046, 41047, then 41093 for a canceled one unless allowCanceled.
func (s *Server) withMassMessage(r *http.Request, ip string, allowCanceled bool, h func(m *massMessage, q *msgQuery) any) any {
	var q msgQuery
	_, ok := decodeJSON(r, &q)
	return s.withExternalSession(r, ip, ok, func(sess *session) any {
		m := s.t.massMessages[q.MsgID]
		switch {
		case q.MsgID == "":
			return s.fail(codeMissingMsgID, "", ip)
		case m == nil || m.CorpID != sess.c.info.ID:
			return s.fail(codeInvalidMsgID, "", ip)
		case m.Canceled && !allowCanceled:
			return s.fail(codeGroupMsgCanceled, "", ip)
		}
		return h(m, &q)
	})
}

// massPageAnswer pages rows by the documented limit rule and answers them under field with
// next_cursor; a cursor not issued here is 50100.
func massPageAnswer[T any](s *Server, ip string, q *msgQuery, field string, rows []T) any {
	offset, ok := decodeCursor(q.Cursor)
	if !ok {
		return s.fail(codeInvalidCursor, "", ip)
	}
	limit := q.Limit
	if limit <= 0 || limit > massMaxLimit {
		limit = massDefaultLimit
	}
	page, next := pageOf(rows, offset, limit)
	return map[string]any{"errcode": 0, "errmsg": "ok", "next_cursor": next, field: page}
}

type massTaskJSON struct {
	UserID   string `json:"userid"`
	Status   int    `json:"status"`
	SendTime int64  `json:"send_time,omitempty"`
}

// handleGroupMsgTask is POST /cgi-bin/externalcontact/get_groupmsg_task (page 93338).
func (s *Server) handleGroupMsgTask(r *http.Request, ip string) any {
	return s.withMassMessage(r, ip, false, func(m *massMessage, q *msgQuery) any {
		rows := make([]massTaskJSON, len(m.tasks))
		for i, t := range m.tasks {
			rows[i] = massTaskJSON{UserID: t.userid}
			if !t.sentAt.IsZero() {
				rows[i].Status, rows[i].SendTime = 2, t.sentAt.Unix()
			}
		}
		return massPageAnswer(s, ip, q, "task_list", rows)
	})
}

type massResultJSON struct {
	ExternalUserID string `json:"external_userid"`
	UserID         string `json:"userid"`
	Status         int    `json:"status"`
	SendTime       int64  `json:"send_time,omitempty"`
}

// handleGroupMsgSendResult is POST /cgi-bin/externalcontact/get_groupmsg_send_result (page
// 93338).
func (s *Server) handleGroupMsgSendResult(r *http.Request, ip string) any {
	return s.withMassMessage(r, ip, false, func(m *massMessage, q *msgQuery) any {
		if q.UserID == "" {
			return s.fail(codeMissingUserID, "", ip)
		}
		rows := []massResultJSON{}
		if t := m.task(q.UserID); t != nil {
			for _, row := range t.rows {
				j := massResultJSON{ExternalUserID: row.externalUserID, UserID: t.userid, Status: row.status}
				if row.status == massSent {
					j.SendTime = row.sentAt.Unix()
				}
				rows = append(rows, j)
			}
		}
		return massPageAnswer(s, ip, q, "send_list", rows)
	})
}

// handleRemindGroupMsg is POST /cgi-bin/externalcontact/remind_groupmsg_send (page 97610).
func (s *Server) handleRemindGroupMsg(r *http.Request, ip string) any {
	return s.withMassMessage(r, ip, false, func(m *massMessage, _ *msgQuery) any {
		now := s.now()
		recent := 0
		for _, at := range m.reminds {
			if now.Sub(at) < 24*time.Hour {
				recent++
			}
		}
		if recent >= massRemindsPer24h {
			return s.fail(codeFreqOutOfLimit, "api freq out of limit: at most 3 reminders in 24 hours per mass message", ip)
		}
		m.reminds = append(m.reminds, now)
		return apiError{ErrMsg: "ok"}
	})
}

// handleCancelGroupMsg is POST /cgi-bin/externalcontact/cancel_groupmsg_send (page 97611).
func (s *Server) handleCancelGroupMsg(r *http.Request, ip string) any {
	return s.withMassMessage(r, ip, true, func(m *massMessage, _ *msgQuery) any {
		m.Canceled = true
		return apiError{ErrMsg: "ok"}
	})
}
