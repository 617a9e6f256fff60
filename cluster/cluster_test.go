//go:build cluster

package cluster

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// runScale is the size of a TestClusterRun.
type runScale struct {
	name          string
	instances     int
	members       int
	messages      int
	executions    int
	textCallbacks int // text messages members send the app, posted once each
	retried       int // of those, how many WeCom delivers a second time
	messageRate   float64
	hookRate      float64
	invalidations int
	downtime      time.Duration
}

var scales = map[string]runScale{
	"full": {name: "full", instances: 3, members: 2000, messages: 10000, executions: 1000, textCallbacks: 500, retried: 250,
		messageRate: 200, hookRate: 20, invalidations: 2, downtime: 5 * time.Second},
	"ci": {name: "ci", instances: 2, members: 2000, messages: 300, executions: 50, textCallbacks: 60, retried: 20,
		messageRate: 25, hookRate: 4, invalidations: 2, downtime: 3 * time.Second},
}

func scaleFromEnv(t *testing.T) runScale {
	name := os.Getenv(envScale)
	if name == "" {
		name = "full"
	}
	sc, ok := scales[name]
	if !ok {
		t.Fatalf("%s=%q: want full or ci", envScale, name)
	}
	return sc
}

// markerRe finds the run's markers in what members received: m = API message, o = order (its
// card and its decision), t = a text a member sent the app.
var markerRe = regexp.MustCompile(`\[([0-9a-f]{6})-([mot])(\d+)\]`)

// clusterRun is the state of one TestClusterRun.
type clusterRun struct {
	c     *cluster
	t     *testing.T
	sc    runScale
	id    string
	rng   *rand.Rand
	rngMu sync.Mutex

	messages [][]string // recipients (WeCom userids) of message i
	orders   []order

	accepted    atomic.Int64 // messages answered 202
	sendingDone atomic.Bool
	hooked      atomic.Int64 // orders answered 202
	clicked     atomic.Int64
	clickPosts  atomic.Int64
	clicks      chan int

	texts []textCallback

	tickWorkflow uint64

	killed     *instance
	killAt     time.Time
	readyAgain time.Time
	leaderBack atomic.Int64 // unix nanoseconds when an instance held the scheduler role again
	invalid    atomic.Int64 // token invalidations injected

	errMu  sync.Mutex
	errors int
}

type order struct {
	marker          string
	approver, owner string // WeCom userids
	key             string // the button the approver clicks
}

type textCallback struct {
	msgID int64
	xml   string
	posts atomic.Int64 // posts made, broken ones included
	oks   atomic.Int64 // posts answered 200
}

// fail reports a problem from any goroutine; after 30 it only counts them.
func (r *clusterRun) fail(format string, args ...any) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	r.errors++
	if r.errors <= 30 {
		r.t.Errorf(format, args...)
	} else if r.errors == 31 {
		r.t.Errorf("… more errors are counted, not shown")
	}
}

func (r *clusterRun) intn(n int) int {
	r.rngMu.Lock()
	defer r.rngMu.Unlock()
	return r.rng.IntN(n)
}

func (r *clusterRun) marker(kind string, i int) string {
	return fmt.Sprintf("[%s-%s%d]", r.id, kind, i)
}

// TestClusterRun is the cluster issue's run: a cluster under mixed load, one instance SIGKILLed
// and restarted in the middle, then every promise checked from the outside.
func TestClusterRun(t *testing.T) {
	sc := scaleFromEnv(t)
	c := newCluster(t, clusterOptions{instances: sc.instances, members: sc.members})
	c.setUp()
	seed := time.Now().UnixNano()
	r := &clusterRun{c: c, t: t, sc: sc, rng: rand.New(rand.NewPCG(uint64(seed), 7)), clicks: make(chan int, sc.executions)}
	r.id = fmt.Sprintf("%06x", r.rng.IntN(1<<24))
	t.Logf("scale %s, run %s, seed %d", sc.name, r.id, seed)
	r.plan()

	approvalID := r.createWorkflow(approvalWorkflow())
	tickID := r.createWorkflow(map[string]any{"key": "tick", "title": "Every two seconds",
		"trigger": map[string]any{"type": "schedule", "config": map[string]any{"cron": "@every 2s"}},
		"nodes":   []any{map[string]any{"key": "stop", "type": "end", "config": map[string]any{"status": "resolved"}}}})
	r.tickWorkflow = tickID
	textsID := r.createWorkflow(map[string]any{"key": "texts", "title": "A member wrote to the app",
		"trigger": map[string]any{"type": "wecom_event", "config": map[string]any{"authenticator": authName, "events": []any{"text"}}},
		"nodes":   []any{map[string]any{"key": "stop", "type": "end", "config": map[string]any{"status": "resolved"}}}})
	tokensBefore := c.sim.Calls("gettoken")
	start := time.Now()

	// The load and the chaos run side by side: messages and orders at a steady rate, cards
	// clicked as they arrive, and — at fixed points of the message load — the token
	// invalidations, the callback burst and the kill.
	var load sync.WaitGroup
	load.Add(4)
	go func() { defer load.Done(); r.sendMessages() }()
	go func() { defer load.Done(); r.triggerOrders() }()
	go func() { defer load.Done(); r.chaos() }()
	var clickers sync.WaitGroup
	for w := 0; w < 12; w++ {
		clickers.Add(1)
		go func() { defer clickers.Done(); r.clickCards() }()
	}
	go func() { defer load.Done(); r.waitProgress(0.55); r.burstCallbacks() }()
	load.Wait()
	loadDone := time.Since(start)
	t.Logf("load offered in %s: %d messages and %d orders accepted",
		loadDone.Round(time.Millisecond), r.accepted.Load(), r.hooked.Load())

	close(r.clicks)
	clickers.Wait()

	// Everything settles: every message final, every execution resolved, every callback processed.
	wantMessages := sc.messages + 2*sc.executions
	err := waitFor(12*time.Minute, 500*time.Millisecond, func() (bool, error) {
		open, err := c.unfinishedMessages()
		if err != nil {
			return false, err
		}
		all, err := c.total("/api/v1/messages?pageSize=1")
		if err != nil {
			return false, err
		}
		execs, err := c.total(fmt.Sprintf("/api/v1/executions?pageSize=1&workflowId=%d", approvalID))
		if err != nil {
			return false, err
		}
		running, err := c.unfinishedExecutions(approvalID)
		if err != nil {
			return false, err
		}
		pending, err := c.total("/api/v1/callback-events?pageSize=1&status=received")
		if err != nil {
			return false, err
		}
		// A click that never came leaves its execution waiting: settled means final, whatever the
		// status; the checks below say which are not as they should be.
		if open == 0 && all >= wantMessages && execs >= sc.executions && running == 0 && pending == 0 {
			return true, nil
		}
		return false, fmt.Errorf("%d messages unfinished, %d of %d stored, %d of %d executions stored, %d unfinished, %d callbacks unprocessed",
			open, all, wantMessages, execs, sc.executions, running, pending)
	})
	if err != nil {
		t.Errorf("the cluster did not settle: %v", err)
	}
	settled := time.Since(start)

	// The schedule must have run again after the kill for its ticks to say anything: wait for a
	// few ticks after a leader was back.
	err = waitFor(3*time.Minute, time.Second, func() (bool, error) {
		back := r.leaderBack.Load()
		if r.killed == nil || back == 0 {
			return r.killed == nil, nil
		}
		execs, err := list[execution](c, fmt.Sprintf("/api/v1/executions?workflowId=%d", tickID))
		if err != nil {
			return false, err
		}
		after := 0
		for _, x := range execs {
			if tk := tickOf(x); tk.UnixNano() > back {
				after++
			}
		}
		return after >= 3, fmt.Errorf("%d ticks after the new leader took over", after)
	})
	if err != nil {
		t.Errorf("the schedule did not run again after the kill: %v", err)
	}

	// Stop the schedule and let its last tick finish before counting ticks.
	c.must(http.StatusOK, http.MethodPatch, fmt.Sprintf("/api/v1/workflows/%d", tickID), map[string]any{"enabled": false})
	last := -1
	_ = waitFor(time.Minute, 2*time.Second, func() (bool, error) {
		n, err := c.total(fmt.Sprintf("/api/v1/executions?pageSize=1&workflowId=%d", tickID))
		stable := err == nil && n == last
		last = n
		return stable, err
	})

	t.Logf("settled %s after the start", settled.Round(time.Millisecond))
	r.checkMessages()
	r.checkOrders(approvalID)
	r.checkTicks(tickID)
	r.checkCallbacks(textsID)
	tokens := c.sim.Calls("gettoken") - tokensBefore
	t.Logf("gettoken: %d calls for 1 app, %d injected invalidations, run of %s (token lifetime 7200 s)",
		tokens, r.invalid.Load(), settled.Round(time.Second))
	if limit := 1 + int(r.invalid.Load()) + int(settled/(7200*time.Second)); tokens > limit {
		t.Errorf("gettoken called %d times; at most %d allowed (one per token lifetime plus one per invalidation)", tokens, limit)
	}
	if d := c.sim.TotalDrops(); d != 0 {
		t.Errorf("WeCom silently dropped %d deliveries over its per-member limit: pacing let too much through", d)
	}
	t.Logf("WeCom's duplicate check dropped %d resends (sends that may already have been delivered, resent byte for byte)", c.sim.DuplicatesDropped())
	c.checkHTTP()
	if r.killed != nil {
		t.Logf("killed instance %d (the scheduler leader) at +%s, ready again at +%s; an instance held the scheduler role again at +%s",
			r.killed.n, r.killAt.Sub(start).Round(time.Millisecond), r.readyAgain.Sub(start).Round(time.Millisecond),
			time.Unix(0, r.leaderBack.Load()).Sub(start).Round(time.Millisecond))
	}
}

// plan draws the recipients of every message and the people of every order.
func (r *clusterRun) plan() {
	m := r.c.members
	r.messages = make([][]string, r.sc.messages)
	for i := range r.messages {
		n := 1
		if r.rng.IntN(4) == 0 { // a quarter of the messages go to 2–4 members
			n = 2 + r.rng.IntN(3)
		}
		seen := map[string]bool{}
		for len(r.messages[i]) < n {
			u := m[r.rng.IntN(len(m))]
			if !seen[u] {
				seen[u] = true
				r.messages[i] = append(r.messages[i], u)
			}
		}
	}
	r.orders = make([]order, r.sc.executions)
	for i := range r.orders {
		a := m[r.rng.IntN(len(m))]
		o := a
		for o == a {
			o = m[r.rng.IntN(len(m))]
		}
		key := "approve"
		if i%3 == 2 {
			key = "reject"
		}
		r.orders[i] = order{marker: r.marker("o", i), approver: a, owner: o, key: key}
	}
}

func (r *clusterRun) createWorkflow(def map[string]any) uint64 {
	var w struct {
		ID uint64 `json:"id"`
	}
	_ = json.Unmarshal(r.c.must(http.StatusCreated, http.MethodPost, "/api/v1/workflows", def), &w)
	return w.ID
}

// approvalWorkflow is docs/workflows.md's complete example: webhook → condition → a button card
// that waits for the approver's click → the decision in markdown to the owner.
func approvalWorkflow() map[string]any {
	return map[string]any{"key": "order-paid", "title": "Notify on paid order", "timeout": "72h",
		"trigger": map[string]any{"type": "webhook", "config": map[string]any{"secret": hookSecret}},
		"nodes": []any{
			map[string]any{"key": "big", "type": "condition", "config": map[string]any{"expression": "$context.data.amount > 1000"},
				"branches": map[string]any{"true": []any{map[string]any{"key": "ask", "type": "notification", "config": map[string]any{
					"channel": channelName, "to": map[string]any{"users": []any{"{{$context.data.approver}}"}},
					"msgtype": "template_card",
					"template_card": map[string]any{"card_type": "button_interaction",
						"main_title": map[string]any{"title": "Approve order {{$context.data.id}}?", "desc": "Amount ¥{{$context.data.amount}}"},
						"button_list": []any{map[string]any{"text": "Approve", "key": "approve"},
							map[string]any{"text": "Reject", "key": "reject", "style": 2}}},
					"waitForResponse": map[string]any{"timeout": "24h", "replaceName": "已处理"}}}},
					"false": []any{}}},
			map[string]any{"key": "done", "type": "notification", "config": map[string]any{
				"channel": channelName, "to": map[string]any{"users": []any{"{{$context.data.owner}}"}},
				"msgtype":  "markdown",
				"markdown": map[string]any{"content": "Order **{{$context.data.id}}**: {{$jobs.ask.response.eventKey | default \"no approval needed\"}}"}}},
		}}
}

// paced calls fn(0…n-1) from workers goroutines, handing out at most rate calls per second
// (math.Inf(1): as fast as the workers take them).
func paced(n int, rate float64, workers int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
			time.Sleep(d)
		}
		next <- i
	}
	close(next)
	wg.Wait()
}

// sendMessages posts every planned message through the API, each with its idempotency key, so
// a post that broke with its instance is safely posted again to the next one.
func (r *clusterRun) sendMessages() {
	defer r.sendingDone.Store(true)
	paced(len(r.messages), r.sc.messageRate, 16, func(i int) {
		users := make([]any, len(r.messages[i]))
		for j, u := range r.messages[i] {
			users[j] = "u-" + u
		}
		status, data, err := r.c.api(http.MethodPost, "/api/v1/messages", map[string]any{
			"channel": channelName, "idempotencyKey": fmt.Sprintf("%s-%d", r.id, i),
			"to": map[string]any{"users": users}, "msgtype": "text",
			"text": map[string]any{"content": fmt.Sprintf("Cluster message %s for %d member(s).", r.marker("m", i), len(users))}})
		if err != nil || status != http.StatusAccepted {
			r.fail("message %d: %d %v %s", i, status, err, truncate(string(data), 300))
			return
		}
		r.accepted.Add(1)
	})
}

// triggerOrders calls the approval workflow's webhook once per order: a call that broke with its
// instance is repeated on another with the same signature, which starts no second execution.
func (r *clusterRun) triggerOrders() {
	paced(len(r.orders), r.sc.hookRate, 4, func(i int) {
		o := r.orders[i]
		status, id, err := r.c.hook("order-paid", r.orderData(o))
		if err != nil || status != http.StatusAccepted || id == "" {
			r.fail("webhook of order %d: %d %v", i, status, err)
			return
		}
		r.hooked.Add(1)
		r.clicks <- i
	})
}

func (r *clusterRun) orderData(o order) map[string]any {
	return map[string]any{"id": o.marker, "amount": 5000, "approver": "u-" + o.approver, "owner": "u-" + o.owner}
}

// tickOf is the tick a schedule execution fired for ($context.date), or the zero time.
func tickOf(x execution) time.Time {
	var c struct {
		Date string `json:"date"`
	}
	_ = json.Unmarshal(x.Context, &c)
	tk, _ := time.Parse(time.RFC3339, c.Date)
	return tk
}

func orderID(ctx json.RawMessage) string {
	var c struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(ctx, &c)
	return c.Data.ID
}

// clickCards plays each approver clicking their card once it reached them, through the callback
// URL of a random live instance.
func (r *clusterRun) clickCards() {
	for i := range r.clicks {
		o := r.orders[i]
		var task string
		err := waitFor(8*time.Minute, 100*time.Millisecond, func() (bool, error) {
			for _, d := range r.c.sim.Inbox(r.c.demo.CorpID, o.approver) {
				if d.MsgType == "template_card" && strings.Contains(string(d.Body), o.marker) {
					task = d.TaskID
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			r.fail("order %d: the card never reached %s: %v", i, o.approver, err)
			continue
		}
		xml, err := r.c.sim.ClickCard(r.c.demo.CorpID, o.approver, task, o.key)
		if err != nil {
			r.fail("order %d: click: %v", i, err)
			continue
		}
		posts, status, err := r.c.postCallback(xml)
		r.clickPosts.Add(int64(posts))
		if err != nil || status != http.StatusOK {
			r.fail("order %d: the click's callback: %d %v", i, status, err)
			continue
		}
		r.clicked.Add(1)
	}
}

// waitProgress blocks until that share of the messages was accepted (or the sending ended).
func (r *clusterRun) waitProgress(share float64) {
	want := int64(share * float64(r.sc.messages))
	for r.accepted.Load() < want && !r.sendingDone.Load() {
		time.Sleep(20 * time.Millisecond)
	}
}

// chaos injects, at fixed points of the message load, WeCom invalidating the app's tokens and the
// SIGKILL of the scheduler leader, which is restarted on its address after a short downtime.
func (r *clusterRun) chaos() {
	points := []float64{0.2, 0.7}
	r.waitProgress(points[0])
	r.invalidate()
	r.waitProgress(0.4)
	// The leader must have fired the schedule before it dies, for the failover to be seen.
	if err := waitFor(time.Minute, 200*time.Millisecond, func() (bool, error) {
		n, err := r.c.total(fmt.Sprintf("/api/v1/executions?pageSize=1&workflowId=%d", r.tickWorkflow))
		return n >= 2, err
	}); err != nil {
		r.fail("the schedule did not fire before the kill: %v", err)
	}
	victim := r.c.leader()
	if victim == nil {
		r.t.Log("no scheduler leader found; killing instance 0")
		victim = r.c.instances[0]
	}
	// The most dangerous moment to die: WeCom has delivered a send but the answer has not come
	// back. The next sends are delivered at once and answered 5 s late, and the kill comes while
	// the victim's are pending. Their requests stay claimed until the 2-minute lease lapses, then
	// another instance resends them byte for byte and WeCom's duplicate check drops the twins.
	slow := make([]wecomtest.Fault, 40)
	for i := range slow {
		slow[i] = wecomtest.Fault{Latency: 5 * time.Second, AfterProcessing: true}
	}
	r.c.sim.Script("message/send", slow...)
	time.Sleep(1500 * time.Millisecond)
	r.killed, r.killAt = victim, time.Now()
	r.c.kill(victim)
	r.t.Logf("SIGKILLed instance %d (scheduler leader) after %d messages", victim.n, r.accepted.Load())
	go func() {
		// When another instance (or the restarted one) holds the scheduler role again.
		if err := waitFor(2*time.Minute, 200*time.Millisecond, func() (bool, error) { return r.c.leader() != nil, nil }); err != nil {
			r.fail("no instance took the scheduler role after the kill: %v", err)
			return
		}
		r.leaderBack.Store(time.Now().UnixNano())
	}()
	time.Sleep(r.sc.downtime)
	if err := r.c.start(victim); err != nil {
		r.fail("restart: %v", err)
	}
	r.readyAgain = time.Now()
	r.waitProgress(points[1])
	r.invalidate()
	// A rolling restart of another instance: drained, SIGTERM, started again. It must finish
	// what it holds without breaking a request.
	other := r.c.instances[(victim.n+1)%len(r.c.instances)]
	t0 := time.Now()
	if err := r.c.stop(other); err != nil {
		r.fail("graceful stop: %v", err)
	}
	stopped := time.Since(t0)
	if err := r.c.start(other); err != nil {
		r.fail("restart after the graceful stop: %v", err)
	}
	r.t.Logf("instance %d restarted gracefully after %d messages (stopped in %s)", other.n, r.accepted.Load(), stopped.Round(time.Millisecond))
}

func (r *clusterRun) invalidate() {
	r.c.sim.InvalidateTokens(r.c.demo.CorpID)
	r.invalid.Add(1)
	r.t.Logf("WeCom invalidated the app's tokens after %d messages", r.accepted.Load())
}

// burstCallbacks posts the text callbacks all at once, some of them twice at the same time (WeCom
// retrying), to random instances.
func (r *clusterRun) burstCallbacks() {
	base := int64(7_000_000_000) + int64(r.intn(1_000_000))*1000
	now := time.Now().Unix()
	r.texts = make([]textCallback, r.sc.textCallbacks)
	var posts []int
	for i := range r.texts {
		from := r.c.members[r.intn(len(r.c.members))]
		r.texts[i].msgID = base + int64(i)
		r.texts[i].xml = wecomtest.TextMessageXML(r.c.demo.CorpID, r.c.demo.AgentID, from,
			"Hello from "+r.marker("t", i), r.texts[i].msgID, now)
		posts = append(posts, i)
		if i < r.sc.retried {
			posts = append(posts, i)
		}
	}
	r.rngMu.Lock()
	r.rng.Shuffle(len(posts), func(a, b int) { posts[a], posts[b] = posts[b], posts[a] })
	r.rngMu.Unlock()
	start := time.Now()
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				n, status, err := r.c.postCallback(r.texts[i].xml)
				r.texts[i].posts.Add(int64(n))
				if err != nil || status != http.StatusOK {
					r.fail("text callback %d: %d %v", i, status, err)
					continue
				}
				r.texts[i].oks.Add(1)
			}
		}()
	}
	for _, i := range posts {
		next <- i
	}
	close(next)
	wg.Wait()
	r.t.Logf("callback burst: %d texts, %d delivered twice, %d posts in %s",
		len(r.texts), r.sc.retried, len(posts), time.Since(start).Round(time.Millisecond))
}

// delivery is one marked message in one member's inbox.
type delivery struct {
	user, msgType, body string
}

func (r *clusterRun) received() map[string][]delivery {
	out := map[string][]delivery{}
	for user, ds := range r.c.sim.Inboxes(r.c.demo.CorpID) {
		for _, d := range ds {
			for _, m := range markerRe.FindAllStringSubmatch(string(d.Body), -1) {
				if m[1] == r.id {
					out[m[0]] = append(out[m[0]], delivery{user: user, msgType: d.MsgType, body: string(d.Body)})
				}
			}
		}
	}
	return out
}

// checkMessages: every API message reached each of its members exactly once, and nobody else.
func (r *clusterRun) checkMessages() {
	got := r.received()
	want, once, missing, twice, strays := 0, 0, 0, 0, 0
	for i, users := range r.messages {
		counts := map[string]int{}
		for _, d := range got[r.marker("m", i)] {
			counts[d.user]++
		}
		for _, u := range users {
			want++
			switch n := counts[u]; {
			case n == 1:
				once++
			case n == 0:
				missing++
				r.fail("message %d never reached %s", i, u)
			default:
				twice++
				r.fail("message %d reached %s %d times", i, u, n)
			}
			delete(counts, u)
		}
		for u := range counts {
			strays++
			r.fail("message %d reached %s, not a recipient", i, u)
		}
	}
	sent, _ := r.c.total("/api/v1/messages?pageSize=1&status=sent")
	notSent := 0
	for _, st := range []string{"partial", "failed", "canceled"} {
		n, _ := r.c.total("/api/v1/messages?pageSize=1&status=" + st)
		notSent += n
	}
	r.t.Logf("messages: %d (%d member deliveries expected): %d delivered exactly once, %d missing, %d duplicated, %d to strangers; send log: %d sent, %d partial/failed/canceled",
		len(r.messages), want, once, missing, twice, strays, sent, notSent)
	if notSent > 0 {
		r.fail("%d messages ended partial, failed or canceled", notSent)
	}
}

// checkOrders: one execution per order, resolved, with the approver's click, one card and one
// decision each.
func (r *clusterRun) checkOrders(workflowID uint64) {
	execs, err := list[execution](r.c, fmt.Sprintf("/api/v1/executions?workflowId=%d", workflowID))
	if err != nil {
		r.fail("listing executions: %v", err)
		return
	}
	byOrder := map[string][]execution{}
	statuses := map[string]int{}
	for _, x := range execs {
		byOrder[orderID(x.Context)] = append(byOrder[orderID(x.Context)], x)
		statuses[x.Status]++
	}
	got := r.received()
	var wrong atomic.Int64
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if !r.checkOrder(i, byOrder[r.orders[i].marker], got[r.orders[i].marker]) {
					wrong.Add(1)
				}
			}
		}()
	}
	for i := range r.orders {
		next <- i
	}
	close(next)
	wg.Wait()
	updates := len(r.c.sim.CardUpdates())
	r.t.Logf("executions: %d orders, %d executions %v, %d clicked (%d callback posts), %d cards updated to 已处理, %d orders not as expected",
		len(r.orders), len(execs), statuses, r.clicked.Load(), r.clickPosts.Load(), updates, wrong.Load())
	if len(execs) != len(r.orders) {
		r.fail("%d executions for %d orders", len(execs), len(r.orders))
	}
	if updates != len(r.orders) {
		r.fail("%d card updates for %d clicked cards", updates, len(r.orders))
	}
}

func (r *clusterRun) checkOrder(i int, execs []execution, ds []delivery) bool {
	o := r.orders[i]
	if len(execs) != 1 {
		r.fail("order %d: %d executions", i, len(execs))
		return false
	}
	status, data, err := r.c.api(http.MethodGet, "/api/v1/executions/"+execs[0].ID, nil)
	var x execution
	if err != nil || status != http.StatusOK || json.Unmarshal(data, &x) != nil {
		r.fail("order %d: reading execution %s: %d %v", i, execs[0].ID, status, err)
		return false
	}
	if x.Status != "resolved" {
		r.fail("order %d: execution %s is %s (%s)", i, x.ID, x.Status, x.Error)
		return false
	}
	jobs := map[string]string{}
	var eventKey string
	for _, j := range x.Jobs {
		jobs[j.NodeKey] = j.Status
		if j.NodeKey == "ask" {
			var res struct {
				Response struct {
					EventKey string `json:"eventKey"`
				} `json:"response"`
			}
			_ = json.Unmarshal(j.Result, &res)
			eventKey = res.Response.EventKey
		}
	}
	if len(x.Jobs) != 3 || jobs["big"] != "resolved" || jobs["ask"] != "resolved" || jobs["done"] != "resolved" || eventKey != o.key {
		r.fail("order %d: jobs %v, response %q (clicked %q)", i, jobs, eventKey, o.key)
		return false
	}
	cards, decisions := 0, 0
	for _, d := range ds {
		switch {
		case d.user == o.approver && d.msgType == "template_card":
			cards++
		case d.user == o.owner && d.msgType == "markdown" && strings.Contains(d.body, "**: "+o.key):
			decisions++
		default:
			r.fail("order %d: unexpected delivery to %s: %s %s", i, d.user, d.msgType, truncate(d.body, 200))
			return false
		}
	}
	if cards != 1 || decisions != 1 {
		r.fail("order %d: %d cards to %s, %d decisions to %s", i, cards, o.approver, decisions, o.owner)
		return false
	}
	return true
}

// checkTicks: every tick of the schedule started exactly one execution, and no tick was lost: the
// ticks follow each other every 2 s from the first to the last, across the kill of the leader.
// While no instance led (the killed leader's 15 s lease had to lapse), no tick could fire; the new
// leader continues from the last fired tick and makes up the ones it missed (docs/workflows.md),
// so those fire late — counted here as "made up".
func (r *clusterRun) checkTicks(workflowID uint64) {
	execs, err := list[execution](r.c, fmt.Sprintf("/api/v1/executions?workflowId=%d", workflowID))
	if err != nil {
		r.fail("listing schedule executions: %v", err)
		return
	}
	seen := map[string]int{}
	var ticks []time.Time
	late, beforeKill := 0, 0
	var maxLate time.Duration
	for _, x := range execs {
		tk := tickOf(x)
		date := tk.Format(time.RFC3339)
		seen[date]++
		if seen[date] == 2 {
			r.fail("tick %s started two executions", date)
		}
		if x.Status != "resolved" {
			r.fail("schedule execution %s (%s) is %s: %s", x.ID, date, x.Status, x.Error)
		}
		if tk.IsZero() {
			r.fail("schedule execution %s has no tick in its context: %s", x.ID, x.Context)
			continue
		}
		if d := x.CreatedAt.Sub(tk); d > 3*time.Second {
			late++
			maxLate = max(maxLate, d)
		}
		if r.killed != nil && tk.Before(r.killAt) {
			beforeKill++
		}
		ticks = append(ticks, tk)
	}
	sort.Slice(ticks, func(i, j int) bool { return ticks[i].Before(ticks[j]) })
	var gaps []string
	for i := 1; i < len(ticks); i++ {
		if gap := ticks[i].Sub(ticks[i-1]); gap != 2*time.Second {
			gaps = append(gaps, fmt.Sprintf("%s → %s", ticks[i-1].Format("15:04:05"), ticks[i].Format("15:04:05")))
		}
	}
	if len(gaps) > 0 {
		r.fail("schedule: ticks lost between %v (the kill at %s)", gaps, r.killAt.In(tickZone).Format("15:04:05.000"))
	}
	if r.killed != nil && (beforeKill == 0 || beforeKill == len(ticks)) {
		r.fail("schedule: %d of %d ticks before the kill; the failover was not covered", beforeKill, len(ticks))
	}
	first, lastTick := "", ""
	if len(ticks) > 0 {
		first, lastTick = ticks[0].Format("15:04:05"), ticks[len(ticks)-1].Format("15:04:05")
	}
	r.t.Logf("schedule @every 2s: %d executions for %d distinct ticks (%s … %s, Asia/Shanghai), %d before the kill at %s, %d lost; %d made up late by the new leader (at most %s after their tick)",
		len(execs), len(seen), first, lastTick, beforeKill, r.killAt.In(tickZone).Format("15:04:05.000"), len(gaps), late, maxLate.Round(time.Millisecond))
}

// tickZone is the zone of the schedule's ticks ($context.date), for the log.
var tickZone = time.FixedZone("CST", 8*3600)

// checkCallbacks: each text callback stored once however often it was delivered, processed, and
// starting one execution of the workflow that listens for texts; each card click stored once.
func (r *clusterRun) checkCallbacks(textsWorkflow uint64) {
	events, err := list[callbackEvent](r.c, "/api/v1/callback-events?kind=app")
	if err != nil {
		r.fail("listing callback events: %v", err)
		return
	}
	byMsgID := map[int64][]callbackEvent{}
	clicks, clickDeliveries := 0, 0
	for _, e := range events {
		if e.Status != "processed" {
			r.fail("callback event %d (%s %s) is %s: %s", e.ID, e.MsgType, e.Event, e.Status, e.Error)
		}
		switch {
		case e.MsgType == "text":
			var p struct {
				MsgID string `json:"MsgId"`
			}
			_ = json.Unmarshal(e.Payload, &p)
			id, _ := strconv.ParseInt(p.MsgID, 10, 64)
			byMsgID[id] = append(byMsgID[id], e)
		case e.Event == "template_card_event":
			clicks++
			clickDeliveries += e.Deliveries
		}
	}
	posts, deliveries := 0, 0
	for i := range r.texts {
		tc := &r.texts[i]
		posts += int(tc.posts.Load())
		es := byMsgID[tc.msgID]
		if len(es) != 1 {
			r.fail("text callback %d (MsgId %d) stored %d times", i, tc.msgID, len(es))
			continue
		}
		deliveries += es[0].Deliveries
		if d := es[0].Deliveries; int64(d) < tc.oks.Load() || int64(d) > tc.posts.Load() {
			r.fail("text callback %d: %d deliveries counted, %d posts answered 200, %d posted", i, d, tc.oks.Load(), tc.posts.Load())
		}
	}
	execs, err := list[execution](r.c, fmt.Sprintf("/api/v1/executions?workflowId=%d", textsWorkflow))
	if err != nil {
		r.fail("listing text executions: %v", err)
		return
	}
	perMsg := map[string]int{}
	for _, x := range execs {
		var c struct {
			Data struct {
				MsgID string `json:"MsgId"`
			} `json:"data"`
		}
		_ = json.Unmarshal(x.Context, &c)
		perMsg[c.Data.MsgID]++
		if perMsg[c.Data.MsgID] == 2 {
			r.fail("text MsgId %s started two executions", c.Data.MsgID)
		}
	}
	r.t.Logf("callbacks: %d texts posted %d times → %d stored, %d deliveries counted, %d executions of the text workflow; %d card clicks stored (%d deliveries)",
		len(r.texts), posts, len(byMsgID), deliveries, len(execs), clicks, clickDeliveries)
	if len(execs) != len(r.texts) {
		r.fail("%d executions of the text workflow for %d texts", len(execs), len(r.texts))
	}
	if clicks != len(r.orders) {
		r.fail("%d card clicks stored for %d orders", clicks, len(r.orders))
	}
}
