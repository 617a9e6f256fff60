package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/worker"
)

// SendOptions are a channel's options as a message snapshots them at acceptance.
type SendOptions struct {
	Safe                   int  `json:"safe"`
	EnableIDTrans          bool `json:"enableIdTrans"`
	DuplicateCheckInterval int  `json:"duplicateCheckInterval"`
	// DailyQuota is the app's person-sends per day (0 = unlimited), from the authenticator.
	DailyQuota int `json:"dailyQuota,omitempty"`
	// NoDuplicateCheck sends without WeCom's duplicate check: a reminder repeats its text on
	// purpose, and the check would drop the repeat. Its resend after an unknown outcome may
	// then arrive twice.
	NoDuplicateCheck bool `json:"noDuplicateCheck,omitempty"`
}

// Outbox is the store the sender works from.
type Outbox interface {
	ClaimRequests(ctx context.Context, owner string, lease time.Duration, limit int) ([]models.Claimed, error)
	RecordOutcomes(ctx context.Context, owner string, outs []models.Outcome) error
	SplitRequest(ctx context.Context, owner string, r *models.MessageRequest, deferred *models.MessageRequest) error
	RenewRequests(ctx context.Context, owner string, ids []uint64, lease time.Duration) error
	RecentSends(ctx context.Context, since time.Time) ([]models.RecentSend, error)
}

// RetryPolicy bounds retries.
type RetryPolicy struct {
	// MaxAttempts bounds attempts per request (WeCom's -1 "system busy": at most 3).
	MaxAttempts int
	// MaxAge: a message older than this is not retried any more.
	MaxAge time.Duration
	// Base and Max bound the exponential backoff (with jitter).
	Base, Max time.Duration
}

// DefaultRetryPolicy is what the server uses.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 6, MaxAge: 24 * time.Hour, Base: 2 * time.Second, Max: 10 * time.Minute}

// Hooks let crash tests stop a sender at the two dangerous moments.
type Hooks struct {
	// AfterClaim runs once a request is leased, before anything is sent.
	AfterClaim func(r *models.MessageRequest)
	// AfterSend runs once WeCom answered, before the outcome is recorded.
	AfterSend func(r *models.MessageRequest)
}

// SenderOptions configure a Sender.
type SenderOptions struct {
	// Owner names this sender in leases (host and process, unique per instance).
	Owner string
	// Lease is how long a claimed request is held; the sender renews it every third of it while the
	// send lasts, so another instance takes over a dead one's sends after at most this (default 30 s).
	Lease       time.Duration
	Batch       int           // requests claimed at once (default 64)
	Concurrency int           // sends in flight (default 32)
	Poll        time.Duration // how often to look for due work without a wake-up (default 500 ms)
	Policy      RetryPolicy
	Now         func() time.Time
	Hooks       Hooks
	// OnResult is told of every finished attempt (metrics): the request status and errcode.
	OnResult func(status string, errcode int64)
	// OnRecorded is told of outcomes once they are committed (a workflow waiting for a delivery
	// goes on).
	OnRecorded func(outs []models.Outcome)
	// Deliverers send the messages of the other channel types (a group robot), by type, through
	// the same outbox, leases, retries and recording as app messages.
	Deliverers map[string]Deliverer
}

// Deliverer sends the requests of another channel type's messages.
type Deliverer interface {
	// Deliver makes one attempt at a claimed request. A wait after now means the channel's rate
	// window is full: nothing was sent and the request waits until then (not an attempt). An
	// error wrapping ErrCannotSend fails the request for good.
	Deliver(ctx context.Context, r *models.MessageRequest, m *models.Message, now time.Time) (res *SendResult, wait time.Time, err error)
	// Sent notes a send of the last hour from before this process started, for its pacing.
	Sent(r models.RecentSend)
}

// ErrCannotSend marks a deliverer's error that no retry can fix (the channel is gone).
var ErrCannotSend = errors.New("cannot be sent")

// Sender delivers the outbox: it claims due requests, paces them per member, sends them, and
// records every outcome; a request is retried by class of error, bounded in attempts and age.
type Sender struct {
	store   Outbox
	clients *Clients
	apps    *Apps
	limiter *Limiter
	log     *slog.Logger
	o       SenderOptions
	wake    worker.Wakeup
	seeded  sync.Once
	records chan recordJob
	// inFlight are the requests being sent, whose leases the sender renews.
	inFlightMu sync.Mutex
	inFlight   map[uint64]bool
	appsMu     sync.Mutex
	appsAt     map[uint64]cachedApp
	// handMu guards run and handed: the run that takes requests handed over at acceptance, and
	// how many it holds (reserved, waiting for a send slot, or being sent).
	handMu sync.Mutex
	run    *senderRun
	handed int
}

// senderRun is what a running Run shares with the requests handed to it.
type senderRun struct {
	ctx context.Context
	sem chan struct{}
	wg  *sync.WaitGroup
}

// handoffDepth bounds the handed-over requests a sender holds, in multiples of its concurrency:
// beyond it a message is stored pending and waits for the claim, so a burst queues in the
// database, not in memory.
const handoffDepth = 4

// appCacheTTL is how long the sender reuses an authenticator's credentials; an edit of the
// authenticator reaches the sends within that time.
const appCacheTTL = 10 * time.Second

type cachedApp struct {
	app  App
	opts SendOptions
	at   time.Time
}

// recordJob is an outcome waiting for the recorder's next commit.
type recordJob struct {
	out  models.Outcome
	done chan error
}

// NewSender builds a sender. apps resolves an authenticator to its credentials.
func NewSender(store Outbox, clients *Clients, apps *Apps, limiter *Limiter, log *slog.Logger, o SenderOptions) *Sender {
	if o.Lease == 0 {
		o.Lease = 30 * time.Second
	}
	if o.Batch == 0 {
		o.Batch = 64
	}
	if o.Concurrency == 0 {
		o.Concurrency = 32
	}
	if o.Poll == 0 {
		o.Poll = 500 * time.Millisecond
	}
	if o.Policy.MaxAttempts == 0 {
		o.Policy = DefaultRetryPolicy
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnRecorded == nil {
		o.OnRecorded = func([]models.Outcome) {}
	}
	if o.OnResult == nil {
		o.OnResult = func(string, int64) {}
	}
	return &Sender{store: store, clients: clients, apps: apps, limiter: limiter, log: log, o: o, wake: worker.NewWakeup(),
		appsAt: map[uint64]cachedApp{}, inFlight: map[uint64]bool{}}
}

// Wake tells the sender there is new work, so it does not wait for the next poll.
func (s *Sender) Wake() { s.wake.Notify() }

// Run sends until ctx ends, then lets the sends in flight finish (their outcomes are recorded)
// and returns. Every claimed request starts at once, so nothing is left claimed and unsent for
// another instance to wait out.
func (s *Sender) Run(ctx context.Context) error {
	s.seed(ctx)
	// A fresh channel per run: the previous run closed its own on the way out.
	s.records = make(chan recordJob, s.o.Concurrency)
	recorded := make(chan struct{})
	go func() { defer close(recorded); s.recorder() }()
	sem := make(chan struct{}, s.o.Concurrency)
	var wg sync.WaitGroup
	stopRenewing, renewing := make(chan struct{}), make(chan struct{})
	go func() { defer close(renewing); s.renewLeases(stopRenewing) }()
	s.handMu.Lock()
	s.run = &senderRun{ctx: ctx, sem: sem, wg: &wg}
	s.handMu.Unlock()
	// On the way out: no more handovers; the sends in flight (and the handovers reserved before,
	// once their message is stored) finish and hand in their outcomes (their leases renewed
	// meanwhile), then the recorder commits them and stops.
	defer func() {
		s.handMu.Lock()
		s.run = nil
		s.handMu.Unlock()
		wg.Wait()
		close(stopRenewing)
		<-renewing
		close(s.records)
		<-recorded
	}()
	worker.Run(ctx, s.wake, s.o.Poll, func(ctx context.Context) {
		for ctx.Err() == nil {
			free := s.o.Concurrency - len(sem)
			if free <= 0 {
				// Wait for one send to finish before claiming more.
				sem <- struct{}{}
				<-sem
				continue
			}
			claimed, err := s.store.ClaimRequests(ctx, s.o.Owner, s.o.Lease, min(free, s.o.Batch))
			if err != nil {
				if ctx.Err() == nil {
					s.log.Error("claiming requests failed", "err", err)
				}
				return
			}
			s.track(claimed, true)
			for i := range claimed {
				sem <- struct{}{}
				wg.Add(1)
				go func(c models.Claimed) {
					defer func() { s.track([]models.Claimed{c}, false); <-sem; wg.Done() }()
					// A send in flight finishes even when shutdown starts: its outcome must be recorded.
					s.process(context.WithoutCancel(ctx), c)
				}(claimed[i])
			}
			if len(claimed) < min(free, s.o.Batch) {
				return
			}
		}
	})
	return nil
}

// Reservation is room a sender holds for the requests of one message being accepted: they are
// stored already leased to Owner until Until, then handed over with Hand, so they are sent at
// once without being claimed (two statements and a commit on the single writer, and the wait for
// the claim loop). If the sender dies before sending them, the lease lapses and they are claimed
// like any request of a dead sender.
type Reservation struct {
	Owner string
	Until time.Time
	s     *Sender
	run   *senderRun
	n     int
}

// Reserve asks the sender to take n requests at their acceptance. Nil means it will not (it is
// not running, or holds enough already): store them pending and wake it.
func (s *Sender) Reserve(n int) *Reservation {
	s.handMu.Lock()
	defer s.handMu.Unlock()
	if s.run == nil || n == 0 || s.handed+n > handoffDepth*s.o.Concurrency {
		return nil
	}
	s.handed += n
	// The reservation keeps Run from returning until its requests are handed over or canceled.
	s.run.wg.Add(1)
	return &Reservation{Owner: s.o.Owner, Until: s.o.Now().Add(s.o.Lease), s: s, run: s.run, n: n}
}

// Hand gives the sender the reserved requests, stored and leased, to send.
func (r *Reservation) Hand(cs []models.Claimed) {
	s := r.s
	s.track(cs, true)
	for _, c := range cs {
		r.run.wg.Add(1)
		go func() {
			r.run.sem <- struct{}{}
			defer func() { s.track([]models.Claimed{c}, false); s.release(1); <-r.run.sem; r.run.wg.Done() }()
			s.process(context.WithoutCancel(r.run.ctx), c)
		}()
	}
	s.release(r.n - len(cs))
	r.run.wg.Done()
}

// Cancel gives the room back: the message was not stored.
func (r *Reservation) Cancel() {
	r.s.release(r.n)
	r.run.wg.Done()
}

func (s *Sender) release(n int) {
	s.handMu.Lock()
	s.handed -= n
	s.handMu.Unlock()
}

// track adds claimed requests to the ones being sent, or removes them.
func (s *Sender) track(cs []models.Claimed, sending bool) {
	s.inFlightMu.Lock()
	defer s.inFlightMu.Unlock()
	for _, c := range cs {
		if sending {
			s.inFlight[c.Request.ID] = true
		} else {
			delete(s.inFlight, c.Request.ID)
		}
	}
}

// renewLeases renews the leases of the requests being sent every third of the lease until stop.
func (s *Sender) renewLeases(stop <-chan struct{}) {
	t := time.NewTicker(s.o.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		s.inFlightMu.Lock()
		ids := make([]uint64, 0, len(s.inFlight))
		for id := range s.inFlight {
			ids = append(ids, id)
		}
		s.inFlightMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), s.o.Lease/3)
		if err := s.store.RenewRequests(ctx, s.o.Owner, ids, s.o.Lease); err != nil {
			s.log.Warn("renewing send leases failed; another instance may resend them when they lapse", "err", err)
		}
		cancel()
	}
}

// seed teaches the limiter what was sent in the last hour, before this process started.
func (s *Sender) seed(ctx context.Context) {
	s.seeded.Do(func() {
		sends, err := s.store.RecentSends(ctx, s.o.Now().Add(-hourWindow))
		if err != nil {
			s.log.Warn("could not read recent sends; pacing starts empty", "err", err)
			return
		}
		for _, r := range sends {
			if d := s.o.Deliverers[r.ChannelType]; d != nil {
				d.Sent(r)
				continue
			}
			s.limiter.Record(r.AuthenticatorID, strings.Split(r.ToUser, "|"), r.SentAt)
		}
	})
}

// process takes one claimed request through pacing, sending and recording.
func (s *Sender) process(ctx context.Context, c models.Claimed) {
	r, m := c.Request, c.Message
	if s.o.Hooks.AfterClaim != nil {
		s.o.Hooks.AfterClaim(&r)
	}
	now := s.o.Now()
	if d := s.o.Deliverers[m.ChannelType]; d != nil {
		s.deliver(ctx, d, r, m, now)
		return
	}
	app, opts, err := s.app(ctx, m.AuthenticatorID)
	if err != nil {
		s.finish(ctx, &r, &m, RequestOutcome{Status: models.RequestFailed, Reason: "The channel's authenticator cannot be used: " + err.Error()})
		return
	}
	// Pacing applies to named members. A request that may already have reached WeCom is resent
	// unchanged instead, so WeCom's duplicate check can drop the twin. A chat's request names no
	// member: WeCom limits chat sends per corp, and its 45009 is retried like any other.
	if r.ToUser != "" && r.ToUser != "@all" && !r.Ambiguous && !m.Linked {
		allowed, deferred, at := s.limiter.Take(m.AuthenticatorID, strings.Split(r.ToUser, "|"), now, opts.DailyQuota)
		if len(deferred) > 0 {
			if len(allowed) == 0 && r.ToParty == "" && r.ToTag == "" {
				// Nobody may receive it yet: wait, and the wait is not an attempt.
				r.Status, r.NotBefore, r.Attempts = models.RequestPending, at, r.Attempts-1
				s.record(ctx, &r, &m)
				return
			}
			r.ToUser = strings.Join(allowed, "|")
			later := &models.MessageRequest{MessageID: r.MessageID, Seq: r.Seq, ToUser: strings.Join(deferred, "|"),
				Status: models.RequestPending, NotBefore: at}
			if err := s.store.SplitRequest(ctx, s.o.Owner, &r, later); err != nil {
				// Nothing was sent; the lease lapses and the request is paced again.
				s.requestLog(&r, &m).Warn("could not store a paced split; retrying later", "err", err)
				return
			}
			m.Requests++
		}
	}
	var snapshot SendOptions
	_ = json.Unmarshal([]byte(m.SendOptions), &snapshot)
	payload, err := Payload(m, r, app.AgentID, snapshot)
	if err != nil {
		s.finish(ctx, &r, &m, RequestOutcome{Status: models.RequestFailed, Reason: "The stored message cannot be sent: " + err.Error()})
		return
	}
	client := s.clients.Client(app)
	var res *SendResult
	switch {
	case r.ChatID != "":
		res, err = client.SendChat(ctx, payload)
	case m.Linked:
		res, err = client.SendLinked(ctx, payload)
	default:
		res, err = client.Send(ctx, payload)
	}
	s.attempted(ctx, &r, &m, now, res, err)
}

// deliver makes one attempt at a request of another channel type with its deliverer.
func (s *Sender) deliver(ctx context.Context, d Deliverer, r models.MessageRequest, m models.Message, now time.Time) {
	res, wait, err := d.Deliver(ctx, &r, &m, now)
	if wait.After(now) {
		r.Status, r.NotBefore, r.Attempts = models.RequestPending, wait, r.Attempts-1
		s.record(ctx, &r, &m)
		return
	}
	if errors.Is(err, ErrCannotSend) {
		s.finish(ctx, &r, &m, RequestOutcome{Status: models.RequestFailed, Reason: "The message " + err.Error() + "."})
		return
	}
	s.attempted(ctx, &r, &m, now, res, err)
}

// attempted records what WeCom answered to one attempt.
func (s *Sender) attempted(ctx context.Context, r *models.MessageRequest, m *models.Message, now time.Time, res *SendResult, err error) {
	if s.o.Hooks.AfterSend != nil {
		s.o.Hooks.AfterSend(r)
	}
	out := Classify(res, err, int64(r.ErrCode), r.Attempts, now.Sub(m.CreatedAt), s.o.Policy)
	if out.Status == models.RequestRetrying {
		out.NotBefore = now.Add(out.Delay)
	}
	s.finish(ctx, r, m, out)
}

// app is the authenticator's credentials, read at most every appCacheTTL.
func (s *Sender) app(ctx context.Context, id uint64) (App, SendOptions, error) {
	now := time.Now()
	s.appsMu.Lock()
	c, ok := s.appsAt[id]
	s.appsMu.Unlock()
	if ok && now.Sub(c.at) < appCacheTTL {
		return c.app, c.opts, nil
	}
	app, opts, err := s.apps.App(ctx, id)
	if err != nil {
		return app, opts, err
	}
	s.appsMu.Lock()
	s.appsAt[id] = cachedApp{app: app, opts: opts, at: now}
	s.appsMu.Unlock()
	return app, opts, nil
}

// RequestOutcome is what one attempt comes to.
type RequestOutcome struct {
	Status    string
	Result    *SendResult
	ErrCode   int64
	Reason    string
	Ambiguous bool
	Delay     time.Duration
	NotBefore time.Time
}

func (s *Sender) finish(ctx context.Context, r *models.MessageRequest, m *models.Message, out RequestOutcome) {
	r.Status, r.Reason, r.ErrCode = out.Status, out.Reason, int(out.ErrCode)
	r.Ambiguous = r.Ambiguous || out.Ambiguous
	if res := out.Result; res != nil {
		r.ErrMsg, r.MsgID, r.ResponseCode = MaskSecrets(res.ErrMsg), res.MsgID, res.ResponseCode
		r.InvalidUser, r.InvalidParty, r.InvalidTag, r.UnlicensedUser = res.InvalidUser, res.InvalidParty, res.InvalidTag, res.UnlicensedUser
	}
	switch out.Status {
	case models.RequestSent:
		now := s.o.Now()
		r.SentAt = &now
	case models.RequestRetrying:
		r.NotBefore = out.NotBefore
	}
	s.o.OnResult(out.Status, out.ErrCode)
	if out.Status == models.RequestFailed || out.Status == models.RequestRetrying {
		s.requestLog(r, m).Warn("send attempt failed", "status", out.Status, "errcode", out.ErrCode, "attempts", r.Attempts, "reason", out.Reason)
	}
	s.record(ctx, r, m)
}

// requestLog is the sender's log with the request's ids, made only when there is something to say.
func (s *Sender) requestLog(r *models.MessageRequest, m *models.Message) *slog.Logger {
	return s.log.With("message_id", m.ID, "request_id", r.ID, "authenticator", m.AuthenticatorID)
}

// record hands an outcome to the recorder and waits until it is committed.
func (s *Sender) record(_ context.Context, r *models.MessageRequest, m *models.Message) {
	job := recordJob{out: models.Outcome{Request: r, Message: m}, done: make(chan error, 1)}
	s.records <- job
	if err := <-job.done; err != nil {
		// The lease will lapse and another attempt resends the same bytes; WeCom's duplicate check
		// drops the twin if this one was delivered.
		s.requestLog(r, m).Error("recording a send failed", "err", err)
	}
}

// recorder commits outcomes in groups: whatever arrived while the previous commit ran goes into
// the next one.
func (s *Sender) recorder() {
	ctx := context.Background()
	for job := range s.records {
		jobs := []recordJob{job}
	drain:
		for len(jobs) < 256 {
			select {
			case j, ok := <-s.records:
				if !ok {
					break drain
				}
				jobs = append(jobs, j)
			default:
				break drain
			}
		}
		outs := make([]models.Outcome, len(jobs))
		for i, j := range jobs {
			outs[i] = j.out
		}
		err := s.store.RecordOutcomes(ctx, s.o.Owner, outs)
		if err == nil {
			s.o.OnRecorded(outs)
		}
		for i, j := range jobs {
			if err == nil && !outs[i].Owned {
				s.log.Warn("lease lost before recording; another sender owns the request", "request_id", outs[i].Request.ID)
			}
			j.done <- err
		}
	}
}

// Classify maps one attempt's answer to the request's next state. prev is the errcode the attempt
// before answered (0 for none); attempts counts this one; age is how long ago the message was
// accepted.
func Classify(res *SendResult, err error, prev int64, attempts int, age time.Duration, p RetryPolicy) RequestOutcome {
	var ae *APIError
	var te *TransportError
	switch {
	case err == nil:
		return RequestOutcome{Status: models.RequestSent, Result: res}
	case errors.As(err, &ae):
		out := RequestOutcome{Result: res, ErrCode: ae.Code, Reason: Reason(err)}
		switch ae.Code {
		case -1:
			return retry(out, attempts, age, p, min(p.MaxAttempts, 3), backoff(attempts, p))
		case 6000, 45033, 45035, 40014, 42001:
			return retry(out, attempts, age, p, p.MaxAttempts, backoff(attempts, p))
		case 45009:
			// A frequency block lasts its window: a first 45009 waits a minute; one that follows
			// a 45009 waits longer the more attempts the request made (4, 16 minutes, an hour).
			wait := time.Minute
			if prev == 45009 {
				wait = min(time.Minute<<(2*(attempts-1)), time.Hour)
			}
			return retry(out, attempts, age, p, p.MaxAttempts, wait)
		default:
			out.Status = models.RequestFailed
			return out
		}
	case errors.As(err, &te):
		out := RequestOutcome{Reason: Reason(err), Ambiguous: te.Sent}
		return retry(out, attempts, age, p, p.MaxAttempts, backoff(attempts, p))
	default:
		return retry(RequestOutcome{Reason: Reason(err)}, attempts, age, p, p.MaxAttempts, backoff(attempts, p))
	}
}

func retry(out RequestOutcome, attempts int, age time.Duration, p RetryPolicy, maxAttempts int, delay time.Duration) RequestOutcome {
	if attempts >= maxAttempts || age+delay > p.MaxAge {
		out.Status = models.RequestFailed
		out.Reason = fmt.Sprintf("%s Gave up after %d attempts.", out.Reason, attempts)
		return out
	}
	out.Status, out.Delay = models.RequestRetrying, delay
	return out
}

// backoff is exponential with full jitter in its upper half, so retries of many requests spread.
func backoff(attempts int, p RetryPolicy) time.Duration {
	d := p.Base << max(attempts-1, 0)
	if d > p.Max || d <= 0 {
		d = p.Max
	}
	return d/2 + rand.N(d/2+1)
}

// sendHead is the common part of a message/send body, in the order WeCom documents it. The same
// request always marshals to the same bytes, which WeCom's duplicate check relies on.
type sendHead struct {
	ToUser                 string `json:"touser,omitempty"`
	ToParty                string `json:"toparty,omitempty"`
	ToTag                  string `json:"totag,omitempty"`
	MsgType                string `json:"msgtype"`
	AgentID                int64  `json:"agentid"`
	Safe                   int    `json:"safe"`
	EnableIDTrans          int    `json:"enable_id_trans"`
	EnableDuplicateCheck   int    `json:"enable_duplicate_check"`
	DuplicateCheckInterval int    `json:"duplicate_check_interval"`
}

type linkedHead struct {
	ToUser  []string `json:"touser,omitempty"`
	ToParty []string `json:"toparty,omitempty"`
	ToTag   []string `json:"totag,omitempty"`
	ToAll   int      `json:"toall"`
	MsgType string   `json:"msgtype"`
	AgentID int64    `json:"agentid"`
	Safe    int      `json:"safe"`
}

// chatHead is the common part of an appchat/send body. It has no duplicate check: a resend after
// an unknown outcome may post twice.
type chatHead struct {
	ChatID  string `json:"chatid"`
	MsgType string `json:"msgtype"`
	Safe    int    `json:"safe"`
}

// Payload is the exact body of a request's WeCom call: message/send, the linked-corp send or, for
// a chat's request, appchat/send. Every message/send carries enable_duplicate_check (unless its
// options say NoDuplicateCheck): it is what makes a resend after an unknown outcome safe.
func Payload(m models.Message, r models.MessageRequest, agentID int64, o SendOptions) ([]byte, error) {
	var head any
	switch {
	case r.ChatID != "":
		head = chatHead{ChatID: r.ChatID, MsgType: m.MsgType, Safe: o.Safe}
	case m.Linked:
		h := linkedHead{ToUser: splitIDs(r.ToUser), ToParty: splitIDs(r.ToParty), ToTag: splitIDs(r.ToTag), MsgType: m.MsgType, AgentID: agentID, Safe: o.Safe}
		if r.ToAll {
			h.ToAll = 1
		}
		head = h
	default:
		interval := o.DuplicateCheckInterval
		if interval <= 0 {
			interval = 1800
		}
		h := sendHead{ToUser: r.ToUser, ToParty: r.ToParty, ToTag: r.ToTag, MsgType: m.MsgType, AgentID: agentID, Safe: o.Safe,
			EnableDuplicateCheck: 1, DuplicateCheckInterval: interval}
		if o.NoDuplicateCheck {
			h.EnableDuplicateCheck = 0
		}
		if r.ToAll {
			h.ToUser = "@all"
		}
		if o.EnableIDTrans {
			h.EnableIDTrans = 1
		}
		head = h
	}
	hb, err := json.Marshal(head)
	if err != nil {
		return nil, err
	}
	if !json.Valid([]byte(m.Body)) {
		return nil, errors.New("the stored body is not JSON")
	}
	key, _ := json.Marshal(m.MsgType)
	out := make([]byte, 0, len(hb)+len(key)+len(m.Body)+2)
	out = append(out, hb[:len(hb)-1]...)
	out = append(out, ',')
	out = append(out, key...)
	out = append(out, ':')
	out = append(out, m.Body...)
	return append(out, '}'), nil
}

func splitIDs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "|")
}
