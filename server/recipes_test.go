package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// fixture reads a tool's webhook body from testdata/recipes.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/recipes/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// toolAuth is the header each tool authenticates with, for a recipe's credential.
func toolAuth(recipe, credential string, body []byte) http.Header {
	if recipe == "grafana" {
		return http.Header{"X-Grafana-Alerting-Signature": {hexMAC(credential, string(body))}}
	}
	return http.Header{"Authorization": {"Bearer " + credential}}
}

// install installs a recipe and returns the answer's data and the credential.
func (e *workflowEnv) install(recipe string, body map[string]any) (map[string]any, string) {
	e.t.Helper()
	out := e.must(201, "POST", "/api/v1/recipes/"+recipe+"/install", body).Data()
	cred := out["credential"].(map[string]any)
	for _, k := range []string{"token", "secret"} {
		if s, _ := cred[k].(string); s != "" {
			return out, s
		}
	}
	e.t.Fatalf("install answered no credential: %v", out)
	return nil, ""
}

// deliveredMarkdown posts body to the recipe's webhook, waits for the execution and returns the
// one markdown message it delivered — through the robot, or to user on the app channel.
func (e *workflowEnv) deliveredMarkdown(recipe, key, credential string, body []byte, user string) string {
	e.t.Helper()
	robotBefore, inboxBefore := len(e.sim.RobotMessages(e.demo.RobotKey)), len(e.sim.Inbox(e.demo.CorpID, user))
	res := e.postHook(key, body, toolAuth(recipe, credential, body))
	if res.Status != 202 {
		e.t.Fatalf("%s: %d %s", recipe, res.Status, res.Body)
	}
	e.waitExecution(res.Data()["id"].(string), "resolved")
	var content, msgtype string
	if user == "" {
		ms := e.sim.RobotMessages(e.demo.RobotKey)
		if len(ms) != robotBefore+1 {
			e.t.Fatalf("%s: the robot posted %d messages, want one", recipe, len(ms)-robotBefore)
		}
		msgtype = ms[len(ms)-1].MsgType
		var b map[string]any
		_ = json.Unmarshal(ms[len(ms)-1].Body, &b)
		content, _ = b["content"].(string)
	} else {
		in := e.waitInbox(user, inboxBefore+1)
		msgtype = in[len(in)-1].MsgType
		var b map[string]any
		_ = json.Unmarshal(in[len(in)-1].Body, &b)
		content, _ = b["content"].(string)
	}
	if msgtype != "markdown" || content == "" {
		e.t.Fatalf("%s: delivered %s %q, want markdown", recipe, msgtype, content)
	}
	return content
}

func TestRecipeList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.must(200, "GET", "/api/v1/recipes", nil)
	auth := map[string]string{}
	for _, r := range res.JSON()["data"].([]any) {
		r := r.(map[string]any)
		auth[r["name"].(string)] = r["auth"].(string)
		if r["title"] == "" || r["description"] == "" || r["needs"] == "" || !strings.Contains(r["setup"].(string), "{url}") {
			t.Errorf("recipe %v is missing what a user needs", r)
		}
	}
	want := map[string]string{"alertmanager": "bearer", "grafana": "grafana", "uptime-kuma": "bearer", "approval-card": "hmac", "approve-or-escalate": "hmac"}
	if fmt.Sprint(auth) != fmt.Sprint(want) {
		t.Fatalf("recipes and their auth: %v, want %v", auth, want)
	}
}

// Each tool's real payload, posted with the tool's own auth, is one well-formed markdown message
// within the channel's limit, through a robot and through an app channel.
func TestRecipeFixturesDeliverOneMessage(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	e.must(201, "POST", "/api/v1/channels", map[string]any{"name": "ops_group", "type": "wecom_robot", "options": map[string]any{"webhookKey": e.demo.RobotKey}})
	user := e.demo.UserIDs[0]
	cases := []struct {
		recipe, fixture string
		want            []string
	}{
		{"alertmanager", "alertmanager.json", []string{"FIRING", "ProbeFailure", "**Firing** (1)", "**Resolved** (1)",
			"BlackBox Probe Failure: https://server.example.org", "severity=critical", "(http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0&g0.tab=1)",
			"[Open Alertmanager](http://prometheus.example.org:9093)"}},
		{"grafana", "grafana.json", []string{"FIRING", "**Firing** (2)", "High memory usage", "High CPU usage", "zone=eu-1",
			"This alert was triggered for zone us-1", "[Rule](https://play.grafana.org/alerting/1afz29v7z/edit)", "[Silence](https://play.grafana.org/alerting/silence/new?",
			"B=44.23943737541908", "[Open Grafana](https://play.grafana.org/)"}},
		{"uptime-kuma", "uptime-kuma-down.json", []string{`<font color="warning">DOWN</font> Shop`, "[Shop] [🔴 Down] getaddrinfo ENOTFOUND shop.example.com", "2024-09-25 07:51:35 Asia/Shanghai", "(https://shop.example.com)"}},
		{"uptime-kuma", "uptime-kuma-up.json", []string{`<font color="info">UP</font> Shop`, "[Shop] [✅ Up] 200 - OK"}},
	}
	for _, ch := range []struct {
		name, channel, user string
		to                  map[string]any
		limit               int
	}{
		{"robot", "ops_group", "", nil, 4096},
		{"app", "ops", user, map[string]any{"wecomUsers": []any{user}}, 2048},
	} {
		installed := map[string]string{}
		for _, c := range cases {
			key := c.recipe + "-" + ch.name
			if _, done := installed[c.recipe]; !done {
				body := map[string]any{"key": key, "channel": ch.channel}
				if ch.to != nil {
					body["to"] = ch.to
				}
				_, installed[c.recipe] = e.install(c.recipe, body)
			}
			content := e.deliveredMarkdown(c.recipe, key, installed[c.recipe], fixture(t, c.fixture), ch.user)
			for _, w := range c.want {
				if !strings.Contains(content, w) {
					t.Errorf("%s %s through the %s: %q is missing from\n%s", c.recipe, c.fixture, ch.name, w, content)
				}
			}
			if len(content) > ch.limit || strings.Contains(content, "{{") {
				t.Errorf("%s through the %s: %d bytes (limit %d):\n%s", c.recipe, ch.name, len(content), ch.limit, content)
			}
		}
	}
}

// A group of 200 alerts is one message within an app's 2048 bytes, shortened with "… and N more".
func TestRecipeLongGroupIsShortenedNotSplit(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	user := e.demo.UserIDs[0]
	for _, recipe := range []string{"alertmanager", "grafana"} {
		var payload map[string]any
		_ = json.Unmarshal(fixture(t, recipe+".json"), &payload)
		first := payload["alerts"].([]any)[0].(map[string]any)
		alerts := make([]any, 200)
		for i := range alerts {
			a := map[string]any{}
			for k, v := range first {
				a[k] = v
			}
			a["labels"] = map[string]any{"alertname": fmt.Sprintf("DiskFull%03d", i), "instance": fmt.Sprintf("node-%03d.example.org:9100", i)}
			alerts[i] = a
		}
		payload["alerts"] = alerts
		body, _ := json.Marshal(payload)
		_, cred := e.install(recipe, map[string]any{"channel": "ops", "to": map[string]any{"wecomUsers": []any{user}}})
		content := e.deliveredMarkdown(recipe, recipe, cred, body, user)
		if len(content) > 2048 || !strings.Contains(content, "**Firing** (200)") || !strings.Contains(content, "DiskFull000") {
			t.Errorf("%s: %d bytes:\n%s", recipe, len(content), content)
		}
		if i := strings.Index(content, "… and "); i < 0 || !strings.Contains(content[i:], " more") {
			t.Errorf("%s: no \"… and N more\" in\n%s", recipe, content)
		}
	}
}

// The install answers the credential once; the workflow then only says it is set. A key in
// use, an unknown recipe and an unknown channel are refused.
func TestRecipeInstall(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{noSender: true})
	out, token := e.install("alertmanager", map[string]any{"key": "alerts", "channel": "ops", "to": map[string]any{"users": []any{"local-" + e.demo.UserIDs[0]}}})
	if out["webhookUrl"] != "https://wecomflow.example.com/hooks/alerts" || len(token) < 16 ||
		!strings.Contains(out["setup"].(string), "credentials: "+token) || !strings.Contains(out["setup"].(string), "url: https://wecomflow.example.com/hooks/alerts") {
		t.Fatalf("install: %v", out)
	}
	w := out["workflow"].(map[string]any)
	got := e.must(200, "GET", fmt.Sprintf("/api/v1/workflows/%v", w["id"]), nil)
	if strings.Contains(string(got.Body), token) || !strings.Contains(string(got.Body), `"tokenSet":true`) {
		t.Fatalf("the workflow shows its credential, or not that it is set: %s", got.Body)
	}
	for _, c := range []struct {
		path   string
		body   map[string]any
		status int
		field  string
	}{
		{"/api/v1/recipes/alertmanager/install", map[string]any{"key": "alerts", "channel": "ops", "to": map[string]any{"users": []any{"x"}}}, 409, ""},
		{"/api/v1/recipes/nagios/install", map[string]any{"channel": "ops"}, 404, ""},
		{"/api/v1/recipes/grafana/install", map[string]any{"channel": "nope"}, 422, "channel"},
		{"/api/v1/recipes/grafana/install", map[string]any{}, 422, "channel"},
		{"/api/v1/recipes/grafana/install", map[string]any{"channel": "ops", "colour": "red"}, 422, "colour"},
		{"/api/v1/recipes/approval-card/install", map[string]any{"channel": "ops", "to": map[string]any{"users": []any{"local-" + e.demo.UserIDs[0]}}}, 201, ""},
		{"/api/v1/recipes/approve-or-escalate/install", map[string]any{"channel": "ops"}, 422, "to"},
	} {
		res := e.do("POST", c.path, c.body)
		if res.Status != c.status {
			t.Errorf("%s %v: %d %s, want %d", c.path, c.body, res.Status, res.Body, c.status)
		}
		if c.field != "" {
			if f, _ := res.JSON()["error"].(map[string]any)["fields"].(map[string]any); f[c.field] == nil {
				t.Errorf("%s %v: %s, want the field %s named", c.path, c.body, res.Body, c.field)
			}
		}
	}
}

// texts are the contents of the member's first n messages, which must be texts, in order.
func (e *workflowEnv) texts(user string, n int) []string {
	e.t.Helper()
	var out []string
	for _, d := range e.waitInbox(user, n) {
		var b struct {
			Content string `json:"content"`
		}
		if err := json.Unmarshal(d.Body, &b); err != nil || d.MsgType != "text" {
			e.t.Fatalf("%s received a %s, want a text: %s", user, d.MsgType, d.Body)
		}
		out = append(out, b.Content)
	}
	return out
}

// approve-or-escalate against the simulated corp, its directory synced: the card reaches the
// approver the payload names; with no click, once the payload's timeout has passed, the leader of
// the approver's own department is told (not the parent's); an approval escalates nothing, a
// reject does; the requester (the install's to, a variable) hears each decision.
func TestRecipeApproveOrEscalate(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	dir := &directoryEnv{deliveryEnv: e.deliveryEnv}
	if task, _ := dir.waitTask(dir.startSync()["id"]); task["status"] != "success" {
		t.Fatalf("sync: %v", task)
	}
	_, secret := e.install("approve-or-escalate", map[string]any{"channel": "ops", "to": map[string]any{"users": []any{"{{$context.data.requester}}"}}})
	const requester = "hanxue"
	// ask posts a request to approver and returns the execution and the card's task id, once the
	// card is in the approver's inbox and the execution waits for the click.
	ask := func(id int, approver, timeout string) (string, string) {
		t.Helper()
		data := map[string]any{"title": fmt.Sprintf("Deploy #%d?", id), "description": "api v2.3", "url": "https://ci.example.com/runs/42",
			"approver": "local-" + approver, "requester": "local-" + requester}
		if timeout != "" {
			data["timeout"] = timeout
		}
		status, x := e.hook("approve-or-escalate", data, secret)
		if status != 202 {
			t.Fatalf("webhook: %d", status)
		}
		in := e.waitInbox(approver, 1)
		card := cardOf(in[0].Body)
		if in[0].MsgType != "template_card" || card.title != fmt.Sprintf("Deploy #%d?", id) {
			t.Fatalf("%s received %s %s", approver, in[0].MsgType, in[0].Body)
		}
		e.waitExecution(x, "waiting")
		return x, card.taskID
	}
	click := func(approver, task, key string) {
		t.Helper()
		xml, err := e.sim.ClickCard(e.demo.CorpID, approver, task, key)
		if err != nil {
			t.Fatal(err)
		}
		if status, body, err := e.caller.Post(context.Background(), xml); err != nil || status != 200 {
			t.Fatalf("click: %d %q %v", status, body, err)
		}
	}

	// dengli (运维组) does not answer within the payload's 30 minutes: wujiu, who leads 运维组, is
	// told; lisi, who leads the parent 研发部, is not. 30 minutes leave no room for the hourly
	// reminder.
	x, _ := ask(1, "dengli", "30m")
	e.advance(x, time.Hour)
	e.srv.Workflows().Wake()
	done := e.waitExecution(x, "resolved")
	if j := jobOf(done, "ask"); j["status"] != "failed" || j["error"] != "no response within 30m" {
		t.Fatalf("ask: %v", j)
	}
	if got := e.texts("wujiu", 1)[0]; got != "Not approved: Deploy #1?\nlocal-dengli did not answer within 30m.\napi v2.3\nhttps://ci.example.com/runs/42" {
		t.Fatalf("escalation: %q", got)
	}
	if got := e.texts(requester, 1)[0]; got != "Deploy #1?\nNo decision: local-dengli did not answer within 30m\nEscalated to the leaders of local-dengli's departments (sent)" {
		t.Fatalf("decision: %q", got)
	}
	if n := len(e.sim.Inbox(e.demo.CorpID, "lisi")); n != 0 || e.reminders() != 0 {
		t.Fatalf("lisi got %d messages; %d reminders", n, e.reminders())
	}

	// wangwu (研发部) approves within the default 4 hours, which leave room for reminders: nothing
	// escalates. fengyi (研发部) rejects: lisi is told at once.
	x, task := ask(2, "wangwu", "")
	if e.reminders() != 1 {
		t.Fatalf("%d reminders, want the card's", e.reminders())
	}
	click("wangwu", task, "approve")
	if done := e.waitExecution(x, "resolved"); jobOf(done, "escalate") != nil {
		t.Fatalf("an approval escalated: %v", done["jobs"])
	}
	if got := e.texts(requester, 2)[1]; got != "Deploy #2?\nDecision: approve, by wangwu" {
		t.Fatalf("decision: %q", got)
	}
	x, task = ask(3, "fengyi", "2h")
	click("fengyi", task, "reject")
	e.waitExecution(x, "resolved")
	if got := e.texts("lisi", 1)[0]; !strings.HasPrefix(got, "Not approved: Deploy #3?\nlocal-fengyi rejected it.") {
		t.Fatalf("escalation: %q", got)
	}
	if got := e.texts(requester, 3)[2]; got != "Deploy #3?\nDecision: reject, by fengyi\nEscalated to the leaders of local-fengyi's departments (sent)" {
		t.Fatalf("decision: %q", got)
	}
}

// BenchmarkRecipeAlertmanagerToDelivered is BenchmarkWorkflowWebhookToDelivered for the
// alertmanager recipe: b.N Alertmanager notifications (the fixture, one group each, routed to a
// member by a label) posted with Authorization: Bearer, each rendered into its markdown message
// and delivered to an app channel.
func BenchmarkRecipeAlertmanagerToDelivered(b *testing.B) {
	const members = 2000
	clk := &deliveryClock{at: map[int]time.Time{}}
	e := newDeliveryEnv(b, deliveryOptions{members: members, start: time.Now(), simWrap: clk.wrap})
	api := httptest.NewServer(e.srv.Handler())
	defer api.Close()
	out := e.must(201, "POST", "/api/v1/recipes/alertmanager/install", map[string]any{"key": "bench", "channel": "ops",
		"to": map[string]any{"users": []any{"{{$context.data.commonLabels.owner}}"}}}).Data()
	token := out["credential"].(map[string]any)["token"].(string)
	var payload map[string]any
	_ = json.Unmarshal(fixture(b, "alertmanager.json"), &payload)
	bodies := make([][]byte, b.N)
	for i := range bodies {
		payload["groupLabels"] = map[string]any{"alertname": fmt.Sprintf("Bench#%d", i)}
		payload["commonLabels"] = map[string]any{"owner": "local-" + memberID(i%members)}
		bodies[i], _ = json.Marshal(payload)
	}
	driveWebhooks(b, e, clk, api.URL+"/hooks/bench", bodies, 0, func(h http.Header, _ []byte) {
		h.Set("Authorization", "Bearer "+token)
	})
}
