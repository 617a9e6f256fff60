package recipes

import (
	"encoding/json"

	"github.com/wecomflow/wecomflow/workflow"
)

// Uptime Kuma's heartbeat status is 0 down, 1 up, 2 pending, 3 maintenance; its own msg names
// the status in words, so the color only tells down from the rest. A test notification has no
// heartbeat and no monitor.
var uptimeKuma = Recipe{
	Name:        "uptime-kuma",
	Title:       "Uptime Kuma",
	Description: "One markdown message per Uptime Kuma notification: the monitor, up or down, Kuma's message, the time and the monitored URL.",
	Auth:        workflow.AuthBearer,
	Needs:       needsAnyChannel,
	Translations: map[string]Text{"zh-CN": {Title: "Uptime Kuma",
		Description: "每条 Uptime Kuma 通知发一条 markdown 消息：监控项、正常还是故障、Kuma 的消息、时间和被监控的 URL。",
		Needs:       needsAnyChannelZh}},
	Setup: `Uptime Kuma → Settings → Notifications → Setup Notification
  Notification Type: Webhook
  Post URL: {url}
  Request Body: Preset - application/json
  Additional Headers: {"Authorization": "Bearer {credential}"}
`,
	nodes: func(channel string, to any) []any {
		content := `{{#if $context.data.heartbeat}}{{#if $context.data.heartbeat.status}}## <font color="info">UP</font>{{else}}## <font color="warning">DOWN</font>{{/if}}{{else}}## Uptime Kuma{{/if}} ` +
			`{{$context.data.monitor.name | default "test notification" | truncate 80}}
> {{$context.data.msg | truncate 400}}
{{#if $context.data.heartbeat}}> {{$context.data.heartbeat.localDateTime | default $context.data.heartbeat.time}} {{$context.data.heartbeat.timezone}}
{{/if}}{{#if $context.data.monitor.url}}> [{{$context.data.monitor.url | truncate 200}}]({{$context.data.monitor.url | truncate 400}})
{{/if}}`
		return []any{notify("notify", channel, to, "markdown", map[string]any{"content": content})}
	},
}

// approvalCard asks the install's recipients to approve or reject what the caller describes,
// and waits a day for the click; the decision is the job's response (GET /api/v1/executions/{id},
// or an event hook).
var approvalCard = Recipe{
	Name:  "approval-card",
	Title: "Approval card",
	Description: `An interactive card with Approve and Reject buttons for {"title", "description", "url"} posted by your system ` +
		"(signed as SPEC §10.1's hmac); the click resolves the execution with the decision, which becomes the card's new state.",
	Auth:  workflow.AuthHMAC,
	Needs: "a wecom channel whose authenticator has a callback (card clicks come back through it), with to",
	Translations: map[string]Text{"zh-CN": {Title: "审批卡片",
		Description: `一张带 Approve 和 Reject 按钮的交互卡片，内容是你的系统发来的 {"title", "description", "url"}` +
			"（按 SPEC §10.1 的 hmac 签名）；点击即以该决定结束执行，决定也成为卡片的新状态。",
		Needs: "一个 wecom 通道，其认证器配置了回调（卡片点击经回调传回），并填写 to"}},
	Setup: `POST {url}
  X-Wecomflow-Timestamp: <unix seconds>
  X-Wecomflow-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
  secret: {credential}
  body: {"title": "Deploy api v2.3 to production?", "description": "Requested by zhangsan", "url": "https://ci.example.com/runs/42"}
`,
	nodes: func(channel string, to any) []any {
		n := notify("ask", channel, to, "template_card", approvalCardBody())
		n["config"].(map[string]any)["waitForResponse"] = map[string]any{"timeout": "24h", "replaceName": "已处理"}
		return []any{n}
	},
}

// approvalCardBody is the card both approval recipes send: {"title", "description", "url"},
// with the buttons approve and reject.
func approvalCardBody() map[string]any {
	return map[string]any{"card_type": "button_interaction",
		"main_title":     map[string]any{"title": "{{$context.data.title | default \"Approval\" | truncate 36}}"},
		"sub_title_text": "{{$context.data.description | truncate 200}}",
		"card_action":    map[string]any{"type": 1, "url": "{{$context.data.url | default \"https://work.weixin.qq.com\"}}"},
		"button_list":    []any{map[string]any{"text": "Approve", "key": "approve"}, map[string]any{"text": "Reject", "key": "reject", "style": 2}}}
}

// approveOrEscalate is the approval card for one approver the caller names, with a deadline:
// without an "approve" in time (no click, or a reject) the leaders of the approver's own
// departments are told (SPEC §11 leadersOf); then the install's recipients hear the decision.
// The approver, not the requester, is escalated: the leader is who can make the approver act or
// decide instead. The card's job may fail (the timeout) and the escalation may find no leader
// (ignoreFail both): the decision is still told.
var approveOrEscalate = Recipe{
	Name:  "approve-or-escalate",
	Title: "Approve or escalate",
	Description: `An Approve/Reject card to the approver your system names in {"approver", "title", "description", "url", "timeout"} ` +
		"(signed as SPEC §10.1's hmac), reminded hourly; with no approval within the timeout (default " + escalateAfter + "), or a reject, " +
		"the leaders of the approver's departments are told; then to hears the decision.",
	Auth: workflow.AuthHMAC,
	Needs: "a wecom channel whose authenticator has a callback (card clicks come back through it) and a synced directory " +
		"(the leaders come from it), with to: who hears the decision, such as {\"users\": [\"{{$context.data.requester}}\"]}",
	Translations: map[string]Text{"zh-CN": {Title: "审批或升级",
		Description: `一张 Approve/Reject 卡片，发给你的系统在 {"approver", "title", "description", "url", "timeout"} 中指定的审批人` +
			"（按 SPEC §10.1 的 hmac 签名），每小时提醒一次；超时（默认 " + escalateAfter + "）仍未同意或被拒绝时，" +
			"通知审批人所在部门的负责人；最后把决定告诉 to。",
		Needs: "一个 wecom 通道，其认证器配置了回调（卡片点击经回调传回），并已同步通讯录（负责人来自通讯录）；" +
			`to 是得知决定的人，例如 {"users": ["{{$context.data.requester}}"]}`}},
	Setup: `POST {url}
  X-Wecomflow-Timestamp: <unix seconds>
  X-Wecomflow-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
  secret: {credential}
  body: {"approver": "lisi", "requester": "zhangsan", "title": "Deploy api v2.3 to production?",
         "description": "Requested by zhangsan", "url": "https://ci.example.com/runs/42", "timeout": "2h"}
`,
	nodes: func(channel string, to any) []any {
		approver := "{{$context.data.approver}}"
		timeout := "{{$context.data.timeout | default \"" + escalateAfter + "\"}}"
		title := "{{$context.data.title | default \"Approval\" | truncate 80}}"
		ask := notify("ask", channel, map[string]any{"users": []any{approver}}, "template_card", approvalCardBody())
		ask["config"].(map[string]any)["ignoreFail"] = true
		ask["config"].(map[string]any)["waitForResponse"] = map[string]any{"timeout": timeout, "replaceName": "已处理",
			// times is a number as the API decodes it: the workflow's validation reads no Go int.
			"remind": map[string]any{"every": "1h", "times": json.Number("3"), "text": map[string]any{"content": "Waiting for your decision: " + title}}}
		escalate := notify("escalate", channel, map[string]any{"leadersOf": []any{approver}}, "text", map[string]any{"content": "Not approved: " + title + "\n" +
			"{{#if $jobs.ask.response}}" + approver + " rejected it.{{else}}" + approver + " did not answer within " + timeout + ".{{/if}}\n" +
			"{{$context.data.description | truncate 400}}\n{{$context.data.url}}"})
		escalate["config"].(map[string]any)["ignoreFail"] = true
		return []any{ask,
			map[string]any{"key": "unapproved", "type": "condition",
				"config":   map[string]any{"expression": `$jobs.ask.response == nil || $jobs.ask.response.eventKey != "approve"`},
				"branches": map[string]any{"true": []any{escalate}, "false": []any{}}},
			notify("decision", channel, to, "text", map[string]any{"content": title + "\n" +
				"{{#if $jobs.ask.response}}Decision: {{$jobs.ask.response.eventKey}}, by {{$jobs.ask.response.userid}}" +
				"{{else}}No decision: " + approver + " did not answer within " + timeout + "{{/if}}" +
				"{{#if $jobs.escalate}}\nEscalated to the leaders of " + approver + "'s departments ({{$jobs.escalate.status}}){{/if}}"}),
		}
	},
}

// escalateAfter is how long approve-or-escalate waits when the caller gives no timeout.
const escalateAfter = "4h"
