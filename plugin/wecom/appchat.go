package wecom

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"

	"github.com/silenceper/wechat/v2/util"
)

// App group chats (应用群聊): an app whose visible range is the root department creates a chat
// of 2–2000 members (appchat/create), changes it (appchat/update), reads it (appchat/get) and
// posts into it (appchat/send). Only the creating app may touch a chat, and WeCom has no list
// call: the chats an app made are remembered by the caller.

// ChatMsgTypes are the msgtypes appchat/send takes: message/send's but miniprogram_notice and
// template_card.
func ChatMsgTypes() []string {
	return slices.DeleteFunc(MsgTypes(), func(t string) bool { return t == MsgMiniprogramNotice || t == MsgTemplateCard })
}

var chatIDRe = regexp.MustCompile(`^[0-9A-Za-z]{1,32}$`)

// ValidChatID reports whether id is a chatid WeCom accepts: 1 to 32 letters or digits.
func ValidChatID(id string) bool { return chatIDRe.MatchString(id) }

// Chat is an app group chat as WeCom holds it.
type Chat struct {
	ChatID string   `json:"chatid"`
	Name   string   `json:"name"`
	Owner  string   `json:"owner"`
	Users  []string `json:"userlist"`
}

// ChatChange is an appchat/update: empty fields change nothing.
type ChatChange struct {
	ChatID   string   `json:"chatid"`
	Name     *string  `json:"name,omitempty"`
	Owner    string   `json:"owner,omitempty"`
	AddUsers []string `json:"add_user_list,omitempty"`
	DelUsers []string `json:"del_user_list,omitempty"`
}

type chatCreateResponse struct {
	util.CommonError
	ChatID string `json:"chatid"`
}

func (r *chatCreateResponse) errcode() (int64, string) { return r.ErrCode, r.ErrMsg }

type chatGetResponse struct {
	util.CommonError
	ChatInfo Chat `json:"chat_info"`
}

func (r *chatGetResponse) errcode() (int64, string) { return r.ErrCode, r.ErrMsg }

// CreateChat creates a chat and returns its chatid: ch.ChatID when given, else one WeCom made up.
// ch.Owner may be empty (WeCom then picks a member).
func (c *Client) CreateChat(ctx context.Context, ch Chat) (string, error) {
	body, _ := json.Marshal(ch)
	var res chatCreateResponse
	if err := c.call(ctx, "appchat/create", http.MethodPost, nil, "application/json", body, &res); err != nil {
		return "", err
	}
	return res.ChatID, nil
}

// UpdateChat changes a chat's name, owner or members.
func (c *Client) UpdateChat(ctx context.Context, change ChatChange) error {
	body, _ := json.Marshal(change)
	return c.call(ctx, "appchat/update", http.MethodPost, nil, "application/json", body, &plainResponse{})
}

// GetChat reads a chat the app created.
func (c *Client) GetChat(ctx context.Context, chatID string) (*Chat, error) {
	var res chatGetResponse
	if err := c.call(ctx, "appchat/get", http.MethodGet, url.Values{"chatid": {chatID}}, "", nil, &res); err != nil {
		return nil, err
	}
	return &res.ChatInfo, nil
}

// SendChat posts a prepared appchat/send body (see Payload). WeCom answers errcode and errmsg only.
func (c *Client) SendChat(ctx context.Context, payload []byte) (*SendResult, error) {
	var res SendResult
	err := c.call(ctx, "appchat/send", http.MethodPost, nil, "application/json", payload, &res)
	return &res, err
}
