//go:build cluster

package cluster

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// soakFaults are the retryable failures WeCom answers a fifth of the sends with, drawn with equal
// chance. Some of the connection-level ones happen after WeCom delivered the message (the answer
// is lost): the sender cannot tell them from "not sent", resends, and only WeCom's duplicate check
// keeps the member from seeing it twice. 45009 is rarer (1% of the sends): it holds its request
// back a minute, and 4 and 16 minutes when it answers twice and three times in a row, which sets
// how long the soak lasts.
var soakFaults = []wecomtest.Fault{
	{ErrCode: -1}, {ErrCode: -1}, {ErrCode: -1}, {ErrCode: -1},
	{ErrCode: 45033}, {ErrCode: 45033}, {ErrCode: 45033}, {ErrCode: 45033},
	{ErrCode: 45009},
	{HTTPStatus: http.StatusBadGateway}, {HTTPStatus: http.StatusBadGateway},
	{HTTPStatus: http.StatusServiceUnavailable, AfterProcessing: true}, {HTTPStatus: http.StatusInternalServerError, AfterProcessing: true},
	{Latency: 11 * time.Second}, {Latency: 11 * time.Second}, // beyond the sender's 10 s timeout
	{Latency: 11 * time.Second, AfterProcessing: true}, {Latency: 11 * time.Second, AfterProcessing: true}, // delivered, the answer times out
	{Reset: true}, {Reset: true, AfterProcessing: true}, {Reset: true, AfterProcessing: true}, // the connection is reset, before or after delivery
}

var gaveUpRe = regexp.MustCompile(`Gave up after (\d+) attempts\.$`)

// TestClusterFaultSoak: 3 instances send a few thousand messages while WeCom fails 20% of the
// sends retryably and invalidates the app's tokens every few seconds. Nothing may be lost or
// duplicated, attempts stay within the retry policy, and every failure says why in a sentence.
func TestClusterFaultSoak(t *testing.T) {
	const instances, messages, rate = 3, 3000, 100.0
	c := newCluster(t, clusterOptions{instances: instances, members: 2000})
	c.setUp()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	id := fmt.Sprintf("%06x", rng.IntN(1<<24))
	marker := func(i int) string { return fmt.Sprintf("[%s-m%d]", id, i) }
	recipients := make([][]string, messages)
	for i := range recipients {
		n := 1
		if rng.IntN(4) == 0 {
			n = 2 + rng.IntN(3)
		}
		seen := map[string]bool{}
		for len(recipients[i]) < n {
			if u := c.members[rng.IntN(len(c.members))]; !seen[u] {
				seen[u] = true
				recipients[i] = append(recipients[i], u)
			}
		}
	}
	c.sim.FailRate("message/send", 0.2, soakFaults...)
	tokensBefore := c.sim.Calls("gettoken")
	start := time.Now()

	// WeCom invalidates the tokens every 10 s until every message is final.
	var invalidations atomic.Int64
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		tk := time.NewTicker(10 * time.Second)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				c.sim.InvalidateTokens(c.demo.CorpID)
				invalidations.Add(1)
			}
		}
	}()

	ids := make([]string, messages)
	var failures atomic.Int64
	paced(messages, rate, 16, func(i int) {
		users := make([]any, len(recipients[i]))
		for j, u := range recipients[i] {
			users[j] = "u-" + u
		}
		status, data, err := c.api(http.MethodPost, "/api/v1/messages", map[string]any{
			"channel": channelName, "idempotencyKey": fmt.Sprintf("%s-%d", id, i), "to": map[string]any{"users": users},
			"msgtype": "text", "text": map[string]any{"content": "Soak message " + marker(i)}})
		var m message
		if err != nil || status != http.StatusAccepted || json.Unmarshal(data, &m) != nil {
			if failures.Add(1) <= 10 {
				t.Errorf("message %d: %d %v %s", i, status, err, truncate(string(data), 300))
			}
			return
		}
		ids[i] = m.ID
	})
	t.Logf("%d messages accepted in %s", messages-int(failures.Load()), time.Since(start).Round(time.Millisecond))

	err := waitFor(30*time.Minute, 2*time.Second, func() (bool, error) {
		n, err := c.unfinishedMessages()
		return err == nil && n == 0, fmt.Errorf("%d messages not final (%v)", n, err)
	})
	close(stop)
	bg.Wait()
	settled := time.Since(start)
	if err != nil {
		t.Fatalf("the messages did not all become final: %v", err)
	}
	c.sim.FailRate("message/send", 0)

	// Every message, as the API shows it with its WeCom requests.
	views := make([]message, messages)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				status, data, err := c.api(http.MethodGet, "/api/v1/messages/"+ids[i], nil)
				if err != nil || status != http.StatusOK || json.Unmarshal(data, &views[i]) != nil {
					t.Errorf("message %d (%s): %d %v", i, ids[i], status, err)
				}
			}
		}()
	}
	for i := range ids {
		if ids[i] != "" {
			next <- i
		}
	}
	close(next)
	wg.Wait()

	got := map[string]map[string]int{}
	for user, ds := range c.sim.Inboxes(c.demo.CorpID) {
		for _, d := range ds {
			for _, m := range markerRe.FindAllString(string(d.Body), -1) {
				if got[m] == nil {
					got[m] = map[string]int{}
				}
				got[m][user]++
			}
		}
	}

	statuses := map[string]int{}
	attempts := map[int]int{} // requests by attempts
	reasons := map[string]int{}
	requests, maxAttempts, lost, duplicated, problems := 0, 0, 0, 0, 0
	problem := func(format string, args ...any) {
		problems++
		if problems <= 20 {
			t.Errorf(format, args...)
		}
	}
	for i, m := range views {
		if m.ID == "" {
			continue
		}
		statuses[m.Status]++
		switch m.Status {
		case "sent", "partial", "failed":
		default:
			problem("message %d (%s) ended %s", i, m.ID, m.Status)
		}
		delivered := map[string]bool{} // members of requests WeCom accepted
		for _, r := range m.Requests {
			requests++
			attempts[r.Attempts]++
			maxAttempts = max(maxAttempts, r.Attempts)
			if r.Attempts < 1 || r.Attempts > 6 {
				problem("message %d: a request made %d attempts; the policy allows 1–6", i, r.Attempts)
			}
			switch r.Status {
			case "sent":
				for _, u := range strings.Split(r.ToUser, "|") {
					delivered[u] = true
				}
			case "failed":
				reasons[reasonKind(r.Reason)]++
				checkReason(problem, i, r.ErrCode, r.Attempts, r.Reason)
			default:
				problem("message %d: a request ended %s", i, r.Status)
			}
		}
		if m.Status != "sent" && !readable(m.Reason) {
			problem("message %d (%s): reason %q is not a readable sentence", i, m.Status, m.Reason)
		}
		for _, u := range recipients[i] {
			n := got[marker(i)][u]
			switch {
			case delivered[u] && n == 0:
				lost++
				problem("message %d: WeCom accepted it for %s, who never received it", i, u)
			case n > 1:
				duplicated++
				problem("message %d reached %s %d times", i, u, n)
			}
		}
	}
	var hist []string
	var keys []int
	for k := range attempts {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	for _, k := range keys {
		hist = append(hist, fmt.Sprintf("%d attempt(s): %d", k, attempts[k]))
	}
	tokens := c.sim.Calls("gettoken") - tokensBefore
	t.Logf("fault soak: %d messages (%d requests) final after %s: %v; lost %d, duplicated %d; requests by attempts: %s (max %d); failures by reason: %v",
		messages, requests, settled.Round(time.Second), statuses, lost, duplicated, strings.Join(hist, ", "), maxAttempts, reasons)
	t.Logf("WeCom: %d message/send calls, %d duplicate resends dropped by its duplicate check; gettoken %d calls for %d invalidations",
		c.sim.Calls("message/send"), c.sim.DuplicatesDropped(), tokens, invalidations.Load())
	if limit := 1 + int(invalidations.Load()); tokens > limit {
		t.Errorf("gettoken called %d times; at most %d allowed (one per token lifetime plus one per invalidation)", tokens, limit)
	}
	if d := c.sim.TotalDrops(); d != 0 {
		t.Errorf("WeCom silently dropped %d deliveries over its per-member limit", d)
	}
	checkGiveUps(t, c, id)
	c.checkHTTP()
}

// checkGiveUps makes three messages fail every attempt without a WeCom answer — HTTP 502, a reset
// connection, a timeout, in turn — and checks that each gives up after the policy's 6 attempts
// with a reason that says what happened, and that nobody received them.
func checkGiveUps(t *testing.T, c *cluster, id string) {
	var script []wecomtest.Fault
	for i := 0; i < 6; i++ {
		script = append(script, wecomtest.Fault{HTTPStatus: http.StatusBadGateway}, wecomtest.Fault{Reset: true},
			wecomtest.Fault{Latency: 11 * time.Second})
	}
	c.sim.Script("message/send", script...)
	var ids []string
	for i := 0; i < 3; i++ {
		var m message
		data := c.must(http.StatusAccepted, http.MethodPost, "/api/v1/messages", map[string]any{"channel": channelName,
			"to": map[string]any{"users": []any{"u-" + c.members[i]}}, "msgtype": "text",
			"text": map[string]any{"content": fmt.Sprintf("Soak give-up %s-%d", id, i)}})
		_ = json.Unmarshal(data, &m)
		ids = append(ids, m.ID)
	}
	problem := func(format string, args ...any) { t.Errorf(format, args...) }
	for i, mid := range ids {
		var m message
		err := waitFor(10*time.Minute, time.Second, func() (bool, error) {
			status, data, err := c.api(http.MethodGet, "/api/v1/messages/"+mid, nil)
			if err != nil || status != http.StatusOK {
				return false, fmt.Errorf("%d %v", status, err)
			}
			_ = json.Unmarshal(data, &m)
			return m.Status == "failed", fmt.Errorf("status %s", m.Status)
		})
		if err != nil || len(m.Requests) != 1 {
			t.Errorf("give-up message %d: %v (%d requests)", i, err, len(m.Requests))
			continue
		}
		r := m.Requests[0]
		checkReason(problem, i, r.ErrCode, r.Attempts, r.Reason)
		for _, d := range c.sim.Inbox(c.demo.CorpID, c.members[i]) {
			if strings.Contains(string(d.Body), fmt.Sprintf("give-up %s-%d", id, i)) {
				t.Errorf("give-up message %d reached %s although WeCom never took it", i, c.members[i])
			}
		}
		t.Logf("gave up: %q", r.Reason)
	}
}

// checkReason: a request that failed after retries says what WeCom answered — its errcode when it
// had one — and after how many attempts it gave up, which must be within the policy.
func checkReason(problem func(string, ...any), i, errcode, attempts int, reason string) {
	if !readable(reason) {
		problem("message %d: reason %q is not a readable sentence", i, reason)
		return
	}
	// A credential would show as a query parameter of a URL; WeCom's own errmsg may name one
	// ("invalid access_token"), which is no leak.
	if strings.Contains(reason, "access_token=") || strings.Contains(reason, "corpsecret=") {
		problem("message %d: reason leaks a credential: %q", i, reason)
	}
	m := gaveUpRe.FindStringSubmatch(reason)
	if m == nil || m[1] != fmt.Sprint(attempts) {
		problem("message %d: reason %q does not end with \"Gave up after %d attempts.\"", i, reason, attempts)
	}
	if errcode != 0 && !strings.Contains(reason, fmt.Sprintf("errcode %d ", errcode)) {
		problem("message %d: reason %q does not name errcode %d", i, reason, errcode)
	}
	switch {
	case errcode == -1 && attempts < 3:
		problem("message %d: gave up on -1 after %d attempts; the policy makes 3", i, attempts)
	case errcode != -1 && attempts != 6:
		problem("message %d: gave up after %d attempts (errcode %d); the policy makes 6", i, attempts, errcode)
	}
}

// readable is a sentence: it starts with a capital letter and ends with a full stop, and holds no
// Go formatting debris.
func readable(s string) bool {
	return s != "" && s[0] >= 'A' && s[0] <= 'Z' && strings.HasSuffix(s, ".") &&
		!strings.Contains(s, "%!") && !strings.Contains(s, "<nil>")
}

// reasonKind shortens a reason to its cause, for the summary.
func reasonKind(reason string) string {
	if i := strings.Index(reason, " ("); i > 0 && strings.HasPrefix(reason, "WeCom errcode") {
		return reason[:i]
	}
	if i := strings.Index(reason, ": wecom message/send: "); i > 0 {
		rest := reason[i+len(": wecom message/send: "):]
		if j := strings.IndexAny(rest, "(."); j > 0 {
			rest = rest[:j]
		}
		return "no answer: " + strings.TrimSpace(rest)
	}
	return gaveUpRe.ReplaceAllString(reason, "")
}
