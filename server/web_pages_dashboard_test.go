package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// The dashboard shows what needs attention now, in both languages: a failed message, a scheduled
// one and when it is due, a waiting execution, the authenticator's last callback and last sync;
// before any callback, "never". A viewer sees the same blocks but no link to what only an admin
// may open.
func TestDashboardShowsWhatMattersNow(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	approver, owner := e.demo.UserIDs[0], e.demo.UserIDs[1]
	w := e.webLogin()
	if page := w.page(200, "/ui/", "en"); !strings.Contains(page, `<td class="last-callback">Never</td>`) {
		t.Fatalf("before any callback the dashboard does not say never:\n%s", page)
	}

	failed := e.send(textTo([]string{"ghost"}, "nobody"))
	at := e.clock.Now().Add(2 * time.Hour)
	later := textTo([]string{"local-" + owner}, "later")
	later["sendAt"] = at.Format(time.RFC3339)
	scheduled := e.send(later)
	e.must(201, "POST", "/api/v1/workflows", approvalWorkflow("order-paid", "24h", false))
	_, waiting := e.hook("order-paid", map[string]any{"id": 41, "amount": 5000, "approver": "local-" + approver, "owner": "local-" + owner}, hookSecret)
	e.waitExecution(waiting, "waiting")
	xml := wecomtest.TextMessageXML(e.demo.CorpID, e.demo.AgentID, approver, "hello", 1, e.clock.Now().Unix())
	if status, body, err := e.caller.Post(context.Background(), xml); err != nil || status != 200 {
		t.Fatalf("callback: %d %q %v", status, body, err)
	}
	event := e.must(200, "GET", "/api/v1/callback-events", nil).JSON()["data"].([]any)[0].(map[string]any)
	dir := &directoryEnv{deliveryEnv: e.deliveryEnv}
	task, _ := dir.waitTask(dir.startSync()["id"])
	if task["status"] != "success" {
		t.Fatalf("sync: %v", task)
	}

	viewer := e.webLoginWith(e.roleToken("viewer"))
	for _, lang := range []string{"en", "zh-CN"} {
		text := func(en, cn string) string {
			if lang == "zh-CN" {
				return cn
			}
			return en
		}
		// The zone the page shows times in: the server's for English, Shanghai for Chinese.
		zone := time.Local
		if lang == "zh-CN" {
			zone, _ = time.LoadLocation("Asia/Shanghai")
		}
		shown := func(v any) string {
			t, err := time.Parse(time.RFC3339Nano, fmt.Sprint(v))
			if err != nil {
				return fmt.Sprintf("unparsable %v", v)
			}
			return t.In(zone).Format(time.DateTime)
		}
		blocks := []string{
			`id="dash-failed-count">1</a>`, `href="/ui/messages/` + failed + `"`, "ghost",
			`id="dash-scheduled-count">1</a>`, `href="/ui/messages/` + scheduled + `"`, text("Next due: ", "最近一条发送时间：") + at.In(zone).Format(time.DateTime),
			`id="dash-retrying-count">0</a>`, text("No message is waiting for a retry.", "没有等待重试的消息。"),
			`id="dash-waiting-count">1</a>`, `href="/ui/executions/` + waiting + `"`,
			text("Last callback received", "最近收到的回调"), fmt.Sprintf(`href="/ui/callback-events/%v">%s</a>`, event["id"], shown(event["createdAt"])),
			text("Last directory sync", "最近一次通讯录同步"), fmt.Sprintf(`href="/ui/sync-tasks/%v">%s</a>`, task["id"], shown(task["createdAt"])),
			text("Succeeded", "成功"),
		}
		admin := w.page(200, "/ui/", lang)
		mustContain(t, lang+" dashboard", admin, append(blocks, `href="/ui/authenticators/new"`)...)
		seen := viewer.page(200, "/ui/", lang)
		mustContain(t, lang+" viewer's dashboard", seen, blocks...)
		if strings.Contains(seen, `href="/ui/authenticators/new"`) || strings.Contains(seen, `href="/ui/workflows/new"`) {
			t.Errorf("%s: the viewer's dashboard links to pages only an admin or a designer may open", lang)
		}
	}
}
