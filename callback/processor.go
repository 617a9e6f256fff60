package callback

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/worker"
)

// ProcessorOptions configure a Processor.
type ProcessorOptions struct {
	Owner string
	Lease time.Duration // default 1 min
	Batch int           // default 64
	Poll  time.Duration // default 500 ms
	// Linger is how long a wake-up waits for more events before claiming: a burst of callbacks is
	// then claimed in full batches, not one claim transaction per event. Default 10 ms.
	Linger      time.Duration
	MaxAttempts int // default 8; then the event is failed for good, with its error
	Now         func() time.Time
	// OnProcessed is told of each finished event (metrics): its status.
	OnProcessed func(status string)
}

// Processor hands stored events to the subscribers, in order of arrival, after WeCom has had
// its answer. A subscriber error retries the event later with backoff; a processor that dies
// mid-event loses nothing: its lease lapses and the event is processed again.
type Processor struct {
	store Store
	subs  []Subscriber
	log   *slog.Logger
	o     ProcessorOptions
	wake  worker.Wakeup
}

// NewProcessor builds a processor over subs.
func NewProcessor(store Store, subs []Subscriber, log *slog.Logger, o ProcessorOptions) *Processor {
	if o.Lease == 0 {
		o.Lease = time.Minute
	}
	if o.Batch == 0 {
		o.Batch = 64
	}
	if o.Poll == 0 {
		o.Poll = 500 * time.Millisecond
	}
	if o.Linger == 0 {
		o.Linger = 10 * time.Millisecond
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 8
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnProcessed == nil {
		o.OnProcessed = func(string) {}
	}
	return &Processor{store: store, subs: subs, log: log, o: o, wake: worker.NewWakeup()}
}

// Wake says an event was stored.
func (p *Processor) Wake() { p.wake.Notify() }

// Run processes until ctx ends; the event in hand is finished first.
func (p *Processor) Run(ctx context.Context) error {
	worker.Run(ctx, p.wake, p.o.Poll, func(ctx context.Context) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(p.o.Linger):
		}
		p.drain(ctx)
	})
	return nil
}

// drain processes claimed batches until fewer than a full batch is due. The events of a batch
// that were processed are recorded together at its end: a processor that dies before that
// processes them again, which the subscribers take (a workflow starts once per event).
func (p *Processor) drain(ctx context.Context) {
	for ctx.Err() == nil {
		events, err := p.store.ClaimEvents(ctx, p.o.Owner, p.o.Lease, p.o.Batch)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Error("claiming callback events failed", "err", err)
			}
			return
		}
		processed := make([]uint64, 0, len(events))
		for i := range events {
			if p.process(context.WithoutCancel(ctx), &events[i]) {
				processed = append(processed, events[i].ID)
			}
		}
		p.finish(context.WithoutCancel(ctx), processed, models.EventProcessed, "", time.Time{})
		if len(events) < p.o.Batch {
			return
		}
	}
}

// finish records one outcome for events and tells OnProcessed of each.
func (p *Processor) finish(ctx context.Context, ids []uint64, status, text string, retryAt time.Time) {
	owned, err := p.store.FinishEvents(ctx, p.o.Owner, ids, status, text, retryAt)
	switch {
	case err != nil:
		p.log.Error("recording callback processing failed", "event_ids", ids, "err", err)
	case owned < len(ids):
		p.log.Warn("callback event leases lost before recording", "events", len(ids), "still_held", owned)
	}
	for range ids {
		p.o.OnProcessed(status)
	}
}

// process hands e to the subscribers. It reports true when they all took it, for drain to record
// with the batch; a failure is recorded here, with its retry.
func (p *Processor) process(ctx context.Context, e *models.CallbackEvent) bool {
	ev := &Event{ID: e.ID, AuthenticatorID: e.AuthenticatorID, Kind: e.Kind, MsgType: e.MsgType, Event: e.Event,
		ChangeType: e.ChangeType, FromUser: e.FromUser, CreateTime: e.CreateTime}
	err := json.Unmarshal([]byte(e.Payload), &ev.Payload)
	for _, s := range p.subs {
		if err != nil {
			break
		}
		err = s.HandleEvent(ctx, ev)
	}
	if err == nil {
		return true
	}
	status, retryAt := models.EventFailed, time.Time{}
	if e.Attempts < p.o.MaxAttempts {
		// Back to received, due after a backoff: 1 s, 2 s, 4 s … capped at 5 min.
		status, retryAt = models.EventReceived, p.o.Now().Add(min(time.Second<<(e.Attempts-1), 5*time.Minute))
	}
	p.log.Warn("processing a callback event failed", "event_id", e.ID, "attempts", e.Attempts, "err", err)
	p.finish(ctx, []uint64{e.ID}, status, err.Error(), retryAt)
	return false
}
