package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
	"github.com/wecomflow/wecomflow/server"
	"github.com/wecomflow/wecomflow/service"
	"github.com/wecomflow/wecomflow/workflow"
)

// Sandbox defaults: loopback only, its own database, a known token so the README's curl works.
const (
	sandboxAddr  = "127.0.0.1:8080"
	sandboxDB    = "sqlite://data/sandbox.db"
	sandboxToken = "wcf_sandbox_token"
	// sandboxCallbackToken and sandboxAESKey configure the demo app's message-reception URL, so
	// interactive cards can be sent in the sandbox.
	sandboxCallbackToken = "sandboxToken"
	sandboxAESKey        = "c2FuZGJveHNhbmRib3hzYW5kYm94c2FuZGJveHNhbmQ"
)

// sandbox runs serve against an in-process WeCom simulator seeded with a demo corp, and seeds
// wecomflow with an authenticator, a channel and the demo members as bound users. Nothing leaves
// the machine.
func sandbox(ctx context.Context, cfg config, a *app, log *slog.Logger, stdout io.Writer) error {
	sim := wecomtest.New(wecomtest.Options{})
	demo := wecomtest.SeedDemo(sim)
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	simSrv := &http.Server{Handler: sim}
	go func() { _ = simSrv.Serve(simLn) }()
	defer simSrv.Close()
	simURL := "http://" + simLn.Addr().String()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	base := "http://" + ln.Addr().String()
	caller := &wecomtest.CallbackCaller{URL: base + "/callback/wecom/sandbox", Token: sandboxCallbackToken,
		EncodingAESKey: sandboxAESKey, CorpID: demo.CorpID}
	srv := server.New(server.Config{Addr: cfg.Addr, PublicURL: cfg.PublicURL, Version: version, WeComAPIBase: simURL,
		TemplateEnv: cfg.TemplateEnv, CallbackMaxSkew: cfg.CallbackMaxSkew, Extra: map[string]http.Handler{
			"/sandbox/inbox": inboxHandler(sim, demo.CorpID),
			"/sandbox/click": clickHandler(sim, demo.CorpID, caller)}}, a.store, log)
	if err := seedSandbox(ctx, srv.Service(), demo, simURL); err != nil {
		return fmt.Errorf("sandbox: seeding: %w", err)
	}
	wf, err := seedSampleWorkflow(ctx, srv.Workflows())
	if err != nil {
		return fmt.Errorf("sandbox: seeding the sample workflow: %w", err)
	}
	if _, err := srv.Service().Bootstrap(ctx, cfg.AdminToken); err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	fmt.Fprintf(stdout, `
  wecomflow sandbox — a simulated WeCom corp %q with %d members; nothing leaves this machine.

    API          %s/api/v1   (Authorization: Bearer %s)
    Inbox        %s/sandbox/inbox   (card buttons there click like WeCom would)
    Simulator    %s
    Channel      sandbox     (authenticator "sandbox", corp %s, AgentId %d)

  Send a text card to zhangsan:

    curl -s -H 'Authorization: Bearer %s' %s/api/v1/messages?wait=5s -d '{"channel": "sandbox", "to": {"users": ["zhangsan"]}, "msgtype": "textcard", "textcard": {"title": "Order {{$context.data.id}} paid", "description": "Amount: {{$context.data.amount}}", "url": "https://example.com/orders/42"}, "data": {"id": 42, "amount": "¥1,280"}}'

  Run the sample approval workflow: lisi gets a card to approve in the inbox, zhangsan the decision.

    curl -s -H 'Authorization: Bearer %s' %s/api/v1/workflows/%d/trigger -d '{"data": {"id": 42, "amount": 5000, "approver": "lisi", "owner": "zhangsan"}}'

`, demo.CorpID, len(demo.UserIDs), base, cfg.AdminToken, base, simURL, demo.CorpID, demo.AgentID, cfg.AdminToken, base, cfg.AdminToken, base, wf)
	log.Info("wecomflow sandbox started", "addr", ln.Addr().String(), "db", cfg.DB, "simulator", simURL)
	return srv.Run(ctx, ln, cfg.ShutdownGrace)
}

// seedSandbox creates (or, on later starts, points at the new simulator port) the sandbox
// authenticator and channel, and binds every demo member as a local user.
func seedSandbox(ctx context.Context, svc *service.Service, demo wecomtest.Demo, simURL string) error {
	name, title, channel := "sandbox", "Sandbox corp", "sandbox"
	opts := map[string]any{"corpId": demo.CorpID, "agentId": demo.AgentID, "secret": demo.Secret, "apiBaseUrl": simURL,
		"callback": map[string]any{"token": sandboxCallbackToken, "encodingAesKey": sandboxAESKey}}
	auths, err := svc.ListAuthenticators(ctx, name, service.Page{PageSize: 200})
	if err != nil {
		return err
	}
	var authID uint64
	for _, au := range auths.Items {
		if au.Name == name {
			authID = au.ID
		}
	}
	if authID == 0 {
		au, err := svc.CreateAuthenticator(ctx, service.AuthenticatorInput{Name: &name, Title: &title, Options: opts})
		if err != nil {
			return err
		}
		authID = au.ID
	} else if _, err := svc.UpdateAuthenticator(ctx, authID, service.AuthenticatorInput{Options: opts}); err != nil {
		return err
	}
	chans, err := svc.ListChannels(ctx, channel, authID, service.Page{PageSize: 200})
	if err != nil {
		return err
	}
	if chans.Total == 0 {
		if _, err := svc.CreateChannel(ctx, service.ChannelInput{Name: &channel, AuthenticatorID: &authID}); err != nil {
			return err
		}
	}
	rows := make([]json.RawMessage, 0, len(demo.UserIDs))
	for _, u := range demo.UserIDs {
		row, _ := json.Marshal(map[string]any{"userid": u, "set": map[string]string{"wechatwk": u}})
		rows = append(rows, row)
	}
	_, err = svc.BulkUpsertUsers(ctx, rows)
	return err
}

// sampleWorkflow is the sandbox's approval workflow: SPEC §4.1's example on the sandbox channel.
var sampleWorkflow = map[string]any{"key": "sample-approval", "title": "Sample: approve a big order in WeCom",
	"trigger": map[string]any{"type": "manual"},
	"nodes": []any{
		map[string]any{"key": "big", "type": "condition", "config": map[string]any{"expression": "$context.data.amount > 1000"},
			"branches": map[string]any{"true": []any{map[string]any{"key": "ask", "type": "notification", "config": map[string]any{
				"channel": "sandbox", "to": map[string]any{"users": []any{"{{$context.data.approver}}"}}, "msgtype": "template_card",
				"template_card": map[string]any{"card_type": "button_interaction",
					"main_title":  map[string]any{"title": "Approve order {{$context.data.id}}?", "desc": "Amount {{$context.data.amount}}"},
					"button_list": []any{map[string]any{"text": "Approve", "key": "approve"}, map[string]any{"text": "Reject", "key": "reject", "style": 2}}},
				"waitForResponse": map[string]any{"timeout": "24h", "replaceName": "已处理"}}}}}},
		map[string]any{"key": "done", "type": "notification", "config": map[string]any{"channel": "sandbox",
			"to": map[string]any{"users": []any{"{{$context.data.owner}}"}}, "msgtype": "markdown",
			"markdown": map[string]any{"content": "Order **{{$context.data.id}}**: {{$jobs.ask.response.eventKey | default \"approved automatically\"}}"}}},
	}}

// seedSampleWorkflow creates the sample workflow unless it exists, and returns its id.
func seedSampleWorkflow(ctx context.Context, engine *workflow.Engine) (uint64, error) {
	list, err := engine.ListWorkflows(ctx, models.WorkflowFilter{Q: "sample-approval"}, service.Page{PageSize: 200})
	if err != nil {
		return 0, err
	}
	for _, w := range list.Items {
		if w.Key == "sample-approval" {
			return w.ID, nil
		}
	}
	w, err := engine.CreateWorkflow(ctx, sampleWorkflow)
	return w.ID, err
}

// clickHandler plays a member clicking a card button in the sandbox inbox: the simulator makes
// the template_card_event and WeCom's callback caller posts it to our callback URL.
func clickHandler(sim *wecomtest.Server, corpID string, caller *wecomtest.CallbackCaller) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST a form with user, task and key", http.StatusMethodNotAllowed)
			return
		}
		xml, err := sim.ClickCard(corpID, r.FormValue("user"), r.FormValue("task"), r.FormValue("key"))
		if err == nil {
			var status int
			if status, _, err = caller.Post(r.Context(), xml); err == nil && status != http.StatusOK {
				err = fmt.Errorf("the callback URL answered %d", status)
			}
		}
		if err != nil {
			http.Error(w, "click: "+err.Error(), http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, "/sandbox/inbox", http.StatusSeeOther)
	})
}

var inboxPage = template.Must(template.New("inbox").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox inbox</title>
<style>
body{font:14px/1.5 system-ui,sans-serif;margin:0;background:#f3f4f6;color:#111}
header{background:#1f6feb;color:#fff;padding:12px 20px}main{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:16px;padding:20px}
section{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 2px #0002}h2{font-size:15px;margin:0 0 8px}
article{border:1px solid #e5e7eb;border-radius:6px;padding:8px 10px;margin:8px 0}.meta{color:#6b7280;font-size:12px}
pre{white-space:pre-wrap;word-break:break-word;margin:4px 0;font:12px/1.4 ui-monospace,monospace}.recalled{opacity:.5}
</style></head><body><header><strong>wecomflow sandbox</strong> — what each member of {{.Corp}} received</header><main>
{{range .Members}}<section><h2>{{.UserID}} <span class="meta">({{len .Deliveries}})</span></h2>
{{range .Deliveries}}<article{{if .Recalled}} class="recalled"{{end}}><div class="meta">{{.MsgType}} · {{.At.Format "15:04:05"}}{{if .Recalled}} · recalled{{end}}{{if .ReplacedWith}} · card updated: {{.ReplacedWith}}{{end}}</div>
{{with .Title}}<strong>{{.}}</strong>{{end}}<pre>{{.Text}}</pre>{{$d := .}}{{range .Buttons}}<form method="post" action="/sandbox/click" style="display:inline"><input type="hidden" name="user" value="{{$d.UserID}}"><input type="hidden" name="task" value="{{$d.TaskID}}"><input type="hidden" name="key" value="{{.Key}}"><button>{{.Text}}</button></form> {{end}}</article>{{else}}<p class="meta">Nothing yet.</p>{{end}}</section>
{{end}}</main></body></html>`))

type inboxItem struct {
	wecomtest.Delivery
	Title, Text    string
	UserID, TaskID string
	// Buttons are a button card's buttons, clickable until the card was updated.
	Buttons []cardButton
}

type cardButton struct{ Text, Key string }

// inboxHandler shows what every sandbox member received: HTML, or JSON with ?format=json.
func inboxHandler(sim *wecomtest.Server, corpID string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inboxes := sim.Inboxes(corpID)
		if r.URL.Query().Get("format") == "json" {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"data": inboxes})
			return
		}
		type member struct {
			UserID     string
			Deliveries []inboxItem
		}
		var members []member
		for id, ds := range inboxes {
			m := member{UserID: id}
			for i := len(ds) - 1; i >= 0; i-- {
				item := summarize(ds[i])
				item.UserID = id
				m.Deliveries = append(m.Deliveries, item)
			}
			members = append(members, m)
		}
		sort.Slice(members, func(i, j int) bool { return members[i].UserID < members[j].UserID })
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = inboxPage.Execute(w, map[string]any{"Corp": corpID, "Members": members})
	})
}

// summarize picks a title and text out of a delivered body for the inbox page.
func summarize(d wecomtest.Delivery) inboxItem {
	var body map[string]any
	_ = json.Unmarshal(d.Body, &body)
	str := func(k string) string { s, _ := body[k].(string); return s }
	item := inboxItem{Delivery: d}
	switch d.MsgType {
	case "textcard":
		item.Title, item.Text = str("title"), strings.NewReplacer("<br>", "\n").Replace(str("description"))+"\n"+str("url")
	case "text", "markdown":
		item.Text = str("content")
	case "template_card":
		if mt, ok := body["main_title"].(map[string]any); ok {
			item.Title, _ = mt["title"].(string)
		}
		item.Text, item.TaskID = string(d.Body), str("task_id")
		buttons, _ := body["button_list"].([]any)
		for _, b := range buttons {
			if b, ok := b.(map[string]any); ok && d.ReplacedWith == "" {
				text, _ := b["text"].(string)
				key, _ := b["key"].(string)
				item.Buttons = append(item.Buttons, cardButton{Text: text, Key: key})
			}
		}
	default:
		item.Text = string(d.Body)
	}
	return item
}
