package wecomtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

type updateCardResponse struct {
	ErrCode     int      `json:"errcode"`
	ErrMsg      string   `json:"errmsg"`
	InvalidUser []string `json:"invaliduser"`
}

// withAppJSON is withSession for the card endpoints, whose JSON body is checked first and
// which only an app secret may call (the contacts secret gets 48002).
func (s *Server) withAppJSON(r *http.Request, ip string, formatErr bool, h func(sess *session) any) any {
	return s.withSession(r, ip, func(sess *session) any {
		switch {
		case formatErr:
			return s.fail(codeDataFormat, "Warning: wrong json format. data format error", ip)
		case sess.app.ContactsSecret:
			return s.fail(codeAPIForbidden, "", ip)
		}
		return h(sess)
	})
}

// handleUpdateCard is POST /cgi-bin/message/update_template_card (page 94888). A response_code
// allows one update within 72 h: the send's code covers every recipient, a member's code (from
// their template_card_event) covers that member. Which cards change: atall=1 → every recipient;
// else userids ∪ partyids ∪ tagids (recipients only; others come back in invaliduser); none given
// → everyone the code covers (WeCom's page does not say; this is the lenient reading).
func (s *Server) handleUpdateCard(r *http.Request, ip string) any {
	raw, err := readBody(r)
	var req struct {
		UserIDs      []string `json:"userids"`
		PartyIDs     []int    `json:"partyids"`
		TagIDs       []int    `json:"tagids"`
		AtAll        int      `json:"atall"`
		ResponseCode string   `json:"response_code"`
		Button       *struct {
			ReplaceName string `json:"replace_name"`
		} `json:"button"`
		TemplateCard json.RawMessage `json:"template_card"`
	}
	formatErr := err != nil || json.Unmarshal(raw, &req) != nil
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(raw, &fields)
	agentID, agentErr := parseAgentID(fields["agentid"])

	return s.withAppJSON(r, ip, formatErr, func(sess *session) any {
		if agentErr != nil {
			return s.failV(agentErr, ip)
		}
		if app, ok := sess.c.apps[agentID]; !ok {
			return s.fail(codeInvalidAgentID, "", ip)
		} else if app != sess.app {
			return s.fail(codeAnotherAgent, "", ip)
		}
		now := s.now()
		rc, ok := s.t.codes[req.ResponseCode]
		switch {
		case !ok || rc.used || now.Sub(rc.issued) >= responseCodeTTL || rc.task.key.corp != sess.c.info.ID:
			return s.fail(codeResponseCodeGone, "", ip)
		case rc.task.key.agentID != agentID:
			return s.fail(codeCardWrongApp, "", ip)
		}
		replace := ""
		if req.Button != nil {
			replace = req.Button.ReplaceName
		}
		if replace == "" && len(req.TemplateCard) == 0 {
			return s.fail(codeInvalidParameter, "invalid parameter: button.replace_name or template_card required", ip)
		}
		if len(req.TemplateCard) > 0 {
			v, err := decodeAny(req.TemplateCard)
			ct, _ := asObj(v).str("", "card_type")
			if err != nil || asObj(v) == nil || ct == "" {
				return s.fail(codeInvalidParameter, "invalid parameter: template_card.card_type missing", ip)
			}
		}

		task := rc.task
		covered := task.order
		if rc.user != "" {
			covered = []string{rc.user}
		}
		resp := updateCardResponse{ErrMsg: "ok", InvalidUser: []string{}}
		var targets []string
		switch {
		case req.AtAll == 1:
			targets = task.order
		case len(req.UserIDs) == 0 && len(req.PartyIDs) == 0 && len(req.TagIDs) == 0:
			targets = covered
		default:
			want := map[string]bool{}
			for _, id := range req.UserIDs {
				key := strings.ToLower(id)
				if _, ok := task.deliveries[key]; ok {
					want[key] = true
				} else {
					resp.InvalidUser = append(resp.InvalidUser, id)
				}
			}
			for _, pid := range req.PartyIDs {
				if sess.c.depts[pid] != nil {
					for _, u := range sess.c.departmentMembers(pid, true) {
						want[strings.ToLower(u.UserID)] = true
					}
				}
			}
			for _, tid := range req.TagIDs {
				if tag := sess.c.tags[tid]; tag != nil {
					for _, uid := range tag.UserIDs {
						want[strings.ToLower(uid)] = true
					}
				}
			}
			for _, key := range task.order {
				if want[key] {
					targets = append(targets, key)
				}
			}
		}
		rc.used = true
		update := CardUpdate{ResponseCode: req.ResponseCode, ReplaceName: replace, Request: raw, At: now}
		for _, key := range targets {
			d := task.deliveries[key]
			if d == nil {
				continue
			}
			if replace != "" {
				d.ReplacedWith = replace
			}
			if len(req.TemplateCard) > 0 {
				d.UpdatedCard = append(json.RawMessage(nil), req.TemplateCard...)
			}
			update.UserIDs = append(update.UserIDs, sess.c.users[key].UserID)
		}
		s.t.cardUpdates = append(s.t.cardUpdates, update)
		return resp
	})
}

// handleRecall is POST /cgi-bin/message/recall {msgid} (page 94867). An unknown msgid (or one
// of another app) is 40058, WeCom's generic invalid-parameter code, since the page names no
// specific one; recalling twice succeeds twice.
func (s *Server) handleRecall(r *http.Request, ip string) any {
	raw, err := readBody(r)
	var req struct {
		MsgID string `json:"msgid"`
	}
	formatErr := err != nil || json.Unmarshal(raw, &req) != nil

	return s.withAppJSON(r, ip, formatErr, func(sess *session) any {
		if req.MsgID == "" {
			return s.fail(codeInvalidParameter, "invalid parameter: msgid missing", ip)
		}
		msg, ok := s.t.messages[req.MsgID]
		if !ok || msg.corp != sess.c.info.ID || msg.agentID != sess.app.AgentID {
			return s.fail(codeInvalidParameter, "invalid parameter: invalid msgid", ip)
		}
		if s.now().Sub(msg.at) > recallWindow {
			return s.fail(codeRecallTooLate, "", ip)
		}
		for _, d := range msg.deliveries {
			d.Recalled = true
		}
		return apiError{ErrMsg: "ok"}
	})
}

// SelectedItem is one answered question of a vote or multiple-choice card.
type SelectedItem struct {
	QuestionKey string
	OptionIDs   []string
}

// ClickCard plays a member clicking eventKey on the interactive card of taskID: it returns the
// plaintext XML WeCom would POST to the app's callback URL (template_card_event, or
// template_card_menu_event for an action_menu key) carrying that member's ResponseCode. Encrypt
// and post it with a CallbackCaller. A member whose code was used clicks again with a fresh
// code, as each WeCom callback carries its own; a card already updated, recalled, or without
// eventKey cannot be clicked.
func (s *Server) ClickCard(corpID, userid, taskID, eventKey string, selected ...SelectedItem) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tasks := s.t.tasksByID[corpTask{corpID, taskID}]
	key := strings.ToLower(userid)
	for _, task := range tasks {
		d, ok := task.deliveries[key]
		if !ok {
			continue
		}
		event, ok := task.keys[eventKey]
		switch {
		case !ok:
			return "", fmt.Errorf("wecomtest: card %s has no key %q", taskID, eventKey)
		case d.Recalled:
			return "", fmt.Errorf("wecomtest: card %s was recalled", taskID)
		case d.ReplacedWith != "" || d.UpdatedCard != nil:
			return "", fmt.Errorf("wecomtest: card %s of %s was already updated", taskID, userid)
		}
		now := s.now()
		if rc := s.t.codes[d.ResponseCode]; rc == nil || rc.used || now.Sub(rc.issued) >= responseCodeTTL {
			d.ResponseCode = s.issueCodeLocked(task, key, now)
		}
		from := s.corps[corpID].users[key].UserID
		if event == "template_card_menu_event" {
			return TemplateCardMenuEventXML(corpID, d.AgentID, from, taskID, eventKey, d.ResponseCode, task.cardType, now.Unix()), nil
		}
		return TemplateCardEventXML(corpID, d.AgentID, from, taskID, eventKey, d.ResponseCode, task.cardType, now.Unix(), selected), nil
	}
	return "", errors.New("wecomtest: " + userid + " received no interactive card with task_id " + taskID)
}
