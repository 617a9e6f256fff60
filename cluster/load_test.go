//go:build cluster

package cluster

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// TestLoadAsDeployed's settings, given after the package (go test … ./cluster -load sqlite -wait 10s).
// Flags rather than variables like envScale: a measurement is run by hand with its own numbers.
var (
	loadDB       = flag.String("load", "", "run TestLoadAsDeployed on this database: sqlite, or mysql (a new database on the server of "+envDSN+")")
	loadMessages = flag.Int("messages", 2000, "TestLoadAsDeployed: single-recipient textcards to send")
	loadClients  = flag.Int("clients", 16, "TestLoadAsDeployed: HTTP clients posting at once")
	loadWait     = flag.Duration("wait", 0, "TestLoadAsDeployed: post with ?wait= this long, each client waiting for its message's outcome (0: without)")
	loadLatency  = flag.Duration("latency", 0, "TestLoadAsDeployed: the simulator answers each message/send after this long")
	loadProfile  = flag.String("profile", "", "TestLoadAsDeployed: write the server's CPU profile of the load to this file (the server then runs with -pprof-addr)")
	loadProfileS = flag.Int("profile-seconds", 10, "TestLoadAsDeployed: how long the CPU profile lasts, from the first post")
	loadRobots   = flag.Int("robots", 0, "TestLoadAsDeployed: send texts to this many group robots (wecom_robot channels) instead of textcards to members")
	loadCalls    = flag.Int("callbacks", 0, "TestLoadAsDeployed: post this many callbacks (texts members send the app, encrypted beforehand) instead of sending messages; -clients defaults to 64 then")
)

// TestLoadAsDeployed measures wecomflow as users run it: the release binary as its own `serve`
// process (JSON logs to a file), on SQLite or MariaDB, against the simulator served by this test
// process, which is also where the clients are: -clients goroutines posting -messages
// single-recipient textcards to POST /api/v1/messages with an API token made through the API. It
// reports accepted/s, delivered/s (first post to the simulator holding every message), the accept
// latency, the server's CPU per message (utime+stime from /proc, until the server has recorded
// every outcome) and its peak RSS. With -wait, every post waits for its outcome (?wait=), and
// -latency makes the simulator slow; then msgs/s is held against the clients/latency bound.
//
// It is a measurement, not a check of speed: it fails only when a message is refused, lost or
// sent twice. It runs only when asked (-load), since it takes the machine for itself; the numbers
// mean something only on an otherwise idle machine (it logs the load average it started at).
func TestLoadAsDeployed(t *testing.T) {
	o := clusterOptions{instances: 1, members: 2000}
	switch *loadDB {
	case "":
		t.Skip("a measurement, run only when asked: -load sqlite or -load mysql (docs/benchmarks.md)")
	case "sqlite":
		o.sqlite = true
	case "mysql":
	default:
		t.Fatalf("-load %q: want sqlite or mysql", *loadDB)
	}
	messages, clients := *loadMessages, *loadClients
	if messages < 1 || clients < 1 {
		t.Fatalf("-messages %d -clients %d: want at least 1 each", messages, clients)
	}
	var pprofAddr string
	if *loadProfile != "" {
		pprofAddr = freeAddr(t)
		o.args = []string{"-pprof-addr", pprofAddr}
	}
	t.Logf("machine: %s", machine())

	c := newCluster(t, o)
	c.setUp()
	in := c.instances[0]
	pid := in.cmd.Process.Pid
	if *loadCalls > 0 {
		if !flagGiven("clients") {
			clients = 64
		}
		loadCallbacks(t, c, in, *loadCalls, clients, pprofAddr)
		return
	}
	// The token an integrating system would use: made through the API, operator, scoped to the channel.
	var tok struct {
		Token string `json:"token"`
	}
	robots := c.addRobots(*loadRobots)
	scope := map[string]any{"name": "load", "role": "operator", "channels": []string{channelName}}
	if len(robots.channels) > 0 {
		delete(scope, "channels") // more channels than a token may name
	}
	_ = json.Unmarshal(c.must(http.StatusCreated, http.MethodPost, "/api/v1/tokens", scope), &tok)
	header := http.Header{"Authorization": {"Bearer " + tok.Token}}

	textcard := func(i int, to string) []byte {
		b, _ := json.Marshal(map[string]any{"channel": channelName, "to": map[string]any{"users": []string{to}},
			"msgtype": "textcard", "textcard": map[string]any{
				"title":       fmt.Sprintf("Order %d paid", i),
				"description": fmt.Sprintf(`<div class="gray">load run</div>Amount: ¥%d.00`, 1000+i),
				"url":         fmt.Sprintf("https://shop.example.com/orders/%d", i),
				"btntxt":      "详情"}})
		return b
	}
	// Warm-up: the first send fetches WeCom's token and fills the server's caches.
	status, data, _, err := c.request(http.MethodPost, "/api/v1/messages?wait=10s", textcard(-1, "u-"+c.demo.UserIDs[0]), header, false)
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("warm-up: %d %v %s", status, err, truncate(string(data), 300))
	}
	if *loadLatency > 0 {
		c.sim.FailRate("message/send", 1, wecomtest.Fault{Latency: *loadLatency})
	}
	bodies := make([][]byte, messages)
	for i := range bodies {
		// Distinct content (WeCom's duplicate check), spread over the members (its 30/min pacing).
		bodies[i] = textcard(i, "u-"+c.members[i%len(c.members)])
		if len(robots.channels) > 0 {
			// Spread over the robots, mentioning a member: 20 a minute per robot is WeCom's limit.
			bodies[i], _ = json.Marshal(map[string]any{"channel": robots.channels[i%len(robots.channels)], "msgtype": "text",
				"text": map[string]any{"content": fmt.Sprintf("Alert %d: disk 93%% on db-%d", i, i%7)}, "to": map[string]any{"users": []string{"u-" + c.demo.UserIDs[0]}}})
		}
	}
	delivered := c.sim.Delivered
	if len(robots.channels) > 0 {
		delivered = robots.posted
	}
	path := "/api/v1/messages"
	if *loadWait > 0 {
		path += "?wait=" + loadWait.String()
	}
	base := delivered()

	m := startMeasure(t, c, pid, pprofAddr)

	start := time.Now()
	var refused, unsent atomic.Int64
	took := c.postConcurrently(clients, path, header, bodies, func(i, status int, data []byte, err error) {
		if err != nil || status != http.StatusAccepted {
			if refused.Add(1) <= 5 {
				t.Errorf("message %d: %d %v %s", i, status, err, truncate(string(data), 300))
			}
			return
		}
		if *loadWait > 0 {
			var answer struct{ Data struct{ Status string } }
			if err := json.Unmarshal(data, &answer); err != nil || answer.Data.Status != "sent" {
				if unsent.Add(1) <= 5 {
					t.Errorf("message %d: ?wait= answered %q (%v)", i, answer.Data.Status, err)
				}
			}
		}
	})
	accepting := time.Since(start)
	err = waitFor(10*time.Minute, time.Millisecond, func() (bool, error) {
		n := delivered() - base
		return n >= messages, fmt.Errorf("%d of %d delivered", n, messages)
	})
	delivering := time.Since(start)
	if err != nil {
		t.Fatalf("not delivered: %v", err)
	}
	// The server's work for a message ends when it has recorded the outcome, a little after WeCom
	// holds the message; its CPU is read then (the few list requests that ask cost it little).
	if err := waitFor(time.Minute, 20*time.Millisecond, func() (bool, error) {
		n, err := c.unfinishedMessages()
		return err == nil && n == 0, fmt.Errorf("%d messages not final (%v)", n, err)
	}); err != nil {
		t.Fatalf("outcomes not recorded: %v", err)
	}
	slices.Sort(took)
	what := "SQLite"
	if c.db != nil {
		what = "MariaDB"
	}
	if len(robots.channels) > 0 {
		what += fmt.Sprintf(", %d texts to %d group robots from %d clients", messages, len(robots.channels), clients)
	} else {
		what += fmt.Sprintf(", %d single-recipient textcards from %d clients", messages, clients)
	}
	if *loadWait > 0 {
		what += fmt.Sprintf(" with ?wait=%s, WeCom answering in %s", *loadWait, *loadLatency)
	}
	t.Logf("as deployed, %s; load average before: %s", what, m.loadAvg)
	t.Logf("accepted %.0f/s (%s), delivered %.0f/s (%s); accept latency %s",
		float64(messages)/accepting.Seconds(), accepting.Round(time.Millisecond),
		float64(messages)/delivering.Seconds(), delivering.Round(time.Millisecond), latencies(took))
	report := m.stop("message", messages)
	if *loadWait > 0 && *loadLatency > 0 {
		bound := float64(clients) / loadLatency.Seconds()
		perSec := float64(messages) / accepting.Seconds() // every answer came after its outcome
		t.Logf("?wait=: %.0f msgs/s, %.0f%% of the %.0f/s that %d clients waiting %s each allow",
			perSec, 100*perSec/bound, bound, clients, *loadLatency)
	}
	t.Log(report)
	m.profile()

	if d := delivered() - base; d != messages {
		t.Errorf("%d deliveries for %d messages", d, messages)
	}
	if n := c.sim.TotalDrops() + c.sim.DuplicatesDropped(); n != 0 {
		t.Errorf("WeCom dropped %d sends (pacing or duplicates)", n)
	}
	c.checkHTTP()
}

// loadCallbacks is TestLoadAsDeployed with -callbacks: n texts that members send the app,
// encrypted and signed before the clock starts (as WeCom's servers would have them), posted to the
// app's callback URL by clients keeping their connections. A callback is accepted when the server
// answers 200, which it does once the event is stored; the server's CPU is read when every event
// is processed (no workflow listens, so that is little), and every event must be stored once.
func loadCallbacks(t *testing.T, c *cluster, in *instance, n, clients int, pprofAddr string) {
	caller := c.caller(in, c.client)
	now := time.Now().Unix()
	type sealed struct {
		query url.Values
		body  []byte
	}
	calls := make([]sealed, n)
	for i := range calls {
		xml := wecomtest.TextMessageXML(c.demo.CorpID, c.demo.AgentID, c.members[i%len(c.members)],
			fmt.Sprintf("load %d", i), 8_000_000_000+int64(i), now)
		q, body, err := caller.Seal(xml)
		if err != nil {
			t.Fatal(err)
		}
		calls[i] = sealed{q, body}
	}
	before, err := c.total("/api/v1/callback-events?pageSize=1")
	if err != nil {
		t.Fatal(err)
	}
	m := startMeasure(t, c, in.cmd.Process.Pid, pprofAddr)
	took := make([]time.Duration, n)
	var refused atomic.Int64
	start := time.Now()
	paced(n, math.Inf(1), clients, func(i int) {
		t0 := time.Now()
		status, body, err := caller.PostEnvelope(context.Background(), calls[i].query, calls[i].body)
		took[i] = time.Since(t0)
		if (err != nil || status != http.StatusOK) && refused.Add(1) <= 5 {
			t.Errorf("callback %d: %d %v %s", i, status, err, truncate(body, 300))
		}
	})
	accepting := time.Since(start)
	if err := waitFor(5*time.Minute, 20*time.Millisecond, func() (bool, error) {
		k, err := c.total("/api/v1/callback-events?pageSize=1&status=received")
		return err == nil && k == 0, fmt.Errorf("%d events not processed (%v)", k, err)
	}); err != nil {
		t.Fatalf("events not processed: %v", err)
	}
	slices.Sort(took)
	t.Logf("as deployed, %s, %d callbacks (a member's text to the app) from %d clients; load average before: %s",
		map[bool]string{true: "SQLite", false: "MariaDB"}[c.db == nil], n, clients, m.loadAvg)
	t.Logf("accepted %.0f/s (%s); latency %s", float64(n)/accepting.Seconds(), accepting.Round(time.Millisecond), latencies(took))
	t.Log(m.stop("callback", n))
	m.profile()
	if after, err := c.total("/api/v1/callback-events?pageSize=1"); err != nil || after-before != n {
		t.Errorf("%d events stored for %d callbacks (%v)", after-before, n, err)
	}
	c.checkHTTP()
}

// latencies are the p50, p99 and max of sorted durations.
func latencies(sorted []time.Duration) string {
	return fmt.Sprintf("p50 %s, p99 %s, max %s", percentile(sorted, 0.5).Round(10*time.Microsecond),
		percentile(sorted, 0.99).Round(10*time.Microsecond), percentile(sorted, 1).Round(10*time.Microsecond))
}

// measure is what a load run reads of the server process around its load: the load average
// before, CPU time, peak RSS (reset at the start, so it is the load's), on MariaDB the
// database's counters and, with -profile, a CPU profile from the start.
type measure struct {
	t          *testing.T
	c          *cluster
	pid        int
	loadAvg    string
	peakBefore int64
	cpuBefore  time.Duration
	meter      *cpuMeter
	counters   map[string]int64
	profiled   chan error // nil without a profile
}

func startMeasure(t *testing.T, c *cluster, pid int, pprofAddr string) *measure {
	loadAvg, _ := os.ReadFile("/proc/loadavg")
	m := &measure{t: t, c: c, pid: pid, loadAvg: strings.TrimSpace(string(loadAvg))}
	if pprofAddr != "" {
		m.profiled = make(chan error, 1)
		go func() { m.profiled <- fetchCPUProfile(pprofAddr, *loadProfileS, *loadProfile) }()
	}
	m.peakBefore, _ = procPeakRSS(pid)
	if err := resetPeakRSS(pid); err != nil {
		t.Logf("cannot reset the server's peak RSS (%v): the peak below includes the set-up", err)
	}
	m.meter, m.counters = c.cpuMeter(), c.dbCounters()
	var err error
	if m.cpuBefore, err = procCPU(pid); err != nil {
		t.Fatal(err)
	}
	return m
}

// stop reports the server's CPU per unit of work (n of what) and its peak RSS, and returns the
// CPU of each process and the database's work per unit.
func (m *measure) stop(what string, n int) string {
	cpuAfter, _ := procCPU(m.pid)
	peak, _ := procPeakRSS(m.pid)
	m.t.Logf("server CPU %s: %.3f ms per %s; peak RSS %.1f MiB during the load (%.1f MiB before it, set-up included)",
		cpuAfter-m.cpuBefore, float64(cpuAfter-m.cpuBefore)/float64(time.Millisecond)/float64(n), what,
		float64(peak)/(1<<20), float64(m.peakBefore)/(1<<20))
	report := m.meter.report()
	if m.c.db != nil {
		report += "; " + perMessage(m.counters, m.c.dbCounters(), n)
	}
	return report
}

// profile waits for the CPU profile, if one was asked for, and logs its top functions.
func (m *measure) profile() {
	if m.profiled == nil {
		return
	}
	m.t.Log("(profiled: the numbers above include the profiler's cost)")
	if err := <-m.profiled; err != nil {
		m.t.Errorf("CPU profile: %v", err)
		return
	}
	top, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=10", *loadProfile).CombinedOutput()
	if err != nil {
		m.t.Errorf("go tool pprof -top %s: %v", *loadProfile, err)
	}
	m.t.Logf("CPU profile of the server in %s (go tool pprof -top -nodecount=10):\n%s", *loadProfile, top)
}

// flagGiven reports whether the flag name was set on the command line.
func flagGiven(name string) (given bool) {
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// robotSet is the robot channels of a load run and what their robots posted.
type robotSet struct {
	channels []string
	posted   func() int
}

// addRobots adds n robots to the demo corp's ops group and a wecom_robot channel for each.
func (c *cluster) addRobots(n int) robotSet {
	var r robotSet
	var keys []string
	for i := 0; i < n; i++ {
		key := c.sim.AddRobot(c.demo.CorpID, fmt.Sprintf("load group %d", i), c.demo.UserIDs[:3])
		name := fmt.Sprintf("robot%03d", i)
		c.must(http.StatusCreated, http.MethodPost, "/api/v1/channels", map[string]any{"name": name, "type": "wecom_robot",
			"options": map[string]any{"webhookKey": key}})
		keys, r.channels = append(keys, key), append(r.channels, name)
	}
	r.posted = func() int {
		n := 0
		for _, k := range keys {
			n += len(c.sim.RobotMessages(k))
		}
		return n
	}
	return r
}

// fetchCPUProfile asks the server's pprof listener for a CPU profile of the next seconds and
// writes it to file.
func fetchCPUProfile(addr string, seconds int, file string) error {
	client := &http.Client{Timeout: time.Duration(seconds)*time.Second + time.Minute}
	res, err := client.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, seconds))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		return fmt.Errorf("%s: %s", res.Status, truncate(string(b), 300))
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// machine says what the numbers were measured on: cores, CPU model, Go.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%d CPUs (%s), %s", runtime.NumCPU(), model, runtime.Version())
}
