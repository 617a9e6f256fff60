package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/models/storetest"
	"github.com/wecomflow/wecomflow/plugin/wecom"
	"github.com/wecomflow/wecomflow/workflow"
)

// crashEngineAtEnv tells the re-executed test binary to be an engine that dies at a point:
// "node:<key>" (the node ran, its step is not yet written) or "commit:<n>" (the n-th step was
// written).
const crashEngineAtEnv = "WECOMFLOW_TEST_CRASH_ENGINE_AT"

// crashingEngine runs the workers on the test's database and exits the process at the point.
func crashingEngine(at string) int {
	c, _ := models.NewCipher(storetest.Key)
	store, err := models.Open(context.Background(), os.Getenv(crashDSNEnv), models.Options{Cipher: c})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	commits := 0
	hooks := workflow.Hooks{
		AfterNode: func(_, key string) {
			if at == "node:"+key {
				killSelf()
			}
		},
		AfterCommit: func(string, *models.Step) {
			commits++
			if at == fmt.Sprintf("commit:%d", commits) {
				killSelf()
			}
		},
	}
	srv := New(Config{WeComAPIBase: os.Getenv(crashSimEnv), WorkflowHooks: hooks, NoSchedules: true,
		Sender: wecom.SenderOptions{Poll: 5 * time.Millisecond}}, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = srv.RunWorkers(ctx)
	return 0
}

// chainWorkflow has a node of every kind, three notifications to three members, and a delay
// between them, so its execution takes several steps.
func chainWorkflow(users []string) map[string]any {
	note := func(key, user string, wait bool) map[string]any {
		return map[string]any{"key": key, "type": "notification", "config": map[string]any{"channel": "ops", "waitForDelivery": wait,
			"to": map[string]any{"users": []any{"local-" + user}}, "msgtype": "text", "text": map[string]any{"content": key + " {{$context.data.n}}"}}}
	}
	return map[string]any{"key": "chain", "title": "Chain", "trigger": map[string]any{"type": "manual"},
		"nodes": []any{
			note("first", users[0], false),
			map[string]any{"key": "check", "type": "condition", "config": map[string]any{"expression": "$context.data.n > 0"},
				"branches": map[string]any{"true": []any{note("second", users[1], true)}}},
			map[string]any{"key": "pause", "type": "delay", "config": map[string]any{"duration": "1s"}},
			note("third", users[2], true),
			map[string]any{"key": "stop", "type": "end", "config": map[string]any{"status": "resolved"}},
		}}
}

// An engine killed between any two nodes, before or after their step is written, loses nothing
// and sends nothing twice: after a restart the execution resolves and each member got their
// notification exactly once.
func TestEngineKilledBetweenNodesCompletesWithoutDuplicates(t *testing.T) {
	t.Parallel()
	points := []string{"node:first", "node:check", "node:second", "node:pause", "node:third", "node:stop",
		"commit:1", "commit:2", "commit:3", "commit:4"}
	for _, at := range points {
		t.Run(strings.ReplaceAll(at, ":", "_"), func(t *testing.T) {
			t.Parallel()
			dsn := storetest.DSN(t)
			e := newWorkflowEnv(t, deliveryOptions{dsn: dsn, noSender: true, start: time.Now()})
			users := e.demo.UserIDs[:3]
			wf := e.must(201, "POST", "/api/v1/workflows", chainWorkflow(users)).Data()
			x := e.must(202, "POST", fmt.Sprintf("/api/v1/workflows/%v/trigger", wf["id"]), map[string]any{"data": map[string]any{"n": 1}}).Data()

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), crashEngineAtEnv+"="+at, crashDSNEnv+"="+dsn, crashSimEnv+"="+e.simURL)
			out, err := cmd.CombinedOutput()
			if !killedBySIGKILL(err) {
				t.Fatalf("the engine did not die at %s: %v\n%s", at, err, out)
			}
			// The dead engine's leases lapse; this process takes over.
			e.clock.Advance(5 * time.Minute)
			e.startSender()
			var got map[string]any
			for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				if got = e.execution(x["id"].(string)); models.IsFinalExecution(got["status"].(string)) {
					break
				}
				// The fake clock moves on, so the delay ends.
				e.clock.Advance(time.Second)
				e.srv.Workflows().Wake()
			}
			if got["status"] != "resolved" {
				t.Fatalf("execution after the crash: %v", got)
			}
			for i, key := range []string{"first", "second", "third"} {
				in := e.waitInbox(users[i], 1)
				if body := string(in[0].Body); !strings.Contains(body, key+" 1") {
					t.Errorf("%s received %s", users[i], body)
				}
			}
			// Every message of the execution is final, so the inboxes are too.
			msgs := e.must(200, "GET", "/api/v1/messages?executionId="+x["id"].(string), nil).JSON()
			if msgs["total"] != float64(3) {
				t.Fatalf("the execution has %v messages, want 3", msgs["total"])
			}
			for _, m := range msgs["data"].([]any) {
				if m := e.waitFinal(m.(map[string]any)["id"].(string)); m["status"] != "sent" {
					t.Fatalf("message: %v", m)
				}
			}
			for i := range users {
				if n := len(e.sim.Inbox(e.demo.CorpID, users[i])); n != 1 {
					t.Errorf("%s received %d messages, want exactly 1", users[i], n)
				}
			}
		})
	}
}
