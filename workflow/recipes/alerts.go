package recipes

import (
	"strconv"

	"github.com/wecomflow/wecomflow/workflow"
)

// The alert recipes write markdown for the smaller of WeCom's limits — an app's 2048 bytes
// (a robot takes 4096) — so that one body serves both channel types. The budgets below add up
// to less than that with room for the longest header and links: the header's fields are
// truncated, the lists bounded by {{#each … maxBytes}}; a group of 200 alerts is shortened
// with "… and N more", never split into several messages.
const (
	firingBytes   = 1100
	resolvedBytes = 400
	labelBytes    = 160
)

// alertList is a markdown section listing a payload's alerts of one status, each with its
// labels, summary and links (links is markdown using the alert's own fields).
func alertList(status, heading string, maxBytes int, links string) string {
	return `{{#if $context.data.alerts | where "status" "` + status + `"}}` + heading + ` ({{$context.data.alerts | where "status" "` + status + `" | length}})
{{#each $context.data.alerts | where "status" "` + status + `" maxBytes=` + strconv.Itoa(maxBytes) + ` more="> … and {n} more\n"}}` +
		`> **{{labels.alertname | truncate 60}}** {{startsAt | date "01-02 15:04"}}
> {{#each labels maxBytes=` + strconv.Itoa(labelBytes) + ` more="…"}}{{@key}}={{this}} {{/each}}
{{#if annotations.summary}}> {{annotations.summary | truncate 120}}
{{/if}}{{#if annotations.description}}> {{annotations.description | truncate 160}}
{{/if}}> ` + links + `
{{/each}}{{/if}}`
}

// alertHeader is the first line: the group's status, name and receiver.
const alertHeader = `{{#if $context.data.alerts | where "status" "firing"}}## <font color="warning">FIRING</font>{{else}}## <font color="info">RESOLVED</font>{{/if}} ` +
	`{{$context.data.groupLabels.alertname | default $context.data.commonLabels.alertname | default $context.data.receiver | truncate 60}}
`

// needsAnyChannel is what the notification recipes need, in English and in Chinese.
const (
	needsAnyChannel   = "a wecom channel with to (users, departments, tags…), or a wecom_robot channel (to optional: mentions)"
	needsAnyChannelZh = "一个 wecom 通道并填写 to（成员、部门、标签……），或一个 wecom_robot 通道（to 可选：@提醒的人）"
)

var alertmanager = Recipe{
	Name:  "alertmanager",
	Title: "Prometheus Alertmanager",
	Description: "One markdown message per Alertmanager notification (webhook v4): firing and resolved alerts grouped, " +
		"each with its labels, summary and description, links to the source and to Alertmanager.",
	Auth:  workflow.AuthBearer,
	Needs: needsAnyChannel,
	Translations: map[string]Text{"zh-CN": {Title: "Prometheus Alertmanager",
		Description: "每条 Alertmanager 通知（webhook v4）发一条 markdown 消息：告警中和已恢复的告警分组列出，" +
			"每条附标签、摘要和描述，以及指向告警来源和 Alertmanager 的链接。",
		Needs: needsAnyChannelZh}},
	Setup: `# alertmanager.yml
receivers:
  - name: wecom
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {credential}
`,
	nodes: func(channel string, to any) []any {
		content := alertHeader +
			alertList("firing", "**Firing**", firingBytes, `[Source]({{generatorURL}})`) +
			alertList("resolved", "**Resolved**", resolvedBytes, `[Source]({{generatorURL}})`) +
			`{{#if $context.data.truncatedAlerts}}{{$context.data.truncatedAlerts}} more alerts left out by Alertmanager (max_alerts)
{{/if}}[Open Alertmanager]({{$context.data.externalURL | truncate 300}})`
		return []any{notify("notify", channel, to, "markdown", map[string]any{"content": content})}
	},
}

var grafana = Recipe{
	Name:  "grafana",
	Title: "Grafana alerting",
	Description: "One markdown message per Grafana unified alerting notification: firing and resolved alerts grouped, " +
		"each with its labels, summary, values and links to the rule, silence, dashboard and panel.",
	Auth:  workflow.AuthGrafana,
	Needs: needsAnyChannel,
	Translations: map[string]Text{"zh-CN": {Title: "Grafana 告警",
		Description: "每条 Grafana 统一告警通知发一条 markdown 消息：告警中和已恢复的告警分组列出，" +
			"每条附标签、摘要、数值，以及指向规则、静默、仪表盘和面板的链接。",
		Needs: needsAnyChannelZh}},
	Setup: `Grafana → Alerting → Contact points → + Add contact point
  Integration: Webhook
  URL: {url}
  Optional Webhook settings → HMAC Signature:
    Secret: {credential}
    Header: X-Grafana-Alerting-Signature (the default; X-Grafana-Alert-Signature works too)
    Timestamp Header: optional (for example X-Grafana-Alerting-Signature-Timestamp)
`,
	nodes: func(channel string, to any) []any {
		links := `{{#each values maxBytes=80 more="…"}}{{@key}}={{this}} {{/each}}[Rule]({{generatorURL}}) [Silence]({{silenceURL}})` +
			`{{#if dashboardURL}} [Dashboard]({{dashboardURL}}){{/if}}{{#if panelURL}} [Panel]({{panelURL}}){{/if}}`
		content := alertHeader +
			alertList("firing", "**Firing**", firingBytes, links) +
			alertList("resolved", "**Resolved**", resolvedBytes, links) +
			`{{#if $context.data.truncatedAlerts}}{{$context.data.truncatedAlerts}} more alerts left out by Grafana
{{/if}}[Open Grafana]({{$context.data.externalURL | truncate 300}})`
		return []any{notify("notify", channel, to, "markdown", map[string]any{"content": content})}
	},
}
