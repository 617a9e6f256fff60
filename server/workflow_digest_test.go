package server

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models/storetest"
)

// digestWorkflow gathers webhook events by $context.data.group and texts the user one line per
// window: "<key> x<count>: <n>,<n>,…".
func digestWorkflow(key, user, window string, maxItems int) map[string]any {
	return map[string]any{"key": key, "title": key,
		"trigger": map[string]any{"type": "webhook", "config": map[string]any{"secret": hookSecret}},
		"nodes": []any{
			map[string]any{"key": "batch", "type": "digest", "config": map[string]any{"window": window,
				"key": "{{$context.data.group}}", "maxItems": maxItems}},
			map[string]any{"key": "tell", "type": "notification", "config": map[string]any{"channel": "ops", "msgtype": "text",
				"to": map[string]any{"users": []any{"local-" + user}},
				"text": map[string]any{"content": "[{{$jobs.batch.key}}] x{{$jobs.batch.count}}: " +
					"{{#each $jobs.batch.items}}{{n}}{{#unless @last}},{{/unless}}{{/each}}"}}},
		}}
}

// digestHook posts one event and waits until its execution stopped at the digest: waiting when it
// opened a window, resolved when it joined one (so events arrive in the order posted).
func (e *workflowEnv) digestHook(key, group string, n int) map[string]any {
	e.t.Helper()
	status, id := e.hook(key, map[string]any{"group": group, "n": n}, hookSecret)
	if status != 202 {
		e.t.Fatalf("webhook: %d", status)
	}
	return e.waitExecution(id, "waiting", "resolved")
}

// closeWindows moves the clock past the open windows and wakes the runner.
func (e *workflowEnv) closeWindows(d time.Duration) {
	e.clock.Advance(d)
	e.srv.Workflows().Wake()
}

// inboxTexts are the contents of the texts the member received, sorted.
func (e *workflowEnv) inboxTexts(user string, n int) []string {
	e.t.Helper()
	var out []string
	for _, d := range e.waitInbox(user, n) {
		_, content, _ := strings.Cut(string(d.Body), `"content":"`)
		content, _, _ = strings.Cut(content, `"`)
		out = append(out, content)
	}
	slices.Sort(out)
	return out
}

// Two keys, 5 + 2 events in one window: exactly two messages, each with its key's items in
// arrival order; the executions that joined end resolved, digested into the first.
func TestDigestGathersEventsByKeyIntoOneMessageEach(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	user := e.demo.UserIDs[0]
	e.must(201, "POST", "/api/v1/workflows", digestWorkflow("alerts", user, "5m", 50))
	first := map[string]string{}
	var joined []map[string]any
	for i, g := range []string{"a", "b", "a", "a", "b", "a", "a"} {
		x := e.digestHook("alerts", g, i+1)
		if first[g] == "" {
			if x["status"] != "waiting" || jobOf(x, "batch")["status"] != "pending" {
				t.Fatalf("the first %q event: %v", g, x)
			}
			first[g] = x["id"].(string)
			continue
		}
		res, _ := jobOf(x, "batch")["result"].(map[string]any)
		if x["status"] != "resolved" || res["digestedInto"] != first[g] || jobOf(x, "tell") != nil {
			t.Fatalf("event %d of %q: %v", i+1, g, x)
		}
		joined = append(joined, x)
	}
	if n := len(e.sim.Inbox(e.demo.CorpID, user)); n != 0 {
		t.Fatalf("%d messages before the window closed", n)
	}
	e.closeWindows(5 * time.Minute)
	a := e.waitExecution(first["a"], "resolved")
	e.waitExecution(first["b"], "resolved")
	res := jobOf(a, "batch")["result"].(map[string]any)
	if res["count"] != float64(5) || len(res["items"].([]any)) != 5 || res["items"].([]any)[1].(map[string]any)["n"] != float64(3) {
		t.Fatalf("the digest of a: %v", res)
	}
	want := []string{"[a] x5: 1,3,4,6,7", "[b] x2: 2,5"}
	if got := e.inboxTexts(user, 2); !slices.Equal(got, want) {
		t.Fatalf("messages %q, want %q", got, want)
	}
	if len(joined) != 5 {
		t.Fatalf("%d joined", len(joined))
	}
	// A window that closed is done: the next event of its key opens another.
	if x := e.digestHook("alerts", "a", 8); x["status"] != "waiting" {
		t.Fatalf("an event after the close: %v", x)
	}
}

// maxItems closes a window at once, without waiting for its time; the next event opens a new one.
// A key that renders empty is a key like any other.
func TestDigestMaxItemsClosesTheWindowAndEmptyIsAKey(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	user := e.demo.UserIDs[0]
	e.must(201, "POST", "/api/v1/workflows", digestWorkflow("capped", user, "1h", 3))
	opener := e.digestHook("capped", "", 1)["id"].(string)
	e.digestHook("capped", "x", 2)
	e.digestHook("capped", "", 3)
	if x := e.digestHook("capped", "", 4); x["status"] != "resolved" {
		t.Fatalf("the third item: %v", x)
	}
	e.waitExecution(opener, "resolved")
	if got := e.inboxTexts(user, 1); !slices.Equal(got, []string{"[] x3: 1,3,4"}) {
		t.Fatalf("messages %q", got)
	}
	next := e.digestHook("capped", "", 5)
	if next["status"] != "waiting" {
		t.Fatalf("the event after a full window: %v", next)
	}
	e.closeWindows(time.Hour)
	e.waitExecution(next["id"].(string), "resolved")
	want := []string{"[] x1: 5", "[] x3: 1,3,4", "[x] x1: 2"}
	if got := e.inboxTexts(user, 3); !slices.Equal(got, want) {
		t.Fatalf("messages %q, want %q", got, want)
	}
}

// Events of one key posted at once, from many clients, each land in exactly one window: 60 events
// with maxItems 25 make windows of 25, 25 and 10 holding every event once.
func TestDigestConcurrentEventsJoinExactlyOnce(t *testing.T) {
	t.Parallel()
	e := newWorkflowEnv(t, deliveryOptions{})
	user := e.demo.UserIDs[0]
	e.must(201, "POST", "/api/v1/workflows", digestWorkflow("burst", user, "10m", 25))
	const events = 60
	ids := make([]string, events)
	var wg sync.WaitGroup
	for i := range events {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, id := e.hook("burst", map[string]any{"group": "g", "n": i}, hookSecret)
			if status != 202 {
				t.Errorf("webhook: %d", status)
			}
			ids[i] = id
		}()
	}
	wg.Wait()
	openers := map[string]bool{}
	for _, id := range ids {
		x := e.waitExecution(id, "waiting", "resolved")
		if into, _ := jobOf(x, "batch")["result"].(map[string]any)["digestedInto"].(string); into != "" {
			openers[into] = true
		} else {
			openers[id] = true
		}
	}
	e.closeWindows(10 * time.Minute)
	var counts []int
	seen := map[float64]int{}
	for id := range openers {
		res := jobOf(e.waitExecution(id, "resolved"), "batch")["result"].(map[string]any)
		counts = append(counts, int(res["count"].(float64)))
		for _, it := range res["items"].([]any) {
			seen[it.(map[string]any)["n"].(float64)]++
		}
	}
	slices.Sort(counts)
	if !slices.Equal(counts, []int{10, 25, 25}) {
		t.Fatalf("window sizes %v, want [10 25 25]", counts)
	}
	for i := range events {
		if seen[float64(i)] != 1 {
			t.Fatalf("event %d is in %d windows", i, seen[float64(i)])
		}
	}
	e.waitInbox(user, 3)
}

// An engine killed while a window is open — as an execution joins it, or after the joins were
// written — or just after it closed the window, before the opener's step was written, loses no
// event and sends the digest once: after a restart the window gathers every event (one more
// arrives while it is open) and closes into one message.
func TestDigestSurvivesAnEngineKilledDuringAnOpenWindow(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		at, window string
		// events is how many the window holds in the end: a window that closed before the
		// crash takes no late event.
		events int
	}{{"node:batch", "1h", 4}, {"commit:1", "1h", 4}, {"commit:2", "1h", 4}, {"node:tell", "1s", 3}} {
		at := c.at
		t.Run(strings.ReplaceAll(at, ":", "_"), func(t *testing.T) {
			t.Parallel()
			dsn := storetest.DSN(t)
			e := newWorkflowEnv(t, deliveryOptions{dsn: dsn, noSender: true, start: time.Now()})
			user := e.demo.UserIDs[0]
			// The crashing engine runs on the real clock: a 1s window closes there.
			e.must(201, "POST", "/api/v1/workflows", digestWorkflow("crashy", user, c.window, 50))
			var ids []string
			for i := range 3 {
				status, id := e.hook("crashy", map[string]any{"group": "g", "n": i + 1}, hookSecret)
				if status != 202 {
					t.Fatalf("webhook: %d", status)
				}
				ids = append(ids, id)
			}

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), crashEngineAtEnv+"="+at, crashDSNEnv+"="+dsn, crashSimEnv+"="+e.simURL)
			out, err := cmd.CombinedOutput()
			if !killedBySIGKILL(err) {
				t.Fatalf("the engine did not die at %s: %v\n%s", at, err, out)
			}
			// The dead engine's leases lapse; this process takes over, and one more event arrives
			// while a 1h window is still open.
			e.clock.Advance(5 * time.Minute)
			e.startSender()
			if c.events == 4 {
				status, id := e.hook("crashy", map[string]any{"group": "g", "n": 4}, hookSecret)
				if status != 202 {
					t.Fatalf("webhook: %d", status)
				}
				ids = append(ids, id)
			}
			for _, id := range ids {
				e.waitExecution(id, "waiting", "resolved")
			}
			e.closeWindows(time.Hour)
			var opener string
			for _, id := range ids {
				x := e.waitExecution(id, "resolved")
				if res := jobOf(x, "batch")["result"].(map[string]any); res["digestedInto"] == nil {
					if opener != "" {
						t.Fatalf("two executions opened a window: %s and %s", opener, id)
					}
					opener = id
				}
			}
			got := e.inboxTexts(user, 1)
			items, ok := strings.CutPrefix(got[0], fmt.Sprintf("[g] x%d: ", c.events))
			ns := strings.Split(items, ",")
			slices.Sort(ns)
			if !ok || !slices.Equal(ns, []string{"1", "2", "3", "4"}[:c.events]) {
				t.Fatalf("message %q, want the %d events once each", got[0], c.events)
			}
			msgs := e.must(200, "GET", "/api/v1/messages?executionId="+opener, nil).JSON()
			if msgs["total"] != float64(1) {
				t.Fatalf("the opener has %v messages, want 1", msgs["total"])
			}
			if m := e.waitFinal(msgs["data"].([]any)[0].(map[string]any)["id"].(string)); m["status"] != "sent" {
				t.Fatalf("message: %v", m)
			}
			if n := len(e.sim.Inbox(e.demo.CorpID, user)); n != 1 {
				t.Fatalf("%d messages, want exactly 1", n)
			}
		})
	}
}
