package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models/storetest"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// clock is a settable time shared by the store, the sender and the simulator.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(start time.Time) *clock {
	if start.IsZero() {
		start = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	}
	return &clock{t: start}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// AdvanceTo moves the clock to t, if t is later.
func (c *clock) AdvanceTo(t time.Time) {
	c.mu.Lock()
	if t.After(c.t) {
		c.t = t
	}
	c.mu.Unlock()
}

// deliveryEnv is a server with a running sender, talking to a simulated WeCom corp: its API and
// its sign-in pages.
type deliveryEnv struct {
	*env
	sim    *wecomtest.Server
	simURL string
	demo   wecomtest.Demo
	clock  *clock
	stop   func()
}

type deliveryOptions struct {
	// dsn reuses a database (crash tests); empty means a fresh one.
	dsn   string
	hooks wecom.Hooks
	// noSender leaves the sender stopped.
	noSender bool
	// members adds that many extra bound members ("m00000"…) to the corp.
	members int
	// start is the fake clock's start (default a fixed day).
	start time.Time
	// simWrap wraps the simulator's HTTP handler (benchmarks timestamp deliveries).
	simWrap func(http.Handler) http.Handler
	// lease is the sender's lease (default 2 minutes: tests move the fake clock by minutes,
	// past a shorter lease that renewals on the real clock would not keep up with).
	lease time.Duration
	// fetchAllow opens internal ranges to media.url (WECOMFLOW_FETCH_ALLOW): tests serve files on
	// loopback.
	fetchAllow []netip.Prefix
	// waitPoll is the server's WaitPoll (default 500 ms).
	waitPoll time.Duration
	// poll is how often the sender looks for due work unwoken (default 5 ms; benchmarks of timing
	// use the server's default).
	poll time.Duration
}

func newDeliveryEnv(t testing.TB, o deliveryOptions) *deliveryEnv {
	t.Helper()
	clk := newClock(o.start)
	sim := wecomtest.New(wecomtest.Options{Now: clk.Now, Seed: 1})
	demo := wecomtest.SeedDemo(sim)
	for i := 0; i < o.members; i++ {
		sim.AddUser(demo.CorpID, wecomtest.User{UserID: memberID(i), Name: memberID(i), Departments: []int{1}, MainDepartment: 1, Status: 1})
	}
	var handler http.Handler = sim
	if o.simWrap != nil {
		handler = o.simWrap(sim)
	}
	hs := httptest.NewServer(handler)
	t.Cleanup(hs.Close)
	if o.dsn == "" {
		o.dsn = storetest.DSN(t)
	}
	store := storetest.OpenDSN(t, o.dsn, storetest.Options{Now: clk.Now})
	if o.lease == 0 {
		o.lease = 2 * time.Minute
	}
	if o.poll == 0 {
		o.poll = 5 * time.Millisecond
	}
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := New(Config{PublicURL: "https://wecomflow.example.com", Version: "test", WeComAPIBase: hs.URL, FetchAllow: o.fetchAllow,
		WeComLoginBase: hs.URL, WeComOAuthBase: hs.URL, WaitPoll: o.waitPoll,
		Sender: wecom.SenderOptions{Poll: o.poll, Hooks: o.hooks, Now: clk.Now, Lease: o.lease}}, store, log)
	token, err := srv.Service().Bootstrap(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	e := &deliveryEnv{env: &env{t: t, srv: srv, store: store, token: token, logs: logs}, sim: sim, simURL: hs.URL, demo: demo, clock: clk, stop: func() {}}
	e.must(201, "POST", "/api/v1/authenticators", map[string]any{"name": "acme", "options": map[string]any{
		"corpId": demo.CorpID, "agentId": demo.AgentID, "secret": demo.Secret,
		"callback": map[string]any{"token": "cbtoken", "encodingAesKey": strings.Repeat("a", 43)}}})
	e.must(201, "POST", "/api/v1/channels", map[string]any{"name": "ops", "authenticatorId": 1})
	var rows []map[string]any
	for _, u := range demo.UserIDs {
		rows = append(rows, map[string]any{"userid": "local-" + u, "set": map[string]any{"wechatwk": u}})
	}
	for i := 0; i < o.members; i++ {
		rows = append(rows, map[string]any{"userid": "local-" + memberID(i), "set": map[string]any{"wechatwk": memberID(i)}})
	}
	e.must(200, "POST", "/api/v1/users/bulk", rows)
	if !o.noSender {
		e.startSender()
	}
	return e
}

func memberID(i int) string { return fmt.Sprintf("m%05d", i) }

func (e *deliveryEnv) startSender() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.srv.RunWorkers(ctx) }()
	e.stop = func() { cancel(); <-done }
	e.t.Cleanup(e.stop)
}

// send posts a message and returns its id.
func (e *deliveryEnv) send(body map[string]any) string {
	e.t.Helper()
	if body["channel"] == nil {
		body["channel"] = "ops"
	}
	res := e.must(202, "POST", "/api/v1/messages", body)
	return res.Data()["id"].(string)
}

// message reads a message as the API shows it.
func (e *deliveryEnv) message(id string) map[string]any {
	e.t.Helper()
	return e.must(200, "GET", "/api/v1/messages/"+id, nil).Data()
}

// waitFinal waits (in real time, the sender polls every 5 ms) for a final status.
func (e *deliveryEnv) waitFinal(id string) map[string]any { return e.finish(id, false) }

// finishWithClock waits for a final status, moving the fake clock to each retry's time. The clock
// moves only while no request is in flight, and never past the retry's time: a claim that reads
// the clock and then waits for the writer must not find its lease (from the time it read) already
// lapsed, which would make the retry look abandoned and send it again. (Stepping a minute at a
// time, as long as the message read "retrying", did that under load.)
func (e *deliveryEnv) finishWithClock(id string) map[string]any { return e.finish(id, true) }

func (e *deliveryEnv) finish(id string, moveClock bool) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		m := e.message(id)
		switch m["status"] {
		case "sent", "partial", "failed", "canceled":
			return m
		case "retrying":
			if next, ok := m["nextAttemptAt"].(string); ok && moveClock && !inFlight(m) {
				at, err := time.Parse(time.RFC3339Nano, next)
				if err != nil {
					e.t.Fatalf("nextAttemptAt %q: %v", next, err)
				}
				e.clock.AdvanceTo(at)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	m := e.message(id)
	e.t.Fatalf("message %s never became final: status %v, reason %v", id, m["status"], m["reason"])
	return nil
}

// inFlight reports whether a request of the message is being sent.
func inFlight(m map[string]any) bool {
	reqs, _ := m["requests"].([]any)
	for _, r := range reqs {
		if r.(map[string]any)["status"] == "sending" {
			return true
		}
	}
	return false
}

// waitStatus waits until the message has status.
func (e *deliveryEnv) waitStatus(id, status string) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := e.message(id); m["status"] == status {
			return m
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("message %s never reached %s: status %v", id, status, e.message(id)["status"])
	return nil
}

// inbox is what a member received, as request bodies.
func (e *deliveryEnv) inbox(userid string) []map[string]any {
	var out []map[string]any
	for _, d := range e.sim.Inbox(e.demo.CorpID, userid) {
		var m map[string]any
		_ = json.Unmarshal(d.Request, &m)
		out = append(out, m)
	}
	return out
}

func textTo(users []string, content string) map[string]any {
	us := make([]any, len(users))
	for i, u := range users {
		us[i] = u
	}
	return map[string]any{"to": map[string]any{"users": us}, "msgtype": "text", "text": map[string]any{"content": content}}
}
