package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/access"
)

// orderPaid is an app template whose card reads the send's data.
func orderPaid() map[string]any {
	return map[string]any{"name": "order-paid", "title": "Order paid", "channelType": "wecom", "msgtype": "textcard",
		"textcard": map[string]any{"title": "Order {{$context.data.order.id}} paid", "description": "{{$context.data.order.amount}} CNY",
			"url": "https://shop.example.com/orders/{{$context.data.order.id}}", "btntxt": "详情"}}
}

// robotAlert is a robot template.
func robotAlert() map[string]any {
	return map[string]any{"name": "disk-alert", "channelType": "wecom_robot", "msgtype": "markdown",
		"markdown": map[string]any{"content": "**{{$context.data.host}}** disk at {{$context.data.pct}}%"}}
}

// A template is checked at save with a notification node's rules — variables skipped, everything
// else WeCom's (or a robot's) — a refusal names the field and stores nothing; names are unique;
// only designers and admins change templates, and every change is audited.
func TestTemplatesAreCheckedAtSaveAndAudited(t *testing.T) {
	t.Parallel()
	e := newRoleEnv(t)
	for _, c := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"bad name", with(orderPaid(), map[string]any{"name": "Order Paid"}), "name"},
		{"unknown channel type", with(orderPaid(), map[string]any{"channelType": "fax"}), "channelType"},
		{"no msgtype", with(orderPaid(), map[string]any{"msgtype": nil}), "msgtype"},
		{"body of another msgtype", with(orderPaid(), map[string]any{"msgtype": "markdown"}), "markdown"},
		{"unknown field", with(orderPaid(), map[string]any{"to": map[string]any{"users": []any{"a"}}}), "to"},
		{"literal bad url", with(orderPaid(), map[string]any{"textcard": map[string]any{"title": "t", "description": "d", "url": "example.com/x"}}), "textcard.url"},
		{"missing title", with(orderPaid(), map[string]any{"textcard": map[string]any{"description": "d", "url": "{{$context.data.url}}"}}), "textcard.title"},
		{"template syntax", with(orderPaid(), map[string]any{"textcard": map[string]any{"title": "t", "description": "{{$context.data.x",
			"url": "https://e.com"}}), "textcard.description"},
		{"robot without the msgtype", with(robotAlert(), map[string]any{"msgtype": "textcard", "markdown": nil, "textcard": map[string]any{"title": "x"}}), "msgtype"},
		{"robot empty text", with(robotAlert(), map[string]any{"msgtype": "text", "markdown": nil, "text": map[string]any{"content": ""}}), "text.content"},
		{"robot interactive card", with(robotAlert(), map[string]any{"msgtype": "template_card", "markdown": nil,
			"template_card": map[string]any{"card_type": "button_interaction"}}), "template_card.card_type"},
	} {
		res := e.do("POST", "/api/v1/templates", c.body)
		if res.Status != 422 || res.Fields()[c.field] == nil {
			t.Errorf("%s: %d %s, want 422 naming %s", c.name, res.Status, res.Body, c.field)
		}
	}
	if n := e.must(200, "GET", "/api/v1/templates", nil).JSON()["total"]; n != float64(0) {
		t.Fatalf("refused templates were stored: %v", n)
	}

	viewer, designer := e.tokens[access.Viewer], e.tokens[access.Designer]
	if res := e.raw("POST", "/api/v1/templates", "application/json", strings.NewReader(`{"name": "x", "msgtype": "text", "text": {"content": "x"}}`), viewer); res.Status != 403 {
		t.Fatalf("a viewer created a template: %d %s", res.Status, res.Body)
	}
	created := e.raw("POST", "/api/v1/templates", "application/json", strings.NewReader(mustJSON(t, orderPaid())), designer)
	if created.Status != 201 {
		t.Fatalf("designer create: %d %s", created.Status, created.Body)
	}
	tpl := created.Data()
	if card, _ := tpl["textcard"].(map[string]any); tpl["msgtype"] != "textcard" || card["btntxt"] != "详情" || tpl["title"] != "Order paid" {
		t.Fatalf("created: %v", tpl)
	}
	id := fmt.Sprint(tpl["id"])
	e.must(201, "POST", "/api/v1/templates", robotAlert())
	if res := e.do("POST", "/api/v1/templates", orderPaid()); res.Status != 409 || res.Fields()["name"] == nil {
		t.Fatalf("duplicate name: %d %s", res.Status, res.Body)
	}
	if res := e.raw("GET", "/api/v1/templates?name=order-paid", "", nil, viewer); res.Status != 200 || res.JSON()["total"] != float64(1) {
		t.Fatalf("viewer list by name: %d %s", res.Status, res.Body)
	}
	if res := e.raw("PATCH", "/api/v1/templates/"+id, "application/json", strings.NewReader(`{"title": "x"}`), viewer); res.Status != 403 {
		t.Fatalf("a viewer updated a template: %d", res.Status)
	}

	if got := e.must(200, "PATCH", "/api/v1/templates/"+id, map[string]any{"title": "Paid"}).Data(); got["title"] != "Paid" || got["textcard"] == nil {
		t.Fatalf("title patch: %v", got)
	}
	if res := e.do("PATCH", "/api/v1/templates/"+id, map[string]any{"channelType": "wecom_robot"}); res.Status != 422 || res.Fields()["channelType"] == nil {
		t.Fatalf("channel type change: %d %s", res.Status, res.Body)
	}
	if res := e.do("PATCH", "/api/v1/templates/"+id, map[string]any{"msgtype": "markdown"}); res.Status != 422 || res.Fields()["markdown"] == nil {
		t.Fatalf("msgtype without its body: %d %s", res.Status, res.Body)
	}
	md := e.must(200, "PATCH", "/api/v1/templates/"+id, map[string]any{"msgtype": "markdown", "markdown": map[string]any{"content": "paid"}}).Data()
	if md["msgtype"] != "markdown" || md["textcard"] != nil {
		t.Fatalf("msgtype patch: %v", md)
	}
	e.must(204, "DELETE", "/api/v1/templates/"+id, nil)
	e.must(404, "GET", "/api/v1/templates/"+id, nil)

	for action, changes := range map[string]string{"template.create": "channelType", "template.update": "title", "template.delete": ""} {
		got := e.auditEntries("action=" + action)
		// Oldest last: order-paid's entry comes first.
		first := got[len(got)-1]
		if first["target"].(map[string]any)["name"] != "order-paid" || !strings.Contains(fmt.Sprint(first["changes"]), changes) {
			t.Errorf("%s: %v", action, first)
		}
	}
}

// A send by template renders the send's data into the template's body and is delivered, through
// an app channel and a robot; the message records the template. A template the send cannot use is
// a 422 naming template.
func TestSendByTemplateRendersAndDelivers(t *testing.T) {
	t.Parallel()
	e := robotEnv(t)
	e.must(201, "POST", "/api/v1/templates", orderPaid())
	e.must(201, "POST", "/api/v1/templates", robotAlert())
	user := e.demo.UserIDs[0]
	data := map[string]any{"order": map[string]any{"id": 42, "amount": "99.50"}}

	m := e.waitFinal(e.send(map[string]any{"template": "order-paid", "to": map[string]any{"users": []any{"local-" + user}}, "data": data}))
	if m["status"] != "sent" || m["template"] != "order-paid" || m["msgtype"] != "textcard" {
		t.Fatalf("app send: %v", m)
	}
	inbox := e.inbox(user)
	card, _ := inbox[len(inbox)-1]["textcard"].(map[string]any)
	if card["title"] != "Order 42 paid" || card["url"] != "https://shop.example.com/orders/42" || card["description"] != "99.50 CNY" {
		t.Fatalf("delivered card: %v", inbox[len(inbox)-1])
	}

	m = e.robotSend("ops_group", map[string]any{"template": "disk-alert", "data": map[string]any{"host": "db-1", "pct": 93}})
	if m["status"] != "sent" || m["template"] != "disk-alert" {
		t.Fatalf("robot send: %v", m)
	}
	if msgtype, body := e.lastRobotMessage(e.demo.RobotKey); msgtype != "markdown" || body["content"] != "**db-1** disk at 93%" {
		t.Fatalf("robot posted %s %v", msgtype, body)
	}

	// The editor's preview renders a template as it would be sent.
	preview := e.must(200, "POST", "/api/v1/render", map[string]any{"channel": "ops_group", "template": "disk-alert",
		"data": map[string]any{"host": "db-2", "pct": 50}}).Data()
	if !strings.Contains(mustJSON(t, preview), "**db-2** disk at 50%") {
		t.Fatalf("preview: %v", preview)
	}

	before := e.snapshot()
	for _, c := range []struct {
		name string
		body map[string]any
	}{
		{"unknown", map[string]any{"template": "nope", "to": map[string]any{"users": []any{"local-" + user}}}},
		{"with msgtype", map[string]any{"template": "order-paid", "msgtype": "text", "to": map[string]any{"users": []any{"local-" + user}}}},
		{"with a body", map[string]any{"template": "order-paid", "text": map[string]any{"content": "x"}, "to": map[string]any{"users": []any{"local-" + user}}}},
		{"robot template on an app channel", map[string]any{"template": "disk-alert", "to": map[string]any{"users": []any{"local-" + user}}}},
		{"app template on a robot", map[string]any{"channel": "ops_group", "template": "order-paid"}},
	} {
		if res := e.do("POST", "/api/v1/messages", withChannel(c.body)); res.Status != 422 || res.Fields()["template"] == nil {
			t.Errorf("%s: %d %s, want 422 naming template", c.name, res.Status, res.Body)
		}
	}
	if e.snapshot() != before {
		t.Error("a refused send changed the database")
	}
}

func withChannel(body map[string]any) map[string]any {
	if body["channel"] == nil {
		body["channel"] = "ops"
	}
	return body
}

// A notification node may name a template: checked when the workflow is saved, rendered with the
// execution's data when it runs. A template an enabled workflow uses cannot be deleted.
func TestWorkflowNodeByTemplate(t *testing.T) {
	t.Parallel()
	e := robotEnv(t)
	tpl := e.must(201, "POST", "/api/v1/templates", orderPaid()).Data()
	e.must(201, "POST", "/api/v1/templates", robotAlert())
	user := e.demo.UserIDs[0]
	byTemplate := func(name string) map[string]any {
		return notify("n", map[string]any{"msgtype": nil, "text": nil, "template": name, "to": map[string]any{"users": []any{"local-" + user}}})
	}
	for name, field := range map[string]string{"nope": "no template is named", "disk-alert": "wecom_robot channels"} {
		res := e.do("POST", "/api/v1/workflows", wf("bad", byTemplate(name)))
		if msg, _ := res.Fields()["nodes.n.config.template"].(string); res.Status != 422 || !strings.Contains(msg, field) {
			t.Errorf("node with template %s: %d %s", name, res.Status, res.Body)
		}
	}
	w := wf("paid-notify", byTemplate("order-paid"))
	w["enabled"] = true
	id := e.must(201, "POST", "/api/v1/workflows", w).Data()["id"]
	x := e.must(202, "POST", fmt.Sprintf("/api/v1/workflows/%v/trigger", id), map[string]any{"data": map[string]any{
		"order": map[string]any{"id": 7, "amount": 10}}}).Data()
	deadline := time.Now().Add(15 * time.Second)
	for len(e.inbox(user)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not delivered: execution %v", e.must(200, "GET", fmt.Sprintf("/api/v1/executions/%v", x["id"]), nil).Data())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if card, _ := e.inbox(user)[0]["textcard"].(map[string]any); card["title"] != "Order 7 paid" {
		t.Fatalf("delivered: %v", e.inbox(user)[0])
	}

	tid := fmt.Sprint(tpl["id"])
	res := e.do("DELETE", "/api/v1/templates/"+tid, nil)
	if res.Status != 409 || !strings.Contains(string(res.Body), "paid-notify") {
		t.Fatalf("delete in use: %d %s", res.Status, res.Body)
	}
	if res := e.do("PATCH", "/api/v1/templates/"+tid, map[string]any{"name": "order-paid-2"}); res.Status != 409 {
		t.Fatalf("rename in use: %d %s", res.Status, res.Body)
	}
	e.must(200, "PATCH", fmt.Sprintf("/api/v1/workflows/%v", id), map[string]any{"enabled": false})
	e.must(204, "DELETE", "/api/v1/templates/"+tid, nil)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
