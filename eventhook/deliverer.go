package eventhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/wecomflow/wecomflow/fetch"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/worker"
)

// The delivery contract of SPEC §10.3.
const (
	// Timeout bounds one attempt: connecting, sending and the answer.
	Timeout = 5 * time.Second
	// FirstRetry is the wait after the first failed attempt; each further one doubles it, up to
	// MaxRetry, until the event is GiveUp old.
	FirstRetry = 5 * time.Second
	MaxRetry   = time.Hour
	GiveUp     = 24 * time.Hour
	// answerLimit is the most of a 2xx answer read; receivers answer with little or nothing.
	answerLimit = 1 << 20
)

// Store is what the deliverer needs of the database.
type Store interface {
	ClaimHookEvents(ctx context.Context, owner string, lease time.Duration, limit int) ([]models.HookEvent, error)
	RecordHookAttempts(ctx context.Context, owner string, outs []models.HookOutcome) error
	EventHooks(ctx context.Context, ids []uint64) ([]models.EventHook, error)
	HooksEnabled(ctx context.Context) bool
}

// Data reads an event's data: the message or execution it is about, as the API shows it.
type Data func(ctx context.Context, typ, subject string) (any, error)

// Options configure a Deliverer.
type Options struct {
	// Owner names this instance on leases.
	Owner string
	// Now is the clock of signatures and retry times (the store's).
	Now func() time.Time
	// Poll is how often due events are looked for without a wake-up (default 1 s): retries, and
	// events another instance queued.
	Poll time.Duration
	// Lease is how long a claimed event is this instance's (default 30 s, far past Timeout).
	Lease time.Duration
	// Concurrency bounds the attempts in flight (default 64).
	Concurrency int
	// Hooks let tests stop the deliverer at chosen points.
	Hooks Hooks
}

// Hooks are called at points of an attempt where a crash is worth testing.
type Hooks struct {
	// AfterPost runs once the receiver has answered (or not), before the outcome is recorded.
	AfterPost func(e *models.HookEvent)
}

// Deliverer posts queued events to their hooks.
type Deliverer struct {
	store   Store
	fetcher *fetch.Fetcher
	data    Data
	log     *slog.Logger
	o       Options
	wake    worker.Wakeup
	records chan record
}

// record is an attempt's outcome waiting for the recorder's next commit.
type record struct {
	out  models.HookOutcome
	done chan struct{}
}

// New builds a Deliverer. fetcher must be the server's (or one with the same address checks).
func New(store Store, fetcher *fetch.Fetcher, data Data, log *slog.Logger, o Options) *Deliverer {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Poll == 0 {
		o.Poll = time.Second
	}
	if o.Lease == 0 {
		o.Lease = 30 * time.Second
	}
	if o.Concurrency == 0 {
		o.Concurrency = 64
	}
	return &Deliverer{store: store, fetcher: fetcher, data: data, log: log, o: o, wake: worker.NewWakeup()}
}

// Wake tells the deliverer that events may have been queued. With no hook enabled none were
// (every delivered message wakes it); events of a hook disabled since wait for the next poll.
func (d *Deliverer) Wake() {
	if d.store.HooksEnabled(context.Background()) {
		d.wake.Notify()
	}
}

// Run delivers until ctx ends; attempts in flight then finish and are recorded.
func (d *Deliverer) Run(ctx context.Context) error {
	d.records = make(chan record, d.o.Concurrency)
	recorded := make(chan struct{})
	go func() { defer close(recorded); d.recorder() }()
	sem := make(chan struct{}, d.o.Concurrency)
	freed := worker.NewWakeup()
	var wg sync.WaitGroup
	defer func() { wg.Wait(); close(d.records); <-recorded }()
	worker.Run(ctx, d.wake, d.o.Poll, func(ctx context.Context) {
		for ctx.Err() == nil {
			free := d.o.Concurrency - len(sem)
			if free < max(1, d.o.Concurrency/2) {
				// Wait for attempts to finish, then claim many at once: a claim is a write
				// transaction, and claiming each freed slot alone would spend the writer on claims.
				select {
				case <-freed:
				case <-ctx.Done():
				}
				continue
			}
			evs, err := d.store.ClaimHookEvents(ctx, d.o.Owner, d.o.Lease, free)
			if err != nil {
				if ctx.Err() == nil {
					d.log.Error("claiming hook events failed", "err", err)
				}
				return
			}
			hooks, err := d.hooks(ctx, evs)
			if err != nil {
				// The leases lapse and the events are claimed again.
				d.log.Error("reading event hooks failed", "err", err)
				return
			}
			for _, e := range evs {
				sem <- struct{}{}
				wg.Add(1)
				go func() {
					defer func() { <-sem; wg.Done(); freed.Notify() }()
					// An attempt under way finishes at shutdown: its outcome must be logged.
					r := record{out: d.attempt(context.WithoutCancel(ctx), e, hooks[e.HookID]), done: make(chan struct{})}
					d.records <- r
					<-r.done
				}()
			}
			if len(evs) < free {
				return
			}
		}
	})
	return nil
}

// hooks reads the hooks of claimed events, by id.
func (d *Deliverer) hooks(ctx context.Context, evs []models.HookEvent) (map[uint64]*models.EventHook, error) {
	out := map[uint64]*models.EventHook{}
	if len(evs) == 0 {
		return out, nil
	}
	var ids []uint64
	for _, e := range evs {
		if _, ok := out[e.HookID]; !ok {
			out[e.HookID] = nil
			ids = append(ids, e.HookID)
		}
	}
	hs, err := d.store.EventHooks(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range hs {
		out[hs[i].ID] = &hs[i]
	}
	return out, nil
}

// recorder commits outcomes as they come, as many as are waiting in one transaction: on SQLite's
// single writer one commit per attempt would cap delivery far below what receivers take.
func (d *Deliverer) recorder() {
	for r := range d.records {
		batch := []record{r}
	more:
		for len(batch) < 256 {
			select {
			case r, ok := <-d.records:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		outs := make([]models.HookOutcome, len(batch))
		for i, r := range batch {
			outs[i] = r.out
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := d.store.RecordHookAttempts(ctx, d.o.Owner, outs); err != nil {
			// Not recorded: the leases lapse and the events go again (at least once).
			d.log.Error("recording hook attempts failed", "err", err, "attempts", len(outs))
		}
		cancel()
		for _, r := range batch {
			close(r.done)
		}
		// A delivered event lets the next one of its message go.
		d.wake.Notify()
	}
}

// payload is what a hook receives (SPEC §10.3).
type payload struct {
	ID   string    `json:"id"`
	Type string    `json:"type"`
	At   time.Time `json:"at"`
	Data any       `json:"data"`
}

// attempt posts one event and says what became of it.
func (d *Deliverer) attempt(ctx context.Context, e models.HookEvent, h *models.EventHook) models.HookOutcome {
	out := models.HookOutcome{Event: e}
	if h == nil {
		// Deleted since the claim; its events went with it.
		out.Status, out.Error = models.HookFailed, "the event hook no longer exists"
		return out
	}
	start := time.Now()
	out.StatusCode, out.Error = d.post(ctx, &out.Event, h)
	out.Duration = time.Since(start)
	if d.o.Hooks.AfterPost != nil {
		d.o.Hooks.AfterPost(&out.Event)
	}
	if out.Error == "" {
		out.Status = models.HookDelivered
		return out
	}
	now := d.o.Now()
	next := now.Add(Backoff(e.Attempts))
	if next.After(e.At.Add(GiveUp)) {
		out.Status = models.HookFailed
	} else {
		out.Status, out.NextAttemptAt = models.HookPending, &next
	}
	d.log.Debug("event hook attempt failed", "hook_id", h.ID, "event_id", e.EventID, "attempt", e.Attempts,
		"status_code", out.StatusCode, "err", out.Error)
	return out
}

// post sends e to h, building its body on the first attempt (then kept, so retries repeat it
// byte for byte); errText is "" for a 2xx answer.
func (d *Deliverer) post(ctx context.Context, e *models.HookEvent, h *models.EventHook) (code int, errText string) {
	if e.Body == "" {
		data, err := d.data(ctx, e.Type, e.Subject)
		if err != nil {
			return 0, "unable to read the event's data: " + err.Error()
		}
		body, err := json.Marshal(payload{ID: e.EventID, Type: e.Type, At: e.At, Data: data})
		if err != nil {
			return 0, "unable to encode the event: " + err.Error()
		}
		e.Body = string(body)
	}
	ts := strconv.FormatInt(d.o.Now().Unix(), 10)
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set("X-Wecomflow-Event", e.Type)
	header.Set("X-Wecomflow-Timestamp", ts)
	header.Set("X-Wecomflow-Signature", Sign(h.Secret.Plain, ts, []byte(e.Body)))
	resp, err := d.fetcher.Do(ctx, fetch.Request{Method: http.MethodPost, URL: h.URL, Header: header, Body: []byte(e.Body),
		Timeout: Timeout, MaxBytes: answerLimit, NoRedirects: true})
	var fe *fetch.Error
	switch {
	case errors.As(err, &fe):
		return 0, "the URL " + fe.Reason
	case err != nil:
		return 0, err.Error()
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return resp.StatusCode, fmt.Sprintf("answered %d: redirects are not followed", resp.StatusCode)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return resp.StatusCode, fmt.Sprintf("answered %d", resp.StatusCode)
	}
	return resp.StatusCode, ""
}

// Backoff is the wait after the attempt-th failed attempt: FirstRetry, doubling up to MaxRetry.
func Backoff(attempt int) time.Duration {
	wait := FirstRetry
	for i := 1; i < attempt && wait < MaxRetry; i++ {
		wait *= 2
	}
	return min(wait, MaxRetry)
}

// Sign is the X-Wecomflow-Signature of body sent at timestamp (SPEC §10.1): "sha256=" and the hex
// HMAC-SHA256 of timestamp + "." + body under secret.
func Sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
