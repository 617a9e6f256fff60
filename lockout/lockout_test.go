package lockout_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/lockout"
	"github.com/wecomflow/wecomflow/problem"
)

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// wrong is a verify that refuses every credential, as the service does a bad token.
func wrong(context.Context, string) (int, error) {
	return 0, problem.Errorf(problem.CodeUnauthorized, "The API token is not valid.")
}

func right(context.Context, string) (int, error) { return 1, nil }

func code(err error) problem.Code {
	var pe *problem.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// A guesser with endless addresses cannot grow the table past its cap, and an address's record
// is gone once its minute has passed.
func TestTheTableIsBounded(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := lockout.New(lockout.Options{MaxAddresses: 100, Now: clk.Now})
	ctx := context.Background()
	for i := range 5000 {
		_, _ = lockout.Attempt(ctx, c, fmt.Sprintf("2001:db8::%x", i), "wcf_guess", wrong)
	}
	if n := c.Len(); n > 100 {
		t.Fatalf("%d addresses remembered, cap 100", n)
	}
	// Addresses that succeed leave nothing behind.
	for i := range 50 {
		_, _ = lockout.Attempt(ctx, c, fmt.Sprintf("198.51.100.%d", i), "wcf_right", right)
	}
	if n := c.Len(); n > 100 {
		t.Fatalf("%d addresses after successes", n)
	}
	clk.Advance(time.Minute)
	_, _ = lockout.Attempt(ctx, c, "203.0.113.1", "wcf_right", right)
	if n := c.Len(); n != 0 {
		t.Fatalf("%d addresses remembered after their minute", n)
	}
}

// Only a wrong credential counts: nothing presented is no guess, and a failure of the server
// (the database down) is not the client's.
func TestOnlyWrongCredentialsCount(t *testing.T) {
	t.Parallel()
	c := lockout.New(lockout.Options{})
	ctx := context.Background()
	broken := func(context.Context, string) (int, error) { return 0, errors.New("database unreachable") }
	for range 50 {
		if _, err := lockout.Attempt(ctx, c, "203.0.113.2", "", wrong); code(err) != problem.CodeUnauthorized {
			t.Fatalf("no credential: %v", err)
		}
		if _, err := lockout.Attempt(ctx, c, "203.0.113.2", "wcf_token", broken); code(err) != "" {
			t.Fatalf("a broken store: %v", err)
		}
	}
	if v, err := lockout.Attempt(ctx, c, "203.0.113.2", "wcf_token", right); v != 1 || err != nil {
		t.Fatalf("after 100 attempts that were no guesses: %v %v", v, err)
	}
	for range 20 {
		_, _ = lockout.Attempt(ctx, c, "203.0.113.2", "wcf_guess", wrong)
	}
	_, err := lockout.Attempt(ctx, c, "203.0.113.2", "", right)
	var pe *problem.Error
	if !errors.As(err, &pe) || pe.Code != problem.CodeRateLimited || pe.RetrySeconds() != 60 {
		t.Fatalf("no credential from a shut-out address: %v", err)
	}
}

// refusal is a Failure: a refusal that is no 401 but says whether a credential was wrong.
type refusal struct{ wrong bool }

func (r refusal) Error() string              { return "refused" }
func (r refusal) FailedAuthentication() bool { return r.wrong }

// A refusal that says it is a failed authentication counts, whatever its answer will be; one
// that says it is not does not count, even wrapped around a 401.
func TestFailuresSayWhetherTheyCount(t *testing.T) {
	t.Parallel()
	c := lockout.New(lockout.Options{})
	ctx := context.Background()
	notCounted := func(context.Context, string) (int, error) {
		return 0, fmt.Errorf("%w: %w", refusal{wrong: false}, problem.Errorf(problem.CodeUnauthorized, "no"))
	}
	counted := func(context.Context, string) (int, error) { return 0, fmt.Errorf("sign-in: %w", refusal{wrong: true}) }
	for range 50 {
		_, _ = lockout.Attempt(ctx, c, "203.0.113.4", "state", notCounted)
	}
	for i := range 20 {
		if _, err := lockout.Attempt(ctx, c, "203.0.113.4", "state", counted); code(err) == problem.CodeRateLimited {
			t.Fatalf("attempt %d was refused: the refusals that do not count were counted", i+1)
		}
	}
	if _, err := lockout.Attempt(ctx, c, "203.0.113.4", "state", right); code(err) != problem.CodeRateLimited {
		t.Fatalf("after 20 counted refusals: %v, want rate_limited", err)
	}
}

// A verify that panics gives its place back; an attempt waiting for a place gives up with its
// request.
func TestPlacesAreGivenBack(t *testing.T) {
	t.Parallel()
	c := lockout.New(lockout.Options{Limit: 2})
	ctx := context.Background()
	for range 5 {
		func() {
			defer func() { _ = recover() }()
			_, _ = lockout.Attempt(ctx, c, "203.0.113.3", "wcf_x", func(context.Context, string) (int, error) { panic("boom") })
		}()
	}
	if _, err := lockout.Attempt(ctx, c, "203.0.113.3", "wcf_x", right); err != nil {
		t.Fatalf("after panics: %v", err)
	}

	// Two attempts in flight take both places; a third waits until its request ends.
	hold, held := make(chan struct{}), make(chan struct{}, 2)
	slow := func(context.Context, string) (int, error) { held <- struct{}{}; <-hold; return 1, nil }
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { _, _ = lockout.Attempt(ctx, c, "203.0.113.4", "wcf_x", slow) })
	}
	<-held
	<-held
	waiting, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := lockout.Attempt(waiting, c, "203.0.113.4", "wcf_x", right); code(err) != problem.CodeRateLimited {
		t.Fatalf("a third attempt while both places are taken: %v", err)
	}
	close(hold)
	wg.Wait()
	if _, err := lockout.Attempt(ctx, c, "203.0.113.4", "wcf_x", right); err != nil {
		t.Fatalf("once the two ended: %v", err)
	}
}
