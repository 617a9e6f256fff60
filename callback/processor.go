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
	Owner       string
	Lease       time.Duration // default 1 min
	Batch       int           // default 64
	Poll        time.Duration // default 500 ms
	MaxAttempts int           // default 8; then the event is failed for good, with its error
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
	worker.Run(ctx, p.wake, p.o.Poll, p.drain)
	return nil
}

// drain processes claimed batches until fewer than a full batch is due.
func (p *Processor) drain(ctx context.Context) {
	for ctx.Err() == nil {
		events, err := p.store.ClaimEvents(ctx, p.o.Owner, p.o.Lease, p.o.Batch)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Error("claiming callback events failed", "err", err)
			}
			return
		}
		for i := range events {
			p.process(context.WithoutCancel(ctx), &events[i])
		}
		if len(events) < p.o.Batch {
			return
		}
	}
}

func (p *Processor) process(ctx context.Context, e *models.CallbackEvent) {
	ev := &Event{ID: e.ID, AuthenticatorID: e.AuthenticatorID, Kind: e.Kind, MsgType: e.MsgType, Event: e.Event,
		ChangeType: e.ChangeType, FromUser: e.FromUser, CreateTime: e.CreateTime}
	err := json.Unmarshal([]byte(e.Payload), &ev.Payload)
	for _, s := range p.subs {
		if err != nil {
			break
		}
		err = s.HandleEvent(ctx, ev)
	}
	status, text, retryAt := models.EventProcessed, "", time.Time{}
	if err != nil {
		text = err.Error()
		status = models.EventFailed
		if e.Attempts < p.o.MaxAttempts {
			// Back to received, due after a backoff: 1 s, 2 s, 4 s … capped at 5 min.
			status, retryAt = models.EventReceived, p.o.Now().Add(min(time.Second<<(e.Attempts-1), 5*time.Minute))
		}
		p.log.Warn("processing a callback event failed", "event_id", e.ID, "attempts", e.Attempts, "err", err)
	}
	owned, ferr := p.store.FinishEvent(ctx, p.o.Owner, e.ID, status, text, retryAt)
	switch {
	case ferr != nil:
		p.log.Error("recording callback processing failed", "event_id", e.ID, "err", ferr)
	case !owned:
		p.log.Warn("callback event lease lost before recording", "event_id", e.ID)
	}
	p.o.OnProcessed(status)
}
