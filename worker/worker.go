// Package worker runs the loops that drain durable background work — outbox sends, callback
// events, sync tasks, executions: wake on a signal or a poll, then claim and handle until nothing
// is due. The work itself lives in the database, so a loop holds no state worth losing. It also
// holds what the periodic work shares: the leader election, and the cron schedules (the one door
// to robfig/cron); and Waiters, which wake a request waiting on a key (?wait= on a message) when
// this process changes it.
package worker

import (
	"context"
	"time"
)

// Wakeup is a coalescing signal that work may be due: many notifications before the loop looks
// are one wake-up.
type Wakeup chan struct{}

// NewWakeup makes a Wakeup.
func NewWakeup() Wakeup { return make(Wakeup, 1) }

// Notify wakes the loop without blocking.
func (w Wakeup) Notify() {
	select {
	case w <- struct{}{}:
	default:
	}
}

// Run calls drain at once, whenever woken, and every poll, until ctx ends. drain claims and
// handles what is due and returns when there is nothing more (or ctx ended).
func Run(ctx context.Context, wake Wakeup, poll time.Duration, drain func(ctx context.Context)) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-timer.C:
		}
		drain(ctx)
		timer.Reset(poll)
	}
}
