package lockout

import (
	"container/list"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/wecomflow/wecomflow/problem"
)

// The limits of the contract (SPEC §8.6): from the 21st failed authentication in one minute, an
// address is refused until that minute has passed.
const (
	DefaultLimit  = 20
	DefaultWindow = time.Minute
	// DefaultMaxAddresses bounds the table: a remembered address costs about 200 bytes, so a
	// guesser with endless addresses fills at most a few MB.
	DefaultMaxAddresses = 10_000
)

// Options tune a Counter; a zero field takes its default.
type Options struct {
	// Limit is how many failures an address may have in one window; every authentication after
	// them is refused until the window ends.
	Limit int
	// Window is the length of an address's minute, which starts at its first failure.
	Window time.Duration
	// MaxAddresses caps how many addresses with failures are remembered. Past it, the address
	// whose window started first is forgotten: with so many addresses a guesser could spread its
	// tries over them anyway, while the memory must stay bounded.
	MaxAddresses int
	// Now is the clock (the store's, which tests move); time.Now when nil.
	Now func() time.Time
	// Log gets one line when an address is shut out; nil logs nothing.
	Log *slog.Logger
}

// Counter counts failed authentications by client address. It is safe for concurrent use.
type Counter struct {
	limit  int
	window time.Duration
	max    int
	now    func() time.Time
	log    *slog.Logger

	mu    sync.Mutex
	addrs map[string]*address
	// windows holds the addresses with failures, oldest window first: the expired ones are at the
	// front, and so is the one to forget when the table is full.
	windows list.List
}

// address is what the Counter knows of one client address.
type address struct {
	addr     string
	failures int
	start    time.Time
	// inFlight counts the attempts being verified. Failures and attempts in flight together stay
	// within the limit, so parallel requests cannot slip guesses in before their failures count.
	inFlight int
	// ended is closed, and replaced, whenever an attempt in flight ends: an attempt waiting for a
	// free place looks again.
	ended chan struct{}
	// elem is the address's place in windows while it has failures.
	elem *list.Element
}

// New makes a Counter.
func New(o Options) *Counter {
	c := &Counter{limit: o.Limit, window: o.Window, max: o.MaxAddresses, now: o.Now, log: o.Log, addrs: map[string]*address{}}
	if c.limit <= 0 {
		c.limit = DefaultLimit
	}
	if c.window <= 0 {
		c.window = DefaultWindow
	}
	if c.max <= 0 {
		c.max = DefaultMaxAddresses
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// Attempt verifies credential, presented from addr, as one authentication attempt. An address
// shut out is refused before verify runs, whatever it presents: a rate_limited problem.Error with
// RetryAfter. A failure is verify's error of code unauthorized; other errors (the database
// unreachable) are not the client's doing and do not count. An empty credential is checked but
// never counted: nothing was guessed. An error that is a Failure counts when it says so.
//
// verify is the service call itself, such as Service.Authenticate or Service.SessionFor.
func Attempt[T any](ctx context.Context, c *Counter, addr, credential string, verify func(context.Context, string) (T, error)) (T, error) {
	var zero T
	if credential == "" {
		if err := c.check(addr); err != nil {
			return zero, err
		}
		return verify(ctx, credential)
	}
	a, err := c.begin(ctx, addr)
	if err != nil {
		return zero, err
	}
	failed := false
	// Deferred, so a panicking verify still gives its place back.
	defer func() { c.end(ctx, a, failed) }()
	v, err := verify(ctx, credential)
	failed = isFailure(err)
	return v, err
}

// Failure is an error that says itself whether the credential was wrong, for refusals whose
// answer is not a 401: a sign-in with WeCom shows a bad state as a 400 page.
type Failure interface {
	error
	FailedAuthentication() bool
}

// isFailure reports whether err says the credential was wrong: a Failure that says so, or a
// problem.Error of code unauthorized.
func isFailure(err error) bool {
	if f, ok := errors.AsType[Failure](err); ok {
		return f.FailedAuthentication()
	}
	var pe *problem.Error
	return errors.As(err, &pe) && pe.Code == problem.CodeUnauthorized
}

// check refuses addr when it is shut out.
func (c *Counter) check(addr string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.sweep(now)
	if a := c.lookup(addr, now); a != nil && a.failures >= c.limit {
		return c.refusal(addr, a.start.Add(c.window).Sub(now))
	}
	return nil
}

// begin takes a place for one attempt from addr, waiting while every place left in its window is
// taken by attempts in flight.
func (c *Counter) begin(ctx context.Context, addr string) (*address, error) {
	c.mu.Lock()
	for {
		now := c.now()
		c.sweep(now)
		a := c.lookup(addr, now)
		if a == nil {
			a = &address{addr: addr, ended: make(chan struct{})}
			c.addrs[addr] = a
		}
		if a.failures >= c.limit {
			c.mu.Unlock()
			return nil, c.refusal(addr, a.start.Add(c.window).Sub(now))
		}
		if a.failures+a.inFlight < c.limit {
			a.inFlight++
			c.mu.Unlock()
			return a, nil
		}
		ended := a.ended
		c.mu.Unlock()
		select {
		case <-ended:
		case <-ctx.Done():
			return nil, &problem.Error{Code: problem.CodeRateLimited, RetryAfter: time.Second, Err: ctx.Err(),
				Message: "Too many authentications from " + addr + " are being checked at once; try again in a second."}
		}
		c.mu.Lock()
	}
}

// end gives back the place of an attempt, counting it when it failed.
func (c *Counter) end(ctx context.Context, a *address, failed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a.inFlight--
	close(a.ended)
	a.ended = make(chan struct{})
	if failed {
		now := c.now()
		if a.failures > 0 && !now.Before(a.start.Add(c.window)) {
			c.forget(a)
		}
		if a.failures == 0 {
			a.start = now
			a.elem = c.windows.PushBack(a)
			// An address forgotten while its attempt was in flight is remembered again.
			c.addrs[a.addr] = a
		}
		a.failures++
		if a.failures == c.limit && c.log != nil {
			c.log.WarnContext(ctx, "address shut out after failed authentications", "remote", a.addr,
				"failures", a.failures, "until", a.start.Add(c.window).UTC().Format(time.RFC3339))
		}
		for c.windows.Len() > c.max {
			c.forget(c.windows.Front().Value.(*address))
		}
	}
	if a.failures == 0 && a.inFlight == 0 && c.addrs[a.addr] == a {
		delete(c.addrs, a.addr)
	}
}

// lookup is the record of addr, or nil; a window that has passed is forgotten first.
func (c *Counter) lookup(addr string, now time.Time) *address {
	a := c.addrs[addr]
	if a != nil && a.failures > 0 && !now.Before(a.start.Add(c.window)) {
		c.forget(a)
		a = c.addrs[addr]
	}
	return a
}

// sweep forgets the windows that have passed: they are at the front.
func (c *Counter) sweep(now time.Time) {
	for e := c.windows.Front(); e != nil; e = c.windows.Front() {
		a := e.Value.(*address)
		if now.Before(a.start.Add(c.window)) {
			return
		}
		c.forget(a)
	}
}

// forget clears the failures of a; the record itself stays while attempts from it are in flight.
func (c *Counter) forget(a *address) {
	if a.elem != nil {
		c.windows.Remove(a.elem)
		a.elem = nil
	}
	a.failures, a.start = 0, time.Time{}
	if a.inFlight == 0 && c.addrs[a.addr] == a {
		delete(c.addrs, a.addr)
	}
}

// refusal is the answer to a shut-out address: how long until its window ends.
func (c *Counter) refusal(addr string, wait time.Duration) error {
	e := &problem.Error{Code: problem.CodeRateLimited, RetryAfter: wait}
	e.Message = "Too many failed authentications from " + addr + " in a minute; try again in " + seconds(e.RetrySeconds()) + "."
	return e
}

func seconds(n int) string {
	if n == 1 {
		return "1 second"
	}
	return strconv.Itoa(n) + " seconds"
}

// Len is how many addresses the Counter remembers: those with failures in their window and
// those with an attempt in flight.
func (c *Counter) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.addrs)
}
