package server

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Recipients and members are picked from the directory, the local users and the channel's chats
// wherever they are chosen, in a real browser, in English and in Chinese: in the workflow editor
// (a notification's department, user and chat, a chat node's owner and members), in a channel's
// test send (a member, who receives it), on the Send page (a tag, read from WeCom), on the
// channel's chat pages (a new chat's members and owner, a member added) and on an account (its
// WeCom member). Each pick is typed and taken with Enter, as a keyboard user does, and is seen
// where it lands: the saved workflow, the simulator's inbox and chats, the saved account.
func TestBrowserPickers(t *testing.T) {
	walkBothLanguages(t, "pickers", (*browserWalk).seedPickers, pickersWalk)
}

// pickersWalk is the walk: log in, then each page with a picker.
var pickersWalk = []browserStep{
	{"log in", stepPickersLogIn},
	{"pick a notification's recipients in the editor", stepPickInEditor},
	{"pick a chat node's owner and members", stepPickChatMembers},
	{"send a channel test to a picked member", stepPickChannelTest},
	{"send to a picked tag", stepPickSendTag},
	{"send to a local user's picked mobile", stepPickSendMobile},
	{"create a chat and add a member, picked", stepPickChatPageMembers},
	{"link an account to a picked member", stepPickAccountMember},
}

// seedPickers sets up, through the API, what the pickers offer: the authenticator "sandbox"
// with its directory synced, the app channel "ops" with the group chat "oncall1", and the local
// users zs and ls bound to zhangsan and lisi.
func (b *browserWalk) seedPickers() {
	b.createSandbox("sync", map[string]any{"contactSecret": b.demo.ContactsSecret})
	task := b.api(202, "POST", "/api/v1/authenticators/1/sync", nil)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		task = b.api(200, "GET", fmt.Sprintf("/api/v1/sync-tasks/%v", task["id"]), nil)
		if task["status"] == "success" {
			break
		}
		if task["status"] == "failed" || time.Now().After(deadline) {
			b.t.Fatalf("the directory sync did not succeed: %v", task)
		}
	}
	b.api(201, "POST", "/api/v1/channels", map[string]any{"name": "ops", "type": "wecom", "authenticatorId": 1})
	b.api(201, "POST", "/api/v1/channels", map[string]any{"name": "ops_group", "type": "wecom_robot", "authenticatorId": 1,
		"options": map[string]any{"webhookKey": b.demo.RobotKey}})
	b.api(200, "POST", "/api/v1/users/bulk", []map[string]any{
		{"userid": "zs", "set": map[string]any{"wechatwk": "zhangsan", "name": "张三"}},
		{"userid": "ls", "set": map[string]any{"wechatwk": "lisi", "name": "李四"}},
		// Not bound to WeCom; the mobile is the demo corp's wangwu's, by which WeCom finds him.
		{"userid": "ww", "set": map[string]any{"name": "王五", "mobile": b.demoMobile("wangwu")}},
	})
	b.api(201, "POST", "/api/v1/channels/1/chats", map[string]any{"name": b.pick("On call", "值班群"), "users": []string{"zs", "ls"}, "chatid": "oncall1"})
}

// stepPickersLogIn logs in with the admin token in the walk's language.
func stepPickersLogIn(b *browserWalk) {
	b.open("/login?lang="+b.lang, "#f-token")
	b.fill("#f-token", b.token)
	b.navigate("#login")
	b.expectPath("/ui/")
}

// pickFirst types text into a picker's search box, takes the first suggestion with Enter and
// waits until the field holds want (Enter may first wait for the search of what was typed).
func (b *browserWalk) pickFirst(field, text, want string) {
	b.t.Helper()
	b.fill(field+"-search", text)
	b.do("waiting for the suggestions of "+field, chromedp.WaitReady(css(field+"-options option")))
	b.do("picking the first match for "+field, chromedp.SendKeys(css(field+"-search"), kb.Enter))
	script := fmt.Sprintf(`document.querySelector(%q).value === %q`, field, want)
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](script, chromedp.WithPollingTimeout(stepTimeout/2))); err != nil {
		b.t.Fatalf("picking %q in %s: the field holds %q, want %q", text, field, b.value(field), want)
	}
}

// stepPickInEditor builds a notification in a new workflow with the pickers: the department
// 运维组 from the channel's directory, the local user 李四 and the channel's group chat; saved,
// the workflow sends to exactly those ids.
func stepPickInEditor(b *browserWalk) {
	b.open("/ui/workflows/new", "#wf-key")
	b.fill("#wf-key", "picked")
	b.fill("#wf-title", b.pick("Picked recipients", "选出的接收人"))
	b.choose("#add-node-type", "notification")
	b.click("#add-node")
	node := "#" + eval[string](b, `document.querySelector(".wf-node-notification").id`)
	b.fill(node+"-key", "notify")
	b.choose(node+"-channel", "ops")
	b.fill(node+"-text-content", "picked")

	// The search box says what it searches, in the walk's language.
	b.expectAttr(node+"-to-departments-search", "aria-label", b.tr("send.pick.departments"))
	b.pickFirst(node+"-to-departments", "运维", "4")
	b.expectText(node+"-to-departments-picked", "运维组 (4)")
	b.pickFirst(node+"-to-users", "李四", "ls")
	b.expectText(node+"-to-users-picked", "李四 (ls)")
	// A variable typed before a pick stays whole.
	b.fill(node+"-to-chats", "{{ $context.data.chat }}")
	b.pickFirst(node+"-to-chats", b.pick("On call", "值班群"), "{{ $context.data.chat }}, oncall1")
	b.checkWidths("workflow-editor-pickers")
	b.screenshot("workflow-editor-pickers")

	b.workflowID = b.saveNew("#save-workflow", "workflows")
	to := b.savedNode(0)["to"]
	want := map[string]any{"departments": []any{4.0}, "users": []any{"ls"}, "chats": []any{"{{ $context.data.chat }}", "oncall1"}}
	if !reflect.DeepEqual(to, want) {
		b.t.Errorf("the saved notification's to is %v, want %v", to, want)
	}
	b.waitVisible(node + "-to-departments")
	b.expectValue(node+"-to-departments", "4")

	// On a group robot the recipients are mentions: the fields it does not take are left out,
	// but not the ones that hold something (saving would refuse them there); back on the app
	// channel all are offered again.
	b.choose(node+"-channel", "ops_group")
	b.waitVisible(node + "-to-mobiles")
	b.expectValue(node+"-to-departments", "4")
	if eval[bool](b, fmt.Sprintf(`!!document.querySelector(%q)`, node+"-to-tags")) {
		b.t.Error("the editor offers tags on a group robot")
	}
	b.choose(node+"-channel", "ops")
	b.waitVisible(node + "-to-tags")
}

// savedNode is the config of the saved workflow's i-th node, as the API returns it.
func (b *browserWalk) savedNode(i int) map[string]any {
	b.t.Helper()
	w := b.api(200, "GET", "/api/v1/workflows/"+b.workflowID, nil)
	nodes, _ := w["nodes"].([]any)
	if len(nodes) <= i {
		b.t.Fatalf("the saved workflow has %d nodes: %v", len(nodes), w)
	}
	cfg, _ := nodes[i].(map[string]any)["config"].(map[string]any)
	return cfg
}

// stepPickChatMembers adds a chat node to the saved workflow: its owner is one local user, so a
// second pick replaces the first; its members are two.
func stepPickChatMembers(b *browserWalk) {
	b.choose("#add-node-type", "chat")
	b.click("#add-node")
	node := "#" + eval[string](b, `document.querySelector(".wf-node-chat").id`)
	b.choose(node+"-channel", "ops")
	b.fill(node+"-chat-name", "incident")
	b.pickFirst(node+"-chat-owner", "张三", "zs")
	b.pickFirst(node+"-chat-owner", "李四", "ls")
	b.pickFirst(node+"-chat-users", "zs", "zs")
	b.pickFirst(node+"-chat-users", "ls", "zs, ls")
	b.expectText(node+"-chat-users-picked", "张三 (zs), 李四 (ls)")
	b.screenshot("workflow-editor-chat-pickers")
	b.click("#save-workflow")
	b.waitText("#save-status", fmt.Sprintf(b.tr("wf.saved"), 2))
	cfg := b.savedNode(1)
	if cfg["owner"] != "ls" || !reflect.DeepEqual(cfg["users"], []any{"zs", "ls"}) {
		b.t.Errorf("the saved chat node has owner %v and users %v, want ls and [zs ls]", cfg["owner"], cfg["users"])
	}
}

// stepPickChannelTest sends the channel's test message to 李四, picked from the directory by
// name: the simulated WeCom delivers it to lisi.
func stepPickChannelTest(b *browserWalk) {
	b.open("/ui/channels/1", "#test-form")
	b.expectAttr("#f-to-wecomUsers-search", "aria-label", b.tr("send.pick.members"))
	b.pickFirst("#f-to-wecomUsers", "李四", "lisi")
	b.expectText("#f-to-wecomUsers-picked", "李四 (lisi)")
	b.fill("#f-text-content", b.pick("A test to a picked member", "发给所选成员的测试消息"))
	b.checkWidths("channel-test-picker")
	b.screenshot("channel-test-picker")
	b.navigate("#test-send")
	b.waitVisible("#test-result")
	b.expectAttr("#test-status", "class", "status sent")
	if got := len(b.sim.Inbox(b.demo.CorpID, "lisi")); got != 1 {
		b.t.Fatalf("lisi received %d messages, want the test message", got)
	}
}

// stepPickSendTag sends a text from the Send page to the tag 值班, picked by its name from the
// tags WeCom lists: WeCom receives the message addressed to that tag (totag), and a member of the
// tag gets it.
func stepPickSendTag(b *browserWalk) {
	b.open("/ui/send", "#n1-msgtype")
	b.choose("#f-channel", "ops")
	b.choose("#n1-msgtype", "text")
	b.fill("#n1-text-content", b.pick("To the people on call", "发给值班的人"))
	b.expectAttr("#f-to-tags-search", "aria-label", b.tr("send.pick.tags"))
	b.pickFirst("#f-to-tags", "值班", "1")
	b.expectText("#f-to-tags-picked", "值班 (1)")
	b.checkWidths("send-tag-picker")
	b.screenshot("send-tag-picker")
	b.navigate("#send-message")
	b.waitVisible("#send-result")
	b.expectAttr("#send-status", "class", "status sent")
	inbox := b.sim.Inbox(b.demo.CorpID, "zhouba") // in the tag, and sent nothing else by the walk
	if len(inbox) != 1 {
		b.t.Fatalf("zhouba, of the tag 值班, received %d messages, want the one sent to the tag", len(inbox))
	}
	var req struct {
		ToTag  string `json:"totag"`
		ToUser string `json:"touser"`
	}
	if err := json.Unmarshal(inbox[0].Request, &req); err != nil || req.ToTag != "1" || req.ToUser != "" {
		b.t.Errorf("WeCom received %s, want the message to the tag 1 (%v)", inbox[0].Request, err)
	}
}

// demoMobile is the mobile the demo corp gives member userid (wecomtest.SeedDemo numbers them
// in order).
func (b *browserWalk) demoMobile(userid string) string {
	b.t.Helper()
	i := slices.Index(b.demo.UserIDs, userid)
	if i < 0 {
		b.t.Fatalf("the demo corp has no member %s", userid)
	}
	return fmt.Sprintf("1380000%04d", i+1)
}

// stepPickSendMobile sends to a local user who has no WeCom binding by his mobile, picked by his
// name: WeCom finds wangwu by it and he gets the message.
func stepPickSendMobile(b *browserWalk) {
	before := len(b.sim.Inbox(b.demo.CorpID, "wangwu"))
	b.open("/ui/send", "#n1-msgtype")
	b.choose("#f-channel", "ops")
	b.choose("#n1-msgtype", "text")
	b.fill("#n1-text-content", b.pick("By his mobile", "按手机号发送"))
	b.expectAttr("#f-to-mobiles-search", "aria-label", b.tr("send.pick.mobiles"))
	mobile := b.demoMobile("wangwu")
	b.pickFirst("#f-to-mobiles", "王五", mobile)
	b.expectText("#f-to-mobiles-picked", "王五 ("+mobile+")")
	b.navigate("#send-message")
	b.waitVisible("#send-result")
	b.expectAttr("#send-status", "class", "status sent")
	if got := len(b.sim.Inbox(b.demo.CorpID, "wangwu")) - before; got != 1 {
		b.t.Errorf("wangwu, found by his mobile, received %d messages, want 1", got)
	}
}

// stepPickChatPageMembers creates a group chat on the channel's chats page with two members and
// the owner picked from the directory, then adds a third, picked, on the chat's page: WeCom holds
// the chat with them.
func stepPickChatPageMembers(b *browserWalk) {
	b.open("/ui/channels/1/chats", "#chat-form")
	b.fill("#f-name", b.pick("Release", "发布群"))
	b.expectAttr("#f-wecomUsers-search", "aria-label", b.tr("send.pick.members"))
	b.pickFirst("#f-wecomUsers", "赵六", "zhaoliu")
	b.pickFirst("#f-wecomUsers", "孙七", "zhaoliu, sunqi")
	b.expectText("#f-wecomUsers-picked", "赵六 (zhaoliu), 孙七 (sunqi)")
	b.pickFirst("#f-wecomOwner", "孙七", "sunqi")
	b.fill("#f-chatid", "release1")
	b.checkWidths("chat-create-pickers")
	b.screenshot("chat-create-pickers")
	b.navigate("#create-chat")
	b.expectPath("/ui/channels/1/chats/release1")

	b.pickFirst("#f-wecomAddUsers", "王五", "wangwu")
	b.checkWidths("chat-add-picker")
	b.screenshot("chat-add-picker")
	b.navigate("#save-chat")
	b.expectPath("/ui/channels/1/chats/release1")
	b.waitVisible("#member-wangwu")
	for _, c := range b.sim.Chats(b.demo.CorpID) {
		if c.ChatID == "release1" {
			if c.Owner != "sunqi" || !reflect.DeepEqual(c.Members, []string{"zhaoliu", "sunqi", "wangwu"}) {
				b.t.Errorf("WeCom holds the chat with owner %s and members %v, want sunqi and [zhaoliu sunqi wangwu]", c.Owner, c.Members)
			}
			return
		}
	}
	b.t.Errorf("WeCom has no chat release1")
}

// stepPickAccountMember links a new account to a member picked from the authenticator's
// directory: the field holds one member, and choosing no authenticator empties it.
func stepPickAccountMember(b *browserWalk) {
	b.open("/ui/accounts/new", "#account-form")
	b.fill("#f-name", "王五")
	b.choose("#f-wecom-authenticatorId", "1")
	b.pickFirst("#f-wecom-userid", "赵六", "zhaoliu")
	b.choose("#f-wecom-authenticatorId", "")
	b.expectValue("#f-wecom-userid", "")
	b.choose("#f-wecom-authenticatorId", "1")
	b.pickFirst("#f-wecom-userid", "zhaoliu", "zhaoliu")
	b.pickFirst("#f-wecom-userid", "王五", "wangwu")
	b.expectText("#f-wecom-userid-picked", "王五 (wangwu)")
	b.checkWidths("account-picker")
	b.screenshot("account-picker")
	acc := b.api(200, "GET", "/api/v1/accounts/"+b.saveNew("#save-account", "accounts"), nil)
	if link, _ := acc["wecom"].(map[string]any); link == nil || link["userid"] != "wangwu" || link["authenticatorId"] != 1.0 {
		b.t.Errorf("the saved account's WeCom link is %v, want wangwu of authenticator 1", acc["wecom"])
	}
}
