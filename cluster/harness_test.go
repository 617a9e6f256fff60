//go:build cluster

package cluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

const (
	envDSN   = "WECOMFLOW_TEST_MYSQL_DSN"
	envScale = "WECOMFLOW_CLUSTER_SCALE"
	envLogs  = "WECOMFLOW_CLUSTER_LOGS"
	// envBinary names a wecomflow binary to run instead of building one (another version, a
	// release build).
	envBinary = "WECOMFLOW_CLUSTER_BINARY"

	adminToken  = "wcf_cluster_harness_admin_token_0123456789"
	authName    = "acme"
	channelName = "ops"
	// The app's 接收消息 credentials, as an admin would paste them from WeCom.
	callbackToken  = "clusterCallbackToken"
	callbackAESKey = "Y2x1c3RlcmNsdXN0ZXJjbHVzdGVyY2x1c3RlcmNsdXM"
	hookSecret     = "cluster-webhook-secret-0123456789"
)

// secretKey is the WECOMFLOW_SECRET_KEY every instance shares: 32 bytes, base64.
var secretKey = base64.StdEncoding.EncodeToString([]byte("wecomflow-cluster-harness-key-32"))

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// built is the wecomflow binary of this run, made by the first test that starts an instance.
var built struct {
	once      sync.Once
	path, dir string
	err       error
}

// wecomflowBinary is the binary every instance runs: envBinary's, or the release build of this
// checkout (the Dockerfile's flags), built once per run. Built on first use, not in TestMain, so
// that a run whose tests all skip builds nothing.
func wecomflowBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if bin := os.Getenv(envBinary); bin != "" {
			fmt.Fprintf(os.Stderr, "cluster: using %s (%s)\n", bin, envBinary)
			built.path = bin
			return
		}
		if built.dir, built.err = os.MkdirTemp("", "wecomflow-cluster-bin-"); built.err != nil {
			return
		}
		bin := filepath.Join(built.dir, "wecomflow")
		start := time.Now()
		build := exec.Command("go", "build", "-trimpath", "-tags", "nomsgpack", "-ldflags", "-s -w", "-o", bin, ".")
		build.Dir = ".." // the module root: the tests run in cluster/
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("CGO_ENABLED=0 %s failed: %v\n%s", strings.Join(build.Args, " "), err, out)
			return
		}
		fmt.Fprintf(os.Stderr, "cluster: built %s in %s\n", bin, time.Since(start).Round(time.Millisecond))
		built.path = bin
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// clusterOptions shape a cluster.
type clusterOptions struct {
	instances int
	// members is how many members ("m00000"…) the simulated corp gets besides the 20 demo ones;
	// each is bound to a local user "u-m00000"….
	members int
	// cpu, when set, caps each instance at that many cores (a CPU cgroup of its own), as if each
	// ran on a small machine of its own: see cpuLimiter.
	cpu float64
	// sqlite runs the one instance on a SQLite file of its own instead of a MariaDB database.
	sqlite bool
	// args are more flags for every instance's `serve`.
	args []string
}

// cluster is N wecomflow processes on one database, the simulator they call, and the harness's
// round-robin client.
type cluster struct {
	t         *testing.T
	bin       string  // the wecomflow binary
	dsn       string  // mysql://… or sqlite://… of the cluster's database
	db        *sql.DB // the MariaDB database; nil on SQLite
	args      []string
	sim       *wecomtest.Server
	demo      wecomtest.Demo
	simURL    string
	logDir    string
	publicURL string
	members   []string // the extra members' WeCom userids
	instances []*instance
	cpu       *cpuLimiter
	client    *http.Client
	rr        atomic.Uint64
	started   time.Time
}

// instance is one wecomflow process, restartable on its address.
type instance struct {
	n       int
	addr    string
	base    string
	dir     string
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	starts int

	// alive is true while the process runs and the harness routes to it; gen counts kills, so a
	// request can tell that its instance was killed while it was in flight.
	alive atomic.Bool
	gen   atomic.Int64

	statsMu    sync.Mutex
	byStatus   map[int]int
	broken     int      // requests that failed because this instance was killed under them
	unexpected []string // 5xx answers, and failed connections while the instance was up
}

// newCluster creates the database and the simulated corp, and starts the instances: the first
// alone (it migrates and stores the admin token), then the others together.
func newCluster(t *testing.T, o clusterOptions) *cluster {
	t.Helper()
	c := &cluster{t: t, started: time.Now(), publicURL: "https://wecomflow.cluster.example", args: o.args}
	if o.sqlite {
		// SQLite is one process's database: an instance of its own.
		if o.instances != 1 {
			t.Fatalf("SQLite takes 1 instance, not %d", o.instances)
		}
		c.dsn = "sqlite://" + filepath.Join(t.TempDir(), "wecomflow.db")
	} else {
		base := os.Getenv(envDSN)
		if base == "" {
			t.Skip("cluster tests need a MariaDB/MySQL server: set " + envDSN + "=mysql://root:@tcp(127.0.0.1:3306)/test?parseTime=true")
		}
		c.createDatabase(base)
	}
	c.bin = wecomflowBinary(t)

	c.sim = wecomtest.New(wecomtest.Options{})
	c.demo = wecomtest.SeedDemo(c.sim)
	// Enough seats that the day's quota (seats × 200 person-sends) is never what a run measures.
	c.sim.AddCorp(wecomtest.Corp{ID: c.demo.CorpID, Name: c.demo.CorpName, Seats: 10000})
	for i := 0; i < o.members; i++ {
		id := fmt.Sprintf("m%05d", i)
		c.members = append(c.members, id)
		c.sim.AddUser(c.demo.CorpID, wecomtest.User{UserID: id, Name: id, Departments: []int{1}, Status: 1})
	}
	simSrv := httptest.NewUnstartedServer(c.sim)
	simSrv.Config.ErrorLog = nil
	simSrv.Start()
	c.simURL = simSrv.URL
	t.Cleanup(simSrv.Close)

	c.logDir = t.TempDir()
	if keep := os.Getenv(envLogs); keep != "" {
		c.logDir = filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_")+"-"+time.Now().Format("150405"))
		if err := os.MkdirAll(c.logDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if o.cpu > 0 {
		c.cpu = newCPULimiter(t, o.cpu)
	}
	c.client = &http.Client{Timeout: 90 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 256, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}}
	for i := 0; i < o.instances; i++ {
		in := &instance{n: i, addr: freeAddr(t), dir: t.TempDir(), byStatus: map[int]int{}}
		in.base = "http://" + in.addr
		in.logPath = filepath.Join(c.logDir, fmt.Sprintf("instance-%d.log", i))
		c.instances = append(c.instances, in)
	}
	// Cleanups run last-in first-out: stop the processes, then show the logs, then drop the database.
	t.Cleanup(c.showLogsOnFailure)
	t.Cleanup(c.stopAll)
	if err := c.start(c.instances[0]); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(c.instances))
	for _, in := range c.instances[1:] {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- c.start(in) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("cluster: %d instances on %s, simulator %s, logs in %s", len(c.instances), redact(c.dsn), c.simURL, c.logDir)
	return c
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// createDatabase makes wecomflow_cluster_<random> on the server of base and drops it at cleanup.
func (c *cluster) createDatabase(base string) {
	t := c.t
	mc, err := mysqldriver.ParseDSN(strings.TrimPrefix(base, "mysql://"))
	if err != nil {
		t.Fatalf("%s: %v", envDSN, err)
	}
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	name := "wecomflow_cluster_" + hex.EncodeToString(b)
	admin := *mc
	admin.DBName = ""
	adb, err := sql.Open("mysql", admin.FormatDSN())
	if err != nil {
		t.Fatalf("mysql: %v", err)
	}
	if _, err := adb.Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		adb.Close()
		t.Fatalf("mysql: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := adb.Exec("DROP DATABASE IF EXISTS `" + name + "`"); err != nil {
			t.Errorf("mysql: drop database %s: %v", name, err)
		}
		adb.Close()
	})
	mc.DBName = name
	mc.ParseTime = true
	c.dsn = "mysql://" + mc.FormatDSN()
	// The harness reads the database only to find the scheduler leader, which it kills.
	c.db, err = sql.Open("mysql", mc.FormatDSN())
	if err != nil {
		t.Fatalf("mysql: %v", err)
	}
	c.db.SetMaxOpenConns(2)
	t.Cleanup(func() { c.db.Close() })
}

func redact(dsn string) string {
	if i := strings.Index(dsn, "@"); i > 0 {
		if j := strings.Index(dsn, "://"); j >= 0 && j < i {
			return dsn[:j+3] + "…" + dsn[i:]
		}
	}
	return dsn
}

// start runs the instance's process and waits until /readyz answers 200.
func (c *cluster) start(in *instance) error {
	f, err := os.OpenFile(in.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	in.mu.Lock()
	in.starts++
	fmt.Fprintf(f, "=== harness: start #%d of instance %d on %s at %s\n", in.starts, in.n, in.addr, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(c.bin, append([]string{"serve", "-addr", in.addr, "-db", c.dsn, "-public-url", c.publicURL,
		"-wecom-api-base", c.simURL, "-log-format", "json", "-shutdown-grace", "10s"}, c.args...)...)
	cmd.Dir = in.dir
	cmd.Env = append(envWithout("WECOMFLOW_"), "WECOMFLOW_SECRET_KEY="+secretKey, "WECOMFLOW_ADMIN_TOKEN="+adminToken)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		in.mu.Unlock()
		f.Close()
		return fmt.Errorf("instance %d: start: %w", in.n, err)
	}
	if c.cpu != nil {
		if err := c.cpu.limit(in.n, cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			in.mu.Unlock()
			f.Close()
			return fmt.Errorf("instance %d: %w", in.n, err)
		}
	}
	exited := make(chan struct{})
	in.cmd, in.exited = cmd, exited
	in.mu.Unlock()
	go func() { _ = cmd.Wait(); f.Close(); close(exited) }()

	deadline := time.Now().Add(90 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, in.base+"/readyz", nil)
		if res, err := c.client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				in.alive.Store(true)
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("instance %d exited before it was ready: %s (log %s)", in.n, cmd.ProcessState, in.logPath)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("instance %d not ready within 90 s (log %s)", in.n, in.logPath)
		}
	}
}

func envWithout(prefix string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			out = append(out, kv)
		}
	}
	return out
}

// kill SIGKILLs the instance: no shutdown, no resignation, its leases and connections just die.
func (c *cluster) kill(in *instance) {
	in.mu.Lock()
	cmd, exited := in.cmd, in.exited
	in.mu.Unlock()
	in.alive.Store(false)
	in.gen.Add(1)
	if err := cmd.Process.Kill(); err != nil {
		c.t.Errorf("instance %d: kill: %v", in.n, err)
	}
	<-exited
	// Connections kept alive to the dead process are useless now.
	c.client.Transport.(*http.Transport).CloseIdleConnections()
}

// stop shuts the instance down gracefully, as a rolling upgrade does: the load balancer stops
// sending it new requests first, then it gets SIGTERM and finishes what it has in flight. A
// request that breaks meanwhile is unexpected (gen is not advanced).
func (c *cluster) stop(in *instance) error {
	in.mu.Lock()
	cmd, exited := in.cmd, in.exited
	in.mu.Unlock()
	in.alive.Store(false)
	time.Sleep(200 * time.Millisecond) // requests already routed to it arrive
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("instance %d: SIGTERM: %w", in.n, err)
	}
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		return fmt.Errorf("instance %d did not stop within 60 s of SIGTERM", in.n)
	}
	if !cmd.ProcessState.Success() {
		return fmt.Errorf("instance %d stopped with %s after SIGTERM (log %s)", in.n, cmd.ProcessState, in.logPath)
	}
	return nil
}

// stopAll asks every running instance to shut down (SIGTERM) and kills what is still running
// after 30 s.
func (c *cluster) stopAll() {
	var wg sync.WaitGroup
	for _, in := range c.instances {
		in.mu.Lock()
		cmd, exited := in.cmd, in.exited
		in.mu.Unlock()
		if cmd == nil {
			continue
		}
		in.alive.Store(false)
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-exited:
				return
			default:
			}
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				c.t.Errorf("instance %d did not stop within 30 s of SIGTERM; killing it", in.n)
				_ = cmd.Process.Kill()
				<-exited
			}
		}()
	}
	wg.Wait()
}

// showLogsOnFailure prints where the logs are and, for each instance, its last warnings and errors
// and its last lines.
func (c *cluster) showLogsOnFailure() {
	if !c.t.Failed() {
		return
	}
	for _, in := range c.instances {
		c.t.Logf("---- instance %d, log %s\nlast warnings and errors:\n%s\nlast lines:\n%s", in.n, in.logPath,
			lastLines(in.logPath, 15, func(l string) bool {
				return strings.Contains(l, `"level":"WARN"`) || strings.Contains(l, `"level":"ERROR"`) || strings.HasPrefix(l, "=== harness")
			}),
			lastLines(in.logPath, 10, func(string) bool { return true }))
	}
}

// lastLines returns the last n lines of a file that keep holds.
func lastLines(path string, n int, keep func(string) bool) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := sc.Text(); keep(l) {
			lines = append(lines, truncate(l, 400))
			if len(lines) > n {
				lines = lines[1:]
			}
		}
	}
	return strings.Join(lines, "\n")
}

// logProblems counts the instances' WARN and ERROR log lines by level, message and error (with
// the error's first words), for the summary: what went wrong inside, even when nothing broke.
func (c *cluster) logProblems() map[string]int {
	out := map[string]int{}
	for _, in := range c.instances {
		f, err := os.Open(in.logPath)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var l struct {
				Level string `json:"level"`
				Msg   string `json:"msg"`
				Err   string `json:"err"`
				Error string `json:"error"`
			}
			if json.Unmarshal(sc.Bytes(), &l) != nil || (l.Level != "WARN" && l.Level != "ERROR") {
				continue
			}
			key := l.Level + " " + l.Msg
			if e := l.Err + l.Error; e != "" {
				key += ": " + truncate(e, 90)
			}
			out[key]++
		}
		f.Close()
	}
	return out
}

// pick is the next live instance, round-robin.
func (c *cluster) pick() *instance {
	for i := 0; i < 4*len(c.instances); i++ {
		in := c.instances[c.rr.Add(1)%uint64(len(c.instances))]
		if in.alive.Load() {
			return in
		}
		if i >= len(c.instances) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Nothing is alive (between a kill and a restart of the only instance): try one anyway.
	return c.instances[c.rr.Add(1)%uint64(len(c.instances))]
}

// errBroken is a request that failed because its instance was killed under it.
var errBroken = errors.New("the instance was killed while the request was in flight")

// do sends one request to one instance and books the answer in the instance's statistics.
// A failed connection to an instance that was killed meanwhile returns errBroken; one to a live
// instance is unexpected and recorded as such.
func (c *cluster) do(in *instance, method, path string, body []byte, header http.Header) (int, []byte, error) {
	gen, wasAlive := in.gen.Load(), in.alive.Load()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, in.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if req.Header.Get("Authorization") == "" && strings.HasPrefix(path, "/api/") {
		req.Header.Set("Authorization", "Bearer "+adminToken)
	}
	if body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.client.Do(req)
	var data []byte
	if err == nil {
		data, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	in.statsMu.Lock()
	defer in.statsMu.Unlock()
	if err != nil {
		if !wasAlive || in.gen.Load() != gen {
			in.broken++
			return 0, nil, fmt.Errorf("%s %s on instance %d: %w (%v)", method, path, in.n, errBroken, err)
		}
		in.unexpected = append(in.unexpected, fmt.Sprintf("%s %s: %v", method, path, err))
		return 0, nil, fmt.Errorf("%s %s on instance %d: %w", method, path, in.n, err)
	}
	in.byStatus[res.StatusCode]++
	if res.StatusCode >= 500 {
		in.unexpected = append(in.unexpected, fmt.Sprintf("%s %s: %d %s", method, path, res.StatusCode, truncate(string(data), 300)))
	}
	return res.StatusCode, data, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// request sends to the next live instance; when the instance was killed under it and retry is
// set, it tries the next one, as a client behind a load balancer would (for requests that are
// safe to repeat). It gives up after two minutes.
func (c *cluster) request(method, path string, body []byte, header http.Header, retry bool) (int, []byte, *instance, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		in := c.pick()
		status, data, err := c.do(in, method, path, body, header)
		if err == nil || !retry || !errors.Is(err, errBroken) || time.Now().After(deadline) {
			return status, data, in, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// api sends a JSON API request (retried on a killed instance) and decodes {"data": …}.
func (c *cluster) api(method, path string, body any) (int, json.RawMessage, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return 0, nil, err
		}
	}
	status, data, _, err := c.request(method, path, raw, nil, true)
	if err != nil {
		return 0, nil, err
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	_ = json.Unmarshal(data, &env)
	if env.Data == nil {
		env.Data = data
	}
	return status, env.Data, nil
}

// must is api for the test goroutine: any other status fails the test.
func (c *cluster) must(want int, method, path string, body any) json.RawMessage {
	c.t.Helper()
	status, data, err := c.api(method, path, body)
	if err != nil || status != want {
		c.t.Fatalf("%s %s: %d (want %d) %v %s", method, path, status, want, err, truncate(string(data), 500))
	}
	return data
}

// total is the "total" of a list request.
func (c *cluster) total(path string) (int, error) {
	status, data, _, err := c.request(http.MethodGet, path, nil, nil, true)
	if err != nil {
		return 0, err
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %d %s", path, status, truncate(string(data), 300))
	}
	var l struct {
		Total int `json:"total"`
	}
	if err := json.Unmarshal(data, &l); err != nil {
		return 0, fmt.Errorf("GET %s: %w", path, err)
	}
	return l.Total, nil
}

// list reads every page of a list route (pageSize 200) into out's element type.
func list[T any](c *cluster, path string) ([]T, error) {
	var all []T
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	for page := 1; ; page++ {
		status, data, _, err := c.request(http.MethodGet, fmt.Sprintf("%s%spage=%d&pageSize=200", path, sep, page), nil, nil, true)
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %d %s", path, status, truncate(string(data), 300))
		}
		var l struct {
			Data  []T `json:"data"`
			Total int `json:"total"`
		}
		if err := json.Unmarshal(data, &l); err != nil {
			return nil, fmt.Errorf("GET %s: %w", path, err)
		}
		all = append(all, l.Data...)
		if len(l.Data) == 0 || len(all) >= l.Total {
			return all, nil
		}
	}
}

// setUp creates what a new admin would: the authenticator (with the app's callback credentials,
// on the simulator), the channel and a local user bound to every member.
func (c *cluster) setUp() {
	c.t.Helper()
	c.must(http.StatusCreated, http.MethodPost, "/api/v1/authenticators", map[string]any{
		"name": authName, "title": "Acme (simulated)", "options": map[string]any{
			"corpId": c.demo.CorpID, "agentId": c.demo.AgentID, "secret": c.demo.Secret, "apiBaseUrl": c.simURL,
			"callback": map[string]any{"token": callbackToken, "encodingAesKey": callbackAESKey}}})
	c.must(http.StatusCreated, http.MethodPost, "/api/v1/channels", map[string]any{"name": channelName, "title": "Ops", "authenticatorId": 1})
	var rows []map[string]any
	for _, u := range append(append([]string(nil), c.demo.UserIDs...), c.members...) {
		rows = append(rows, map[string]any{"userid": "u-" + u, "set": map[string]any{"wechatwk": u, "name": u}})
	}
	var res struct {
		Created int   `json:"created"`
		Failed  []any `json:"failed"`
	}
	_ = json.Unmarshal(c.must(http.StatusOK, http.MethodPost, "/api/v1/users/bulk", rows), &res)
	if res.Created != len(rows) || len(res.Failed) > 0 {
		c.t.Fatalf("bulk users: created %d of %d, failed %v", res.Created, len(rows), res.Failed)
	}
}

// caller posts callbacks to the app's URL on one instance, as WeCom does.
func (c *cluster) caller(in *instance, client *http.Client) *wecomtest.CallbackCaller {
	return &wecomtest.CallbackCaller{URL: in.base + "/callback/wecom/" + authName, Token: callbackToken,
		EncodingAESKey: callbackAESKey, CorpID: c.demo.CorpID, Client: client}
}

// postCallback posts plainXML to the callback URL of live instances until one answers, as WeCom
// retries a callback that got no answer (a retry is the same plaintext, encrypted anew). It
// returns how many posts it made and the final status.
func (c *cluster) postCallback(plainXML string) (posts, status int, err error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		in := c.pick()
		gen, wasAlive := in.gen.Load(), in.alive.Load()
		posts++
		st, body, err := c.caller(in, c.client).Post(context.Background(), plainXML)
		in.statsMu.Lock()
		switch {
		case err != nil && (!wasAlive || in.gen.Load() != gen):
			in.broken++
		case err != nil:
			in.unexpected = append(in.unexpected, fmt.Sprintf("POST /callback/wecom/%s: %v", authName, err))
		default:
			in.byStatus[st]++
			if st >= 500 {
				in.unexpected = append(in.unexpected, fmt.Sprintf("POST /callback/wecom/%s: %d %s", authName, st, truncate(body, 300)))
			}
		}
		in.statsMu.Unlock()
		if err == nil {
			return posts, st, nil
		}
		if time.Now().After(deadline) {
			return posts, 0, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkHTTP reports every instance's answers and fails on any unexpected one: a 5xx, or a failed
// connection to an instance the harness had not killed.
func (c *cluster) checkHTTP() {
	c.t.Helper()
	for _, in := range c.instances {
		in.statsMu.Lock()
		codes := make([]int, 0, len(in.byStatus))
		total := 0
		for code, n := range in.byStatus {
			codes = append(codes, code)
			total += n
		}
		sort.Ints(codes)
		var parts []string
		for _, code := range codes {
			parts = append(parts, fmt.Sprintf("%d×%d", code, in.byStatus[code]))
		}
		c.t.Logf("instance %d: %d answers (%s), %d connections broken by its kill, %d starts", in.n, total,
			strings.Join(parts, " "), in.broken, in.starts)
		if len(in.unexpected) > 0 {
			c.t.Errorf("instance %d: %d unexpected answers, first: %s", in.n, len(in.unexpected),
				strings.Join(in.unexpected[:min(5, len(in.unexpected))], " | "))
		}
		in.statsMu.Unlock()
	}
	for k, n := range c.logProblems() {
		c.t.Logf("instances logged %d× %s", n, k)
	}
	// The instances' own count of what they answered (the killed one's since its restart).
	for _, in := range c.instances {
		if !in.alive.Load() {
			continue
		}
		n, err := c.metric5xx(in)
		if err != nil {
			c.t.Errorf("instance %d: /metrics: %v", in.n, err)
		} else if n > 0 {
			c.t.Errorf("instance %d: /metrics counts %d 5xx answers", in.n, n)
		}
	}
}

// metric5xx sums wecomflow_http_requests_total over 5xx statuses.
func (c *cluster) metric5xx(in *instance) (int, error) {
	status, data, err := c.do(in, http.MethodGet, "/metrics", nil, nil)
	if err != nil {
		return 0, err
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("status %d", status)
	}
	n := 0
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "wecomflow_http_requests_total{") && strings.Contains(l, `status="5`) {
			f := strings.Fields(l)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			n += int(v)
		}
	}
	return n, nil
}

// leader is the instance that holds the scheduler role now, or nil. The owner is
// "host/pid/suffix"; the harness matches the pid.
func (c *cluster) leader() *instance {
	var owner string
	err := c.db.QueryRow("SELECT owner FROM leaders WHERE name = 'scheduler' AND expires_at > UTC_TIMESTAMP(6)").Scan(&owner)
	if err != nil {
		return nil
	}
	parts := strings.Split(owner, "/")
	if len(parts) < 2 {
		return nil
	}
	pid, _ := strconv.Atoi(parts[len(parts)-2])
	for _, in := range c.instances {
		in.mu.Lock()
		match := in.cmd != nil && in.cmd.Process != nil && in.cmd.Process.Pid == pid
		in.mu.Unlock()
		if match && in.alive.Load() {
			return in
		}
	}
	return nil
}

// postConcurrently posts every body to path from `clients` goroutines at once, each taking the
// next body as soon as its previous answer is in, as a pool of API clients does; check sees each
// answer (from any goroutine). It returns how long each post took, by body.
func (c *cluster) postConcurrently(clients int, path string, header http.Header, bodies [][]byte,
	check func(i, status int, data []byte, err error)) []time.Duration {
	took := make([]time.Duration, len(bodies))
	paced(len(bodies), math.Inf(1), clients, func(i int) {
		start := time.Now()
		status, data, _, err := c.request(http.MethodPost, path, bodies[i], header, false)
		took[i] = time.Since(start)
		check(i, status, data, err)
	})
	return took
}

// percentile is the p-quantile (0 ≤ p ≤ 1) of sorted durations, nearest rank; 0 when there are none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// waitFor polls cond every interval until it returns true or the deadline passes; it returns the
// last error cond gave.
func waitFor(timeout, interval time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			if last == nil {
				last = errors.New("condition not met")
			}
			return fmt.Errorf("after %s: %w", timeout, last)
		}
		time.Sleep(interval)
	}
}

// message is a message as the send log lists it.
type message struct {
	ID          string  `json:"id"`
	Status      string  `json:"status"`
	TriggerFrom string  `json:"triggerFrom"`
	ExecutionID *string `json:"executionId"`
	Attempts    int     `json:"attempts"`
	Reason      string  `json:"reason"`
	Requests    []struct {
		ToUser   string `json:"touser"`
		Status   string `json:"status"`
		ErrCode  int    `json:"errcode"`
		Attempts int    `json:"attempts"`
		Reason   string `json:"reason"`
	} `json:"requests"`
}

// execution is an execution as the API shows it.
type execution struct {
	ID        string          `json:"id"`
	Status    string          `json:"status"`
	Trigger   string          `json:"trigger"`
	Error     string          `json:"error"`
	Context   json.RawMessage `json:"context"`
	CreatedAt time.Time       `json:"createdAt"`
	Jobs      []struct {
		NodeKey string          `json:"nodeKey"`
		Status  string          `json:"status"`
		Result  json.RawMessage `json:"result"`
		Error   string          `json:"error"`
	} `json:"jobs"`
}

// callbackEvent is a stored callback as the event log lists it.
type callbackEvent struct {
	ID         uint64          `json:"id"`
	MsgType    string          `json:"msgType"`
	Event      string          `json:"event"`
	Payload    json.RawMessage `json:"payload"`
	Status     string          `json:"status"`
	Deliveries int             `json:"deliveries"`
	Error      string          `json:"error"`
}

// unfinishedMessages counts messages that are not final yet.
func (c *cluster) unfinishedMessages() (int, error) {
	n := 0
	for _, st := range []string{"queued", "sending", "retrying"} {
		k, err := c.total("/api/v1/messages?pageSize=1&status=" + st)
		if err != nil {
			return 0, err
		}
		n += k
	}
	return n, nil
}

// unfinishedExecutions counts a workflow's executions that are not final yet.
func (c *cluster) unfinishedExecutions(workflowID uint64) (int, error) {
	n := 0
	for _, st := range []string{"queued", "running", "waiting"} {
		k, err := c.total(fmt.Sprintf("/api/v1/executions?pageSize=1&workflowId=%d&status=%s", workflowID, st))
		if err != nil {
			return 0, err
		}
		n += k
	}
	return n, nil
}

// hook calls a workflow's webhook, signed with a timestamp (SPEC §10.1), on the next live
// instance; a call that broke with its instance is repeated on another with the same headers, and
// the same signature again answers with the first execution instead of starting a second.
func (c *cluster) hook(key string, data any) (status int, executionID string, err error) {
	body, _ := json.Marshal(data)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	h := http.Header{"X-Wecomflow-Timestamp": {ts}, "X-Wecomflow-Signature": {"sha256=" + hmacHex(append([]byte(ts+"."), body...), hookSecret)}}
	status, res, _, err := c.request(http.MethodPost, "/hooks/"+url.PathEscape(key), body, h, true)
	if err != nil {
		return 0, "", err
	}
	var env struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(res, &env)
	return status, env.Data.ID, nil
}
