package message

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/models/storetest"
)

// waitEnv is a message service over a fresh store holding one queued message of one request. Its
// Wait polls once an hour and waits an hour: within a test only a notification (or the end of its
// context) answers it.
type waitEnv struct {
	t     *testing.T
	store *models.Store
	svc   *Service
	id    string
}

func newWaitEnv(t *testing.T) *waitEnv {
	t.Helper()
	store := storetest.Open(t)
	m := &models.Message{ID: ulid.Make().String(), ChannelID: 1, Channel: "ops", AuthenticatorID: 1, MsgType: "text", Body: "{}",
		SendOptions: "{}", Status: models.MessageQueued, TriggerFrom: FromAPI, Unbound: "[]", Invalid: "[]", Unlicensed: "[]", Warnings: "[]"}
	reqs := []models.MessageRequest{{ToUser: "zhangsan", Status: models.RequestPending, NotBefore: store.Now()}}
	if _, err := store.CreateMessage(context.Background(), m, reqs); err != nil {
		t.Fatal(err)
	}
	svc := New(store, nil, nil, Config{WaitPoll: time.Hour}, slog.New(slog.DiscardHandler))
	return &waitEnv{t: t, store: store, svc: svc, id: m.ID}
}

// deliver does what the sender does with the message: claim its request, record it sent and tell
// the service (the server's OnRecorded).
func (e *waitEnv) deliver() {
	ctx := context.Background()
	claimed, err := e.store.ClaimRequests(ctx, "sender", time.Minute, 10)
	if err != nil || len(claimed) != 1 {
		e.t.Errorf("claim: %v, %d claimed", err, len(claimed))
		return
	}
	c := claimed[0]
	now := e.store.Now()
	c.Request.Status, c.Request.SentAt = models.RequestSent, &now
	outs := []models.Outcome{{Request: &c.Request, Message: &c.Message}}
	if err := e.store.RecordOutcomes(ctx, "sender", outs); err != nil {
		e.t.Error(err)
		return
	}
	e.svc.Recorded(outs)
}

// waitAnswer is what a Wait returned.
type waitAnswer struct {
	View
	err error
}

// wait starts a Wait of an hour; its answer arrives on the channel.
func (e *waitEnv) wait(ctx context.Context) <-chan waitAnswer {
	answer := make(chan waitAnswer, 1)
	go func() {
		v, err := e.svc.Wait(ctx, e.id, time.Hour)
		answer <- waitAnswer{v, err}
	}()
	return answer
}

// status is the status the Wait answered with; the guard only turns a hang into a failure.
func (e *waitEnv) status(answer <-chan waitAnswer) string {
	e.t.Helper()
	select {
	case a := <-answer:
		if a.err != nil {
			e.t.Fatal(a.err)
		}
		return a.Status
	case <-time.After(30 * time.Second):
		e.t.Fatal("Wait was not woken")
		return ""
	}
}

// waiters waits until n Waits are registered.
func (e *waitEnv) waiters(n int) {
	e.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); e.svc.waiters.Len() != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			e.t.Fatalf("%d waiters registered, want %d", e.svc.waiters.Len(), n)
		}
	}
}

// A Wait answers with the delivered message once the sender has recorded it: when the outcome
// comes while it sleeps, and when it comes after its read of the message and before its sleep
// (the outcome a subscription after the read would miss).
func TestWaitWakesOnTheRecordedOutcome(t *testing.T) {
	t.Parallel()
	t.Run("while it sleeps", func(t *testing.T) {
		t.Parallel()
		e := newWaitEnv(t)
		answer := e.wait(context.Background())
		e.waiters(1)
		e.deliver()
		if status := e.status(answer); status != models.MessageSent {
			t.Fatalf("Wait answered %s", status)
		}
		e.waiters(0)
	})
	t.Run("between its read and its sleep", func(t *testing.T) {
		t.Parallel()
		e := newWaitEnv(t)
		// Right after Wait's first read of the message (queued) the sender records it.
		var fired atomic.Bool
		e.svc.waitRead = func(ctx context.Context, id string) (View, error) {
			v, err := e.svc.Get(ctx, id)
			if fired.CompareAndSwap(false, true) {
				e.deliver()
			}
			return v, err
		}
		if status := e.status(e.wait(context.Background())); status != models.MessageSent || !fired.Load() {
			t.Fatalf("Wait answered %s (outcome recorded during its read: %v)", status, fired.Load())
		}
		e.waiters(0)
	})
}

// A Wait whose request ends, or whose time is up, answers with the message as it is and leaves
// nothing registered.
func TestWaitEndsWithItsContextOrTime(t *testing.T) {
	t.Parallel()
	e := newWaitEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	answer := e.wait(ctx)
	e.waiters(1)
	cancel()
	// The message as it was, or the cancellation itself when it ended a read.
	select {
	case a := <-answer:
		if !(a.err == nil && a.Status == models.MessageQueued) && !errors.Is(a.err, context.Canceled) {
			t.Fatalf("Wait answered %s, %v", a.Status, a.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Wait did not end with its context")
	}
	e.waiters(0)
	if v, err := e.svc.Wait(context.Background(), e.id, 0); err != nil || v.Status != models.MessageQueued {
		t.Fatalf("Wait of 0s: %s, %v", v.Status, err)
	}
	e.waiters(0)
}

// Many Waits on one message are all woken by one change — here a cancel, the way a message
// becomes final outside the sender.
func TestWaitManyOnOneMessage(t *testing.T) {
	t.Parallel()
	e := newWaitEnv(t)
	const n = 32
	answers := make([]<-chan waitAnswer, n)
	for i := range answers {
		answers[i] = e.wait(context.Background())
	}
	e.waiters(n)
	if _, err := e.svc.Cancel(context.Background(), e.id); err != nil {
		t.Fatal(err)
	}
	for _, answer := range answers {
		if status := e.status(answer); status != models.MessageCanceled {
			t.Errorf("Wait answered %s", status)
		}
	}
	e.waiters(0)
}
