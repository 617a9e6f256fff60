package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"
)

// inboxMember is one member's inbox as the page embeds it: messages newest first.
type inboxMember struct {
	UserID   string         `json:"userid"`
	Messages []InboxMessage `json:"messages"`
	// Group is "robot" or "chat" for a group conversation (an InboxSource key "group:<name>" or
	// "chat:<name>"), Name its name.
	Group string `json:"group,omitempty"`
	Name  string `json:"name,omitempty"`
}

// inboxPage is the sandbox inbox's data; inbox.js renders Members from the page's JSON.
type inboxPage struct {
	Members []inboxMember
	// Error is why a click did not reach the callback URL.
	Error string
}

func (u *UI) inboxData() inboxPage {
	var p inboxPage
	for id, msgs := range u.d.Inbox.Inboxes() {
		m := inboxMember{UserID: id, Messages: make([]InboxMessage, 0, len(msgs))}
		if kind, name, ok := strings.Cut(id, ":"); ok {
			m.Group, m.Name = map[string]string{"group": "robot", "chat": "chat"}[kind], name
		}
		for i := len(msgs) - 1; i >= 0; i-- {
			m.Messages = append(m.Messages, msgs[i])
		}
		p.Members = append(p.Members, m)
	}
	// The group conversations first, as WeCom lists the chats with news at the top.
	sort.Slice(p.Members, func(i, j int) bool {
		a, b := p.Members[i], p.Members[j]
		if (a.Group == "") != (b.Group == "") {
			return a.Group != ""
		}
		return a.UserID < b.UserID
	})
	return p
}

func (u *UI) inbox(c *gin.Context) error {
	u.render(c, http.StatusOK, "inbox", u.inboxData())
	return nil
}

// inboxClick plays a member clicking a card button, then shows the inbox again.
func (u *UI) inboxClick(c *gin.Context) error {
	user, task, key := strings.TrimSpace(c.PostForm("user")), strings.TrimSpace(c.PostForm("task")), c.PostForm("key")
	var problem string
	if user == "" || task == "" || key == "" {
		problem = u.cat.text(u.language(c), "inbox.click.missing")
	} else if err := u.d.Inbox.Click(c.Request.Context(), user, task, key, selectedOptions(c.PostForm("selected"))); err != nil {
		u.d.Log.WarnContext(c.Request.Context(), "sandbox click failed", "user", user, "task", task, "err", err)
		problem = err.Error()
	}
	if problem != "" {
		p := u.inboxData()
		p.Error = problem
		u.render(c, http.StatusBadRequest, "inbox", p)
		return nil
	}
	return u.redirect(c, "/ui/inbox#inbox-"+url.PathEscape(user), "inbox.flash.clicked")
}

// selectedOptions reads the options chosen on a vote or select card, {"question": ["option"]};
// anything unreadable is no choice.
func selectedOptions(raw string) map[string][]string {
	var out map[string][]string
	_ = json.Unmarshal([]byte(raw), &out)
	return out
}
