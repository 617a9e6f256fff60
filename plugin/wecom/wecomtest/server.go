package wecomtest

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxUploadBytes bounds any request body the simulator buffers: the largest media (20 MB) plus
// multipart overhead.
const maxUploadBytes = 32 << 20

// Options configure a Server.
type Options struct {
	// Now is the simulator's clock: token expiry, rate windows, duplicate-check intervals,
	// response_code expiry (72 h), the recall window (24 h), media expiry (3 days), sign-in code
	// expiry (5 min) and the daily quota all read it. Default time.Now. Fault latencies are real
	// time, not this clock.
	Now func() time.Time
	// Seed makes tokens, ids and FailRate draws deterministic when non-zero.
	Seed int64
}

// Server is the simulated WeCom. Create it with New, describe corps with AddCorp, AddApp,
// AddDepartment, AddUser, AddTag, AddRobot and AddExternalContact (or SeedDemo), and mount it as
// an http.Handler. All methods are safe for concurrent use.
type Server struct {
	now     func() time.Time
	seed    uint64
	hintSeq atomic.Uint64 // errmsg hints are drawn outside mu so error paths stay lock-free

	mu         sync.Mutex
	rng        *rand.Rand
	idSeq      uint64
	corps      map[string]*corp
	links      map[string]map[string]bool // corp → connected corps it may address
	tokens     map[string]*token
	current    map[appKey]string // the token gettoken hands out while it is valid
	media      map[string]*mediaFile
	robots     map[string]*robot // by webhook key
	robotOrder []string
	chats      map[chatRef]*appChat // app group chats: created by the API, kept by Reset
	chatOrder  []chatRef
	t          *traffic // everything Reset forgets
}

// Corp is a WeCom enterprise.
type Corp struct {
	ID   string // e.g. "wwsandbox000000001"
	Name string
	// Seats is the licensed account count; the corp may make Seats*200 person-sends a day
	// (counted per China calendar day). 0 means unlimited.
	Seats int
}

// App is a self-built app (应用) of a corp, or — with ContactsSecret — the 通讯录同步 secret, or —
// with ExternalContactSecret — the 客户联系 secret.
type App struct {
	AgentID int64
	Secret  string
	// ContactsSecret marks the 通讯录同步 secret: directory reads including user/list_id are
	// allowed over the whole corp, message/send and media/upload are not (48002). A corp has one;
	// its AgentID is ignored.
	ContactsSecret bool
	// ExternalContactSecret marks the 客户联系 secret: only the externalcontact APIs accept its
	// token, and they accept no other (both ways 48002, page 90313 on 48002). A corp has one;
	// its AgentID is ignored. An App sets at most one of ContactsSecret and ExternalContactSecret.
	ExternalContactSecret bool
	// VisibleDepartments is the app's visible range (recursively); empty means the whole corp.
	VisibleDepartments []int
	// CallbackURL non-empty means 接收消息 is configured; interactive cards need it (else 43012).
	CallbackURL string
	// TrustedIPs non-empty is the 企业可信IP list: requests from other IPs get 60020.
	TrustedIPs []string
	// DetailsRefused makes user/get and user/list answer 48009, as WeCom does for the contacts
	// secret used from a new IP; simplelist and list_id keep working.
	DetailsRefused bool
}

// Department is a node of a corp's organisation tree. The root has ParentID 0.
type Department struct {
	ID       int
	ParentID int
	Name     string
	NameEn   string
	Order    int
}

// User is a member of a corp.
type User struct {
	UserID         string
	Name           string
	Mobile         string
	Email          string // the personal email (user/get_userid_by_email email_type 2)
	BizMail        string // the enterprise email, 企业邮箱 (email_type 1)
	Position       string
	Gender         string // "0" unknown, "1" male, "2" female
	Departments    []int
	MainDepartment int
	// LeaderOf are the departments (of Departments) the member leads: user/list and user/get
	// answer them as is_leader_in_dept, department/list and department/get as department_leader.
	LeaderOf []int
	// Status is WeCom's: 1 active, 2 disabled, 4 not activated, 5 left. 0 is taken as 1.
	Status int
	// Unlicensed members are listed in unlicenseduser and never receive messages.
	Unlicensed bool
}

// Tag is a corp tag (标签); its members are UserIDs plus the members of PartyIDs (recursively).
type Tag struct {
	ID       int
	Name     string
	UserIDs  []string
	PartyIDs []int
}

// Delivery is one message as it reached one member.
type Delivery struct {
	MsgID   string
	AgentID int64
	// FromCorpID is the sending corp; it differs from the inbox's corp for linkedcorp sends.
	FromCorpID string
	MsgType    string
	// Body is the message object for MsgType exactly as received (e.g. the "textcard" object).
	Body json.RawMessage
	// Request is the whole request body as received (whitespace trimmed).
	Request json.RawMessage
	At      time.Time
	// Recalled is set by a successful message/recall.
	Recalled bool
	// ResponseCode is this member's own code for an interactive card: the one ClickCard puts in
	// the template_card_event and that allows one update_template_card for this member.
	ResponseCode string
	TaskID       string
	// ReplacedWith is the button.replace_name of an accepted update_template_card.
	ReplacedWith string
	// UpdatedCard is the template_card of an accepted update_template_card that replaced the card.
	UpdatedCard json.RawMessage
}

// CardUpdate is one accepted message/update_template_card call.
type CardUpdate struct {
	ResponseCode string
	ReplaceName  string
	UserIDs      []string // the members whose card changed
	Request      json.RawMessage
	At           time.Time
}

type corp struct {
	info      Corp
	apps      map[int64]*appState
	contacts  *appState
	external  *appState // the 客户联系 secret
	depts     map[int]*Department
	children  map[int][]int
	users     map[string]*User // by lower-cased userid: WeCom userids are case-insensitive
	order     []string         // lower-cased userids in the order they were added
	deptUsers map[int][]string
	tags      map[int]*Tag
	customers map[string]*customer // external contacts by external_userid
	custOrder []string
}

type appState struct {
	App
	visible map[int]bool // nil: whole corp
	trusted map[string]bool
}

type appKey struct {
	corp    string
	agentID int64
	kind    secretKind
}

// secretKind tells which of a corp's secrets a token came from.
type secretKind int

const (
	appSecret      secretKind = iota
	contactsSecret            // 通讯录同步
	externalSecret            // 客户联系
)

func (a *appState) kind() secretKind {
	switch {
	case a.ContactsSecret:
		return contactsSecret
	case a.ExternalContactSecret:
		return externalSecret
	}
	return appSecret
}

type token struct {
	key     appKey
	issued  time.Time
	invalid bool
}

type mediaFile struct {
	corp     string
	robot    string // the webhook key of the robot that uploaded it; "" for an app's upload
	typ      string
	size     int
	filename string
	created  time.Time
}

// traffic is the state Reset forgets.
type traffic struct {
	calls       map[string]int
	faults      map[string]*faultPlan
	inbox       map[string]map[string][]*Delivery // corp → canonical userid → deliveries
	drops       map[string]map[string]int
	totalDrops  int
	delivered   int
	duplicates  int
	dups        map[[32]byte]*dupEntry
	dupOrder    []dupRef
	dupHead     int
	rates       map[rateKey]*rateWindow
	quota       map[string]*quotaDay
	messages    map[string]*message
	tasks       map[taskKey]*cardTask
	tasksByID   map[corpTask][]*cardTask
	codes       map[string]*responseCode
	cardUpdates []CardUpdate
	logins      map[string]*loginCode // sign-in codes the pages and IssueLoginCode handed out

	robotMessages  map[string][]*ChatMessage // webhook key → what the robot posted
	robotRates     map[string]*rateWindow
	chatMessages   map[chatRef][]*ChatMessage
	chatCreates    map[string]*quotaDay    // corp → appchat/create calls today
	chatUpdates    map[string]*rateWindow  // corp → appchat/update calls in the last hour
	chatSends      map[string]*personSends // corp → appchat/send person-sends in the last minute
	lookupFailures map[string]*quotaDay    // corp → failed id lookups today
	massMessages   map[string]*massMessage // msgid → customer mass message
	massOrder      []string
	customerMonths map[customerKey]*quotaDay // customer's mass messages received this month
}

func newTraffic() *traffic {
	return &traffic{
		calls:     map[string]int{},
		faults:    map[string]*faultPlan{},
		inbox:     map[string]map[string][]*Delivery{},
		drops:     map[string]map[string]int{},
		dups:      map[[32]byte]*dupEntry{},
		rates:     map[rateKey]*rateWindow{},
		quota:     map[string]*quotaDay{},
		messages:  map[string]*message{},
		tasks:     map[taskKey]*cardTask{},
		tasksByID: map[corpTask][]*cardTask{},
		codes:     map[string]*responseCode{},
		logins:    map[string]*loginCode{},

		robotMessages:  map[string][]*ChatMessage{},
		robotRates:     map[string]*rateWindow{},
		chatMessages:   map[chatRef][]*ChatMessage{},
		chatCreates:    map[string]*quotaDay{},
		chatUpdates:    map[string]*rateWindow{},
		chatSends:      map[string]*personSends{},
		lookupFailures: map[string]*quotaDay{},
		massMessages:   map[string]*massMessage{},
		customerMonths: map[customerKey]*quotaDay{},
	}
}

// New returns an empty simulator.
func New(opts Options) *Server {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	seed := uint64(opts.Seed)
	if seed == 0 {
		seed = rand.Uint64() // unseeded: random, as WeCom's ids are
	}
	return &Server{
		now:     now,
		seed:    seed,
		rng:     rand.New(rand.NewPCG(seed, splitmix(seed))),
		corps:   map[string]*corp{},
		links:   map[string]map[string]bool{},
		tokens:  map[string]*token{},
		current: map[appKey]string{},
		media:   map[string]*mediaFile{},
		robots:  map[string]*robot{},
		chats:   map[chatRef]*appChat{},
		t:       newTraffic(),
	}
}

// AddCorp adds a corp, or replaces its name and seats if it exists.
func (s *Server) AddCorp(c Corp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.corps[c.ID]; ok {
		old.info = c
		return
	}
	s.corps[c.ID] = &corp{
		info:      c,
		apps:      map[int64]*appState{},
		depts:     map[int]*Department{},
		children:  map[int][]int{},
		users:     map[string]*User{},
		deptUsers: map[int][]string{},
		tags:      map[int]*Tag{},
		customers: map[string]*customer{},
	}
}

// mustCorp returns the corp or panics: setup mistakes in tests should fail loudly.
func (s *Server) mustCorp(corpID string) *corp {
	c, ok := s.corps[corpID]
	if !ok {
		panic("wecomtest: unknown corp " + corpID + " (call AddCorp first)")
	}
	return c
}

// AddApp adds an app to a corp, replacing the app with the same AgentID (or the corp's
// contacts or 客户联系 secret). Tokens already issued stay valid.
func (s *Server) AddApp(corpID string, a App) {
	if a.ContactsSecret && a.ExternalContactSecret {
		panic("wecomtest: an App is at most one of ContactsSecret and ExternalContactSecret")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mustCorp(corpID)
	st := &appState{App: a}
	st.VisibleDepartments = append([]int(nil), a.VisibleDepartments...)
	st.TrustedIPs = append([]string(nil), a.TrustedIPs...)
	if len(a.VisibleDepartments) > 0 && st.kind() == appSecret {
		st.visible = map[int]bool{}
		for _, d := range a.VisibleDepartments {
			st.visible[d] = true
		}
	}
	if len(a.TrustedIPs) > 0 {
		st.trusted = map[string]bool{}
		for _, ip := range a.TrustedIPs {
			st.trusted[ip] = true
		}
	}
	switch st.kind() {
	case contactsSecret:
		st.AgentID = 0
		c.contacts = st
	case externalSecret:
		st.AgentID = 0
		c.external = st
	default:
		c.apps[a.AgentID] = st
	}
}

// AddDepartment adds or replaces a department.
func (s *Server) AddDepartment(corpID string, d Department) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mustCorp(corpID)
	if old, ok := c.depts[d.ID]; ok {
		c.children[old.ParentID] = removeInt(c.children[old.ParentID], d.ID)
	}
	dd := d
	c.depts[d.ID] = &dd
	c.children[d.ParentID] = append(c.children[d.ParentID], d.ID)
}

// AddUser adds or replaces a member. Status 0 is taken as 1 (active); MainDepartment 0 is
// taken as the first department.
func (s *Server) AddUser(corpID string, u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mustCorp(corpID)
	key := strings.ToLower(u.UserID)
	if old, ok := c.users[key]; ok {
		for _, d := range old.Departments {
			c.deptUsers[d] = removeString(c.deptUsers[d], key)
		}
	} else {
		c.order = append(c.order, key)
	}
	uu := u
	uu.Departments = append([]int(nil), u.Departments...)
	uu.LeaderOf = append([]int(nil), u.LeaderOf...)
	if uu.Status == 0 {
		uu.Status = 1
	}
	if uu.MainDepartment == 0 && len(uu.Departments) > 0 {
		uu.MainDepartment = uu.Departments[0]
	}
	if uu.Gender == "" {
		uu.Gender = "0"
	}
	c.users[key] = &uu
	for _, d := range uu.Departments {
		c.deptUsers[d] = append(c.deptUsers[d], key)
	}
}

// AddTag adds or replaces a tag.
func (s *Server) AddTag(corpID string, t Tag) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.mustCorp(corpID)
	tt := t
	tt.UserIDs = append([]string(nil), t.UserIDs...)
	tt.PartyIDs = append([]int(nil), t.PartyIDs...)
	c.tags[t.ID] = &tt
}

// LinkCorp makes linkedCorpID a connected enterprise (互联企业) of corpID: corpID's apps may
// address "linkedCorpID/userid" and "linkedCorpID/partyid" in linkedcorp/message/send. The
// link is one-way; call it twice for both directions.
func (s *Server) LinkCorp(corpID, linkedCorpID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustCorp(corpID)
	s.mustCorp(linkedCorpID)
	if s.links[corpID] == nil {
		s.links[corpID] = map[string]bool{}
	}
	s.links[corpID][linkedCorpID] = true
}

// InvalidateTokens plays WeCom invalidating tokens early: every token of the corp answers 40014
// from now on, and the next gettoken issues a new one.
func (s *Server) InvalidateTokens(corpID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		if t.key.corp == corpID {
			t.invalid = true
		}
	}
	for k := range s.current {
		if k.corp == corpID {
			delete(s.current, k)
		}
	}
}

// Reset forgets inboxes, counters, faults, rate windows, quotas, duplicate-check memory, sent
// messages, task_ids, response codes, sign-in codes, what robots and app group chats showed,
// lookup failures and customer mass messages. Corp setup (with robots and external contacts),
// issued tokens, uploaded media and app group chats stay, so a product holding a cached token,
// media_id, webhook key or chatid keeps working.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t = newTraffic()
}

// Inbox returns what reached one member, oldest first. userid is matched case-insensitively.
func (s *Server) Inbox(corpID, userid string) []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneDeliveries(s.t.inbox[corpID][s.canonical(corpID, userid)])
}

// Inboxes returns every non-empty inbox of a corp keyed by userid as it was added.
func (s *Server) Inboxes(corpID string) map[string][]Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]Delivery{}
	for u, ds := range s.t.inbox[corpID] {
		out[u] = cloneDeliveries(ds)
	}
	return out
}

func (s *Server) canonical(corpID, userid string) string {
	if c, ok := s.corps[corpID]; ok {
		if u, ok := c.users[strings.ToLower(userid)]; ok {
			return u.UserID
		}
	}
	return userid
}

func cloneDeliveries(ds []*Delivery) []Delivery {
	return cloneEach(ds, func(d *Delivery) {
		d.Body, d.Request, d.UpdatedCard = bytes.Clone(d.Body), bytes.Clone(d.Request), bytes.Clone(d.UpdatedCard)
	})
}

// cloneEach copies what the pointers point at, deep copies by deep, for handing out of mu; nil
// for none.
func cloneEach[T any](ps []*T, deep func(*T)) []T {
	if len(ps) == 0 {
		return nil
	}
	out := make([]T, len(ps))
	for i, p := range ps {
		out[i] = *p
		deep(&out[i])
	}
	return out
}

// Calls counts requests received on an endpoint ("gettoken", "message/send", "user/list", …),
// including faulted ones.
func (s *Server) Calls(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.t.calls[endpoint]
}

// Drops counts deliveries to one member silently dropped by the per-app per-member rate limit.
func (s *Server) Drops(corpID, userid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.t.drops[corpID][s.canonical(corpID, userid)]
}

// TotalDrops counts every delivery dropped by the per-member rate limit.
func (s *Server) TotalDrops() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.t.totalDrops
}

// Delivered counts deliveries into inboxes, cheaply (load tests poll it).
func (s *Server) Delivered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.t.delivered
}

// DuplicatesDropped counts sends answered "ok" but not delivered because of
// enable_duplicate_check.
func (s *Server) DuplicatesDropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.t.duplicates
}

// CardUpdates returns every accepted update_template_card call, oldest first.
func (s *Server) CardUpdates() []CardUpdate {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CardUpdate, len(s.t.cardUpdates))
	for i, u := range s.t.cardUpdates {
		out[i] = u
		out[i].UserIDs = append([]string(nil), u.UserIDs...)
		out[i].Request = bytes.Clone(u.Request)
	}
	return out
}

// ServeHTTP answers WeCom's API under /cgi-bin/ and its sign-in pages.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case qrLoginPath, qrChoosePath, oauthPath, oauthChoosePath:
		s.serveSignIn(w, r)
		return
	}
	endpoint, ok := strings.CutPrefix(r.URL.Path, "/cgi-bin/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	endpoint = strings.Trim(endpoint, "/")
	f, faulted := s.countAndPickFault(endpoint)
	if !faulted {
		s.serveEndpoint(w, r, endpoint)
		return
	}
	if !f.AfterProcessing {
		if f.Latency > 0 {
			// net/http notices a client hanging up only once the request body has been read, so
			// buffer it first; otherwise the wait would outlast the client and then process a
			// request nobody is waiting for.
			body, err := io.ReadAll(io.LimitReader(r.Body, maxUploadBytes))
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if !sleepCtx(r, f.Latency) {
				return // the client gave up; nothing was processed
			}
		}
		if s.answerFault(w, r, f) {
			return
		}
		s.serveEndpoint(w, r, endpoint) // a pure latency fault
		return
	}
	// The ambiguous failure: do the work, then lose or spoil the answer.
	buf := &bufferedResponse{header: http.Header{}}
	s.serveEndpoint(buf, r, endpoint)
	if f.Latency > 0 && !sleepCtx(r, f.Latency) {
		return
	}
	if s.answerFault(w, r, f) {
		return
	}
	buf.flushTo(w)
}

func (s *Server) serveEndpoint(w http.ResponseWriter, r *http.Request, endpoint string) {
	h, method, ok := s.route(endpoint)
	if !ok {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	ip := remoteIP(r)
	if method == http.MethodPost && r.Method != http.MethodPost {
		writeJSON(w, s.fail(codeRequirePOST, "", ip))
		return
	}
	writeJSON(w, h(r, ip))
}

type handler func(r *http.Request, ip string) any

func (s *Server) route(endpoint string) (handler, string, bool) {
	switch endpoint {
	case "gettoken":
		return s.handleGetToken, http.MethodGet, true
	case "message/send":
		return s.handleSend, http.MethodPost, true
	case "linkedcorp/message/send":
		return s.handleLinkedSend, http.MethodPost, true
	case "message/update_template_card":
		return s.handleUpdateCard, http.MethodPost, true
	case "message/recall":
		return s.handleRecall, http.MethodPost, true
	case "media/upload":
		return s.handleMediaUpload, http.MethodPost, true
	case "department/list":
		return s.handleDepartmentList, http.MethodGet, true
	case "department/simplelist":
		return s.handleDepartmentSimpleList, http.MethodGet, true
	case "department/get":
		return s.handleDepartmentGet, http.MethodGet, true
	case "user/simplelist":
		return s.handleUserSimpleList, http.MethodGet, true
	case "user/list":
		return s.handleUserList, http.MethodGet, true
	case "user/get":
		return s.handleUserGet, http.MethodGet, true
	case "user/list_id":
		return s.handleUserListID, http.MethodPost, true
	case "tag/list":
		return s.handleTagList, http.MethodGet, true
	case "auth/getuserinfo":
		return s.handleGetUserInfo, http.MethodGet, true
	case "user/getuserid":
		return s.handleGetUserIDByMobile, http.MethodPost, true
	case "user/get_userid_by_email":
		return s.handleGetUserIDByEmail, http.MethodPost, true
	case "webhook/send":
		return s.handleWebhookSend, http.MethodPost, true
	case "webhook/upload_media":
		return s.handleWebhookUpload, http.MethodPost, true
	case "appchat/create":
		return s.handleChatCreate, http.MethodPost, true
	case "appchat/update":
		return s.handleChatUpdate, http.MethodPost, true
	case "appchat/get":
		return s.handleChatGet, http.MethodGet, true
	case "appchat/send":
		return s.handleChatSend, http.MethodPost, true
	case "externalcontact/add_msg_template":
		return s.handleAddMsgTemplate, http.MethodPost, true
	case "externalcontact/get_groupmsg_task":
		return s.handleGroupMsgTask, http.MethodPost, true
	case "externalcontact/get_groupmsg_send_result":
		return s.handleGroupMsgSendResult, http.MethodPost, true
	case "externalcontact/remind_groupmsg_send":
		return s.handleRemindGroupMsg, http.MethodPost, true
	case "externalcontact/cancel_groupmsg_send":
		return s.handleCancelGroupMsg, http.MethodPost, true
	}
	return nil, "", false
}

func writeJSON(w http.ResponseWriter, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // WeCom does not escape <, > and & in its JSON
	if err := enc.Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// bufferedResponse holds an AfterProcessing answer until the fault decides its fate.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedResponse) flushTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}

// newID draws n characters of WeCom-looking id alphabet. Callers hold mu.
func (s *Server) newID(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[s.rng.IntN(len(alphabet))]
	}
	return string(b)
}

// uniqueID is newID with a sequence number folded in, so ids never collide even under a seed.
// Callers hold mu.
func (s *Server) uniqueID(prefix string, n int) string {
	s.idSeq++
	return prefix + s.newID(n) + encodeSeq(s.idSeq)
}

func encodeSeq(n uint64) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var b []byte
	for {
		b = append(b, alphabet[n%62])
		n /= 62
		if n == 0 {
			return string(b)
		}
	}
}

func removeInt(xs []int, x int) []int {
	out := xs[:0]
	for _, v := range xs {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

func removeString(xs []string, x string) []string {
	out := xs[:0]
	for _, v := range xs {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}
