package wecom

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"sync"

	"github.com/wecomflow/wecomflow/problem"
)

// Customer mass messaging (企业群发, SPEC §9.5) through the externalcontact APIs, which take only a
// token of the 客户联系 secret (any other answers 48002):
//   - add_msg_template (page 92135) creates the message; nothing reaches a customer until each
//     member with a task confirms it in the WeCom app;
//   - get_groupmsg_task and get_groupmsg_send_result (page 93338) page the members' tasks and
//     their customers' results by cursor, at most 1000 rows a page;
//   - remind_groupmsg_send (page 97610, 3 times in 24 h) and cancel_groupmsg_send (page 97611).

// externalContactTokenKey sets apart, like contactsTokenKey, the 客户联系 secret's token from the
// other two in the token caches keyed by authenticator id.
const externalContactTokenKey = uint64(1) << 61

// ExternalContactClient returns the client of the authenticator's 客户联系 secret: same corp and
// API base as app, its own token.
func (cs *Clients) ExternalContactClient(app App, secret string) *Client {
	app.AuthenticatorID |= externalContactTokenKey
	app.AgentID = 0
	app.Secret = secret
	return cs.Client(app)
}

// WeCom's limits of add_msg_template.
const (
	MaxMassCustomers     = 10000
	maxMassTextBytes     = 4000
	maxMassAttachments   = 9
	maxMiniProgramTitle  = 64
	massPageLimit        = 1000
	massResultsInFlight  = 16
	massChatTypeSingle   = "single"
	massChatTypeGroup    = "group"
	massTaskStatusSent   = 2
	massResultSent       = 1
	massResultNotFriend  = 2
	massResultAlreadyGot = 3
)

// MassTemplate is the body of add_msg_template.
type MassTemplate struct {
	ChatType       string           `json:"chat_type"`
	ExternalUserID []string         `json:"external_userid,omitempty"`
	Sender         string           `json:"sender,omitempty"`
	TagFilter      *MassTagFilter   `json:"tag_filter,omitempty"`
	Text           *Text            `json:"text,omitempty"`
	Attachments    []MassAttachment `json:"attachments,omitempty"`
}

// MassTagFilter selects customers having a tag of every group (企业客户标签 ids, "et…").
type MassTagFilter struct {
	GroupList []MassTagGroup `json:"group_list"`
}

// MassTagGroup is one group of tag_filter.
type MassTagGroup struct {
	TagList []string `json:"tag_list"`
}

// MassAttachment is one attachment, in WeCom's shape: msgtype names the one body that is set.
type MassAttachment struct {
	MsgType     string           `json:"msgtype"`
	Image       *MassImage       `json:"image,omitempty"`
	Link        *MassLink        `json:"link,omitempty"`
	MiniProgram *MassMiniProgram `json:"miniprogram,omitempty"`
	Video       *MassMedia       `json:"video,omitempty"`
	File        *MassMedia       `json:"file,omitempty"`
}

// MassImage is an image by media_id or by pic_url.
type MassImage struct {
	MediaID string `json:"media_id,omitempty"`
	PicURL  string `json:"pic_url,omitempty"`
}

// MassLink is a link card.
type MassLink struct {
	Title  string `json:"title"`
	PicURL string `json:"picurl,omitempty"`
	Desc   string `json:"desc,omitempty"`
	URL    string `json:"url"`
}

// MassMiniProgram is a mini program card.
type MassMiniProgram struct {
	Title      string `json:"title"`
	PicMediaID string `json:"pic_media_id"`
	AppID      string `json:"appid"`
	Page       string `json:"page"`
}

// MassMedia is a video or a file by media_id.
type MassMedia struct {
	MediaID string `json:"media_id"`
}

// MassAttachmentTypes are the msgtypes an attachment may have.
func MassAttachmentTypes() []string { return []string{"image", "link", "miniprogram", "video", "file"} }

// ParseMassAttachments decodes attachments from their generic form, reporting unknown keys and
// wrong JSON types under attachments[i]… (WeCom would ignore a misspelt key).
func ParseMassAttachments(raw []any) ([]MassAttachment, problem.Fields) {
	errs := problem.Fields{}
	checkShape(errs, "attachments", raw, reflect.TypeFor[[]MassAttachment]())
	if len(errs) > 0 {
		return nil, errs
	}
	b, _ := json.Marshal(raw)
	var out []MassAttachment
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, problem.Fields{"attachments": err.Error()}
	}
	return out, nil
}

// Validate checks the template against WeCom's limits; the paths are the API's (chatType, sender,
// externalUserIds, text.content, attachments[i].link.url). Whether the sender and customers exist
// only WeCom knows.
func (t *MassTemplate) Validate() problem.Fields {
	v := &validator{errs: problem.Fields{}}
	switch t.ChatType {
	case massChatTypeSingle:
		if t.Sender == "" && len(t.ExternalUserID) == 0 {
			v.fail("externalUserIds", "is required unless sender is given (WeCom sends to the sender's customers then)")
		}
	case massChatTypeGroup:
		if t.Sender == "" {
			v.fail("sender", "is required for chatType group: the message goes to the sender's customer groups")
		}
		if len(t.ExternalUserID) > 0 || t.TagFilter != nil {
			v.fail("chatType", "group sends to the sender's customer groups; externalUserIds and tagFilter need single")
		}
	default:
		v.fail("chatType", "must be single or group")
	}
	v.count("externalUserIds", len(t.ExternalUserID), 0, MaxMassCustomers)
	for i, id := range t.ExternalUserID {
		if id == "" {
			v.fail(index("externalUserIds", i), "must not be empty")
		}
	}
	if t.TagFilter != nil {
		v.count("tagFilter.group_list", len(t.TagFilter.GroupList), 1, 100)
		for i, g := range t.TagFilter.GroupList {
			v.count(index("tagFilter.group_list", i)+".tag_list", len(g.TagList), 1, 100)
		}
	}
	content := ""
	if t.Text != nil {
		content = t.Text.Content
	}
	if content == "" && len(t.Attachments) == 0 {
		v.fail("text.content", "is required unless there are attachments")
	}
	v.maxBytes("text.content", content, maxMassTextBytes)
	v.count("attachments", len(t.Attachments), 0, maxMassAttachments)
	for i := range t.Attachments {
		v.massAttachment(index("attachments", i), &t.Attachments[i])
	}
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}

func (v *validator) massAttachment(p string, a *MassAttachment) {
	set := map[string]bool{"image": a.Image != nil, "link": a.Link != nil, "miniprogram": a.MiniProgram != nil,
		"video": a.Video != nil, "file": a.File != nil}
	body, known := set[a.MsgType]
	switch {
	case !known:
		v.fail(p+".msgtype", "must be one of image, link, miniprogram, video, file")
		return
	case !body:
		v.fail(p+"."+a.MsgType, "is required for msgtype "+a.MsgType)
		return
	}
	for typ, isSet := range set {
		if isSet && typ != a.MsgType {
			v.fail(p+"."+typ, "does not go with msgtype "+a.MsgType)
		}
	}
	p += "." + a.MsgType
	switch a.MsgType {
	case "image":
		v.exactlyOne(p, "media_id", a.Image.MediaID, "pic_url", a.Image.PicURL)
		v.url(p+".pic_url", a.Image.PicURL)
	case "link":
		v.required(p+".title", a.Link.Title)
		v.maxBytes(p+".title", a.Link.Title, maxTitleBytes)
		v.requiredURL(p+".url", a.Link.URL)
		v.url(p+".picurl", a.Link.PicURL)
		v.maxBytes(p+".desc", a.Link.Desc, maxDescBytes)
	case "miniprogram":
		m := a.MiniProgram
		v.required(p+".title", m.Title)
		v.maxBytes(p+".title", m.Title, maxMiniProgramTitle)
		v.required(p+".pic_media_id", m.PicMediaID)
		v.required(p+".appid", m.AppID)
		v.required(p+".page", m.Page)
	case "video":
		v.required(p+".media_id", a.Video.MediaID)
	case "file":
		v.required(p+".media_id", a.File.MediaID)
	}
}

// MassCreated is add_msg_template's answer: the customers that cannot be sent to, and the msgid.
type MassCreated struct {
	plainResponse
	FailList []string `json:"fail_list"`
	MsgID    string   `json:"msgid"`
}

// AddMsgTemplate creates a mass message. WeCom answers 41048 when no listed customer can be sent
// to; the fail list then still comes back with the error.
func (c *Client) AddMsgTemplate(ctx context.Context, t *MassTemplate) (*MassCreated, error) {
	body, _ := json.Marshal(t)
	var res MassCreated
	err := c.call(ctx, "externalcontact/add_msg_template", http.MethodPost, nil, "application/json", body, &res)
	if res.FailList == nil {
		res.FailList = []string{}
	}
	return &res, err
}

// MassTask is one member's sending task: Sent once the member confirmed in the app.
type MassTask struct {
	UserID   string `json:"userid"`
	Status   int    `json:"status"`
	SendTime int64  `json:"send_time"`
}

// Sent reports whether the member confirmed and sent.
func (t MassTask) Sent() bool { return t.Status == massTaskStatusSent }

type massTaskPage struct {
	plainResponse
	NextCursor string     `json:"next_cursor"`
	TaskList   []MassTask `json:"task_list"`
}

type massResult struct {
	Status int `json:"status"`
}

type massResultPage struct {
	plainResponse
	NextCursor string       `json:"next_cursor"`
	SendList   []massResult `json:"send_list"`
}

// MassCounts counts customers by their send result.
type MassCounts struct {
	Sent            int `json:"sent"`
	Unsent          int `json:"unsent"`
	NotFriend       int `json:"notFriend"`
	AlreadyReceived int `json:"alreadyReceived"`
}

// Add adds o to c.
func (c *MassCounts) Add(o MassCounts) {
	c.Sent, c.Unsent, c.NotFriend, c.AlreadyReceived = c.Sent+o.Sent, c.Unsent+o.Unsent, c.NotFriend+o.NotFriend, c.AlreadyReceived+o.AlreadyReceived
}

// massPages calls a cursor-paged externalcontact read until the last page, handing each page to
// page, which returns the next cursor.
func massPages[P commonResponse](ctx context.Context, c *Client, api string, query map[string]any, fresh func() P, page func(P) string) error {
	query["limit"] = massPageLimit
	for cursor := ""; ; {
		query["cursor"] = cursor
		body, _ := json.Marshal(query)
		res := fresh()
		if err := c.call(ctx, api, http.MethodPost, nil, "application/json", body, res); err != nil {
			return err
		}
		if cursor = page(res); cursor == "" {
			return nil
		}
	}
}

// MassTasks lists every member's task of a mass message (get_groupmsg_task, all pages).
func (c *Client) MassTasks(ctx context.Context, msgid string) ([]MassTask, error) {
	var out []MassTask
	err := massPages(ctx, c, "externalcontact/get_groupmsg_task", map[string]any{"msgid": msgid},
		func() *massTaskPage { return &massTaskPage{} },
		func(p *massTaskPage) string { out = append(out, p.TaskList...); return p.NextCursor })
	return out, err
}

// MassResults counts the customers of one member by send result (get_groupmsg_send_result, all
// pages).
func (c *Client) MassResults(ctx context.Context, msgid, userid string) (MassCounts, error) {
	var n MassCounts
	err := massPages(ctx, c, "externalcontact/get_groupmsg_send_result", map[string]any{"msgid": msgid, "userid": userid},
		func() *massResultPage { return &massResultPage{} },
		func(p *massResultPage) string {
			for _, r := range p.SendList {
				switch r.Status {
				case massResultSent:
					n.Sent++
				case massResultNotFriend:
					n.NotFriend++
				case massResultAlreadyGot:
					n.AlreadyReceived++
				default:
					n.Unsent++
				}
			}
			return p.NextCursor
		})
	return n, err
}

// MassResultsOf counts the customers of each of userids, several members at a time: a mass
// message of 10,000 members is 10,000 calls. The first error stops the rest and is returned with
// the members counted until then.
func (c *Client) MassResultsOf(ctx context.Context, msgid string, userids []string) (map[string]MassCounts, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make(map[string]MassCounts, len(userids))
	var mu sync.Mutex
	var first error
	next := make(chan string)
	var wg sync.WaitGroup
	for range min(massResultsInFlight, len(userids)) {
		wg.Go(func() {
			for u := range next {
				n, err := c.MassResults(ctx, msgid, u)
				mu.Lock()
				switch {
				case err == nil:
					out[u] = n
				case first == nil:
					first = err
					cancel()
				}
				mu.Unlock()
			}
		})
	}
feed:
	for _, u := range userids {
		select {
		case next <- u:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return out, first
}

// RemindMassMessage asks the members who have not sent yet to send (at most 3 times in 24 h).
func (c *Client) RemindMassMessage(ctx context.Context, msgid string) error {
	return c.massAction(ctx, "externalcontact/remind_groupmsg_send", msgid)
}

// CancelMassMessage stops a mass message: members who have not sent can no longer send it.
func (c *Client) CancelMassMessage(ctx context.Context, msgid string) error {
	return c.massAction(ctx, "externalcontact/cancel_groupmsg_send", msgid)
}

func (c *Client) massAction(ctx context.Context, api, msgid string) error {
	body, _ := json.Marshal(map[string]string{"msgid": msgid})
	return c.call(ctx, api, http.MethodPost, nil, "application/json", body, &plainResponse{})
}
