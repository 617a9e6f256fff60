package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/oklog/ulid/v2"

	"github.com/wecomflow/wecomflow/callback"
	"github.com/wecomflow/wecomflow/eventhook"
	"github.com/wecomflow/wecomflow/fetch"
	"github.com/wecomflow/wecomflow/lockout"
	"github.com/wecomflow/wecomflow/message"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/plugin/wecomrobot"
	"github.com/wecomflow/wecomflow/problem"
	"github.com/wecomflow/wecomflow/service"
	"github.com/wecomflow/wecomflow/web"
	"github.com/wecomflow/wecomflow/worker"
	"github.com/wecomflow/wecomflow/workflow"
)

// Config is the part of the process configuration the server uses.
type Config struct {
	Addr      string
	PublicURL string
	// PublicURLUnset: PublicURL is the default, not configured; the pages warn about it.
	PublicURLUnset bool
	// DisplayZone is the time zone the pages show times in (nil: by the page's language).
	DisplayZone *time.Location
	// Version is reported by /healthz and wecomflow_build_info; Commit by the metric too.
	Version, Commit string
	// WeComAPIBase is the default WeCom API base; an authenticator may override it.
	WeComAPIBase string
	// WeComLoginBase and WeComOAuthBase are where sign-in with WeCom sends browsers: the QR page
	// and the in-app OAuth page (WeCom's own hosts when empty).
	WeComLoginBase, WeComOAuthBase string
	// TemplateEnv is what {{$env.NAME}} may read.
	TemplateEnv map[string]string
	// Sender tunes the outbox sender; Owner defaults to host and process id.
	Sender wecom.SenderOptions
	// WaitPoll is how often ?wait= reads a message again unless this process notifies it of an
	// outcome: for those another instance records (default 500 ms).
	WaitPoll time.Duration
	// Transport replaces the HTTP transport to WeCom (tests).
	Transport http.RoundTripper
	// Extra are further routes outside /api/v1, by path (the sandbox's inbox and click); they see
	// every method and need what the API needs: a token, or the session cookie with its CSRF header
	// on a change.
	Extra map[string]http.Handler
	// CallbackMaxSkew rejects callbacks whose timestamp is further from now; 0 disables the check.
	CallbackMaxSkew time.Duration
	// Inbox, in the sandbox, is the simulated WeCom whose inboxes the UI shows.
	Inbox web.InboxSource
	// WorkflowHooks let tests stop the workflow engine at chosen points.
	WorkflowHooks workflow.Hooks
	// EventHookHooks let tests stop the event hook deliverer at chosen points.
	EventHookHooks eventhook.Hooks
	// NoSchedules leaves schedule triggers to the caller (tests fire them with a fake clock).
	NoSchedules bool
	// Retention is how long finished messages, callback events, executions, sync tasks and hook events are
	// kept; the leader deletes older ones hourly. 0 keeps everything.
	Retention time.Duration
	// FetchAllow opens address ranges that URLs given by users (media.url, event hooks) may reach despite being
	// loopback, private or otherwise internal (WECOMFLOW_FETCH_ALLOW).
	FetchAllow []netip.Prefix
	// TrustedProxies are the proxies whose X-Forwarded-For names the client: a request from any
	// other peer is its socket peer's, whatever it claims (the failed-authentication count and the
	// log's remote field read it).
	TrustedProxies []netip.Prefix
}

// hookConcurrency bounds the event hook attempts in flight on one instance.
const hookConcurrency = 64

// leaderLease is how long the leader's role lasts unrenewed: a dead leader's periodic work moves to
// another instance within it.
const leaderLease = 15 * time.Second

// Body limits: uploads may be large, everything else is small JSON.
const (
	uploadLimit  = 10 << 20
	defaultLimit = 1 << 20
)

// Server is wecomflow's HTTP server.
type Server struct {
	cfg       Config
	store     *models.Store
	svc       *service.Service
	messages  *message.Service
	log       *slog.Logger
	metrics   *metrics
	engine    *gin.Engine
	clients   *wecom.Clients
	apps      *wecom.Apps
	sender    *wecom.Sender
	syncer    *wecom.Syncer
	callbacks *callback.Handler
	processor *callback.Processor
	workflows *workflow.Engine
	hooks     *eventhook.Deliverer
	// elector makes one instance the leader, which runs the periodic work: schedule triggers,
	// scheduled directory syncs.
	elector *worker.Elector
	// limiter paces sends per member; owner names this instance on leases.
	limiter *wecom.Limiter
	owner   string
	ui      *web.UI
	// syncWake starts the directory runner at once when a sync task is queued.
	syncWake worker.Wakeup
	// uploadRoutes are the routes that take up to uploadLimit.
	uploadRoutes map[string]bool
	// origins refuses cross-site browser requests that change state.
	origins *http.CrossOriginProtection
	// lockout counts failed authentications by client address, for the API and the pages alike.
	lockout *lockout.Counter
}

// plugins is the set of integration types this build knows: a new channel type is one line here
// (and its deliverer one in New).
func plugins(clients *wecom.Clients) plugin.Registry {
	return plugin.NewRegistry(
		[]plugin.AuthenticatorType{wecom.AuthenticatorType{}},
		[]plugin.ChannelType{wecom.ChannelType{}, wecomrobot.New(clients)},
	)
}

// New wires the services over store and builds the router.
func New(cfg Config, store *models.Store, log *slog.Logger) *Server {
	// Every log line of a request carries its id, whichever part of the server writes it.
	log = slog.New(requestIDHandler{log.Handler()})
	s := &Server{cfg: cfg, store: store, log: log, metrics: newMetrics(cfg.Version, cfg.Commit), syncWake: worker.NewWakeup(),
		origins: http.NewCrossOriginProtection(), lockout: lockout.New(lockout.Options{Now: store.Now, Log: log})}
	if u, err := url.Parse(cfg.PublicURL); err == nil && u.Scheme != "" && u.Host != "" {
		// Behind a proxy that rewrites Host, the public origin is still ours.
		_ = s.origins.AddTrustedOrigin(u.Scheme + "://" + u.Host)
	}
	s.metrics.withQueueDepth(func() (map[string]int64, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return store.OutboxDepth(ctx)
	})
	s.clients = wecom.NewClients(store, wecom.ClientsOptions{APIBase: cfg.WeComAPIBase, Now: store.Now, Transport: cfg.Transport,
		OnTokenFetch: s.metrics.observeTokenFetch})
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		loc = time.FixedZone("CST", 8*3600)
	}
	s.apps = wecom.NewApps(store)
	so := cfg.Sender
	if so.Owner == "" {
		so.Owner = instanceOwner()
	}
	if so.Now == nil {
		so.Now = store.Now
	}
	types := plugins(s.clients)
	s.limiter = wecom.NewLimiter(loc)
	so.Deliverers = map[string]wecom.Deliverer{wecomrobot.Type: wecomrobot.NewDeliverer(s.clients, s.limiter, store)}
	// One fetcher for every URL a user gives, keeping enough idle connections for the hook
	// deliverer's attempts in flight.
	fetcher := fetch.New(fetch.Options{Allow: cfg.FetchAllow, IdleConnsPerHost: hookConcurrency})
	s.svc = service.New(store, types, s.clients, s.apps, service.Config{PublicURL: cfg.PublicURL, WakeSync: s.syncWake.Notify,
		LoginBase: cfg.WeComLoginBase, OAuthBase: cfg.WeComOAuthBase, Owner: so.Owner + "/mass", Fetcher: fetcher}, log)
	s.messages = message.New(store, s.clients, s.apps, message.Config{Wake: func() { s.sender.Wake() },
		Reserve: func(n int) *wecom.Reservation { return s.sender.Reserve(n) }, TemplateEnv: cfg.TemplateEnv,
		Location: loc, Fetcher: fetcher, WaitPoll: cfg.WaitPoll, ChannelTypes: types.Channels,
		TemplateUsers: workflow.TemplateUsers(store)}, log)
	s.hooks = eventhook.New(store, fetcher, s.hookData, log, eventhook.Options{Owner: so.Owner, Now: store.Now, Poll: so.Poll,
		Concurrency: hookConcurrency, Hooks: cfg.EventHookHooks})
	if store.Dialect == models.DialectMySQL && so.Concurrency == 0 {
		// A networked database pays a round trip per statement and a log flush per commit: more
		// sends in flight keep it busy. (SQLite's single writer gains nothing.) Their outcomes are
		// recorded by one recorder, in batches written with two statements (models.recordAtOnce):
		// measured as deployed, that beat four recorders writing smaller batches row by row.
		so.Concurrency = 128
	}
	so.OnResult = s.metrics.observeSend
	so.OnRecorded = func(outs []models.Outcome) {
		s.messages.Recorded(outs)
		// A message that became final queued its events in the same commit.
		s.hooks.Wake()
		for _, o := range outs {
			if o.Message != nil && o.Message.ExecutionID != nil {
				s.workflows.Wake()
				return
			}
		}
	}
	loops := 1
	if store.Dialect == models.DialectMySQL {
		loops = 4
	}
	s.owner = so.Owner
	s.sender = wecom.NewSender(store, s.clients, s.apps, s.limiter, log, so)
	s.elector = worker.NewElector(store, "scheduler", so.Owner, leaderLease, log)
	s.syncer = wecom.NewSyncer(store, s.clients, s.apps, log, wecom.SyncerOptions{Owner: so.Owner + "/directory", Now: store.Now,
		Location: loc, Wake: s.syncWake, Leading: s.elector.Leading, OnFinish: s.metrics.observeSync})
	s.workflows = workflow.New(store, s.messages, log, workflow.Options{Owner: so.Owner, PublicURL: cfg.PublicURL,
		TemplateEnv: cfg.TemplateEnv, Location: loc, Poll: so.Poll, Loops: loops, Hooks: cfg.WorkflowHooks,
		OnFinished: func(status string) { s.metrics.observeExecution(status); s.hooks.Wake() }, OnRefused: s.metrics.observeWebhookRefusal,
		WaitPoll: cfg.WaitPoll, CreateChat: s.createChatNode})
	s.callbacks = callback.NewHandler(s.apps.Callback, store, cfg.CallbackMaxSkew, store.Now, log)
	// Each subscriber lives with its feature: card clicks with messages, contact changes with the
	// directory syncer, wecom_event triggers with the workflows.
	s.processor = callback.NewProcessor(store, []callback.Subscriber{
		callback.SubscriberFunc(s.messages.HandleCardEvent), callback.SubscriberFunc(s.syncer.HandleEvent),
		callback.SubscriberFunc(s.workflows.HandleEvent)}, log,
		callback.ProcessorOptions{Owner: so.Owner, Now: store.Now, Poll: so.Poll, OnProcessed: func(status string) {
			s.metrics.observeEvent(status)
			// A click queues message.response.
			s.hooks.Wake()
			// A click may have woken an execution in the database; run it now, not at the next poll.
			s.workflows.Wake()
		}})
	ui, err := web.New(web.Deps{Service: s.svc, Messages: s.messages, Workflows: s.workflows, ChannelTypes: types.Channels, Log: log, PublicURL: cfg.PublicURL,
		PublicURLUnset: cfg.PublicURLUnset, DisplayZone: cfg.DisplayZone, Inbox: cfg.Inbox,
		Lockout: s.lockout})
	if err != nil {
		// The templates and catalogues are compiled in: this is a broken build, not bad input.
		panic(err)
	}
	s.ui = ui
	s.callbacks.Accepted = s.processor.Wake
	s.callbacks.Observe = s.metrics.observeCallback
	s.engine = s.routes()
	return s
}

// Workflows is the workflow engine the server wires.
func (s *Server) Workflows() *workflow.Engine { return s.workflows }

// Service is the service layer the server wires, for the composition root's other users.
func (s *Server) Service() *service.Service { return s.svc }

// instanceOwner names this process on leases: host, process id and a random suffix, so a
// restarted process with a reused pid is not taken for its predecessor.
func instanceOwner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), ulid.Make().String()[20:])
}

// Handler is the root HTTP handler.
func (s *Server) Handler() http.Handler { return s.engine }

func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.ContextWithFallback = true
	// gin believes X-Forwarded-For (and X-Real-IP) from any peer unless told otherwise: a guesser
	// would name a new address on every request. Only the configured proxies are believed, and
	// only through X-Forwarded-For.
	proxies := make([]string, len(s.cfg.TrustedProxies))
	for i, p := range s.cfg.TrustedProxies {
		proxies[i] = p.String()
	}
	if err := r.SetTrustedProxies(proxies); err != nil {
		// A netip.Prefix always prints as a CIDR gin parses.
		panic(err)
	}
	r.RemoteIPHeaders = []string{"X-Forwarded-For"}
	r.Use(s.requestID, s.recoverer, s.observe, s.crossOrigin, s.limitBody)
	r.NoRoute(func(c *gin.Context) {
		// A person typed or followed a /ui/ link: they get a page; programs get the JSON error.
		if c.Request.URL.Path == "/ui" || strings.HasPrefix(c.Request.URL.Path, "/ui/") {
			s.ui.NotFound(c)
			return
		}
		s.writeError(c, problem.Errorf(problem.CodeNotFound, "There is no %s %s.", c.Request.Method, c.Request.URL.Path))
	})

	r.GET("/healthz", s.handle(s.healthz))
	r.GET("/readyz", s.handle(s.readyz))
	r.GET("/metrics", gin.WrapH(s.metrics.handler()))

	for path, h := range s.cfg.Extra {
		r.Any(path, s.authenticate, gin.WrapH(h))
	}
	s.ui.Register(r)

	for _, kind := range []string{callback.KindApp, callback.KindContacts} {
		path := "/callback/wecom/:name"
		if kind == callback.KindContacts {
			path += "/contacts"
		}
		serve := func(c *gin.Context) { s.callbacks.Serve(c.Writer, c.Request, c.Param("name"), kind) }
		r.GET(path, serve)
		r.POST(path, serve)
	}

	api := r.Group("/api/v1", s.authenticate)
	api.GET("/openapi.json", s.handle(s.openAPI))

	api.POST("/tokens", s.handle(s.createToken))
	api.GET("/tokens", s.handle(s.listTokens))
	api.DELETE("/tokens/:id", s.handle(s.revokeToken))

	api.GET("/authenticators", s.handle(s.listAuthenticators))
	api.POST("/authenticators", s.handle(s.createAuthenticator))
	api.GET("/authenticators/:id", s.handle(s.getAuthenticator))
	api.PATCH("/authenticators/:id", s.handle(s.updateAuthenticator))
	api.DELETE("/authenticators/:id", s.handle(s.deleteAuthenticator))

	api.GET("/channels", s.handle(s.listChannels))
	api.POST("/channels", s.handle(s.createChannel))
	api.GET("/channels/:id", s.handle(s.getChannel))
	api.PATCH("/channels/:id", s.handle(s.updateChannel))
	api.DELETE("/channels/:id", s.handle(s.deleteChannel))

	api.GET("/users", s.handle(s.listUsers))
	api.POST("/users", s.handle(s.createUser))
	api.POST("/users/bulk", s.handle(s.bulkUsers))
	api.POST("/users/import", s.handle(s.importUsers))
	api.GET("/users/import/template", s.handle(web.ImportTemplate))
	api.GET("/users/:id", s.handle(s.getUser))
	api.PATCH("/users/:id", s.handle(s.updateUser))
	api.DELETE("/users/:id", s.handle(s.deleteUser))

	api.POST("/authenticators/:id/check", s.handle(s.checkAuthenticator))
	api.POST("/channels/:id/test", s.handle(withIDAndBody(s.messages.Test)))

	api.POST("/messages", s.handle(s.sendMessage))
	api.GET("/messages", s.handle(s.listMessages))
	api.GET("/messages/:id", s.handle(s.getMessage))
	api.POST("/messages/:id/retry", s.handle(s.retryMessage))
	api.POST("/messages/:id/cancel", s.handle(s.cancelMessage))
	api.POST("/messages/:id/recall", s.handle(s.recallMessage))
	api.POST("/media", s.handle(s.uploadMedia))
	api.POST("/render", s.handle(s.render))
	s.accountRoutes(api)
	s.directoryRoutes(api)
	s.chatRoutes(api)
	s.workflowRoutes(api)
	s.templateRoutes(api)
	s.recipeRoutes(api)
	s.massMessageRoutes(api)
	s.eventHookRoutes(api)
	r.POST("/hooks/:key", s.handle(s.webhook))

	api.GET("/callback-events", s.handle(s.listCallbackEvents))
	api.GET("/callback-events/:id", s.handle(s.getCallbackEvent))

	s.uploadRoutes = map[string]bool{"/api/v1/users/import": true, "/api/v1/users/bulk": true, "/api/v1/media": true, "/ui/users/import": true}
	return r
}

// Run serves and sends until ctx is canceled, then shuts down gracefully: new connections are
// refused, requests in flight get up to grace to finish, and sends in flight are recorded.
func (s *Server) Run(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := &http.Server{
		Handler:           s.engine,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	working := make(chan struct{})
	go func() { defer close(working); _ = s.RunWorkers(workCtx) }()
	defer func() { stopWork(); <-working }()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// RunWorkers runs the background work — the sender, the callback processor, the directory sync
// runner, the workflow runner, the event hook deliverer, the schedule triggers and the mass message refreshes — until ctx ends,
// and returns when all of it has stopped. Run starts it; tests that drive the handler directly call it themselves.
func (s *Server) RunWorkers(ctx context.Context) error {
	var wg sync.WaitGroup
	runs := []func(context.Context) error{s.sender.Run, s.processor.Run, s.syncer.Run, s.hooks.Run,
		func(ctx context.Context) error { s.workflows.Run(ctx); return nil },
		func(ctx context.Context) error { s.elector.Run(ctx); return nil }, s.runPresence, s.runMassRefresh}
	if !s.cfg.NoSchedules {
		runs = append(runs, func(ctx context.Context) error { s.workflows.RunSchedules(ctx, s.elector.Leading); return nil })
	}
	if s.cfg.Retention > 0 {
		runs = append(runs, s.runRetention)
	}
	for _, run := range runs {
		wg.Add(1)
		go func() { defer wg.Done(); _ = run(ctx) }()
	}
	wg.Wait()
	return nil
}

func (s *Server) healthz(c *gin.Context) error {
	c.JSON(http.StatusOK, gin.H{"status": "ok", "version": s.cfg.Version})
	return nil
}

func (s *Server) readyz(c *gin.Context) error {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	if err := s.store.Ready(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready", "err", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "reason": "database unreachable or migrations pending"})
		return nil
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
	return nil
}
