package server

import (
	"strings"
	"testing"
)

// storedWorkflows is every row of the workflow tables, added to env.snapshot, which covers the
// other resources: a rejected save must leave both as they were.
func (e *env) storedWorkflows() string {
	e.t.Helper()
	var out strings.Builder
	out.WriteString(e.snapshot())
	for _, q := range []struct{ table, order string }{
		{"workflows", "id"}, {"workflow_versions", "workflow_id, version"}, {"executions", "id"}, {"jobs", "id"},
	} {
		cols, rows := e.rows("SELECT * FROM " + q.table + " ORDER BY " + q.order)
		for _, vals := range rows {
			for i, v := range vals {
				out.WriteString(q.table + "." + cols[i] + "=" + toString(v) + "\n")
			}
		}
	}
	return out.String()
}

// wf is a valid manual workflow with the given nodes (one text notification when none are given).
func wf(key string, nodes ...any) map[string]any {
	if len(nodes) == 0 {
		nodes = []any{notify("hi", nil)}
	}
	return map[string]any{"key": key, "title": "A workflow", "trigger": map[string]any{"type": "manual"}, "nodes": nodes}
}

// with returns a copy of body with the top-level fields of set replaced (a nil value removes one).
func with(body map[string]any, set map[string]any) map[string]any {
	out := make(map[string]any, len(body))
	for k, v := range body {
		out[k] = v
	}
	for k, v := range set {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// trigger is a workflow whose trigger is typ with config.
func trigger(typ string, config map[string]any) map[string]any {
	return with(wf("trig"), map[string]any{"trigger": map[string]any{"type": typ, "config": config}})
}

// node is a node of any type; branches may be nil.
func node(key, typ string, config map[string]any, branches map[string]any) map[string]any {
	n := map[string]any{"key": key, "type": typ, "config": config}
	if branches != nil {
		n["branches"] = branches
	}
	return n
}

// notify is a notification node sending a text on channel "ops"; the fields of cfg replace the
// defaults (a nil value removes one).
func notify(key string, cfg map[string]any) map[string]any {
	c := map[string]any{"channel": "ops", "to": map[string]any{"users": []any{"local-a"}},
		"msgtype": "text", "text": map[string]any{"content": "hello {{$context.data.name}}"}}
	for k, v := range cfg {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return node(key, "notification", c, nil)
}

// buttonCard is an interactive card body.
func buttonCard() map[string]any {
	return map[string]any{"card_type": "button_interaction", "main_title": map[string]any{"title": "Approve?"},
		"button_list": []any{map[string]any{"text": "Approve", "key": "approve"}}}
}

// Every invalid definition is refused with its status and the path of the problem, and nothing is
// stored; a template or expression error also names the line and column.
func TestWorkflowValidationNamesThePath(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{noSender: true})
	// An authenticator without a callback, and a channel on it: interactive cards cannot go there.
	e.must(201, "POST", "/api/v1/authenticators", map[string]any{"name": "nocb", "options": map[string]any{
		"corpId": e.demo.CorpID, "agentId": e.demo.AgentID, "secret": e.demo.Secret}})
	e.must(201, "POST", "/api/v1/channels", map[string]any{"name": "plain", "authenticatorId": 2})
	e.must(201, "POST", "/api/v1/workflows", wf("taken"))

	cond := func(key, expr string, branches map[string]any) map[string]any {
		return node(key, "condition", map[string]any{"expression": expr}, branches)
	}
	card := func(c map[string]any) map[string]any {
		return map[string]any{"msgtype": "template_card", "template_card": c, "text": nil}
	}
	merge := func(a, b map[string]any) map[string]any { return with(a, b) }
	remindNode := func(remind any) map[string]any {
		return wf("wf1", notify("n", merge(card(buttonCard()), map[string]any{"waitForResponse": map[string]any{"timeout": "24h", "remind": remind}})))
	}

	if !strings.Contains(e.storedWorkflows(), `workflows.key="taken"`) {
		t.Fatal("the snapshot does not show the stored workflows")
	}
	cases := []struct {
		name   string
		body   any
		status int
		field  string // a key of error.fields; empty for errors without fields
		want   string // a fragment of that field's message (or of error.message)
	}{
		// The body and the workflow's own fields.
		{"malformed JSON", `{"key": "x",`, 400, "", ""},
		{"body not an object", `[{"key": "x"}]`, 400, "", ""},
		{"unknown top-level field", with(wf("wf1"), map[string]any{"colour": "red"}), 422, "colour", "unknown field"},
		{"key missing", with(wf("wf1"), map[string]any{"key": nil}), 422, "key", "is required"},
		{"key pattern", wf("9 lives"), 422, "key", "starting with a letter"},
		{"key not a string", with(wf("wf1"), map[string]any{"key": 5}), 422, "key", "must be a string"},
		{"duplicate workflow key", wf("taken"), 409, "", "already"},
		{"title missing", with(wf("wf1"), map[string]any{"title": nil}), 422, "title", "is required"},
		{"title too long", with(wf("wf1"), map[string]any{"title": strings.Repeat("题", 256)}), 422, "title", "at most 255"},
		{"timeout not a duration", with(wf("wf1"), map[string]any{"timeout": "soon"}), 422, "timeout", "positive duration"},
		{"timeout negative", with(wf("wf1"), map[string]any{"timeout": "-1h"}), 422, "timeout", "positive duration"},
		{"timeout not a string", with(wf("wf1"), map[string]any{"timeout": 60}), 422, "timeout", "duration"},
		{"enabled not a bool", with(wf("wf1"), map[string]any{"enabled": "yes"}), 422, "enabled", "true or false"},

		// Triggers.
		{"trigger missing", with(wf("wf1"), map[string]any{"trigger": nil}), 422, "trigger.type", "must be one of"},
		{"trigger not an object", with(wf("wf1"), map[string]any{"trigger": "manual"}), 422, "trigger", "must be an object"},
		{"unknown trigger type", trigger("email", nil), 422, "trigger.type", "must be one of manual, webhook, schedule, wecom_event"},
		{"unknown trigger field", with(wf("wf1"), map[string]any{"trigger": map[string]any{"type": "manual", "cfg": map[string]any{}}}), 422, "trigger.cfg", "unknown field"},
		{"unknown trigger config field", trigger("schedule", map[string]any{"cron": "@daily", "every": "1h"}), 422, "trigger.config.every", "unknown field for a schedule trigger"},
		{"manual trigger takes no config", trigger("manual", map[string]any{"data": 1}), 422, "trigger.config.data", "unknown field for a manual trigger"},
		{"trigger config not an object", with(wf("wf1"), map[string]any{"trigger": map[string]any{"type": "schedule", "config": "@daily"}}), 422, "trigger.config", "must be an object"},
		{"webhook without secret", trigger("webhook", map[string]any{}), 422, "trigger.config.secret", "is required"},
		{"webhook short secret", trigger("webhook", map[string]any{"secret": "short"}), 422, "trigger.config.secret", "at least 16 characters"},
		{"webhook secret not a string", trigger("webhook", map[string]any{"secret": 1234567890123456789}), 422, "trigger.config.secret", "must be a string"},
		{"secret on a schedule", trigger("schedule", map[string]any{"cron": "@daily", "secret": "a-secret-of-enough-length"}), 422, "trigger.config.secret", "only webhooks have a secret"},
		{"schedule bad cron", trigger("schedule", map[string]any{"cron": "every day"}), 422, "trigger.config.cron", "5 fields"},
		{"schedule six-field cron", trigger("schedule", map[string]any{"cron": "0 0 9 * * 1-5"}), 422, "trigger.config.cron", "5 fields"},
		{"schedule cron missing", trigger("schedule", map[string]any{"timezone": "Asia/Shanghai"}), 422, "trigger.config.cron", "cron spec"},
		// robfig/cron panics on a zone with no fields: it was a 500.
		{"schedule cron zone only", trigger("schedule", map[string]any{"cron": "CRON_TZ=Asia/Shanghai"}), 422, "trigger.config.cron", "no schedule after it"},
		{"schedule cron TZ= only", trigger("schedule", map[string]any{"cron": "TZ="}), 422, "trigger.config.cron", "no schedule after it"},
		{"schedule bad timezone", trigger("schedule", map[string]any{"cron": "@daily", "timezone": "Mars/Olympus"}), 422, "trigger.config.timezone", "IANA time zone"},
		{"schedule empty timezone", trigger("schedule", map[string]any{"cron": "@daily", "timezone": ""}), 422, "trigger.config.timezone", "IANA time zone"},
		{"wecom_event authenticator missing", trigger("wecom_event", map[string]any{"events": []any{"text"}}), 422, "trigger.config.authenticator", "is required"},
		{"wecom_event unknown authenticator", trigger("wecom_event", map[string]any{"authenticator": "nobody", "events": []any{"text"}}), 422, "trigger.config.authenticator", `no authenticator is named "nobody"`},
		{"wecom_event empty events", trigger("wecom_event", map[string]any{"authenticator": "acme", "events": []any{}}), 422, "trigger.config.events", "must list the events"},
		{"wecom_event events not a list", trigger("wecom_event", map[string]any{"authenticator": "acme", "events": "text"}), 422, "trigger.config.events", "must list the events"},
		{"wecom_event bad filter", trigger("wecom_event", map[string]any{"authenticator": "acme", "events": []any{"text"}, "expression": `$context.data.MsgType == "text" )`}),
			422, "trigger.config.expression", "line 1, column 33"},
		{"wecom_event filter with unknown root", trigger("wecom_event", map[string]any{"authenticator": "acme", "events": []any{"text"}, "expression": `$data.MsgType == "text"`}),
			422, "trigger.config.expression", "line 1, column 1: unknown variable $data"},
		{"wecom_event filter not a string", trigger("wecom_event", map[string]any{"authenticator": "acme", "events": []any{"text"}, "expression": true}), 422, "trigger.config.expression", "must be a string"},

		// The node list and node shapes.
		{"nodes missing", with(wf("wf1"), map[string]any{"nodes": nil}), 422, "nodes", "at least one node"},
		{"nodes empty", with(wf("wf1"), map[string]any{"nodes": []any{}}), 422, "nodes", "at least one node"},
		{"nodes not a list", with(wf("wf1"), map[string]any{"nodes": map[string]any{}}), 422, "nodes", "must be a list"},
		{"node not an object", wf("wf1", notify("a", nil), "b"), 422, "nodes[1]", "must be an object"},
		{"node key missing", wf("wf1", notify("", nil)), 422, "nodes[0].key", "is required"},
		{"node key pattern", wf("wf1", notify("a", nil), notify("2nd", nil)), 422, "nodes[1].key", "starting with a letter"},
		{"node key too long", wf("wf1", notify("a"+strings.Repeat("b", 64), nil)), 422, "nodes[0].key", "1–64"},
		{"duplicate node keys", wf("wf1", notify("a", nil), notify("a", nil)), 422, "nodes[1].key", `"a" is used by 2 nodes`},
		{"duplicate node key in a branch", wf("wf1", cond("a", "true", map[string]any{"true": []any{notify("b", nil)}, "false": []any{notify("a", nil)}})),
			422, "nodes[0].branches.false[0].key", `"a" is used by 2 nodes`},
		{"duplicate node keys across branches", wf("wf1", cond("c", "true", map[string]any{"true": []any{notify("b", nil)}, "false": []any{notify("b", nil)}})),
			422, "nodes[0].branches.true[0].key", `"b" is used by 2 nodes`},
		{"node key not a string", wf("wf1", map[string]any{"key": 1, "type": "end", "config": map[string]any{}}), 422, "nodes[0].key", "must be a string"},
		{"node title not a string", wf("wf1", merge(notify("a", nil), map[string]any{"title": 5})), 422, "nodes[0].title", "must be a string"},
		{"unknown node field", wf("wf1", merge(notify("a", nil), map[string]any{"next": "b"})), 422, "nodes[0].next", "unknown field"},
		{"node config not an object", wf("wf1", node("a", "end", nil, nil), map[string]any{"key": "b", "type": "end", "config": "x"}), 422, "nodes[1].config", "must be an object"},
		{"unknown node type", wf("wf1", node("a", "email", map[string]any{}, nil)), 422, "nodes.a.type", "must be one of notification, condition, delay, end, chat"},
		{"node type missing", wf("wf1", map[string]any{"key": "a", "config": map[string]any{}}), 422, "nodes.a.type", "must be one of"},
		{"branches on a non-condition node", wf("wf1", merge(notify("a", nil), map[string]any{"branches": map[string]any{"true": []any{}}})), 422, "nodes.a.branches", "only condition nodes"},
		{"unknown branch name", wf("wf1", cond("a", "true", map[string]any{"maybe": []any{}})), 422, "nodes[0].branches.maybe", "unknown branch"},
		{"branch not a list", wf("wf1", cond("a", "true", map[string]any{"true": "b"})), 422, "nodes[0].branches.true", "must be a list"},
		{"node error inside a branch", wf("wf1", cond("a", "true", map[string]any{"true": []any{node("b", "delay", map[string]any{"duration": "later"}, nil)}})),
			422, "nodes.b.config.duration", "positive duration"},

		// Condition, delay and end nodes.
		{"condition unknown config field", wf("wf1", node("c", "condition", map[string]any{"expression": "true", "expr": "x"}, nil)), 422, "nodes.c.config.expr", "unknown field for a node of type condition"},
		{"condition without expression", wf("wf1", node("c", "condition", map[string]any{}, nil)), 422, "nodes.c.config.expression", "is required"},
		{"condition expression not a string", wf("wf1", node("c", "condition", map[string]any{"expression": true}, nil)), 422, "nodes.c.config.expression", "is required"},
		{"condition syntax error", wf("wf1", cond("c", "$context.data.amount > 1000 )", nil)), 422, "nodes.c.config.expression", "line 1, column 29"},
		{"condition syntax error on line 2", wf("wf1", cond("c", "$context.data.amount > 1000 &&\n  ) ", nil)), 422, "nodes.c.config.expression", "line 2, column 3"},
		{"condition columns count characters", wf("wf1", cond("c", `"订单" == $context.data.kind )`, nil)), 422, "nodes.c.config.expression", "line 1, column 28"},
		{"condition unknown root", wf("wf1", cond("c", "$context.data.amount > 1 && $foo.bar", nil)), 422, "nodes.c.config.expression", "line 1, column 29: unknown variable $foo"},
		{"condition unknown name", wf("wf1", cond("c", "amount > 1", nil)), 422, "nodes.c.config.expression", "line 1, column 1"},
		{"delay unknown config field", wf("wf1", node("d", "delay", map[string]any{"duration": "1h", "until": "x"}, nil)), 422, "nodes.d.config.until", "unknown field for a node of type delay"},
		{"delay bad duration", wf("wf1", node("d", "delay", map[string]any{"duration": "a while"}, nil)), 422, "nodes.d.config.duration", "positive duration"},
		{"delay zero duration", wf("wf1", node("d", "delay", map[string]any{"duration": "0s"}, nil)), 422, "nodes.d.config.duration", "positive duration"},
		{"delay without duration", wf("wf1", node("d", "delay", map[string]any{}, nil)), 422, "nodes.d.config.duration", "positive duration"},
		{"delay template error", wf("wf1", node("d", "delay", map[string]any{"duration": "{{$context.data.wait"}, nil)), 422, "nodes.d.config.duration", "line 1, column"},
		{"end unknown config field", wf("wf1", node("e", "end", map[string]any{"status": "failed", "reason": "x"}, nil)), 422, "nodes.e.config.reason", "unknown field for a node of type end"},
		{"end bad status", wf("wf1", node("e", "end", map[string]any{"status": "done"}, nil)), 422, "nodes.e.config.status", "resolved or failed"},
		{"digest without window", wf("wf1", node("g", "digest", map[string]any{"key": "k"}, nil)), 422, "nodes.g.config.window", "from 1s to 24h"},
		{"digest window too short", wf("wf1", node("g", "digest", map[string]any{"window": "500ms"}, nil)), 422, "nodes.g.config.window", "from 1s to 24h"},
		{"digest window too long", wf("wf1", node("g", "digest", map[string]any{"window": "25h"}, nil)), 422, "nodes.g.config.window", "from 1s to 24h"},
		{"digest maxItems zero", wf("wf1", node("g", "digest", map[string]any{"window": "5m", "maxItems": 0}, nil)), 422, "nodes.g.config.maxItems", "from 1 to 1000"},
		{"digest maxItems too many", wf("wf1", node("g", "digest", map[string]any{"window": "5m", "maxItems": 1001}, nil)), 422, "nodes.g.config.maxItems", "from 1 to 1000"},
		{"digest maxItems fraction", wf("wf1", node("g", "digest", map[string]any{"window": "5m", "maxItems": 2.5}, nil)), 422, "nodes.g.config.maxItems", "whole number"},
		{"digest key not a string", wf("wf1", node("g", "digest", map[string]any{"window": "5m", "key": 7}, nil)), 422, "nodes.g.config.key", "must be a string"},
		{"digest key template error", wf("wf1", node("g", "digest", map[string]any{"window": "5m", "key": "{{$context.data.k"}, nil)), 422, "nodes.g.config.key", "line 1, column"},
		{"digest key reads an unknown job", wf("wf1", node("g", "digest", map[string]any{"window": "5m", "key": "{{$jobs.nope.x}}"}, nil)), 422, "nodes.g.config", `no node has the key "nope"`},
		{"digest unknown config field", wf("wf1", node("g", "digest", map[string]any{"window": "5m", "every": "1m"}, nil)), 422, "nodes.g.config.every", "unknown field for a node of type digest"},

		// Notification nodes: the channel, the recipients and the message.
		{"notification missing channel", wf("wf1", notify("n", map[string]any{"channel": nil})), 422, "nodes.n.config.channel", "is required"},
		{"notification unknown channel", wf("wf1", notify("n", map[string]any{"channel": "nope"})), 422, "nodes.n.config.channel", `no channel is named "nope"`},
		{"notification channel as a variable", wf("wf1", notify("n", map[string]any{"channel": "{{$context.data.channel}}"})), 422, "nodes.n.config.channel", "not a variable"},
		{"notification missing to", wf("wf1", notify("n", map[string]any{"to": nil})), 422, "nodes.n.config.to", "is required"},
		{"notification bad department id", wf("wf1", notify("n", map[string]any{"to": map[string]any{"departments": []any{"sales"}}})), 422, "nodes.n.config.to.departments", "positive integer"},
		{"notification unknown config field", wf("wf1", notify("n", map[string]any{"colour": "red"})), 422, "nodes.n.config.colour", "unknown field"},
		{"notification unknown msgtype", wf("wf1", notify("n", map[string]any{"msgtype": "fax"})), 422, "nodes.n.config.msgtype", "must be one of"},
		{"notification body of another type", wf("wf1", notify("n", map[string]any{"markdown": map[string]any{"content": "x"}})), 422, "nodes.n.config.markdown", "not allowed with msgtype text"},
		{"textcard missing title", wf("wf1", notify("n", map[string]any{"msgtype": "textcard", "text": nil,
			"textcard": map[string]any{"description": "d", "url": "https://example.com"}})), 422, "nodes.n.config.textcard.title", "is required"},
		{"textcard bad url", wf("wf1", notify("n", map[string]any{"msgtype": "textcard", "text": nil,
			"textcard": map[string]any{"title": "t", "description": "d", "url": "example.com/x"}})), 422, "nodes.n.config.textcard.url", "absolute http(s) URL"},
		{"textcard template error", wf("wf1", notify("n", map[string]any{"msgtype": "textcard", "text": nil,
			"textcard": map[string]any{"title": "t", "url": "https://example.com", "description": "Order {{$context.data.id}}\nby {{$context.data.name"}})),
			422, "nodes.n.config.textcard.description", "line 2, column 4"},
		{"textcard unclosed block", wf("wf1", notify("n", map[string]any{"msgtype": "textcard", "text": nil,
			"textcard": map[string]any{"title": "t", "url": "https://example.com", "description": "{{#if $context.data.paid}}paid"}})),
			422, "nodes.n.config.textcard.description", "line 1, column 1"},
		{"Go-template syntax", wf("wf1", notify("n", map[string]any{"text": map[string]any{"content": "{{if $context.data.paid}}paid{{end}}"}})),
			422, "nodes.n.config.text.content", "{{#if"},
		{"Go-template dot path", wf("wf1", notify("n", map[string]any{"text": map[string]any{"content": "hello {{.name}}"}})),
			422, "nodes.n.config.text.content", "line 1, column 9"},
		{"template error in a recipient", wf("wf1", notify("n", map[string]any{"to": map[string]any{"users": []any{"{{$context.data.who"}}})),
			422, "nodes.n.config.to.users[0]", "line 1, column"},
		{"text_notice without card_action", wf("wf1", notify("n", card(map[string]any{"card_type": "text_notice", "main_title": map[string]any{"title": "FYI"}}))),
			422, "nodes.n.config.template_card.card_action", "is required"},
		{"unknown card type", wf("wf1", notify("n", card(map[string]any{"card_type": "poster"}))), 422, "nodes.n.config.template_card.card_type", "must be one of"},
		{"button card without buttons", wf("wf1", notify("n", card(map[string]any{"card_type": "button_interaction", "main_title": map[string]any{"title": "?"}}))),
			422, "nodes.n.config.template_card.button_list", "between 1 and"},
		{"interactive card without a callback", wf("wf1", notify("n", merge(card(buttonCard()), map[string]any{"channel": "plain"}))),
			422, "nodes.n.config.template_card", `needs a callback: configure options.callback on authenticator "nocb"`},

		// Notification nodes: the node's own fields.
		{"waitForResponse on a text", wf("wf1", notify("n", map[string]any{"waitForResponse": map[string]any{"timeout": "1h"}})),
			422, "nodes.n.config.waitForResponse", "needs an interactive template card"},
		{"waitForResponse on a notice card", wf("wf1", notify("n", merge(card(map[string]any{"card_type": "text_notice", "main_title": map[string]any{"title": "FYI"},
			"card_action": map[string]any{"type": 1, "url": "https://example.com"}}), map[string]any{"waitForResponse": map[string]any{"timeout": "1h"}}))),
			422, "nodes.n.config.waitForResponse", "needs an interactive template card"},
		{"waitForResponse missing timeout", wf("wf1", notify("n", merge(card(buttonCard()), map[string]any{"waitForResponse": map[string]any{"replaceName": "done"}}))),
			422, "nodes.n.config.waitForResponse.timeout", "is required"},
		{"waitForResponse bad timeout", wf("wf1", notify("n", merge(card(buttonCard()), map[string]any{"waitForResponse": map[string]any{"timeout": "tomorrow"}}))),
			422, "nodes.n.config.waitForResponse.timeout", "is required"},
		{"waitForResponse timeout template error", wf("wf1", notify("n", merge(card(buttonCard()), map[string]any{"waitForResponse": map[string]any{"timeout": "{{$context.data.wait"}}))),
			422, "nodes.n.config.waitForResponse.timeout", "line 1, column"},
		{"waitForResponse unknown field", wf("wf1", notify("n", merge(card(buttonCard()), map[string]any{"waitForResponse": map[string]any{"timeout": "1h", "retry": 3}}))),
			422, "nodes.n.config.waitForResponse.retry", "unknown field"},
		{"waitForResponse not an object", wf("wf1", notify("n", merge(card(buttonCard()), map[string]any{"waitForResponse": "1h"}))),
			422, "nodes.n.config.waitForResponse", "must be an object"},
		{"replaceName too long", wf("wf1", notify("n", merge(card(buttonCard()), map[string]any{"waitForResponse": map[string]any{"timeout": "1h", "replaceName": "已经处理完毕了谢谢您的"}}))),
			422, "nodes.n.config.waitForResponse.replaceName", "1–10 characters"},
		{"replaceName empty", wf("wf1", notify("n", merge(card(buttonCard()), map[string]any{"waitForResponse": map[string]any{"timeout": "1h", "replaceName": ""}}))),
			422, "nodes.n.config.waitForResponse.replaceName", "1–10 characters"},
		{"remind too often", remindNode(map[string]any{"every": "30s", "times": 2, "text": map[string]any{"content": "?"}}),
			422, "nodes.n.config.waitForResponse.remind.every", "at least \"1m\""},
		{"remind without every", remindNode(map[string]any{"times": 2, "text": map[string]any{"content": "?"}}),
			422, "nodes.n.config.waitForResponse.remind.every", "is required"},
		{"remind zero times", remindNode(map[string]any{"every": "30m", "times": 0, "text": map[string]any{"content": "?"}}),
			422, "nodes.n.config.waitForResponse.remind.times", "from 1 to 10"},
		{"remind too many times", remindNode(map[string]any{"every": "30m", "times": 11, "text": map[string]any{"content": "?"}}),
			422, "nodes.n.config.waitForResponse.remind.times", "from 1 to 10"},
		{"remind fractional times", remindNode(map[string]any{"every": "30m", "times": 2.5, "text": map[string]any{"content": "?"}}),
			422, "nodes.n.config.waitForResponse.remind.times", "whole number"},
		{"remind without text", remindNode(map[string]any{"every": "30m", "times": 2}),
			422, "nodes.n.config.waitForResponse.remind.text", "is required"},
		{"remind empty text", remindNode(map[string]any{"every": "30m", "times": 2, "text": map[string]any{"content": " "}}),
			422, "nodes.n.config.waitForResponse.remind.text.content", "is required"},
		{"remind text template error", remindNode(map[string]any{"every": "30m", "times": 2, "text": map[string]any{"content": "order {{$context.data.id"}}),
			422, "nodes.n.config.waitForResponse.remind.text.content", "line 1, column"},
		{"remind text reads a missing node", remindNode(map[string]any{"every": "30m", "times": 2, "text": map[string]any{"content": "{{$jobs.nope.status}}"}}),
			422, "nodes.n.config.waitForResponse.remind", `reads $jobs.nope, but no node has the key "nope"`},
		{"remind unknown field", remindNode(map[string]any{"every": "30m", "times": 2, "text": map[string]any{"content": "?"}, "to": "boss"}),
			422, "nodes.n.config.waitForResponse.remind.to", "unknown field"},
		{"remind not an object", remindNode("30m"), 422, "nodes.n.config.waitForResponse.remind", "must be an object"},
		{"waitForDelivery not a bool", wf("wf1", notify("n", map[string]any{"waitForDelivery": "yes"})), 422, "nodes.n.config.waitForDelivery", "true or false"},
		{"ignoreFail not a bool", wf("wf1", notify("n", map[string]any{"ignoreFail": 1})), 422, "nodes.n.config.ignoreFail", "true or false"},
		{"$jobs of a missing node", wf("wf1", notify("n", map[string]any{"text": map[string]any{"content": "{{$jobs.nope.status}}"}})),
			422, "nodes.n.config", `reads $jobs.nope, but no node has the key "nope"`},
		{"$jobs of a missing node in a condition", wf("wf1", cond("c", `$jobs.nope.response.eventKey == "approve"`, nil)),
			422, "nodes.c.config", `reads $jobs.nope, but no node has the key "nope"`},
		{"$jobs of a missing node in a delay", wf("wf1", node("d", "delay", map[string]any{"duration": "{{$jobs.nope.result}}"}, nil)),
			422, "nodes.d.config", `reads $jobs.nope, but no node has the key "nope"`},
		{"many problems at once", wf("wf1", notify("n", map[string]any{"channel": nil, "waitForDelivery": "yes"}), node("e", "end", map[string]any{"status": "done"}, nil)),
			422, "nodes.e.config.status", "resolved or failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.storedWorkflows()
			res := e.do("POST", "/api/v1/workflows", c.body)
			if res.Status != c.status {
				t.Fatalf("status %d, want %d: %s", res.Status, c.status, res.Body)
			}
			if c.field == "" {
				msg, _ := res.JSON()["error"].(map[string]any)["message"].(string)
				if !strings.Contains(msg, c.want) || msg == "" {
					t.Errorf("message %q does not say %q", msg, c.want)
				}
			} else {
				got, ok := res.Fields()[c.field].(string)
				if !ok {
					t.Fatalf("error.fields has no %q: %s", c.field, res.Body)
				}
				if !strings.Contains(got, c.want) {
					t.Errorf("error.fields[%q] = %q, want it to say %q", c.field, got, c.want)
				}
				if code := res.Code(); code != "validation_failed" {
					t.Errorf("code %q, want validation_failed", code)
				}
			}
			if after := e.storedWorkflows(); after != before {
				t.Errorf("a refused workflow changed stored data:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// What is only known when a run renders is not judged at save time: a variable may stand where
// a literal would be refused.
func TestWorkflowValidationAcceptsVariables(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{noSender: true})
	cases := []struct {
		name string
		body map[string]any
	}{
		{"templated url", wf("url", notify("n", map[string]any{"msgtype": "textcard", "text": nil,
			"textcard": map[string]any{"title": "{{$context.data.title}}", "description": "d", "url": "{{$context.data.url}}"}}))},
		{"templated recipients and department ids", wf("to", notify("n", map[string]any{"to": map[string]any{
			"users": "{{$context.data.approvers}}", "departments": []any{"{{$context.data.dept}}"}}}))},
		{"templated delay", wf("delay", node("d", "delay", map[string]any{"duration": "{{$context.data.wait}}"}, nil), notify("n", nil))},
		{"$jobs of an earlier node", wf("jobs", notify("ask", map[string]any{"msgtype": "template_card", "text": nil, "template_card": buttonCard(),
			"waitForResponse": map[string]any{"timeout": "24h", "replaceName": "已处理"}}),
			notify("n", map[string]any{"text": map[string]any{"content": "{{$jobs.ask.response.eventKey | default \"none\"}}"}}))},
		{"$jobs of a node in a branch", wf("branch", node("c", "condition", map[string]any{"expression": `$context.data.note == "costs $5"`},
			map[string]any{"true": []any{node("d", "delay", map[string]any{"duration": "7d"}, nil)}, "false": []any{}}),
			notify("n", map[string]any{"text": map[string]any{"content": "{{$jobs.d.until}}"}}))},
		{"schedule with every field", trigger("schedule", map[string]any{"cron": "0 9 * * 1-5", "timezone": "Europe/Berlin", "data": map[string]any{"x": 1}})},
		{"wecom_event with a filter", with(trigger("wecom_event", map[string]any{"authenticator": "acme", "events": []any{"template_card_event", "text"},
			"expression": `$context.data.MsgType == "text"`}), map[string]any{"key": "event"})},
		{"end with a status", wf("end", notify("n", nil), node("e", "end", map[string]any{"status": "failed"}, nil))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := e.do("POST", "/api/v1/workflows", c.body)
			if res.Status != 201 {
				t.Fatalf("status %d, want 201: %s", res.Status, res.Body)
			}
			if v := res.Data()["version"]; v != float64(1) {
				t.Errorf("version %v, want 1", v)
			}
		})
	}
}

// PATCH validates the whole result: a bad one changes nothing, a good one makes a new version;
// the webhook secret is write-only and survives a PATCH that does not give it.
func TestWorkflowPatch(t *testing.T) {
	t.Parallel()
	e := newDeliveryEnv(t, deliveryOptions{noSender: true})
	created := e.must(201, "POST", "/api/v1/workflows", with(wf("hook"), map[string]any{
		"trigger": map[string]any{"type": "webhook", "config": map[string]any{"secret": hookSecret}}})).Data()
	if strings.Contains(string(e.must(200, "GET", "/api/v1/workflows/1", nil).Body), hookSecret) {
		t.Fatal("GET returns the webhook secret")
	}
	hmacSet := map[string]any{"auth": map[string]any{"type": "hmac", "secretSet": true}}
	if got := created["trigger"].(map[string]any)["config"]; !equalJSON(got, hmacSet) {
		t.Fatalf("trigger config as created: %v, want only auth {type: hmac, secretSet: true}", got)
	}
	if created["version"] != float64(1) {
		t.Fatalf("version %v", created["version"])
	}

	for _, c := range []struct {
		name, field string
		patch       map[string]any
	}{
		{"bad title", "title", map[string]any{"title": ""}},
		{"bad node", "nodes.e.config.status", map[string]any{"nodes": []any{node("e", "end", map[string]any{"status": "done"}, nil)}}},
		{"short secret", "trigger.config.secret", map[string]any{"trigger": map[string]any{"type": "webhook", "config": map[string]any{"secret": "short"}}}},
		{"secret removed", "trigger.config.secret", map[string]any{"trigger": map[string]any{"type": "webhook", "config": map[string]any{"secret": ""}}}},
		{"unknown field", "colour", map[string]any{"colour": "red", "title": "New title"}},
	} {
		before := e.storedWorkflows()
		res := e.do("PATCH", "/api/v1/workflows/1", c.patch)
		if res.Status != 422 {
			t.Errorf("%s: status %d, want 422: %s", c.name, res.Status, res.Body)
			continue
		}
		if _, ok := res.Fields()[c.field]; !ok {
			t.Errorf("%s: error.fields has no %q: %s", c.name, c.field, res.Body)
		}
		if e.storedWorkflows() != before {
			t.Errorf("%s: a refused PATCH changed stored data", c.name)
		}
	}
	e.must(201, "POST", "/api/v1/workflows", wf("other"))
	for _, c := range []struct {
		name, path string
		patch      map[string]any
		status     int
	}{
		{"rename to a taken key", "/api/v1/workflows/1", map[string]any{"key": "other"}, 409},
		{"unknown workflow", "/api/v1/workflows/99", map[string]any{"title": "x"}, 404},
		{"malformed body", "/api/v1/workflows/1", nil, 400},
	} {
		before := e.storedWorkflows()
		var body any = c.patch
		if c.patch == nil {
			body = `{"title": `
		}
		if res := e.do("PATCH", c.path, body); res.Status != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, res.Status, c.status, res.Body)
		}
		if e.storedWorkflows() != before {
			t.Errorf("%s: a refused PATCH changed stored data", c.name)
		}
	}
	if v := e.must(200, "GET", "/api/v1/workflows/1", nil).Data()["version"]; v != float64(1) {
		t.Fatalf("refused PATCHes moved the version to %v", v)
	}

	// A PATCH without the secret keeps it, and still does not show it.
	res := e.must(200, "PATCH", "/api/v1/workflows/1", map[string]any{"title": "Renamed",
		"trigger": map[string]any{"type": "webhook", "config": hmacSet}})
	got := res.Data()
	if got["version"] != float64(2) || got["title"] != "Renamed" || strings.Contains(string(res.Body), hookSecret) {
		t.Fatalf("after PATCH: %s", res.Body)
	}
	if cfg := got["trigger"].(map[string]any)["config"]; !equalJSON(cfg, hmacSet) {
		t.Fatalf("trigger config after PATCH: %v", cfg)
	}
	w, err := e.store.GetWorkflow(t.Context(), 1)
	if err != nil || w.WebhookSecret.Plain != hookSecret {
		t.Fatalf("stored secret after a PATCH without it: %q %v", w.WebhookSecret.Plain, err)
	}
	// The same PATCH once more is another version: every save is one.
	if v := e.must(200, "PATCH", "/api/v1/workflows/1", map[string]any{"title": "Renamed"}).Data()["version"]; v != float64(3) {
		t.Fatalf("version %v, want 3", v)
	}
	// A new secret replaces the old one.
	e.must(200, "PATCH", "/api/v1/workflows/1", map[string]any{"trigger": map[string]any{"type": "webhook", "config": map[string]any{"secret": "another-secret-0123456789"}}})
	if w, _ := e.store.GetWorkflow(t.Context(), 1); w.WebhookSecret.Plain != "another-secret-0123456789" {
		t.Fatalf("stored secret after a PATCH with a new one: %q", w.WebhookSecret.Plain)
	}
	if n := len(e.must(200, "GET", "/api/v1/workflows", nil).JSON()["data"].([]any)); n != 2 {
		t.Fatalf("%d workflows, want 2", n)
	}
}

func equalJSON(a, b any) bool { return toString(a) == toString(b) }
