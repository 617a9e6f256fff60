package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/wecomflow/wecomflow/models/storetest"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
	"github.com/wecomflow/wecomflow/web/siminbox"
)

// The browser test's knobs.
const (
	// envChromium names the browser binary (default /usr/bin/chromium, Debian's package).
	envChromium = "WECOMFLOW_CHROMIUM"
	// envRequireBrowser=1 fails the test instead of skipping it when there is no browser (.ci/run).
	envRequireBrowser = "WECOMFLOW_REQUIRE_BROWSER"
	// envScreenshots is the folder of the screenshots (default build/screenshots in the repository).
	envScreenshots = "WECOMFLOW_SCREENSHOTS"
)

// walkTimeout bounds a whole walk, stepTimeout one step: they turn a hang into a failure that
// names the step and the element it waited for; they are not timing assertions.
const (
	walkTimeout = 6 * time.Minute
	stepTimeout = 45 * time.Second
)

// widths are the window widths every checked page must fit without a horizontal scroll bar.
var widths = []int64{390, 1280}

// A new admin's day, in a real browser, in English and in Chinese (adminDay): log in, create an
// authenticator for the simulated corp, check the connection, sync the directory, create a
// channel and test it, upload users from an xlsx, build a workflow with a textcard in the editor
// and see its preview, trigger it, and follow it to the resolved execution, the sent message and
// the card in the sandbox inbox; what the pages do not make (a group chat, a mass message, an
// event hook, an account, a callback event) is made through the API and the callback URL, so
// every page of an object is visited. Forms show the server's errors on their fields; names, titles
// and texts with markup in them show as text. Every request the pages make stays on the
// server's origin, the console shows no error and no CSP violation, and the checked pages fit
// 390 and 1280 px wide windows. Each page is saved as a screenshot. Then every page of the UI
// is visited (visitPage): saved at 390 and 1280 px, checked the same way, weighed against
// pageBudget and, in Chinese, checked for English sentences.
func TestBrowserAdminDay(t *testing.T) {
	chromium := findChromium(t)
	for _, lang := range []string{"en", "zh-CN"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			b := newBrowserWalk(t, chromium, lang, lang)
			for _, s := range adminDay {
				if !b.step(t, s) {
					return
				}
			}
			// Then every page, with what the walk created in it.
			for _, route := range b.uiPages(t) {
				b.step(t, browserStep{"page " + route, func(b *browserWalk) { b.visitPage(route) }})
			}
		})
	}
}

// walkBothLanguages runs a walk in English and in Chinese, side by side: each on a server of its
// own, prepared by prepare, its screenshots in <lang>/<shots>.
func walkBothLanguages(t *testing.T, shots string, prepare func(*browserWalk), steps []browserStep) {
	chromium := findChromium(t)
	for _, lang := range []string{"en", "zh-CN"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			b := newBrowserWalk(t, chromium, lang, lang+"/"+shots)
			prepare(b)
			for _, s := range steps {
				if !b.step(t, s) {
					return
				}
			}
		})
	}
}

// browserStep is one thing the admin does; steps run in order and share the walk's state.
type browserStep struct {
	name string
	run  func(b *browserWalk)
}

// adminDay is the walk. Append steps as pages arrive.
var adminDay = []browserStep{
	{"log in", stepLogIn},
	{"switch language", stepSwitchLanguage},
	{"create an authenticator", stepCreateAuthenticator},
	{"check the connection", stepCheckConnection},
	{"sync the directory", stepSyncDirectory},
	{"create a channel", stepCreateChannel},
	{"upload users", stepUploadUsers},
	{"build a workflow", stepBuildWorkflow},
	{"trigger the workflow", stepTriggerWorkflow},
	{"see the execution resolved", stepExecutionResolved},
	{"see the message sent", stepMessageSent},
	{"see the card in the inbox", stepInboxCard},
	{"save a template", stepSaveTemplate},
	{"send a card to a picked department", stepSendCard},
	{"choose a webhook's auth", stepWebhookAuth},
	{"preview a digest", stepPreviewDigest},
	{"create the rest by API and receive a callback", stepCreateTheRest},
	{"see what failed, and why", stepSeeFailures},
}

// stepLogIn picks the walk's language on the login page, tries a wrong token, then logs in.
func stepLogIn(b *browserWalk) {
	b.open("/login", "#f-token")
	b.navigate(fmt.Sprintf(`a[href="?lang=%s"]`, b.lang))
	b.expectText("#login", b.tr("login.submit"))
	b.checkWidths("login")
	b.screenshot("login")

	b.fill("#f-token", "wcf_not_a_token")
	b.navigate("#login")
	b.expectText("#f-token-error", b.tr("login.invalid"))
	b.screenshot("login-invalid-token")

	b.fill("#f-token", b.token)
	b.navigate("#login")
	b.expectPath("/ui/")
	b.expectText(`header nav a[href="/ui/authenticators"]`, b.tr("nav.authenticators"))
	b.checkWidths("start")
	b.screenshot("start")

	// On a phone the nav folds behind the Menu button.
	b.do("resizing to 390 px", chromedp.EmulateViewport(390, 900))
	if h := eval[float64](b, `document.querySelector("header.top").getBoundingClientRect().height`); h > 100 {
		b.t.Errorf("the header takes %.0f px of a phone's height", h)
	}
	b.click("#nav-toggle")
	b.waitVisible(`header nav a[href="/ui/authenticators"]`)
	b.expectAttr("#nav-toggle", "aria-expanded", "true")
	b.screenshot("start-menu-390px")
	b.click("#nav-toggle")
	b.do("resizing to 1280 px", chromedp.EmulateViewport(widths[len(widths)-1], 900))
}

// stepSwitchLanguage flips the language with the header's link and back.
func stepSwitchLanguage(b *browserWalk) {
	other := "zh-CN"
	if b.lang == "zh-CN" {
		other = "en"
	}
	b.navigate("#lang-switch")
	b.expectText(`header nav a[href="/ui/authenticators"]`, b.trIn(other, "nav.authenticators"))
	b.expectAttr("html", "lang", other)
	b.navigate("#lang-switch")
	b.expectText(`header nav a[href="/ui/authenticators"]`, b.tr("nav.authenticators"))
	b.expectAttr("html", "lang", b.lang)
}

// stepCreateAuthenticator fills the authenticator form for the simulated corp: a first save
// without the corp ID shows the error next to the field; the callback secrets come from the
// generate buttons.
func stepCreateAuthenticator(b *browserWalk) {
	b.navigate(`header nav a[href="/ui/authenticators"]`)
	b.waitVisible("#new-authenticator")
	b.checkWidths("authenticators")
	b.screenshot("authenticators")

	b.navigate("#new-authenticator")
	b.waitVisible("#authenticator-form")
	b.fill("#f-name", "sandbox")
	// The callback URL to enter in WeCom is there before the first save.
	b.expectText("#callback-url", b.base+"/callback/wecom/sandbox")
	b.fill("#f-title", b.pick("Sandbox corp", "沙箱企业"))
	b.fill("#f-options-agentId", fmt.Sprint(b.demo.AgentID))
	b.fill("#f-options-secret", b.demo.Secret)
	b.fill("#f-options-apiBaseUrl", b.simURL)
	b.fill("#f-options-sync-contactSecret", b.demo.ContactsSecret)
	b.click(`button[data-target="f-options-callback-token"]`)
	b.click(`button[data-target="f-options-callback-encodingAesKey"]`)
	b.callbackToken = b.value("#f-options-callback-token")
	b.aesKey = b.value("#f-options-callback-encodingAesKey")
	if !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).MatchString(b.callbackToken) {
		b.t.Fatalf("generated Token %q: want 32 letters or digits", b.callbackToken)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9]{43}$`).MatchString(b.aesKey) {
		b.t.Fatalf("generated EncodingAESKey %q: want 43 letters or digits", b.aesKey)
	}
	b.checkWidths("authenticator-new")
	b.screenshot("authenticator-new")

	// Saved without the corp ID: the error shows next to the field, the rest stays filled in
	// (but the secret, which is never sent back).
	b.navigate("#save-authenticator")
	b.waitVisible("#f-options-corpId-error")
	if got := b.value("#f-options-callback-token"); got != b.callbackToken {
		b.t.Fatalf("after a failed save the Token is %q, want %q", got, b.callbackToken)
	}
	b.screenshot("authenticator-errors")

	b.fill("#f-options-corpId", b.demo.CorpID)
	b.fill("#f-options-secret", b.demo.Secret)
	b.navigate("#save-authenticator")
	m := regexp.MustCompile(`^/ui/authenticators/(\d+)$`).FindStringSubmatch(b.path())
	if m == nil {
		b.t.Fatalf("after saving the page is %s, want /ui/authenticators/<id>", b.path())
	}
	b.authenticatorID = m[1]
	b.expectText(".flash", b.tr("flash.saved"))
	// The saved values come back as they were typed, so saving the form again keeps them.
	b.expectValue("#f-options-corpId", b.demo.CorpID)
	b.expectValue("#f-options-agentId", fmt.Sprint(b.demo.AgentID))
	b.expectValue("#f-options-apiBaseUrl", b.simURL)
	b.expectText("#callback-url", b.base+"/callback/wecom/sandbox")
	b.callback = &wecomtest.CallbackCaller{URL: b.base + "/callback/wecom/sandbox", Token: b.callbackToken,
		EncodingAESKey: b.aesKey, CorpID: b.demo.CorpID}
	b.inbox.SetCaller(b.callback)
	// Copy says it copied (headless Chromium has no clipboard to grant: the page's is stubbed).
	b.do("stubbing the clipboard", chromedp.Evaluate[chromedp.Void](`navigator.clipboard.writeText = () => Promise.resolve()`))
	b.click(`button[data-copy="callback-url"]`)
	b.waitText(`button[data-copy="callback-url"] + .copied[role=status]`, b.tr("common.copied"))
	b.checkWidths("authenticator")
	b.screenshot("authenticator")
}

// stepCheckConnection presses "Check connection": the simulator accepts the corp ID and secret.
func stepCheckConnection(b *browserWalk) {
	// With an unsaved edit, the check asks first, as it uses the saved settings; saying no stays.
	b.fill("#f-title", "edited, not saved")
	b.do("answering no", chromedp.Evaluate[chromedp.Void](`window.confirm = (q) => { window.asked = q; return false; }`))
	b.click("#check-connection")
	if got := eval[string](b, `window.asked || ""`); got != b.tr("auth.unsaved") {
		b.t.Errorf("Check connection with unsaved edits asked %q, want %q", got, b.tr("auth.unsaved"))
	}
	b.open("/ui/authenticators/"+b.authenticatorID, "#check-connection")
	b.navigate("#check-connection")
	b.waitVisible("#check-result")
	if class := b.attr("#check-result", "class"); !strings.Contains(class, "ok") {
		b.t.Fatalf("the check failed: %s", b.text("#check-result"))
	}
	b.expectText("#check-result strong", b.tr("auth.check.ok"))
	b.screenshot("authenticator-checked")
}

// stepSyncDirectory presses "Sync now": the sync task's page follows the task live until it has
// read the whole corp, and the directory shows its members.
func stepSyncDirectory(b *browserWalk) {
	b.navigate("#sync-now")
	b.waitVisible(`#sync-task[data-status="success"]`) // synctask.js updates the page
	b.expectText("#sync-status", b.tr("sync.status.success"))
	b.expectText("#sync-members", fmt.Sprint(len(b.demo.UserIDs)))
	b.expectText("#sync-progress-text", "100%")
	// The summary, once the task is done, in the page's language.
	b.waitText("#sync-message", b.pick("Synced", "已同步"))
	b.checkWidths("sync-task")
	b.screenshot("sync-task")

	b.navigate("#sync-directory-link")
	b.waitVisible("#dept-tree")
	if n := eval[int](b, `document.querySelectorAll("#members-table tbody tr").length`); n != len(b.demo.UserIDs) {
		b.t.Errorf("the directory lists %d members, want %d", n, len(b.demo.UserIDs))
	}
	b.expectText("#members-table", "zhangsan")
	b.checkWidths("directory")
	b.screenshot("directory")
}

// stepCreateChannel creates the channel "ops" through the authenticator: a bad name first shows
// its error next to the field; then a test send reaches a member of the corp.
func stepCreateChannel(b *browserWalk) {
	b.navigate(`header nav a[href="/ui/channels"]`)
	b.waitVisible("#new-channel")
	b.checkWidths("channels")
	b.screenshot("channels")

	b.navigate("#new-channel")
	b.waitVisible("#channel-form")
	b.fill("#f-name", "Not A Name")
	b.fill("#f-title", b.pick("Operations", "运维通知"))
	b.do("choosing the authenticator", chromedp.SetValue(css("#f-authenticatorId"), b.authenticatorID))
	b.navigate("#save-channel")
	b.waitVisible("#f-name-error")
	b.screenshot("channel-errors")

	b.fill("#f-name", "ops")
	b.navigate("#save-channel")
	m := regexp.MustCompile(`^/ui/channels/(\d+)$`).FindStringSubmatch(b.path())
	if m == nil {
		b.t.Fatalf("after saving the page is %s, want /ui/channels/<id>", b.path())
	}
	b.channelID = m[1]
	b.expectText(".flash", b.tr("flash.saved"))
	b.checkWidths("channel")
	b.screenshot("channel")

	// The test send waits for WeCom's answer before the page comes back.
	b.fill("#f-to-wecomUsers", "zhangsan")
	b.fill("#f-text-content", b.pick("Hello from the channel test", "通道测试消息"))
	// A double submit sends the form once: the second is dropped before it leaves the page.
	seen := eval[string](b, `(() => {
		const seen = [];
		window.addEventListener("submit", (e) => seen.push(e.defaultPrevented));
		const f = document.getElementById("test-form");
		f.requestSubmit(); f.requestSubmit();
		return JSON.stringify(seen);
	})()`)
	if seen != "[false,true]" {
		b.t.Errorf("two submits of the test form: prevented %s, want [false,true]", seen)
	}
	b.waitVisible("#test-result")
	b.expectAttr("#test-status", "class", "status sent")
	b.expectText("#test-status", b.tr("channel.status.sent"))
	b.screenshot("channel-test-sent")
	if got := len(b.sim.Inbox(b.demo.CorpID, "zhangsan")); got != 1 {
		b.t.Fatalf("zhangsan received %d messages, want the test message", got)
	}
}

// The users the walk uploads: local userids bound to the demo corp's members, two of them with a
// name that would be markup if the pages did not escape it, and a row without a userid.
var (
	scriptName = `<script>alert("name")</script>李四`
	imgName    = `"><img src=x onerror=alert(1)>王五`
	usersXLSX  = [][]any{
		{"userid", "wechatwk_userid", "name", "mobile", "email"},
		{"zs", "zhangsan", "张三", "13800000000", "zs@example.com"},
		{"ls", "lisi", scriptName},
		{"ww", "wangwu", imgName},
		{"", "zhaoliu", "赵六"},
	}
)

// stepUploadUsers uploads users.xlsx: three rows are created, the row without a userid is
// reported by its row number, and the names show as text.
func stepUploadUsers(b *browserWalk) {
	b.navigate(`header nav a[href="/ui/users"]`)
	b.waitVisible("#import-users")
	b.screenshot("users-empty")
	b.navigate("#import-users")
	b.waitVisible("#import-form")
	b.checkWidths("users-import")

	file := filepath.Join(b.t.TempDir(), "users.xlsx")
	if err := os.WriteFile(file, xlsxFile(b.t, usersXLSX), 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.upload("#f-file", file)
	b.navigate("#import-submit")
	b.waitVisible("#import-result")
	b.expectText("#import-created", fmt.Sprintf(b.tr("user.import.created"), 3))
	b.expectText("#import-failed-count", fmt.Sprintf(b.tr("user.import.failed"), 1))
	if rows := eval[int](b, `document.querySelectorAll("#import-failed tbody tr").length`); rows != 1 {
		b.t.Fatalf("%d failed rows are listed, want 1", rows)
	}
	b.expectText("#import-failed tbody tr", "5") // the spreadsheet's row number
	b.screenshot("users-imported")

	b.navigate("#import-view-users")
	b.waitVisible("#users-table")
	for _, name := range []string{scriptName, imgName} {
		shown := eval[bool](b, fmt.Sprintf(`[...document.querySelectorAll("#users-table td")].some(td => td.textContent === %q)`, name))
		if !shown {
			b.t.Errorf("the user list does not show the name %q as text", name)
		}
	}
	b.expectNoMarkup()
	b.checkWidths("users")
	b.screenshot("users")
}

// The workflow the walk builds: a title that would be markup if the pages did not escape it,
// and a textcard to the uploaded user zs (zhangsan in WeCom) whose text comes from the data.
var (
	workflowTitle = `Order paid <script>alert("title")</script> "><img src=x onerror=alert(1)>`
	workflowNode  = "notify"
	cardTitle     = "Order {{$context.data.id}} paid"
	cardDesc      = "Amount: {{$context.data.amount}} {{$context.data.note}}"
	cardURL       = "https://example.com/orders/{{$context.data.id}}"
	// triggerData's note would be markup if the pages did not escape the message body.
	triggerNote = `"><img src=x onerror=alert(2)>`
	triggerData = `{"id": 42, "amount": "¥1,280", "note": "\"><img src=x onerror=alert(2)>"}`
)

// stepBuildWorkflow builds the workflow in the editor: a notification node sending a textcard to
// the uploaded user zs, its amount picked from the sample data with the variable picker; the
// preview shows the card as WeCom will; saving without the card's URL shows the server's error
// on that field.
func stepBuildWorkflow(b *browserWalk) {
	b.navigate(`header nav a[href="/ui/workflows"]`)
	b.waitVisible("#new-workflow")
	b.screenshot("workflows-empty")
	b.navigate("#new-workflow")
	b.waitVisible("#wf-key") // editor.js has built the form
	b.fill("#wf-key", "order-paid")
	b.fill("#wf-title", workflowTitle)
	b.expectValue("#wf-trigger-type", "manual")
	b.fill("#sample-data", triggerData)

	b.choose("#add-node-type", "notification")
	b.click("#add-node")
	b.waitVisible(".wf-node-notification")
	node := "#" + eval[string](b, `document.querySelector(".wf-node-notification").id`)
	b.fill(node+"-key", workflowNode)
	b.choose(node+"-channel", "ops")
	b.fill(node+"-to-users", "zs")
	b.choose(node+"-msgtype", "textcard")
	b.waitVisible(node + "-textcard-title")
	b.fill(node+"-textcard-title", cardTitle)
	// "Amount: " typed, the variable picked from the sample data, then the note typed again.
	desc := node + "-textcard-description"
	b.fill(desc, "Amount: ")
	b.click(desc + "-vars")
	b.clickButton("wf-vars", "$context.data.amount")
	b.do("typing into "+desc, chromedp.SendKeys(css(desc), " {{$context.data.note}}"))
	b.expectValue(desc, cardDesc)

	// Without the URL the textcard needs, the preview says what is missing, and saving shows the
	// server's error on that field.
	b.waitText("#preview-errors", "textcard.url")
	b.click("#save-workflow")
	b.waitVisible(node + "-textcard-url[aria-invalid=true]")
	b.waitVisible("#err-nodes-" + workflowNode + "-config-textcard-url")
	if b.lang == "zh-CN" {
		b.expectNoEnglish() // the API's errors come in the page's language
	}
	b.screenshot("workflow-editor-errors")

	b.fill(node+"-textcard-url", cardURL)
	b.waitText("#preview .wfc-textcard .wfc-title", "Order 42 paid")
	b.waitText("#preview .wfc-textcard", "Amount: ¥1,280")
	b.waitText("#preview .wfc-textcard", triggerNote)
	b.expectNoMarkup()
	b.checkWidths("workflow-editor")
	b.screenshot("workflow-editor")

	b.workflowID = b.saveNew("#save-workflow", "workflows")
	b.waitVisible("#wf-version")
	b.screenshot("workflow-saved")

	// Leaving the editor asks first while it has unsaved edits, and only then.
	leaving := `(() => { const e = new Event("beforeunload", {cancelable: true}); window.dispatchEvent(e); return e.defaultPrevented; })()`
	if eval[bool](b, leaving) {
		b.t.Error("leaving a saved workflow asks first")
	}
	b.fill("#wf-title", "edited, not saved")
	if !eval[bool](b, leaving) {
		b.t.Error("leaving the editor with unsaved edits does not ask")
	}
	b.fill("#wf-title", workflowTitle)
	if eval[bool](b, leaving) {
		b.t.Error("an edit undone still asks before leaving")
	}
}

// stepPreviewDigest previews a notification after a digest node in a new workflow, without
// saving it: the sample data stands for each of three gathered items, so the designer sees the
// digest message before any event arrives.
func stepPreviewDigest(b *browserWalk) {
	b.navigate(`header nav a[href="/ui/workflows"]`)
	b.navigate("#new-workflow")
	b.waitVisible("#wf-key")
	b.fill("#sample-data", triggerData)
	b.choose("#add-node-type", "digest")
	b.click("#add-node")
	digest := "#" + eval[string](b, `document.querySelector(".wf-node-digest").id`)
	b.fill(digest+"-dkey", "{{$context.data.id}}")
	b.choose("#add-node-type", "notification")
	b.click("#add-node")
	node := "#" + eval[string](b, `document.querySelector(".wf-node-notification").id`)
	b.choose(node+"-channel", "ops")
	b.fill(node+"-text-content", "[{{$jobs.batch1.key}}] x{{$jobs.batch1.count}}: {{#each $jobs.batch1.items}}{{id}};{{/each}}")
	b.waitText("#preview", "[42] x3: 42;42;42;")
	b.screenshot("workflow-editor-digest")
}

// stepTriggerWorkflow runs the workflow by hand from its page: JSON that does not parse is
// refused next to the field, then the order's data starts an execution.
func stepTriggerWorkflow(b *browserWalk) {
	b.navigate(`header nav a[href="/ui/workflows"]`)
	row := "#workflow-" + b.workflowID
	b.waitVisible(row)
	b.expectText(row, workflowTitle)
	b.checkWidths("workflows")
	b.screenshot("workflows")

	b.navigate(row + ` a[href="/ui/workflows/` + b.workflowID + `"]`)
	b.waitVisible("#trigger-form")
	b.fill("#f-data", `{"id": 42,`)
	b.navigate("#trigger-workflow")
	b.waitVisible("#f-data-error")
	b.screenshot("workflow-trigger-bad-json")

	b.fill("#f-data", triggerData)
	b.navigate("#trigger-workflow")
	m := regexp.MustCompile(`^/ui/executions/([0-9A-Za-z]+)$`).FindStringSubmatch(b.path())
	if m == nil {
		b.t.Fatalf("after triggering the page is %s, want /ui/executions/<id>", b.path())
	}
	b.executionID = m[1]
	b.expectText(".flash", b.tr("wf.flash.triggered"))
}

// stepExecutionResolved waits on the execution's page, which follows it live, for the end.
func stepExecutionResolved(b *browserWalk) {
	b.expectPath("/ui/executions/" + b.executionID)
	b.waitVisible(`#execution-status[data-status="resolved"]`)
	b.expectText("#execution-status", b.tr("exec.status.resolved"))
	b.expectAttr("#job-"+workflowNode, "data-status", "resolved")
	b.expectText("#execution-workflow", workflowTitle)
	b.expectNoMarkup()
	b.checkWidths("execution")
	b.screenshot("execution")
}

// stepMessageSent follows the job to its message: sent, with WeCom's msgid; the message log
// lists it.
func stepMessageSent(b *browserWalk) {
	b.navigate("#job-" + workflowNode + "-message")
	b.waitVisible(`#message-status[data-status="sent"]`)
	b.expectText("#message-status", b.tr("msg.status.sent"))
	got := b.sim.Inbox(b.demo.CorpID, "zhangsan")
	if len(got) == 0 || got[len(got)-1].MsgType != "textcard" {
		b.t.Fatalf("zhangsan's last message in the simulator is not the textcard: %+v", got)
	}
	b.expectText("#message-requests tbody tr", "zhangsan")
	b.expectText("#message-requests tbody tr", got[len(got)-1].MsgID) // WeCom's msgid
	b.expectText("#message-body", "Order 42 paid")
	b.expectText("#message-body", triggerNote)
	b.expectNoMarkup()
	b.messageID = strings.TrimPrefix(b.path(), "/ui/messages/")
	b.checkWidths("message")
	b.screenshot("message")

	b.navigate(`header nav a[href="/ui/messages"]`)
	row := "#message-" + b.messageID
	b.waitVisible(row)
	b.expectText(row+" .status", b.tr("msg.status.sent"))
	b.checkWidths("messages")
	b.screenshot("messages")
}

// stepSaveTemplate makes a saved template with the editor's body form and live preview: the
// server's refusal lands on its field, then the template is saved.
func stepSaveTemplate(b *browserWalk) {
	b.navigate(`header nav a[href="/ui/templates"]`)
	b.navigate("#new-template")
	b.waitVisible("#n1-msgtype") // editor.js has put the body form in place of the JSON field
	b.fill("#f-name", "order-paid")
	b.choose("#n1-msgtype", "textcard")
	b.fill("#n1-textcard-title", cardTitle)
	b.fill("#n1-textcard-description", "{{$context.data.note}}")
	b.waitText("#preview-errors", "textcard.url")
	b.navigate("#save-template")
	b.waitVisible("#n1-textcard-url[aria-invalid=true]")
	if b.lang == "zh-CN" {
		b.expectNoEnglish()
	}
	b.fill("#n1-textcard-url", cardURL)
	b.fill("#sample-data", triggerData)
	b.waitText("#preview .wfc-textcard .wfc-title", "Order 42 paid")
	b.waitText("#preview .wfc-textcard", triggerNote)
	b.expectNoMarkup()
	b.checkWidths("template")
	b.screenshot("template")
	b.navigate("#save-template")
	b.expectPath("/ui/templates/1")
	b.waitVisible("#n1-textcard-url")
	b.expectValue("#n1-textcard-url", cardURL)
}

// stepSendCard composes a template card on the Send page, picks 运维组 from the synced directory
// by typing and Enter, sees the card in the preview, sends it and follows the result's link.
func stepSendCard(b *browserWalk) {
	b.navigate(`header nav a[href="/ui/send"]`)
	b.waitVisible("#n1-msgtype")
	b.choose("#n1-msgtype", "template_card")
	b.fill("#n1-template_card-main_title-title", "Maintenance tonight")
	b.choose("#n1-template_card-card_action-type", "1")
	b.fill("#n1-template_card-card_action-url", cardURL)
	b.fill("#f-to-departments-search", "运维")
	// Enter picks the first suggestion, which arrives from the directory: wait for it, as a user would.
	b.do("waiting for the suggestions", chromedp.WaitReady(css("#f-to-departments-options option")))
	b.do("picking the first match", chromedp.SendKeys(css("#f-to-departments-search"), kb.Enter))
	// Enter may first wait for the search of what was typed: the pick shows when it is made.
	b.waitText("#f-to-departments-picked", "运维组 (4)")
	b.expectValue("#f-to-departments", "4")
	b.waitText("#preview", "Maintenance tonight")
	b.expectNoMarkup()
	b.checkWidths("send")
	b.screenshot("send")
	b.navigate("#send-message")
	b.waitVisible("#send-result")
	b.expectAttr("#send-status", "class", "status sent")
	b.navigate("#send-message-link")
	if !strings.HasPrefix(b.path(), "/ui/messages/") {
		b.t.Fatalf("the result links to %s", b.path())
	}
}

// stepWebhookAuth switches a new workflow's trigger to a webhook: hmac with the signing snippet,
// then bearer, which says what the caller sends.
func stepWebhookAuth(b *browserWalk) {
	b.open("/ui/workflows/new", "#wf-key")
	b.fill("#wf-key", "alerts")
	b.choose("#wf-trigger-type", "webhook")
	b.expectValue("#wf-trigger-auth-type", "hmac")
	b.waitText("#wf-sign-snippet", "/hooks/alerts")
	b.choose("#wf-trigger-auth-type", "bearer")
	b.waitText("#wf-trigger-auth-help", "Authorization: Bearer")
	b.click("#wf-trigger-credential-generate")
	if v := b.value("#wf-trigger-credential"); len(v) != 32 {
		b.t.Fatalf("the generated token is %q", v)
	}
	b.screenshot("workflow-webhook-auth")
}

// stepCreateTheRest makes through the API, as the admin's scripts would, what the walk has not
// made on the pages, so that every page of an object is visited: a group chat of the channel, a
// customer mass message (after giving the authenticator its 客户联系 secret), an event hook and
// an account for zhangsan; and WeCom posts zhangsan's message to the callback URL.
func stepCreateTheRest(b *browserWalk) {
	authID := json.Number(b.authenticatorID)
	b.api(201, "POST", "/api/v1/channels/"+b.channelID+"/chats", map[string]any{"name": b.pick("Incident 42", "故障 42"),
		"chatid": "inc42", "users": []string{"zs", "ls"}})
	b.api(200, "PATCH", "/api/v1/authenticators/"+b.authenticatorID, map[string]any{"options": map[string]any{
		"externalContact": map[string]any{"secret": b.demo.ExternalContactSecret}}})
	b.api(201, "POST", "/api/v1/mass-messages", map[string]any{"authenticatorId": authID, "chatType": "single",
		"wecomSender": "gaofei", "externalUserIds": b.demo.ExternalUserIDs[:2], "text": map[string]any{"content": b.pick("New arrivals", "新品上市")}})
	b.api(201, "POST", "/api/v1/event-hooks", map[string]any{"url": b.hookURL, "events": []string{"message.sent", "message.failed"},
		"secret": "hook-secret"})
	b.api(201, "POST", "/api/v1/accounts", map[string]any{"name": b.pick("Zhang San", "张三"), "role": "operator",
		"wecom": map[string]any{"authenticatorId": authID, "userid": "zhangsan"}})
	msg := wecomtest.TextMessageXML(b.demo.CorpID, b.demo.AgentID, "zhangsan", b.pick("Got it", "收到"), 1, time.Now().Unix())
	if status, body, err := b.callback.Post(b.ctx, msg); err != nil || status != http.StatusOK {
		b.t.Fatalf("posting a message to the callback URL: %d %s %v", status, body, err)
	}
}

// stepSeeFailures: what WeCom refuses shows why on its pages, in the page's language, WeCom's own
// words as code — a sync refused from an untrusted IP (60020), and a workflow whose message goes to
// a userid WeCom does not know (81013): the execution, its job and the message, failed.
func stepSeeFailures(b *browserWalk) {
	b.sim.Script("department/list", wecomtest.Fault{ErrCode: 60020,
		ErrMsg: "not allow to access from your ip, hint: [1751234567], from ip: 203.0.113.9, more info at https://open.work.weixin.qq.com/devtool/query?e=60020"})
	task := b.api(202, "POST", "/api/v1/authenticators/"+b.authenticatorID+"/sync", nil)
	syncPage := fmt.Sprintf("/ui/sync-tasks/%v", task["id"])
	b.open(syncPage, "#sync-retry:not([hidden])") // the page follows the task to its end
	b.expectReason("#sync-message", "60020", "203.0.113.9")

	wf := b.api(201, "POST", "/api/v1/workflows", map[string]any{"key": "nobody", "title": b.pick("To nobody", "发给查无此人"),
		"trigger": map[string]any{"type": "manual"}, "nodes": []any{map[string]any{"key": "tell", "type": "notification",
			"config": map[string]any{"channel": "ops", "msgtype": "text", "to": map[string]any{"wecomUsers": []any{"nobody"}},
				"text": map[string]any{"content": b.pick("Hello", "你好")}}}}})
	x := b.api(202, "POST", fmt.Sprintf("/api/v1/workflows/%v/trigger?wait=10s", wf["id"]), map[string]any{"data": map[string]any{}})
	if x["status"] != "failed" {
		b.t.Fatalf("the execution to nobody: %v, want failed", x)
	}
	b.open(fmt.Sprintf("/ui/executions/%v", x["id"]), "#execution-error")
	b.expectReason("#execution-error", "81013")
	b.expectReason("#job-tell .field-error", "81013")
	b.navigate("#job-tell-message")
	b.expectReason("#message-reason", "81013")
	b.open("/ui/messages?status=failed", "#main")
	b.expectReason("#main table", "81013")
}

// expectReason checks a stored reason on the page: it holds want, WeCom's errmsg is set as code,
// and a Chinese page shows no English around it.
func (b *browserWalk) expectReason(sel string, want ...string) {
	b.t.Helper()
	b.waitVisible(sel + " code")
	for _, w := range want {
		if got := b.text(sel); !strings.Contains(got, w) {
			b.t.Errorf("%s on %s: %q lacks %q", sel, b.path(), got, w)
		}
	}
	if b.lang == "zh-CN" {
		b.expectNoEnglish()
	}
}

// stepInboxCard opens the sandbox inbox: zhangsan got the card.
func stepInboxCard(b *browserWalk) {
	b.navigate(`header nav a[href="/ui/inbox"]`)
	card := "#inbox-zhangsan .inbox-msg .wfc-textcard"
	b.waitVisible(card)
	b.expectText(card+" .wfc-title", "Order 42 paid")
	b.expectText(card, "Amount: ¥1,280 "+triggerNote)
	b.expectNoMarkup()
	b.checkWidths("inbox")
	b.screenshot("inbox")
}

// browserWalk is one language's walk: a server on a fresh database with its workers running,
// WeCom simulated, and a headless browser. Nothing is created before the walk creates it.
type browserWalk struct {
	// t is the running step's test.
	t    *testing.T
	lang string
	cat  map[string]map[string]string
	// tab is the browser tab; ctx is tab bounded by the running step's timeout.
	tab, ctx context.Context
	base     string
	token    string
	srv      *Server
	sim      *wecomtest.Server
	simURL   string
	// simPages is the simulator under another host name: WeCom's sign-in pages, on a site of
	// their own as WeCom's are, so the way back is a cross-site navigation.
	simPages string
	demo     wecomtest.Demo
	inbox    *siminbox.Inbox
	shots    string
	shotN    int
	logs     *lockedBuffer

	mu sync.Mutex
	// requests counts what the page asked the network for; foreign are those to another origin
	// than the server's (or simPages', when visiting WeCom's pages is part of the walk).
	requests  int
	foreign   []string
	visitsSim bool
	// problems are console errors, uncaught exceptions and blocked loads (CSP).
	problems []string
	// loads are the resources of the page being weighed (visitPage); fixedPages the UI's pages
	// without a parameter (uiPages).
	loads      map[network.RequestID]*pageLoad
	fixedPages []string
	// docStatus is the HTTP status of the last page loaded.
	docStatus int64

	// What the steps created.
	authenticatorID       string
	callbackToken, aesKey string
	// callback posts to the authenticator's callback URL as WeCom does.
	callback  *wecomtest.CallbackCaller
	channelID string
	// hookURL is a receiver of event hooks (the server may reach it: FetchAllow).
	hookURL     string
	workflowID  string
	executionID string
	messageID   string
}

// findChromium is the browser to drive, or skips the test (fails it with envRequireBrowser=1).
func findChromium(t *testing.T) string {
	path := os.Getenv(envChromium)
	if path == "off" {
		// .ci/run walks once, in the plain run: under -race the walk costs minutes and the
		// handlers it drives are raced by the page tests already.
		t.Skipf("browser test switched off (%s=off)", envChromium)
	}
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv(envRequireBrowser) == "1" {
			t.Fatalf("no browser at %s (%v), and %s=1 requires one: apt-get install -y chromium", path, err, envRequireBrowser)
		}
		t.Skipf("browser test skipped: no chromium at %s (apt-get install -y chromium, or set %s)", path, envChromium)
	}
	return path
}

// newBrowserWalk prepares a walk in lang, whose screenshots go to the folder shots under the
// screenshot root.
func newBrowserWalk(t *testing.T, chromium, lang, shots string) *browserWalk {
	b := &browserWalk{t: t, lang: lang, logs: &lockedBuffer{}, cat: loadWebCatalogue(t)}

	// WeCom, simulated: the demo corp, on its own origin the browser must never talk to.
	b.sim = wecomtest.New(wecomtest.Options{Seed: 1})
	b.demo = wecomtest.SeedDemo(b.sim)
	simHS := httptest.NewServer(b.sim)
	t.Cleanup(simHS.Close)
	b.simURL = simHS.URL
	b.simPages = strings.Replace(simHS.URL, "127.0.0.1", "localhost", 1)
	b.inbox = siminbox.New(b.sim, b.demo.CorpID, nil)

	// The server, on a real listener whose address is its public URL (the callback URLs the
	// pages show). The default API base goes nowhere: the authenticator must bring its own.
	hs := httptest.NewUnstartedServer(nil)
	b.base = "http://" + hs.Listener.Addr().String()
	store := storetest.Open(t)
	logger := slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(hooks.Close)
	b.hookURL = hooks.URL + "/wecom-events"
	b.srv = New(Config{PublicURL: b.base, Version: "test", WeComAPIBase: "http://127.0.0.1:1",
		FetchAllow:     []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		WeComLoginBase: b.simPages, WeComOAuthBase: b.simPages,
		Sender: wecom.SenderOptions{Poll: 20 * time.Millisecond}, Inbox: b.inbox}, store, logger)
	token, err := b.srv.Service().Bootstrap(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	b.token = token
	hs.Config.Handler = b.srv.Handler()
	hs.Start()
	t.Cleanup(hs.Close)
	workers, stopWorkers := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.srv.RunWorkers(workers) }()
	t.Cleanup(func() { stopWorkers(); <-done })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", tail(b.logs.String(), 40))
		}
	})

	b.shots = screenshotDir(t, shots)

	// The browser: headless Chromium with exactly these flags (and chromedp's pipe and profile).
	root, cancelRoot := context.WithTimeout(context.Background(), walkTimeout)
	t.Cleanup(cancelRoot)
	alloc, cancelAlloc := chromedp.NewExecAllocator(root,
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
	)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(cancelTab)
	b.tab, b.ctx = tab, tab
	if err := chromedp.Do(tab, chromedp.EmulateViewport(widths[len(widths)-1], 900)); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	if err := chromedp.Listen(tab, b.record); err != nil {
		t.Fatal(err)
	}
	return b
}

// step runs one step as a subtest with its own timeout and fails it on anything the page did
// wrong meanwhile. It reports whether the walk may go on: a step that got to its end may have
// found something wrong (t.Error), but the next one can start from where it is.
func (b *browserWalk) step(t *testing.T, s browserStep) bool {
	finished := false
	t.Run(s.name, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(b.tab, stepTimeout)
		defer cancel()
		b.t, b.ctx = t, ctx
		defer b.report(t, s.name)
		s.run(b)
		finished = true
	})
	return finished
}

// report fails the step on what the page did wrong meanwhile (also when the step failed on its
// own: it may say why), and keeps a screenshot of a failed step.
func (b *browserWalk) report(t *testing.T, step string) {
	b.mu.Lock()
	for _, p := range b.problems {
		t.Errorf("the page reported: %s", p)
	}
	for _, u := range b.foreign {
		t.Errorf("the page requested %s, which is not on %s", u, b.base)
	}
	b.problems, b.foreign = nil, nil
	requests := b.requests
	b.mu.Unlock()
	if t.Failed() {
		// The step's own context may have run out: give the picture a little time of its own.
		ctx, cancel := context.WithTimeout(b.tab, 10*time.Second)
		defer cancel()
		b.ctx = ctx
		b.screenshot("FAILED-" + strings.NewReplacer(" ", "-", "/", "-", ":", "").Replace(step))
		return
	}
	t.Logf("%d requests so far, all to %s", requests, b.base)
}

// record takes note of the browser's events: every request, console errors, uncaught
// exceptions, log errors (CSP violations among them) and blocked loads. It runs in chromedp's
// event loop, so it only takes notes.
func (b *browserWalk) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.noteLoad(ev)
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests++
		if !sameOrigin(ev.Request.URL, b.base) && !(b.visitsSim && sameOrigin(ev.Request.URL, b.simPages)) {
			b.foreign = append(b.foreign, ev.Request.URL)
		}
	case *network.EventResponseReceived:
		if ev.Type == network.ResourceTypeDocument {
			b.docStatus = ev.Response.Status
		}
	case *network.EventLoadingFailed:
		if ev.BlockedReason != "" {
			b.problems = append(b.problems, fmt.Sprintf("a load was blocked (%s): %s", ev.BlockedReason, ev.ErrorText))
		}
	case *page.EventJavascriptDialogOpening:
		// A step that leaves an editor with unsaved edits is asked first (beforeunload); the walk
		// moves on on purpose. (The editor's asking is checked by dispatching the event.)
		if ev.Type == page.DialogTypeBeforeunload {
			go func() {
				_, _ = chromedp.Call(b.tab, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			}()
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		b.problems = append(b.problems, fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				if a.Description != "" {
					args = append(args, a.Description)
				} else {
					args = append(args, string(a.Value))
				}
			}
			b.problems = append(b.problems, "console."+string(ev.Type)+": "+strings.Join(args, " "))
		}
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		// An HTTP error status of a page or a call is the server's answer, which the steps
		// check; the rest (security: CSP; a failed asset) is a defect of the page.
		if e.Level == cdplog.EntryLevelError && (e.Source != cdplog.EntrySourceNetwork || strings.Contains(e.URL, "/static/")) {
			b.problems = append(b.problems, fmt.Sprintf("%s error: %s (%s)", e.Source, e.Text, e.URL))
		}
	}
}

// sameOrigin reports whether a request URL stays on base (data: and blob: URLs load nothing).
func sameOrigin(raw, base string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "data", "blob", "about":
		return true
	}
	return u.Scheme+"://"+u.Host == base
}

// --- actions: each fails the step with what it was doing ---

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

func (b *browserWalk) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s (on %s): %v", what, b.pathOrBlank(), err)
	}
}

// open loads a path of the server and waits for an element of the page.
func (b *browserWalk) open(path, waitFor string) {
	b.t.Helper()
	b.do("opening "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(css(waitFor)))
}

// navigate clicks what leads to another page (a link, a submit button) and waits for it to load.
func (b *browserWalk) navigate(sel string) *network.Response {
	b.t.Helper()
	b.do("waiting for "+sel, chromedp.WaitVisible(css(sel)))
	res, err := chromedp.RunResponse(b.ctx, chromedp.Click(css(sel)))
	if err != nil {
		b.t.Fatalf("clicking %s (on %s): %v", sel, b.pathOrBlank(), err)
	}
	return res
}

// click clicks an element that changes the page in place.
func (b *browserWalk) click(sel string) {
	b.t.Helper()
	b.do("clicking "+sel, chromedp.WaitVisible(css(sel)), chromedp.Click(css(sel)))
}

// clickButton clicks the button whose text is text inside the element of class within.
func (b *browserWalk) clickButton(within, text string) {
	b.t.Helper()
	sel := chromedp.Search(fmt.Sprintf(`//*[contains(concat(" ", @class, " "), " %s ")]//button[normalize-space(.)=%q]`, within, text))
	b.do("clicking the button "+text, chromedp.WaitVisible(sel), chromedp.Click(sel))
}

// fill replaces the value of a field by typing (the field is emptied first, as select-all
// would; the typing fires the input events the page listens to).
func (b *browserWalk) fill(sel, value string) {
	b.t.Helper()
	empty := chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = ""`, sel))
	b.do("filling "+sel, chromedp.WaitVisible(css(sel)), empty, chromedp.SendKeys(css(sel), value))
}

// upload sets the file of a file input.
func (b *browserWalk) upload(sel, file string) {
	b.t.Helper()
	b.do("choosing a file for "+sel, chromedp.WaitReady(css(sel)), chromedp.SetUploadFiles(css(sel), []string{file}))
}

func (b *browserWalk) waitVisible(sel string) {
	b.t.Helper()
	b.do("waiting for "+sel, chromedp.WaitVisible(css(sel)))
}

func (b *browserWalk) value(sel string) string {
	b.t.Helper()
	return get(b, "reading the value of "+sel, chromedp.Value(css(sel)))
}

func (b *browserWalk) text(sel string) string {
	b.t.Helper()
	b.waitVisible(sel)
	return get(b, "reading the text of "+sel, chromedp.Text(css(sel)))
}

func (b *browserWalk) attr(sel, name string) string {
	b.t.Helper()
	return get(b, "reading "+sel+"["+name+"]", chromedp.AttributeValue(css(sel), name)).Value
}

func (b *browserWalk) path() string {
	b.t.Helper()
	return get(b, "reading the location", chromedp.Evaluate[string](`location.pathname`))
}

func (b *browserWalk) pathOrBlank() string {
	p, err := chromedp.Run(b.tab, chromedp.Evaluate[string](`location.pathname + location.search`))
	if err != nil {
		return "?"
	}
	return p
}

// eval runs a script expression and decodes its result.
func eval[T any](b *browserWalk, expr string) T {
	b.t.Helper()
	return get(b, "evaluating "+expr, chromedp.Evaluate[T](expr))
}

func get[T any](b *browserWalk, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatalf("%s (on %s): %v", what, b.pathOrBlank(), err)
	}
	return v
}

// expectText waits for sel and fails unless its text contains want.
func (b *browserWalk) expectText(sel, want string) {
	b.t.Helper()
	if got := b.text(sel); !strings.Contains(got, want) {
		b.t.Fatalf("%s on %s shows %q, want %q", sel, b.pathOrBlank(), got, want)
	}
}

func (b *browserWalk) expectAttr(sel, name, want string) {
	b.t.Helper()
	if got := b.attr(sel, name); got != want {
		b.t.Fatalf("%s[%s] on %s is %q, want %q", sel, name, b.pathOrBlank(), got, want)
	}
}

// choose picks an option of a select as a user does: the value changes, then "change" fires.
func (b *browserWalk) choose(sel, value string) {
	b.t.Helper()
	b.waitVisible(sel)
	script := fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		if (![...el.options].some(o => o.value === %q)) return false;
		el.value = %q;
		el.dispatchEvent(new Event("input", {bubbles: true}));
		el.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`, sel, value, value)
	if !eval[bool](b, script) {
		b.t.Fatalf("%s on %s has no option %q", sel, b.pathOrBlank(), value)
	}
}

// waitText waits until the text of sel contains want (the page changes it by itself).
func (b *browserWalk) waitText(sel, want string) {
	b.t.Helper()
	script := fmt.Sprintf(`(() => { const el = document.querySelector(%q); return !!el && el.textContent.includes(%q); })()`, sel, want)
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](script, chromedp.WithPollingTimeout(stepTimeout/2))); err != nil {
		got := eval[string](b, fmt.Sprintf(`(() => { const el = document.querySelector(%q); return el ? el.textContent : "(no element)"; })()`, sel))
		b.t.Fatalf("%s on %s shows %q, want %q: %v", sel, b.pathOrBlank(), got, want, err)
	}
}

func (b *browserWalk) expectValue(sel, want string) {
	b.t.Helper()
	if got := b.value(sel); got != want {
		b.t.Fatalf("%s on %s holds %q, want %q", sel, b.pathOrBlank(), got, want)
	}
}

// expectNoMarkup fails when user data became markup on the page: the walk's names, titles and
// texts carry <script> and <img onerror>, which must show as text.
func (b *browserWalk) expectNoMarkup() {
	b.t.Helper()
	if n := eval[int](b, `document.querySelectorAll("main script:not([type='application/json']), main img[src='x']").length`); n != 0 {
		b.t.Errorf("user data became markup on %s: %d script or img elements", b.pathOrBlank(), n)
	}
}

// saveNew clicks the button that saves a new object and returns the id in the path of the
// object's page it leads to, /ui/<list>/<id>.
func (b *browserWalk) saveNew(button, list string) string {
	b.t.Helper()
	b.navigate(button)
	m := regexp.MustCompile(`^/ui/` + list + `/(\d+)$`).FindStringSubmatch(b.path())
	if m == nil {
		b.t.Fatalf("after saving the page is %s, want /ui/%s/<id>", b.path(), list)
	}
	return m[1]
}

func (b *browserWalk) expectPath(want string) {
	b.t.Helper()
	if got := b.path(); got != want {
		b.t.Fatalf("the page is %s, want %s", got, want)
	}
}

// tr is a catalogue text in the walk's language; trIn in another one.
func (b *browserWalk) tr(key string) string { return b.trIn(b.lang, key) }

func (b *browserWalk) trIn(lang, key string) string {
	b.t.Helper()
	s, ok := b.cat[lang][key]
	if !ok {
		b.t.Fatalf("no %s text for %q", lang, key)
	}
	return s
}

// pick is the English or the Chinese value, by the walk's language.
func (b *browserWalk) pick(en, zh string) string {
	if b.lang == "zh-CN" {
		return zh
	}
	return en
}

// checkWidths fails when the page scrolls sideways at any of the widths; it leaves the widest.
func (b *browserWalk) checkWidths(name string) {
	b.t.Helper()
	const overflow = `(() => {
		const d = document.documentElement;
		if (d.scrollWidth <= window.innerWidth) return "";
		const wide = [];
		for (const el of document.body.querySelectorAll("*")) {
			const r = el.getBoundingClientRect();
			if (r.right > window.innerWidth + 1 && wide.length < 5) {
				wide.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + String(el.className).split(" ").join(".") : "") + " (" + Math.round(r.right) + " px)");
			}
		}
		return d.scrollWidth + " px wide in a " + window.innerWidth + " px window: " + wide.join(", ");
	})()`
	for _, w := range widths {
		b.do(fmt.Sprintf("resizing to %d px", w), chromedp.EmulateViewport(w, 900))
		if got := eval[string](b, overflow); got != "" {
			b.t.Errorf("%s scrolls sideways at %d px: %s", name, w, got)
		}
		if got := eval[string](b, splitWords); got != "" {
			b.t.Errorf("%s breaks words inside at %d px: %s", name, w, got)
		}
		if w != widths[len(widths)-1] {
			b.screenshot(fmt.Sprintf("%s-%dpx", name, w))
		}
	}
}

// splitWords finds words of table cells that a line break cuts in two (ids and codes may break):
// runs of Latin letters whose box spans more than one line.
const splitWords = `(() => {
	const split = [];
	for (const cell of document.querySelectorAll("th, td")) {
		const walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
		for (let n = walk.nextNode(); n && split.length < 5; n = walk.nextNode()) {
			if (n.parentElement.closest("code, pre")) continue;
			for (const m of n.data.matchAll(/[A-Za-z]{2,}/g)) {
				const r = document.createRange();
				r.setStart(n, m.index);
				r.setEnd(n, m.index + m[0].length);
				if (new Set(Array.from(r.getClientRects(), (x) => Math.round(x.top))).size > 1) split.push(m[0]);
			}
		}
	}
	return split.join(", ");
})()`

// screenshot saves the whole page as NN-name.png in the walk's folder.
func (b *browserWalk) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	b.shotN++
	file := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.shotN, name))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
}

// screenshotDir is $WECOMFLOW_SCREENSHOTS/<folder> (default build/screenshots/<folder>; a
// relative path is taken from the repository's root), emptied of an earlier run's pictures.
func screenshotDir(t *testing.T, folder string) string {
	root := os.Getenv(envScreenshots)
	if root == "" {
		root = filepath.Join("build", "screenshots")
	}
	if !filepath.IsAbs(root) {
		root = filepath.Join("..", root) // from the repository, not from this package's folder
	}
	dir := filepath.Join(root, folder)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	for _, f := range old {
		_ = os.Remove(f)
	}
	abs, _ := filepath.Abs(dir)
	t.Logf("screenshots in %s", abs)
	return dir
}

// loadWebCatalogue reads the UI's texts by language, for the assertions.
func loadWebCatalogue(t *testing.T) map[string]map[string]string {
	cat := map[string]map[string]string{}
	for _, lang := range []string{"en", "zh-CN"} {
		cat[lang] = map[string]string{}
		names, _ := filepath.Glob(filepath.Join("..", "web", "i18n", lang, "*.json"))
		for _, name := range names {
			raw, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]string
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for k, v := range m {
				cat[lang][k] = v
			}
		}
	}
	return cat
}

func tail(s string, lines int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
