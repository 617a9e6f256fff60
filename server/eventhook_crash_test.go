package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/eventhook"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/models/storetest"
	"github.com/wecomflow/wecomflow/plugin/wecom"
)

// crashHookPostsEnv tells the re-executed test binary to run the workers and die once the event
// hook deliverer has posted that many times, before the last outcome is recorded.
const crashHookPostsEnv = "WECOMFLOW_TEST_CRASH_HOOK_POSTS"

// killedPrefix starts the line on which the crashing deliverer names the event it died on.
const killedPrefix = "killed during event "

// crashingDeliverer runs the workers (sender and deliverer) on the test's database and exits the
// process after the n-th hook post. It returns only if it never got there.
func crashingDeliverer(n string) int {
	c, _ := models.NewCipher(storetest.Key)
	store, err := models.Open(context.Background(), os.Getenv(crashDSNEnv), models.Options{Cipher: c})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	limit, _ := strconv.Atoi(n)
	var posts atomic.Int64
	hooks := eventhook.Hooks{AfterPost: func(e *models.HookEvent) {
		if posts.Add(1) == int64(limit) {
			// The test learns which attempt was cut: posts finish in any order.
			fmt.Println(killedPrefix + e.EventID)
			killSelf()
		}
	}}
	srv := New(Config{WeComAPIBase: os.Getenv(crashSimEnv), FetchAllow: loopback, EventHookHooks: hooks, NoSchedules: true,
		Sender: wecom.SenderOptions{Poll: 5 * time.Millisecond}}, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = srv.RunWorkers(ctx)
	return 0
}

// Events queued while the receiver was down, and one whose attempt the SIGKILL cut between the
// post and its record, all reach the receiver after a restart: each event at least once, the same
// event id each time, and the delivery log ends with a 200 for every one of them.
func TestEventHooksSurviveAKilledServer(t *testing.T) {
	t.Parallel()
	const messages = 4
	dsn := storetest.DSN(t)
	e := newDeliveryEnv(t, deliveryOptions{dsn: dsn, noSender: true, start: time.Now(), fetchAllow: loopback})
	var down atomic.Bool
	down.Store(true)
	rcv := newHookReceiver(t, func(_ int, w http.ResponseWriter) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	hook := e.createHook(rcv.url, "message.sent")
	ids := map[string]bool{}
	for i := range messages {
		ids[e.send(textTo([]string{"local-" + e.demo.UserIDs[i%3]}, fmt.Sprintf("crash hook %d", i)))] = true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashHookPostsEnv+"="+strconv.Itoa(messages), crashDSNEnv+"="+dsn, crashSimEnv+"="+e.simURL)
	out, err := cmd.CombinedOutput()
	if !killedBySIGKILL(err) {
		t.Fatalf("the server did not die after %d posts: %v\n%s", messages, err, out)
	}
	rcv.wait(messages)
	_, after, found := strings.Cut(string(out), killedPrefix)
	killed, _, _ := strings.Cut(after, "\n")
	if !found {
		t.Fatalf("the server did not say which event it died on:\n%s", out)
	}

	// The receiver is back; the dead deliverer's leases and the retries' waits lapse.
	down.Store(false)
	e.clock.Advance(5 * time.Minute)
	e.startSender()

	var byEvent map[any][]map[string]any
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		byEvent = map[any][]map[string]any{}
		delivered := 0
		for _, d := range e.deliveries(hook) {
			a := d.(map[string]any)
			byEvent[a["eventId"]] = append(byEvent[a["eventId"]], a)
			if a["statusCode"] == 200.0 {
				delivered++
			}
		}
		if delivered == messages {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart the log shows %d of %d events delivered: %v", delivered, messages, byEvent)
		}
	}
	got := map[any]bool{}
	for _, c := range rcv.wait(messages + 1) {
		data, _ := c.payload["data"].(map[string]any)
		if !ids[fmt.Sprint(data["id"])] || c.payload["type"] != "message.sent" {
			t.Fatalf("an unexpected call: %s", c.body)
		}
		got[c.payload["id"]] = true
	}
	if len(got) != messages || len(byEvent) != messages {
		t.Fatalf("the receiver got %d events and the log shows %d, want %d each", len(got), len(byEvent), messages)
	}
	for id, attempts := range byEvent {
		// Newest first: the last attempt is the delivery; the ones before it are the receiver's 503s.
		if attempts[0]["statusCode"] != 200.0 || attempts[0]["nextAttemptAt"] != nil {
			t.Errorf("event %v: last attempt %v", id, attempts[0])
		}
		for _, a := range attempts[1:] {
			if a["statusCode"] != 503.0 || a["nextAttemptAt"] == nil {
				t.Errorf("event %v: earlier attempt %v", id, a)
			}
		}
		// An attempt cut by the kill was posted and never logged (the recorder commits after the
		// post), so the log may miss attempt numbers but never shows more than were made; the
		// killed one's is surely missing.
		n := attempts[0]["attempt"].(float64)
		if n < float64(len(attempts)) || id == killed && n == float64(len(attempts)) {
			t.Errorf("event %v (killed: %v): delivered by attempt %v with %d logged: %v", id, id == killed, n, len(attempts), attempts)
		}
	}
	if _, rows := e.rows("SELECT status FROM hook_events WHERE status <> 'delivered'"); len(rows) != 0 {
		t.Fatalf("events left undelivered: %v", rows)
	}
}
