package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/models/storetest"
	"github.com/wecomflow/wecomflow/plugin/wecom"
)

// crashEnv tells the re-executed test binary to be a sender that dies at a point.
const (
	crashAtEnv  = "WECOMFLOW_TEST_CRASH_AT"
	crashDSNEnv = "WECOMFLOW_TEST_CRASH_DSN"
	crashSimEnv = "WECOMFLOW_TEST_CRASH_SIM"
	// crashClaimsEnv: with "after_claims", the sender is SIGKILLed on this claim (1 = the first).
	crashClaimsEnv = "WECOMFLOW_TEST_CRASH_CLAIMS"
)

func TestMain(m *testing.M) {
	if at := os.Getenv(crashAtEnv); at != "" {
		os.Exit(crashingSender(at))
	}
	if at := os.Getenv(crashEngineAtEnv); at != "" {
		os.Exit(crashingEngine(at))
	}
	if n := os.Getenv(crashHookPostsEnv); n != "" {
		os.Exit(crashingDeliverer(n))
	}
	os.Exit(m.Run())
}

// killSelf ends the process as kill -9 does: no deferred function, no flush, nothing of it runs
// after the signal.
func killSelf() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// killedBySIGKILL reports whether a re-executed test process died of SIGKILL.
func killedBySIGKILL(err error) bool {
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return false
	}
	ws, ok := exit.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// crashingSender runs a sender on the test's database that exits the process — no deferred
// function, no recording — at the point named by at. It returns only if it never got there.
func crashingSender(at string) int {
	c, _ := models.NewCipher(storetest.Key)
	store, err := models.Open(context.Background(), os.Getenv(crashDSNEnv), models.Options{Cipher: c})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	die := func(*models.MessageRequest) { killSelf() }
	hooks := wecom.Hooks{}
	switch at {
	case "after_claim":
		hooks.AfterClaim = die
	case "after_send":
		hooks.AfterSend = die
	case "after_claims":
		n, _ := strconv.Atoi(os.Getenv(crashClaimsEnv))
		hooks.AfterClaim = func(*models.MessageRequest) {
			if n--; n == 0 {
				killSelf()
			}
		}
	}
	srv := New(Config{WeComAPIBase: os.Getenv(crashSimEnv), Sender: wecom.SenderOptions{Poll: 5 * time.Millisecond, Batch: 1, Concurrency: 1, Hooks: hooks}},
		store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = srv.RunWorkers(ctx)
	return 0
}

// A sender killed between claim and send, or between send and record, loses nothing and
// duplicates nothing: after restart every member's inbox holds each message exactly once.
func TestSenderKilledMidSendDeliversEachMessageExactlyOnce(t *testing.T) {
	t.Parallel()
	for _, at := range []string{"after_claim", "after_send"} {
		t.Run(at, func(t *testing.T) {
			t.Parallel()
			dsn := storetest.DSN(t)
			e := newDeliveryEnv(t, deliveryOptions{dsn: dsn, noSender: true, start: time.Now()})
			var ids []string
			for i := 0; i < 6; i++ {
				u := e.demo.UserIDs[i%3]
				ids = append(ids, e.send(textTo([]string{"local-" + u}, fmt.Sprintf("crash %s %d", at, i))))
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), crashAtEnv+"="+at, crashDSNEnv+"="+dsn, crashSimEnv+"="+e.simURL)
			out, err := cmd.CombinedOutput()
			if !killedBySIGKILL(err) {
				t.Fatalf("the sender did not die at %s: %v\n%s", at, err, out)
			}
			if at == "after_send" && e.sim.Calls("message/send") != 1 {
				t.Fatalf("the killed sender made %d sends, want 1", e.sim.Calls("message/send"))
			}
			// The dead sender's lease lapses; a new sender takes over.
			e.clock.Advance(5 * time.Minute)
			e.startSender()
			for _, id := range ids {
				if m := e.waitFinal(id); m["status"] != "sent" {
					t.Fatalf("message %s: %v", id, m)
				}
			}
			for i := 0; i < 3; i++ {
				if got := len(e.inbox(e.demo.UserIDs[i])); got != 2 {
					t.Errorf("%s received %d messages, want exactly 2", e.demo.UserIDs[i], got)
				}
			}
			if at == "after_send" && e.sim.DuplicatesDropped() != 1 {
				t.Errorf("WeCom dropped %d twins, want 1 (the resend of the unrecorded send)", e.sim.DuplicatesDropped())
			}
		})
	}
}
