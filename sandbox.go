package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
	"github.com/wecomflow/wecomflow/plugin/wecomrobot"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/server"
	"github.com/wecomflow/wecomflow/service"
	"github.com/wecomflow/wecomflow/web/siminbox"
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
// the machine. The sandbox fetches no URL of its own (the simulator is reached as the WeCom API,
// not through the fetcher of user URLs), so loopback stays refused for media.url as in serve;
// -fetch-allow 127.0.0.0/8 opens it for files served on this machine.
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

	if !loopbackAddr(cfg.Addr) {
		if !cfg.AllowRemote {
			return fmt.Errorf("sandbox: -addr %s is not a loopback address, and the sandbox's admin token is public (it is in the README): "+
				"whoever reaches the port controls it. Listen on 127.0.0.1, or pass -allow-remote to accept that", cfg.Addr)
		}
		log.Warn("the sandbox listens beyond this machine with a public admin token (-allow-remote)", "addr", cfg.Addr)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	base := "http://" + ln.Addr().String()
	if cfg.PublicURL == "" {
		cfg.PublicURL = base
	}
	caller := &wecomtest.CallbackCaller{URL: base + "/callback/wecom/sandbox", Token: sandboxCallbackToken,
		EncodingAESKey: sandboxAESKey, CorpID: demo.CorpID}
	inbox := siminbox.New(sim, demo.CorpID, caller)
	// The simulator serves WeCom's API and both sign-in pages.
	srv := server.New(server.Config{Addr: cfg.Addr, PublicURL: cfg.PublicURL, Version: version, WeComAPIBase: simURL,
		WeComLoginBase: simURL, WeComOAuthBase: simURL, Retention: cfg.Retention,
		TemplateEnv: cfg.TemplateEnv, CallbackMaxSkew: cfg.CallbackMaxSkew, FetchAllow: cfg.FetchAllow, TrustedProxies: cfg.TrustedProxies,
		DisplayZone: cfg.DisplayZone, Inbox: inbox, Extra: map[string]http.Handler{
			"/sandbox/inbox": inboxHandler(inbox),
			"/sandbox/click": clickHandler(inbox)}}, a.store, log)
	if err := seedSandbox(ctx, srv.Service(), demo, simURL); err != nil {
		return fmt.Errorf("sandbox: seeding: %w", err)
	}
	if err := seedChat(ctx, a.store, srv.Service(), sim, demo); err != nil {
		return fmt.Errorf("sandbox: seeding the group chat: %w", err)
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
    Inbox        %s/ui/inbox   (log in with the token above; card buttons there click like WeCom would)
    Sign in      %s/login   ("Sign in with WeCom — Sandbox corp", then pick a demo member: a new one becomes an operator)
    Simulator    %s
    Channel      sandbox     (authenticator "sandbox", corp %s, AgentId %d)
    Robot        sandbox_group   (the 运维值班群 group's robot: its posts show in the inbox)
    Group chat   %s   (the 值班 app group chat: send with "to": {"chats": ["%s"]} on the sandbox channel)

  Send a text card to zhangsan:

    curl -s -H 'Authorization: Bearer %s' %s/api/v1/messages?wait=5s -d '{"channel": "sandbox", "to": {"users": ["zhangsan"]}, "msgtype": "textcard", "textcard": {"title": "Order {{$context.data.id}} paid", "description": "Amount: {{$context.data.amount}}", "url": "https://example.com/orders/42"}, "data": {"id": 42, "amount": "¥1,280"}}'

  Run the sample approval workflow: lisi gets a card to approve in the inbox, zhangsan the decision.

    curl -s -H 'Authorization: Bearer %s' %s/api/v1/workflows/%d/trigger -d '{"data": {"id": 42, "amount": 5000, "approver": "lisi", "owner": "zhangsan"}}'

`, demo.CorpID, len(demo.UserIDs), base, cfg.AdminToken, base, base, simURL, demo.CorpID, demo.AgentID, demo.ChatID, demo.ChatID, cfg.AdminToken, base, cfg.AdminToken, base, wf)
	log.Info("wecomflow sandbox started", "addr", ln.Addr().String(), "db", cfg.DB, "simulator", simURL)
	return srv.Run(ctx, ln, cfg.ShutdownGrace)
}

// loopbackAddr reports whether a listen address only takes connections from this machine: its host
// is a loopback IP or localhost (":8080" and "0.0.0.0:8080" listen on every interface).
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// seedSandbox creates (or, on later starts, points at the new simulator port) the sandbox
// authenticator and channel, and binds every demo member as a local user. Signing in with WeCom
// is on: a demo member who signs in gets an account with the operator role, which may try what
// the sandbox is for — send, click cards in the inbox, run the sample workflow — while
// authenticators, accounts and workflow design stay with the admin token.
func seedSandbox(ctx context.Context, svc *service.Service, demo wecomtest.Demo, simURL string) error {
	name, title, channel := "sandbox", "Sandbox corp", "sandbox"
	opts := map[string]any{"corpId": demo.CorpID, "agentId": demo.AgentID, "secret": demo.Secret, "apiBaseUrl": simURL,
		"callback":        map[string]any{"token": sandboxCallbackToken, "encodingAesKey": sandboxAESKey},
		"login":           map[string]any{"enabled": true, "autoSignUp": true, "defaultRole": "operator"},
		"externalContact": map[string]any{"secret": demo.ExternalContactSecret}}
	auths, err := svc.ListAuthenticators(ctx, name, models.Page{Size: 200})
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
	chans, err := svc.ListChannels(ctx, channel, authID, models.Page{Size: 200})
	if err != nil {
		return err
	}
	if chans.Total == 0 {
		if _, err := svc.CreateChannel(ctx, service.ChannelInput{Name: &channel, AuthenticatorID: &authID}); err != nil {
			return err
		}
	}
	if err := seedRobot(ctx, svc, authID, demo.RobotKey); err != nil {
		return err
	}
	rows := make([]json.RawMessage, 0, len(demo.UserIDs))
	for _, u := range demo.UserIDs {
		row, _ := json.Marshal(map[string]any{"userid": u, "set": map[string]string{"wechatwk": u}})
		rows = append(rows, row)
	}
	if _, err = svc.BulkUpsertUsers(ctx, rows); err != nil {
		return err
	}
	// The directory gives a member who signs in with WeCom their name, and the pages their
	// departments. On a later start a sync still running from before is as good (a conflict).
	var pe *problem.Error
	if _, err := svc.StartSync(ctx, authID); err != nil && !(errors.As(err, &pe) && pe.Code == problem.CodeConflict) {
		return err
	}
	return nil
}

// seedRobot creates (or, on later starts, gives the new simulator's key to) the sandbox_group
// channel: the demo corp's robot in its 运维值班群 group, whose conversation the inbox page shows.
func seedRobot(ctx context.Context, svc *service.Service, authID uint64, key string) error {
	name, typ := "sandbox_group", wecomrobot.Type
	opts := map[string]any{"webhookKey": key}
	chans, err := svc.ListChannels(ctx, name, authID, models.Page{Size: 200})
	if err != nil {
		return err
	}
	for _, ch := range chans.Items {
		if ch.Name == name {
			_, err := svc.UpdateChannel(ctx, ch.ID, service.ChannelInput{Options: opts})
			return err
		}
	}
	_, err = svc.CreateChannel(ctx, service.ChannelInput{Name: &name, Type: &typ, AuthenticatorID: &authID, Options: opts})
	return err
}

// seedChat records the demo app's 值班 group chat as one the sandbox channel created: the
// simulator's demo app made it (WeCom has no list of chats to find it by), and `to.chats` and the
// chat pages then know it.
func seedChat(ctx context.Context, store *models.Store, svc *service.Service, sim *wecomtest.Server, demo wecomtest.Demo) error {
	chans, err := svc.ListChannels(ctx, "sandbox", 0, models.Page{Size: 200})
	if err != nil {
		return err
	}
	for _, ch := range chans.Items {
		if ch.Name != "sandbox" {
			continue
		}
		if _, err := store.GetChat(ctx, ch.ID, demo.ChatID); !errors.Is(err, models.ErrNotFound) {
			return err
		}
		for _, c := range sim.Chats(demo.CorpID) {
			if c.ChatID == demo.ChatID {
				return store.SaveChat(ctx, &models.Chat{ChannelID: ch.ID, ChatID: c.ChatID, Name: c.Name, Owner: c.Owner, Users: c.Members})
			}
		}
	}
	return nil
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
	list, err := engine.ListWorkflows(ctx, workflow.WorkflowFilter{Q: "sample-approval"}, models.Page{Size: 200})
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

// clickHandler is the form behind /sandbox/click (user, task, key): a click for scripts, with the
// sandbox's token like the API; the inbox page's buttons post to /ui/inbox/click.
func clickHandler(inbox *siminbox.Inbox) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST a form with user, task and key", http.StatusMethodNotAllowed)
			return
		}
		if err := inbox.Click(r.Context(), r.FormValue("user"), r.FormValue("task"), r.FormValue("key"), nil); err != nil {
			http.Error(w, "click: "+err.Error(), http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, "/sandbox/inbox", http.StatusSeeOther)
	})
}

// inboxHandler serves what the inbox page shows — every sandbox member's messages and each robot
// group's conversation — as JSON, to the sandbox's token (the API's).
func inboxHandler(inbox *siminbox.Inbox) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"data": inbox.Inboxes()})
	})
}
