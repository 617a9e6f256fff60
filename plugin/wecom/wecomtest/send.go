package wecomtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	maxBodyBytes        = 8 << 20 // mpnews allows 8 articles of 666 KB
	perMinuteLimit      = 30
	perHourLimit        = 1000
	sendsPerSeatPerDay  = 200
	defaultDupInterval  = 1800 * time.Second
	maxDupInterval      = 4 * time.Hour
	responseCodeTTL     = 72 * time.Hour
	recallWindow        = 24 * time.Hour
	maxToUser           = 1000
	maxToPartyOrTag     = 100
	dupCompactThreshold = 1024
)

// china is the zone WeCom's daily quota resets in.
func china() *time.Location { return time.FixedZone("CST", 8*3600) }

// outgoing is a send request parsed outside the lock; its errors are reported in WeCom's order
// once the caller is authenticated.
type outgoing struct {
	raw       []byte // the body as received, whitespace trimmed
	fields    map[string]json.RawMessage
	formatErr bool
	agentID   int64
	agentErr  *vErr
	msgType   string
	body      json.RawMessage
	info      *bodyInfo
	bodyErr   *vErr
	hash      [32]byte
}

func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBodyBytes {
		return nil, io.ErrShortBuffer
	}
	return bytes.TrimSpace(b), nil
}

// parseOutgoing reads what message/send and linkedcorp/message/send share.
func parseOutgoing(r *http.Request, linked bool) *outgoing {
	out := &outgoing{}
	raw, err := readBody(r)
	if err != nil || json.Unmarshal(raw, &out.fields) != nil || out.fields == nil {
		out.formatErr = true
		return out
	}
	out.raw = raw
	out.hash = sha256.Sum256(raw)
	out.agentID, out.agentErr = parseAgentID(out.fields["agentid"])
	if err := json.Unmarshal(out.fields["msgtype"], &out.msgType); err != nil || out.msgType == "" {
		out.bodyErr = bad(codeInvalidMsgType, "invalid message type: msgtype missing")
		return out
	}
	safe, e := rawInt(out.fields, "safe")
	if e != nil {
		out.bodyErr = e
		return out
	}
	out.body = out.fields[out.msgType]
	out.info, out.bodyErr = validateBody(out.msgType, out.body, safe, linked)
	return out
}

// parseAgentID requires a JSON integer: WeCom documents agentid as an int, and a quoted
// "1000002" is answered 40058 here (see the package report for why not 40056).
func parseAgentID(raw json.RawMessage) (int64, *vErr) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, bad(codeMissingAgentID, "")
	}
	if raw[0] == '"' {
		return 0, bad(codeInvalidParameter, "invalid parameter: agentid must be an integer, not a string")
	}
	var id int64
	if err := json.Unmarshal(raw, &id); err != nil {
		return 0, bad(codeInvalidParameter, "invalid parameter: agentid must be an integer")
	}
	return id, nil
}

func rawInt(fields map[string]json.RawMessage, k string) (int64, *vErr) {
	raw, ok := fields[k]
	if !ok || string(raw) == "null" {
		return 0, nil
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, bad(codeInvalidParameter, "invalid parameter: %s must be an integer", k)
	}
	return n, nil
}

func rawString(fields map[string]json.RawMessage, k string) (string, *vErr) {
	raw, ok := fields[k]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", bad(codeInvalidParameter, "invalid parameter: %s must be a string", k)
	}
	return s, nil
}

func rawStrings(fields map[string]json.RawMessage, k string) ([]string, *vErr) {
	raw, ok := fields[k]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var xs []string
	if err := json.Unmarshal(raw, &xs); err != nil {
		return nil, bad(codeInvalidParameter, "invalid parameter: %s must be an array of strings", k)
	}
	return xs, nil
}

// splitIDs splits WeCom's "a|b|c" lists, ignoring empty segments.
func splitIDs(s string) []string {
	var out []string
	for _, p := range strings.Split(s, "|") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// checkSenderLocked applies the checks both send endpoints make after authentication, in
// WeCom's order. Callers hold mu.
func (s *Server) checkSenderLocked(sess *session, out *outgoing) *vErr {
	switch {
	case out.formatErr:
		return bad(codeDataFormat, "Warning: wrong json format. data format error")
	case sess.app.ContactsSecret:
		return bad(codeAPIForbidden, "api forbidden: the contacts-sync secret cannot send messages")
	case out.agentErr != nil:
		return out.agentErr
	}
	app, ok := sess.c.apps[out.agentID]
	switch {
	case !ok:
		return bad(codeInvalidAgentID, "")
	case app != sess.app:
		return bad(codeAnotherAgent, "")
	case out.bodyErr != nil:
		return out.bodyErr
	}
	if e := s.checkMediaLocked(sess.c.info.ID, "", out.info.media); e != nil {
		return e
	}
	if out.info.card != nil && out.info.card.interactive && app.CallbackURL == "" {
		return bad(codeNeedsCallback, "")
	}
	return nil
}

// checkMediaLocked checks media_ids against the uploads of a corp's apps (robot "") or of one
// robot: a robot's media serve only that robot (page 99110), an app's any app of the corp.
func (s *Server) checkMediaLocked(corpID, robot string, refs []mediaRef) *vErr {
	now := s.now()
	for _, ref := range refs {
		m, ok := s.media[ref.id]
		switch {
		case !ok || m.corp != corpID || m.robot != robot:
			return bad(codeInvalidMediaID, "invalid media_id: %s is unknown", ref.path)
		case now.Sub(m.created) >= mediaLifetime:
			return bad(codeInvalidMediaID, "invalid media_id: %s expired (temporary media live 3 days)", ref.path)
		case m.typ != ref.typ:
			return bad(codeInvalidMediaID, "invalid media_id: %s is a %s, %s needs a %s", ref.path, m.typ, ref.path, ref.typ)
		}
	}
	return nil
}

type sendResponse struct {
	ErrCode        int    `json:"errcode"`
	ErrMsg         string `json:"errmsg"`
	InvalidUser    string `json:"invaliduser"`
	InvalidParty   string `json:"invalidparty"`
	InvalidTag     string `json:"invalidtag"`
	UnlicensedUser string `json:"unlicenseduser,omitempty"`
	MsgID          string `json:"msgid,omitempty"`
	ResponseCode   string `json:"response_code,omitempty"`
}

// withSender is withSession for the send endpoints: checkSenderLocked's errcodes come right
// after the token's.
func (s *Server) withSender(r *http.Request, ip string, out *outgoing, h func(sess *session) any) any {
	return s.withSession(r, ip, func(sess *session) any {
		if e := s.checkSenderLocked(sess, out); e != nil {
			return s.failV(e, ip)
		}
		return h(sess)
	})
}

// handleSend is POST /cgi-bin/message/send.
func (s *Server) handleSend(r *http.Request, ip string) any {
	out := parseOutgoing(r, false)
	var toUser, toParty, toTag string
	var rcptErr *vErr
	var dupCheck, dupSeconds int64
	if !out.formatErr {
		var e1, e2, e3, e4, e5 *vErr
		toUser, e1 = rawString(out.fields, "touser")
		toParty, e2 = rawString(out.fields, "toparty")
		toTag, e3 = rawString(out.fields, "totag")
		dupCheck, e4 = rawInt(out.fields, "enable_duplicate_check")
		dupSeconds, e5 = rawInt(out.fields, "duplicate_check_interval")
		rcptErr = firstErr(e1, e2, e3, e4, e5)
	}
	users, parties, tags := splitIDs(toUser), splitIDs(toParty), splitIDs(toTag)

	return s.withSender(r, ip, out, func(sess *session) any {
		toAll := containsString(users, "@all")
		if e := s.recipientLimits(rcptErr, users, parties, tags, false, ip); e != nil {
			return e
		}
		switch {
		case out.msgType == "miniprogram_notice" && toAll:
			return s.fail(codeInvalidParameter, "invalid parameter: miniprogram_notice cannot be sent to @all", ip)
		}
		now := s.now()
		t := s.t
		// The duplicate check comes before the task_id check: a retried card send (same body, same
		// task_id) must be deduplicated, not refused as "task_id exist".
		dupKey := dupKeyFor(sess.c.info.ID, out.agentID, out.hash)
		if dupCheck == 1 {
			t.pruneDups(now)
			if e, ok := t.dups[dupKey]; ok && now.Sub(e.at) < e.interval {
				t.duplicates++
				return e.resp
			}
		}
		card := out.info.card
		if card != nil && card.taskID != "" {
			if _, exists := t.tasks[taskKey{sess.c.info.ID, out.agentID, card.taskID}]; exists {
				return s.fail(codeInvalidParameter, "task_id exist", ip)
			}
		}
		rc := sess.c.resolve(sess.app, users, parties, tags, toAll)
		if len(rc.users) == 0 && rc.anyInvalid() {
			return sendResponse{
				ErrCode: codeAllInvalid, ErrMsg: s.errmsg(codeAllInvalid, "", ip),
				InvalidUser: strings.Join(rc.invalidUser, "|"), InvalidParty: strings.Join(rc.invalidParty, "|"),
				InvalidTag: strings.Join(rc.invalidTag, "|"), UnlicensedUser: strings.Join(rc.unlicensed, "|"),
			}
		}
		targets := make([]target, len(rc.users))
		for i, u := range rc.users {
			targets[i] = target{corp: sess.c.info.ID, user: u}
		}
		if !s.consumeQuotaLocked(sess.c, len(targets), now) {
			return s.fail(codeFreqOutOfLimit, "api freq out of limit: the corp's daily quota of seats*200 person-sends is used up", ip)
		}
		msg, sendCode := s.deliverLocked(sess.c.info.ID, out, targets, now)
		resp := sendResponse{
			ErrMsg:      "ok",
			InvalidUser: strings.Join(rc.invalidUser, "|"), InvalidParty: strings.Join(rc.invalidParty, "|"),
			InvalidTag: strings.Join(rc.invalidTag, "|"), UnlicensedUser: strings.Join(rc.unlicensed, "|"),
			MsgID: msg.id, ResponseCode: sendCode,
		}
		t.messages[msg.id] = msg
		if dupCheck == 1 {
			interval := time.Duration(dupSeconds) * time.Second
			if interval <= 0 {
				interval = defaultDupInterval
			}
			interval = min(interval, maxDupInterval) // WeCom: "最大不超过4小时"
			t.dups[dupKey] = &dupEntry{at: now, interval: interval, resp: resp}
			t.dupOrder = append(t.dupOrder, dupRef{key: dupKey, at: now})
		}
		return resp
	})
}

func containsString(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// resolution is the outcome of resolving touser/toparty/totag within an app's visible range.
type resolution struct {
	users                                             []*User
	invalidUser, invalidParty, invalidTag, unlicensed []string
	seen, seenUnlicensed, seenInvalid                 map[string]bool
}

func (rc *resolution) anyInvalid() bool {
	return len(rc.invalidUser)+len(rc.invalidParty)+len(rc.invalidTag)+len(rc.unlicensed) > 0
}

func (rc *resolution) addInvalidUser(id string) {
	id = strings.ToLower(id) // WeCom lower-cases userids in invaliduser
	if !rc.seenInvalid[id] {
		rc.seenInvalid[id] = true
		rc.invalidUser = append(rc.invalidUser, id)
	}
}

// add considers one member; explicit is true when the member was named in touser, so that a
// member who cannot receive is reported rather than skipped.
func (rc *resolution) add(c *corp, app *appState, u *User, explicit bool) {
	key := strings.ToLower(u.UserID)
	switch {
	case rc.seen[key]:
	case !c.userVisible(app, u) || u.Status != 1:
		if explicit {
			rc.addInvalidUser(u.UserID)
		}
	case u.Unlicensed:
		if !rc.seenUnlicensed[key] {
			rc.seenUnlicensed[key] = true
			rc.unlicensed = append(rc.unlicensed, key)
		}
	default:
		rc.seen[key] = true
		rc.users = append(rc.users, u)
	}
}

// resolve expands recipients like WeCom: @all is every active member in the visible range,
// parties expand recursively, tags to their members and parties; ids that are unknown or outside
// the range come back in the invalid lists.
func (c *corp) resolve(app *appState, users, parties, tags []string, toAll bool) *resolution {
	rc := &resolution{seen: map[string]bool{}, seenUnlicensed: map[string]bool{}, seenInvalid: map[string]bool{}}
	if toAll {
		for _, key := range c.order {
			rc.add(c, app, c.users[key], false)
		}
		return rc // WeCom ignores toparty and totag with @all
	}
	for _, id := range users {
		u, ok := c.users[strings.ToLower(id)]
		if !ok {
			rc.addInvalidUser(id)
			continue
		}
		rc.add(c, app, u, true)
	}
	for _, p := range parties {
		id, err := strconv.Atoi(p)
		if err != nil || !c.deptVisible(app, id) {
			rc.invalidParty = append(rc.invalidParty, p)
			continue
		}
		for _, u := range c.departmentMembers(id, true) {
			rc.add(c, app, u, false)
		}
	}
	for _, tg := range tags {
		members, ok := c.tagMembers(tg)
		if !ok {
			rc.invalidTag = append(rc.invalidTag, tg)
			continue
		}
		for _, u := range members {
			rc.add(c, app, u, false)
		}
	}
	return rc
}

// tagMembers is the members a tag (by its id as sent) reaches: its own users and its departments'
// members, recursively; false when the tag does not exist.
func (c *corp) tagMembers(tg string) ([]*User, bool) {
	id, err := strconv.Atoi(tg)
	tag, ok := c.tags[id]
	if err != nil || !ok {
		return nil, false
	}
	var out []*User
	for _, uid := range tag.UserIDs {
		if u, ok := c.users[strings.ToLower(uid)]; ok {
			out = append(out, u)
		}
	}
	for _, pid := range tag.PartyIDs {
		if _, ok := c.depts[pid]; ok {
			out = append(out, c.departmentMembers(pid, true)...)
		}
	}
	return out, true
}

type target struct {
	corp string
	user *User
}

type message struct {
	id         string
	corp       string
	agentID    int64
	at         time.Time
	deliveries []*Delivery
}

type taskKey struct {
	corp    string
	agentID int64
	taskID  string
}

type corpTask struct{ corp, taskID string }

type cardTask struct {
	key        taskKey
	cardType   string
	keys       map[string]string
	msgID      string
	deliveries map[string]*Delivery // lower-cased userid → the member's card
	order      []string             // lower-cased userids, delivery order
}

type responseCode struct {
	task   *cardTask
	user   string // lower-cased clicker; "" for the send's code, which covers every recipient
	issued time.Time
	used   bool
}

// deliverLocked puts the message in each target's inbox, subject to the per-member rate limit,
// and registers the card's task and response codes. Callers hold mu.
func (s *Server) deliverLocked(fromCorp string, out *outgoing, targets []target, now time.Time) (*message, string) {
	t := s.t
	msg := &message{id: s.uniqueID("", 48), corp: fromCorp, agentID: out.agentID, at: now}
	var task *cardTask
	card := out.info.card
	if card != nil && card.taskID != "" {
		key := taskKey{fromCorp, out.agentID, card.taskID}
		task = &cardTask{key: key, cardType: card.cardType, keys: card.keys, msgID: msg.id, deliveries: map[string]*Delivery{}}
		t.tasks[key] = task
		ck := corpTask{fromCorp, card.taskID}
		t.tasksByID[ck] = append(t.tasksByID[ck], task)
	}
	interactive := card != nil && card.interactive
	for _, tg := range targets {
		rk := rateKey{fromCorp: fromCorp, agentID: out.agentID, corp: tg.corp, user: strings.ToLower(tg.user.UserID)}
		w := t.rates[rk]
		if w == nil {
			w = &rateWindow{}
			t.rates[rk] = w
		}
		if !w.allow(now) {
			t.totalDrops++
			if t.drops[tg.corp] == nil {
				t.drops[tg.corp] = map[string]int{}
			}
			t.drops[tg.corp][tg.user.UserID]++
			continue
		}
		d := &Delivery{
			MsgID: msg.id, AgentID: out.agentID, FromCorpID: fromCorp, MsgType: out.msgType,
			Body: out.body, Request: out.raw, At: now,
		}
		if task != nil {
			d.TaskID = task.key.taskID
			task.deliveries[rk.user] = d
			task.order = append(task.order, rk.user)
		}
		if interactive {
			d.ResponseCode = s.issueCodeLocked(task, rk.user, now)
		}
		if t.inbox[tg.corp] == nil {
			t.inbox[tg.corp] = map[string][]*Delivery{}
		}
		t.inbox[tg.corp][tg.user.UserID] = append(t.inbox[tg.corp][tg.user.UserID], d)
		t.delivered++
		msg.deliveries = append(msg.deliveries, d)
	}
	if !interactive {
		return msg, ""
	}
	return msg, s.issueCodeLocked(task, "", now)
}

func (s *Server) issueCodeLocked(task *cardTask, user string, now time.Time) string {
	code := s.uniqueID("", 40)
	s.t.codes[code] = &responseCode{task: task, user: user, issued: now}
	return code
}

// consumeQuotaLocked charges n person-sends to the corp's daily quota, or refuses the whole
// request when they do not fit. Callers hold mu.
func (s *Server) consumeQuotaLocked(c *corp, n int, now time.Time) bool {
	if c.info.Seats <= 0 {
		return true
	}
	return s.countToday(s.t.quota, c.info.ID, n, c.info.Seats*sendsPerSeatPerDay, now)
}

// countToday adds n to key's count for today (China calendar day) unless that passes limit.
// Callers hold mu.
func (s *Server) countToday(days map[string]*quotaDay, key string, n, limit int, now time.Time) bool {
	q := today(days, key, now)
	if q.used+n > limit {
		return false
	}
	q.used += n
	return true
}

// today returns key's counter for the current China calendar day, starting a new one at
// midnight.
func today[K comparable](days map[K]*quotaDay, key K, now time.Time) *quotaDay {
	return counterFor(days, key, now.In(china()).Format(time.DateOnly))
}

// counterFor returns key's counter for period (a day or month label), starting a new one when
// the period changes.
func counterFor[K comparable](counters map[K]*quotaDay, key K, period string) *quotaDay {
	q := counters[key]
	if q == nil || q.day != period {
		q = &quotaDay{day: period}
		counters[key] = q
	}
	return q
}

// quotaDay counts within one period: a China calendar day, or a month for customers.
type quotaDay struct {
	day  string
	used int
}

type rateKey struct {
	fromCorp string
	agentID  int64
	corp     string
	user     string
}

// rateWindow holds the delivery times within the last hour, oldest first: one member's from one
// app, or one robot's. Only deliveries count: a refused message does not extend the block.
type rateWindow struct {
	times []time.Time
	head  int
}

// allow admits a delivery to a member under the per-app per-member limits.
func (w *rateWindow) allow(now time.Time) bool {
	return w.admit(now, perMinuteLimit, perHourLimit)
}

// admit records a delivery at now unless the last minute holds perMinute of them or the last
// hour perHour; sliding windows, as WeCom documents none other.
func (w *rateWindow) admit(now time.Time, perMinute, perHour int) bool {
	hourAgo := now.Add(-time.Hour)
	for w.head < len(w.times) && !w.times[w.head].After(hourAgo) {
		w.head++
	}
	if w.head > 64 && w.head*2 > len(w.times) {
		w.times = append([]time.Time(nil), w.times[w.head:]...)
		w.head = 0
	}
	live := w.times[w.head:]
	if len(live) >= perHour {
		return false
	}
	minuteAgo := now.Add(-time.Minute)
	i := sort.Search(len(live), func(i int) bool { return live[i].After(minuteAgo) })
	if len(live)-i >= perMinute {
		return false
	}
	w.times = append(w.times, now)
	return true
}

type dupEntry struct {
	at       time.Time
	interval time.Duration
	resp     sendResponse
}

type dupRef struct {
	key [32]byte
	at  time.Time
}

func dupKeyFor(corpID string, agentID int64, bodyHash [32]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(corpID))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatInt(agentID, 10)))
	h.Write([]byte{0})
	h.Write(bodyHash[:])
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k
}

// pruneDups forgets entries older than the longest interval, oldest first: amortised O(1).
func (t *traffic) pruneDups(now time.Time) {
	for t.dupHead < len(t.dupOrder) && now.Sub(t.dupOrder[t.dupHead].at) >= maxDupInterval {
		ref := t.dupOrder[t.dupHead]
		if e, ok := t.dups[ref.key]; ok && e.at.Equal(ref.at) {
			delete(t.dups, ref.key)
		}
		t.dupHead++
	}
	if t.dupHead > dupCompactThreshold && t.dupHead*2 > len(t.dupOrder) {
		t.dupOrder = append([]dupRef(nil), t.dupOrder[t.dupHead:]...)
		t.dupHead = 0
	}
}

// recipientLimits answers what message/send and linkedcorp both check of the recipients: a bad
// recipient field, none at all (82001, unless toAll), and the list sizes WeCom allows.
func (s *Server) recipientLimits(rcptErr *vErr, users, parties, tags []string, toAll bool, ip string) *apiError {
	switch {
	case rcptErr != nil:
		return s.failV(rcptErr, ip)
	case !toAll && len(users) == 0 && len(parties) == 0 && len(tags) == 0:
		return s.fail(codeNoRecipients, "", ip)
	case len(users) > maxToUser:
		return s.fail(codeUserListSize, "", ip)
	case len(parties) > maxToPartyOrTag:
		return s.fail(codePartyListSize, "", ip)
	case len(tags) > maxToPartyOrTag:
		return s.fail(codeTagListSize, "", ip)
	}
	return nil
}
