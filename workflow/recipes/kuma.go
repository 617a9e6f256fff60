package recipes

import "github.com/wecomflow/wecomflow/workflow"

// Uptime Kuma's heartbeat status is 0 down, 1 up, 2 pending, 3 maintenance; its own msg names
// the status in words, so the color only tells down from the rest. A test notification has no
// heartbeat and no monitor.
var uptimeKuma = Recipe{
	Name:        "uptime-kuma",
	Title:       "Uptime Kuma",
	Description: "One markdown message per Uptime Kuma notification: the monitor, up or down, Kuma's message, the time and the monitored URL.",
	Auth:        workflow.AuthBearer,
	Needs:       "a wecom channel with to (users, departments, tags…), or a wecom_robot channel (to optional: mentions)",
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
	Setup: `POST {url}
  X-Wecomflow-Timestamp: <unix seconds>
  X-Wecomflow-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
  secret: {credential}
  body: {"title": "Deploy api v2.3 to production?", "description": "Requested by zhangsan", "url": "https://ci.example.com/runs/42"}
`,
	nodes: func(channel string, to any) []any {
		card := map[string]any{"card_type": "button_interaction",
			"main_title":     map[string]any{"title": "{{$context.data.title | default \"Approval\" | truncate 36}}"},
			"sub_title_text": "{{$context.data.description | truncate 200}}",
			"card_action":    map[string]any{"type": 1, "url": "{{$context.data.url | default \"https://work.weixin.qq.com\"}}"},
			"button_list":    []any{map[string]any{"text": "Approve", "key": "approve"}, map[string]any{"text": "Reject", "key": "reject", "style": 2}}}
		n := notify("ask", channel, to, "template_card", card)
		n["config"].(map[string]any)["waitForResponse"] = map[string]any{"timeout": "24h", "replaceName": "已处理"}
		return []any{n}
	},
}
