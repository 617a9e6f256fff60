package wecomtest

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Group robots (群机器人, renamed 消息推送), page 99110 "消息推送配置说明" (last updated 2025-08-07):
//   - POST /cgi-bin/webhook/send?key=KEY; msgtypes text, markdown, markdown_v2, image, news, file,
//     voice, template_card (text_notice, news_notice).
//   - text.content ≤ 2048 bytes, markdown.content and markdown_v2.content ≤ 4096 bytes. WeCom
//     answers an over-long content 40058 "markdown.content exceed max length 4096" (seen in a
//     public bug report, BiliBiliToolPro#702); the simulator does the same for every content.
//   - text: mentioned_list (userids) and mentioned_mobile_list (mobiles), "@all" in either
//     mentions everyone; text and markdown also take <@userid> in content (markdown_v2 does not).
//   - image: base64 of the picture and md5 of its bytes before encoding; ≤ 2 MB before
//     encoding, JPG or PNG. A wrong md5 is 301019 "media md5 not match" (lenye/pmsg#2).
//   - news: articles 1–8; title (required) ≤ 128 bytes and description ≤ 512 bytes are
//     truncated by WeCom, not refused, so the simulator accepts longer ones; url required.
//   - file / voice: media_id from webhook/upload_media of the same robot, valid 3 days.
//   - "每个机器人发送的消息不能超过20条/分钟": a send past it is answered 45009 and not shown.
//   - POST /cgi-bin/webhook/upload_media?key=KEY&type=file|voice, multipart part "media":
//     more than 5 bytes; file ≤ 20 MB; voice ≤ 2 MB, AMR. "media_id只能是对应上传文件的机器人可以使用".
//   - An unknown key, or a robot removed from its group, is 93000 "invalid webhook url"
//     (page 90313: 机器人webhookurl不合法或者机器人已经被移除出群).
//
// Not in the docs, chosen here: the rate window slides (a send counts for 60 s from its time);
// only accepted sends count, and a message is validated before the rate is checked; an image
// over 2 MB is 40009 (page 90313: 上传图片大小不是有效值) and one that is not JPG or PNG 40123
// (上传临时图片素材，图片格式非法); empty content is 44004 as for app messages; a mention of a
// userid or mobile that is not in the group notifies nobody and is listed in UnmatchedMentions.

const (
	robotPerMinute  = 20
	robotImageLimit = 2 << 20
	robotTextLimit  = 2048
	robotMDLimit    = 4096
)

// mentionRe is WeCom's <@userid> extension in text and markdown content.
var mentionRe = regexp.MustCompile(`<@([^<>\s]+)>`)

// Robot is a group robot in a group chat of a corp, as AddRobot made it.
type Robot struct {
	Key      string
	CorpID   string
	ChatName string
	// Members are the group's members as userids (canonical for members of the corp).
	Members []string
}

// ChatMessage is one message as it appeared in a group conversation: posted by a robot
// (RobotKey set) or by an app into an app group chat (AgentID set).
type ChatMessage struct {
	MsgType string
	// Body is the message object for MsgType exactly as received.
	Body json.RawMessage
	// Request is the whole request body as received (whitespace trimmed).
	Request  json.RawMessage
	At       time.Time
	RobotKey string
	AgentID  int64
	// Mentions are the group members @-mentioned, as userids, in the order first mentioned:
	// text's mentioned_list and mentioned_mobile_list and <@userid> in text or markdown content.
	Mentions []string
	// MentionAll is set by "@all" in mentioned_list or mentioned_mobile_list.
	MentionAll bool
	// UnmatchedMentions are the userids and mobiles mentioned that are no member of the group:
	// WeCom notifies nobody for them.
	UnmatchedMentions []string
}

type robot struct {
	Robot
	removed bool
}

// AddRobot adds a robot to a group chat named chatName whose members are the given userids of
// corpID, and returns its webhook key. The key is derived from the seed, the corp, the chat
// name and a sequence, so seeded simulators hand out the same keys without drawing on the RNG.
func (s *Server) AddRobot(corpID, chatName string, members []string) (key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mustCorp(corpID)
	h := sha256.Sum256([]byte(fmt.Sprintf("%d\x00%s\x00%s\x00%d", s.seed, corpID, chatName, len(s.robotOrder))))
	key = fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16]) // WeCom's 8-4-4-4-12 shape
	r := &robot{Robot: Robot{Key: key, CorpID: corpID, ChatName: chatName}}
	for _, m := range members {
		r.Members = append(r.Members, s.canonical(c.info.ID, m))
	}
	s.robots[key] = r
	s.robotOrder = append(s.robotOrder, key)
	return key
}

// RemoveRobot plays a member removing the robot from its group: its key answers 93000 from now
// on.
func (s *Server) RemoveRobot(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.robots[key]; ok {
		r.removed = true
	}
}

// Robots lists a corp's robots in the order they were added, removed ones included.
func (s *Server) Robots(corpID string) []Robot {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Robot
	for _, k := range s.robotOrder {
		if r := s.robots[k]; r.CorpID == corpID {
			rr := r.Robot
			rr.Members = append([]string(nil), r.Members...)
			out = append(out, rr)
		}
	}
	return out
}

// RobotMessages returns what a robot posted into its group, oldest first.
func (s *Server) RobotMessages(key string) []ChatMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneChatMessages(s.t.robotMessages[key])
}

func cloneChatMessages(ms []*ChatMessage) []ChatMessage {
	return cloneEach(ms, func(m *ChatMessage) {
		m.Body, m.Request = bytes.Clone(m.Body), bytes.Clone(m.Request)
		m.Mentions = append([]string(nil), m.Mentions...)
		m.UnmatchedMentions = append([]string(nil), m.UnmatchedMentions...)
	})
}

// robotSession runs h under mu for the robot named by ?key=, or answers 93000.
func (s *Server) robotSession(r *http.Request, ip string, h func(rb *robot) any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	rb, ok := s.robots[r.URL.Query().Get("key")]
	if !ok || rb.removed {
		return s.fail(codeInvalidWebhook, "", ip)
	}
	return h(rb)
}

// robotPost is a webhook/send body parsed and validated outside the lock.
type robotPost struct {
	raw     []byte
	msgType string
	body    json.RawMessage
	info    *robotInfo
	err     *vErr
}

// robotInfo is what a valid robot message references: media to check and mentions to resolve.
type robotInfo struct {
	media      []mediaRef
	userids    []string
	mobiles    []string
	mentionAll bool
}

func parseRobotPost(r *http.Request) *robotPost {
	p := &robotPost{}
	raw, err := readBody(r)
	var fields map[string]json.RawMessage
	if err != nil || json.Unmarshal(raw, &fields) != nil || fields == nil {
		p.err = bad(codeDataFormat, "Warning: wrong json format. data format error")
		return p
	}
	p.raw = raw
	if e := json.Unmarshal(fields["msgtype"], &p.msgType); e != nil || p.msgType == "" {
		p.err = bad(codeInvalidMsgType, "invalid message type: msgtype missing")
		return p
	}
	p.body = fields[p.msgType]
	p.info, p.err = validateRobotBody(p.msgType, p.body)
	return p
}

// handleWebhookSend is POST /cgi-bin/webhook/send?key= (page 99110).
func (s *Server) handleWebhookSend(r *http.Request, ip string) any {
	p := parseRobotPost(r)
	return s.robotSession(r, ip, func(rb *robot) any {
		if p.err != nil {
			return s.failV(p.err, ip)
		}
		if e := s.checkMediaLocked(rb.CorpID, rb.Key, p.info.media); e != nil {
			return s.failV(e, ip)
		}
		now := s.now()
		w := s.t.robotRates[rb.Key]
		if w == nil {
			w = &rateWindow{}
			s.t.robotRates[rb.Key] = w
		}
		if !w.admit(now, robotPerMinute, math.MaxInt) {
			return s.fail(codeFreqOutOfLimit, "api freq out of limit: a robot sends at most 20 messages a minute", ip)
		}
		m := &ChatMessage{MsgType: p.msgType, Body: p.body, Request: p.raw, At: now, RobotKey: rb.Key}
		s.resolveMentionsLocked(rb, p.info, m)
		s.t.robotMessages[rb.Key] = append(s.t.robotMessages[rb.Key], m)
		return apiError{ErrMsg: "ok"}
	})
}

// resolveMentionsLocked turns the mentioned userids and mobiles into group members. Callers
// hold mu.
func (s *Server) resolveMentionsLocked(rb *robot, info *robotInfo, m *ChatMessage) {
	c := s.corps[rb.CorpID]
	inGroup := map[string]string{} // lower-cased userid → as listed
	for _, u := range rb.Members {
		inGroup[strings.ToLower(u)] = u
	}
	seen := map[string]bool{}
	mention := func(id string) {
		if !seen[id] {
			seen[id] = true
			m.Mentions = append(m.Mentions, id)
		}
	}
	m.MentionAll = info.mentionAll
	for _, id := range info.userids {
		if u, ok := inGroup[strings.ToLower(id)]; ok {
			mention(u)
		} else {
			m.UnmatchedMentions = append(m.UnmatchedMentions, id)
		}
	}
	for _, mobile := range info.mobiles {
		id := ""
		for _, key := range c.order {
			if u := c.users[key]; u.Mobile == mobile && inGroup[key] != "" {
				id = inGroup[key]
				break
			}
		}
		if id == "" {
			m.UnmatchedMentions = append(m.UnmatchedMentions, mobile)
			continue
		}
		mention(id)
	}
}

// validateRobotBody checks the object under msgtype by page 99110's rules.
func validateRobotBody(msgtype string, body json.RawMessage) (*robotInfo, *vErr) {
	switch msgtype {
	case "text", "markdown", "markdown_v2", "image", "news", "file", "voice", "template_card":
	default:
		return nil, bad(codeInvalidMsgType, "invalid message type %q", msgtype)
	}
	v, err := decodeAny(body)
	o := asObj(v)
	if len(body) == 0 || err != nil || o == nil {
		return nil, invalid("%s missing or not an object", msgtype)
	}
	p := msgtype + "."
	info := &robotInfo{}
	switch msgtype {
	case "text", "markdown", "markdown_v2":
		return info, robotContent(msgtype, p, o, info)
	case "image":
		return info, robotImage(p, o)
	case "news":
		return info, robotNews(p, o)
	case "file", "voice":
		id, e := o.required(p, "media_id", codeMissingMediaID)
		if e != nil {
			return nil, e
		}
		info.media = append(info.media, mediaRef{id: id, typ: msgtype, path: p + "media_id"})
		return info, nil
	}
	card, media, e := validateCard(o)
	switch {
	case e != nil:
		return nil, e
	case card.cardType != "text_notice" && card.cardType != "news_notice":
		return nil, invalid("template_card.card_type %q: robots send text_notice and news_notice only", card.cardType)
	case card.interactive:
		return nil, invalid("template_card.action_menu: robot cards are not interactive")
	}
	info.media = media
	return info, nil
}

func robotContent(msgtype, p string, o jobj, info *robotInfo) *vErr {
	content, e := o.str(p, "content")
	if e != nil {
		return e
	}
	limit := robotMDLimit
	if msgtype == "text" {
		limit = robotTextLimit
	}
	switch {
	case content == "":
		return bad(codeEmptyContent, "")
	case len(content) > limit:
		return invalid("%scontent exceed max length %d", p, limit)
	}
	if msgtype != "markdown_v2" {
		for _, sm := range mentionRe.FindAllStringSubmatch(content, -1) {
			info.userids = append(info.userids, sm[1])
		}
	}
	if msgtype != "text" {
		return nil
	}
	for _, f := range []struct {
		k   string
		dst *[]string
	}{{"mentioned_list", &info.userids}, {"mentioned_mobile_list", &info.mobiles}} {
		k, dst := f.k, f.dst
		raw, ok := o[k]
		if !ok || raw == nil {
			continue
		}
		list, ok := raw.([]any)
		if !ok {
			return invalid("%s%s must be an array of strings", p, k)
		}
		for _, x := range list {
			id, ok := x.(string)
			switch {
			case !ok:
				return invalid("%s%s must be an array of strings", p, k)
			case id == "@all":
				info.mentionAll = true
			default:
				*dst = append(*dst, id)
			}
		}
	}
	return nil
}

func robotImage(p string, o jobj) *vErr {
	b64, e := o.str(p, "base64")
	if e != nil {
		return e
	}
	sum, e := o.str(p, "md5")
	if e != nil {
		return e
	}
	if b64 == "" || sum == "" {
		return invalid("%sbase64 and %smd5 are required", p, p)
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return invalid("%sbase64 is not base64", p)
	}
	got := md5.Sum(data)
	switch {
	case !strings.EqualFold(hex.EncodeToString(got[:]), sum):
		return bad(codeMediaMD5Mismatch, "")
	case len(data) > robotImageLimit:
		return bad(codeInvalidImageSize, "invalid image size: %d bytes, at most 2 MB before base64", len(data))
	case !isJPEGOrPNG(data):
		return bad(codeInvalidImageFormat, "invalid image format: only JPG and PNG")
	}
	return nil
}

func isJPEGOrPNG(b []byte) bool {
	return bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) || bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n"))
}

func robotNews(p string, o jobj) *vErr {
	if raw, ok := o["articles"].([]any); ok && len(raw) > 8 {
		return bad(codeArticleCount, "article size out of limit: %d articles, 1 to 8 allowed", len(raw))
	}
	arts, e := o.list(p, "articles")
	if e != nil {
		return e
	}
	if len(arts) == 0 {
		return bad(codeArticleCount, "article size out of limit: 0 articles, 1 to 8 allowed")
	}
	for i, a := range arts {
		ap := fmt.Sprintf("%sarticles[%d].", p, i)
		_, e1 := a.required(ap, "title", codeMissingTitle)
		_, e2 := a.required(ap, "url", codeMissingURL)
		_, e3 := a.str(ap, "description")
		_, e4 := a.str(ap, "picurl")
		if e := firstErr(e1, e2, e3, e4); e != nil {
			return e
		}
	}
	return nil
}

// handleWebhookUpload is POST /cgi-bin/webhook/upload_media?key=&type=file|voice (page 99110):
// media.upload's rules for the two types, the media_id usable by this robot only.
func (s *Server) handleWebhookUpload(r *http.Request, ip string) any {
	up := readUpload(r, func(typ string) bool { return typ == "file" || typ == "voice" })
	return s.robotSession(r, ip, func(rb *robot) any {
		if e := up.problem(); e != nil {
			return s.failV(e, ip)
		}
		return s.storeMediaLocked(rb.CorpID, rb.Key, up)
	})
}
