package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wecomflow/wecomflow/models"
)

// untranslatedIssue14 finds a catalogue key of the chat and mass message pages shown as it is.
var untranslatedIssue14 = regexp.MustCompile(`\b(chat|mass|nav)\.[a-z][A-Za-z0-9.]*`)

// mustRender loads a page in English and Chinese: 200, in that language, showing wants[lang] and
// no catalogue key.
func (w *webClient) mustRender(t *testing.T, path string, wants map[string]string) {
	t.Helper()
	for _, lang := range []string{"en", "zh-CN"} {
		body := w.page(200, path, lang)
		mustContain(t, path+" in "+lang, body, `<html lang="`+lang+`">`, wants[lang])
		if m := untranslatedIssue14.FindString(body); m != "" {
			t.Errorf("%s in %s shows the catalogue key %q", path, lang, m)
		}
	}
}

// An admin creates an app group chat on a channel's page with members picked from the synced
// directory (the ids picker.js puts in the field), sees it in WeCom and in the list, then renames it, hands it over and changes its
// members; a refusal is shown next to its field. A robot channel offers no chats. A viewer reads
// the pages without the forms and is refused a change.
func TestWebChatPages(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{noSender: true})
	var members []models.MemberUpdate
	for _, u := range e.demo.UserIDs {
		members = append(members, models.MemberUpdate{WeComUserID: u, Name: "Name of " + u, Fields: models.MemberAll})
	}
	if _, err := e.store.SyncMembers(context.Background(), 1, members, models.MemberSyncOptions{}); err != nil {
		t.Fatal(err)
	}
	zhangsan, lisi, wangwu := e.demo.UserIDs[0], e.demo.UserIDs[1], e.demo.UserIDs[2]
	e.must(201, "POST", "/api/v1/channels", map[string]any{"name": "ops_group", "type": "wecom_robot",
		"options": map[string]any{"webhookKey": e.demo.RobotKey}})
	w := e.webLogin()

	mustContain(t, "the app channel's page", string(w.get("/ui/channels/1").Body), `href="/ui/channels/1/chats" id="channel-chats"`)
	if strings.Contains(string(w.get("/ui/channels/2").Body), `id="channel-chats"`) {
		t.Error("a robot channel links to chats")
	}
	w.mustRender(t, "/ui/channels/1/chats", map[string]string{"en": "New group chat", "zh-CN": "新建群聊"})
	// The members and the owner are searched in the channel's authenticator's directory (picker.js).
	mustContain(t, "the member pickers", string(w.get("/ui/channels/1/chats").Body), `<script src="/static/picker.js" defer>`,
		`<input id="f-wecomUsers" name="wecomUsers" type="text" value="" aria-describedby="f-wecomUsers-help" data-picker="members"`,
		`<input id="f-wecomOwner" name="wecomOwner" type="text" value="" aria-describedby="f-wecomOwner-help" data-picker="members"`)
	if pickers := regexp.MustCompile(`data-picker="members"[^>]*data-authenticator="1">`).FindAllString(string(w.get("/ui/channels/1/chats").Body), -1); len(pickers) != 2 {
		t.Errorf("the create form's member pickers: %q, want two scoped to authenticator 1", pickers)
	}

	// One member is too few: the error is on the picker, the pick is kept, nothing reaches WeCom.
	res := w.post("/ui/channels/1/chats?lang=zh-CN", url.Values{"name": {"Incident 7"}, "wecomUsers": {zhangsan}})
	body := string(res.Body)
	if res.Status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="f-wecomUsers-error"`) ||
		!strings.Contains(body, `name="wecomUsers" type="text" value="`+zhangsan+`"`) || !strings.Contains(body, `value="Incident 7"`) {
		t.Fatalf("one member: %d %s", res.Status, body)
	}
	if n := len(e.sim.Chats(e.demo.CorpID)); n != 1 { // the demo app's own chat
		t.Fatalf("WeCom has %d chats after a refused form", n)
	}

	res = w.post("/ui/channels/1/chats", url.Values{"name": {"Incident 7"}, "wecomUsers": {zhangsan + ", " + lisi}, "users": {""}, "chatid": {"inc7"}})
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/ui/channels/1/chats/inc7" {
		t.Fatalf("create: %d %v %s", res.Status, res.Header, res.Body)
	}
	if sim := e.simChat("inc7"); sim.Name != "Incident 7" || sim.Owner != zhangsan || !slices.Equal(sim.Members, []string{zhangsan, lisi}) {
		t.Fatalf("WeCom holds %+v", sim)
	}
	mustContain(t, "the chat list", string(w.get("/ui/channels/1/chats").Body), `<tr id="chat-inc7">`, "Incident 7", "Name of "+zhangsan)
	w.mustRender(t, "/ui/channels/1/chats/inc7", map[string]string{"en": "Group chat Incident 7", "zh-CN": "群聊 Incident 7"})
	mustContain(t, "the chat's page", string(w.get("/ui/channels/1/chats/inc7").Body), "<td>Name of "+lisi+"</td>",
		`<input id="f-wecomAddUsers" name="wecomAddUsers" type="text" value="" aria-describedby="f-wecomAddUsers-help" data-picker="members"`)

	// A local user typed by userid joins as their WeCom member, beside the members picked.
	zhaoliu := e.demo.UserIDs[3]
	res = w.post("/ui/channels/1/chats/inc7", url.Values{"name": {"Incident 7 (resolved)"}, "wecomOwner": {lisi},
		"addUsers": {"local-" + wangwu}, "wecomAddUsers": {zhaoliu}, "wecomDelUsers": {zhangsan}})
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/ui/channels/1/chats/inc7" {
		t.Fatalf("update: %d %s", res.Status, res.Body)
	}
	if sim := e.simChat("inc7"); sim.Name != "Incident 7 (resolved)" || sim.Owner != lisi || !slices.Equal(sim.Members, []string{lisi, wangwu, zhaoliu}) {
		t.Fatalf("WeCom holds %+v", sim)
	}
	// Removing the owner without naming another is refused on the owner's field.
	res = w.post("/ui/channels/1/chats/inc7", url.Values{"name": {"Incident 7 (resolved)"}, "wecomDelUsers": {lisi}})
	if body := string(res.Body); res.Status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="f-wecomOwner-error"`) ||
		!regexp.MustCompile(`id="remove-`+lisi+`"[^>]* checked>`).MatchString(body) {
		t.Errorf("removing the owner: %d %s", res.Status, body)
	}

	viewer := e.webLoginWith(e.roleToken("viewer"))
	list := string(viewer.get("/ui/channels/1/chats").Body)
	mustContain(t, "the viewer's chat list", list, `<tr id="chat-inc7">`)
	chat := string(viewer.get("/ui/channels/1/chats/inc7").Body)
	mustContain(t, "the viewer's chat page", chat, `id="read-only"`, "<fieldset disabled>")
	if strings.Contains(list, `id="create-chat"`) || strings.Contains(chat, `id="save-chat"`) {
		t.Error("a viewer is offered to create or change a chat")
	}
	for _, path := range []string{"/ui/channels/1/chats", "/ui/channels/1/chats/inc7"} {
		if res := viewer.post(path, url.Values{"name": {"Hijacked"}, "wecomUsers": {zhangsan, lisi}}); res.Status != http.StatusForbidden {
			t.Errorf("a viewer's POST %s: %d", path, res.Status)
		}
	}
	if sim := e.simChat("inc7"); sim.Name != "Incident 7 (resolved)" || len(e.sim.Chats(e.demo.CorpID)) != 2 {
		t.Errorf("a viewer changed WeCom's chats: %+v", sim)
	}
}

// A mass message composed on the page reaches WeCom with its link; its page shows the members'
// results after a refresh once the member confirmed; reminding and cancelling work from the page,
// and a refusal is shown there. A viewer sees neither the compose link nor the buttons, and is
// refused them.
func TestWebMassMessagePages(t *testing.T) {
	t.Parallel()
	e := newMassEnv(t, deliveryOptions{})
	w := e.webLogin()
	w.mustRender(t, "/ui/mass-messages", map[string]string{"en": `id="new-mass-message"`, "zh-CN": "新建群发"})
	w.mustRender(t, "/ui/mass-messages/new", map[string]string{"en": "Customers (external userids)", "zh-CN": "客户（external userid）"})
	if links := navLinks(t, string(w.get("/ui/").Body)); !slices.Contains(links, "/ui/mass-messages") {
		t.Errorf("the nav lacks the mass messages: %v", links)
	}

	res := w.post("/ui/mass-messages", url.Values{"authenticatorId": {"1"}, "chatType": {"single"}, "sender": {"local-gaofei"},
		"externalUserIds": {e.customers[0] + "\n" + e.customers[1]}})
	if body := string(res.Body); res.Status != http.StatusUnprocessableEntity || !strings.Contains(body, `id="f-text-content-error"`) ||
		!strings.Contains(body, `value="local-gaofei"`) {
		t.Fatalf("no content: %d %s", res.Status, body)
	}
	res = w.post("/ui/mass-messages", url.Values{"authenticatorId": {"1"}, "chatType": {"single"}, "sender": {"local-gaofei"},
		"externalUserIds": {e.customers[0] + "\n" + e.customers[1]}, "text.content": {"新品上市"},
		"link.title": {"新品"}, "link.url": {"https://acme.example/new"}})
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/ui/mass-messages/1" {
		t.Fatalf("compose: %d %s", res.Status, res.Body)
	}
	sim := e.sim.MassMessages(e.demo.CorpID)
	if len(sim) != 1 || sim[0].Sender != "gaofei" || !strings.Contains(string(sim[0].Request), `"link":{"title":"新品","url":"https://acme.example/new"}`) {
		t.Fatalf("WeCom holds %+v", sim)
	}
	page := w.page(200, "/ui/mass-messages/1", "en")
	mustContain(t, "the new message's page", page, `id="refresh-mass"`, `id="remind-mass"`, `id="cancel-mass"`, "Waiting for members")

	e.confirm(sim[0].MsgID, "gaofei")
	if res := w.post("/ui/mass-messages/1/refresh", nil); res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/ui/mass-messages/1" {
		t.Fatalf("refresh: %d %s", res.Status, res.Body)
	}
	for _, lang := range []string{"en", "zh-CN"} {
		page = w.page(200, "/ui/mass-messages/1", lang)
		mustContain(t, "the finished message's page in "+lang, page, `<dd id="mass-sent">2</dd>`, `<dd id="mass-members">1 / 1</dd>`,
			`<tr id="mass-member-gaofei">`, [2]string{"Finished", "已完成"}[slices.Index([]string{"en", "zh-CN"}, lang)])
		if m := untranslatedIssue14.FindString(page); m != "" {
			t.Errorf("the message's page in %s shows %q", lang, m)
		}
	}
	if strings.Contains(page, `id="refresh-mass"`) || strings.Contains(page, `id="cancel-mass"`) {
		t.Error("a finished message offers refresh or cancel")
	}
	mustContain(t, "the list", w.page(200, "/ui/mass-messages?status=finished", "en"), `<tr id="mass-1">`, "<code>gaofei</code>")
	if res := w.get("/ui/mass-messages?status=lost"); res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), `id="f-status-error"`) {
		t.Errorf("a bad status filter: %d", res.Status)
	}

	// Without a sender two members get a task: remind them, cancel, and a second cancel is refused on the page.
	id, msgid := e.create(map[string]any{"externalUserIds": []string{e.customers[0], e.customers[2]}, "text": map[string]any{"content": "hi"}})
	path := "/ui/mass-messages/" + id
	for _, action := range []string{"remind", "cancel"} {
		if res := w.post(path+"/"+action, nil); res.Status != http.StatusSeeOther || res.Header.Get("Location") != path {
			t.Fatalf("%s: %d %s", action, res.Status, res.Body)
		}
	}
	for _, m := range e.sim.MassMessages(e.demo.CorpID) {
		if m.MsgID == msgid && (m.Reminders != 1 || !m.Canceled) {
			t.Errorf("WeCom: reminders %d canceled %v", m.Reminders, m.Canceled)
		}
	}
	res = w.post(path+"/cancel", nil)
	if body := string(res.Body); res.Status != http.StatusConflict || !strings.Contains(body, `id="action-error"`) || !strings.Contains(body, "canceled") {
		t.Errorf("a second cancel: %d %s", res.Status, body)
	}

	viewer := e.webLoginWith(e.roleToken("viewer"))
	if links := navLinks(t, string(viewer.get("/ui/").Body)); !slices.Contains(links, "/ui/mass-messages") {
		t.Errorf("the viewer's nav lacks the mass messages: %v", links)
	}
	if strings.Contains(string(viewer.get("/ui/mass-messages").Body), `id="new-mass-message"`) {
		t.Error("a viewer is offered to compose")
	}
	before := len(e.sim.MassMessages(e.demo.CorpID))
	open, _ := e.create(map[string]any{"externalUserIds": []string{e.customers[0]}, "text": map[string]any{"content": "again"}})
	detail := string(viewer.get("/ui/mass-messages/" + open).Body)
	for _, b := range []string{`id="refresh-mass"`, `id="remind-mass"`, `id="cancel-mass"`} {
		if strings.Contains(detail, b) {
			t.Errorf("a viewer is offered %s", b)
		}
	}
	if res := viewer.get("/ui/mass-messages/new"); res.Status != http.StatusForbidden {
		t.Errorf("a viewer's compose page: %d", res.Status)
	}
	posts := map[string]url.Values{"/ui/mass-messages": {"authenticatorId": {"1"}, "externalUserIds": {e.customers[0]}, "text.content": {"x"}}}
	for _, a := range []string{"refresh", "remind", "cancel"} {
		posts[fmt.Sprintf("/ui/mass-messages/%s/%s", open, a)] = nil
	}
	for p, form := range posts {
		if res := viewer.post(p, form); res.Status != http.StatusForbidden {
			t.Errorf("a viewer's POST %s: %d", p, res.Status)
		}
	}
	if after := e.sim.MassMessages(e.demo.CorpID); len(after) != before+1 || after[len(after)-1].Canceled || after[len(after)-1].Reminders != 0 {
		t.Errorf("a viewer reached WeCom: %+v", after)
	}
}
