package wecom

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models"
)

// idleOutbox is an outbox with nothing to claim.
type idleOutbox struct{}

func (idleOutbox) ClaimRequests(context.Context, string, time.Duration, int) ([]models.Claimed, error) {
	return nil, nil
}
func (idleOutbox) RecordOutcomes(context.Context, string, []models.Outcome) error { return nil }
func (idleOutbox) SplitRequest(context.Context, string, *models.MessageRequest, *models.MessageRequest) error {
	return nil
}
func (idleOutbox) RenewRequests(context.Context, string, []uint64, time.Duration) error { return nil }
func (idleOutbox) RecentSends(context.Context, time.Time) ([]models.RecentSend, error) {
	return nil, nil
}

// A sender takes requests at their acceptance only while it runs and has room (four times its
// concurrency), a canceled reservation gives its room back, and a sender told to stop waits for
// the reservations still open: their messages may be committed and handed over yet.
func TestReservationsAreBoundedAndHeldUntilSettled(t *testing.T) {
	s := NewSender(idleOutbox{}, nil, nil, NewLimiter(time.UTC), slog.New(slog.NewTextHandler(io.Discard, nil)),
		SenderOptions{Owner: "me", Concurrency: 2, Poll: time.Hour})
	if s.Reserve(1) != nil {
		t.Fatal("a sender that is not running took a reservation")
	}
	ctx, stop := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = s.Run(ctx) }()
	var first *Reservation
	for first == nil {
		first = s.Reserve(handoffDepth*2 - 1)
		time.Sleep(time.Millisecond)
	}
	if first.Owner != "me" || !first.Until.After(time.Now()) {
		t.Fatalf("reservation for %q until %v", first.Owner, first.Until)
	}
	last := s.Reserve(1)
	if last == nil || s.Reserve(1) != nil {
		t.Fatal("the sender's room is not four times its concurrency")
	}
	first.Cancel()
	if again := s.Reserve(handoffDepth*2 - 1); again == nil {
		t.Fatal("a canceled reservation did not give its room back")
	} else {
		again.Cancel()
	}
	stop()
	// Once stopping, it takes no more; it is then waiting for the open one.
	for r := s.Reserve(1); r != nil; r = s.Reserve(1) {
		r.Cancel()
		time.Sleep(time.Millisecond)
	}
	select {
	case <-stopped:
		t.Fatal("the sender stopped with a reservation open")
	default:
	}
	last.Cancel()
	<-stopped
}
