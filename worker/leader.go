package worker

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// LeaderStore keeps the leader role in the database.
type LeaderStore interface {
	TryLead(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	Resign(ctx context.Context, name, owner string) error
}

// Elector keeps this instance in the running for a role: it renews the lease a third of the way
// through, so a leader that dies is replaced within one lease, and resigns on a clean shutdown.
type Elector struct {
	store   LeaderStore
	name    string
	owner   string
	ttl     time.Duration
	log     *slog.Logger
	leading atomic.Bool
}

// NewElector makes an elector for the role name held by owner under leases of ttl.
func NewElector(store LeaderStore, name, owner string, ttl time.Duration, log *slog.Logger) *Elector {
	return &Elector{store: store, name: name, owner: owner, ttl: ttl, log: log}
}

// Leading reports whether this instance holds the role now.
func (e *Elector) Leading() bool { return e.leading.Load() }

// Run campaigns until ctx ends, then resigns if it leads.
func (e *Elector) Run(ctx context.Context) {
	t := time.NewTicker(e.ttl / 3)
	defer t.Stop()
	for {
		ok, err := e.store.TryLead(ctx, e.name, e.owner, e.ttl)
		if err != nil && ctx.Err() == nil {
			e.log.Error("leader election failed", "role", e.name, "err", err)
		}
		if was := e.leading.Swap(ok && err == nil); was != (ok && err == nil) {
			e.log.Info("leadership changed", "role", e.name, "leading", !was)
		}
		select {
		case <-ctx.Done():
			// Resign even when the last renewal failed: the database may still name this instance.
			e.leading.Store(false)
			if err := e.store.Resign(context.WithoutCancel(ctx), e.name, e.owner); err != nil {
				e.log.Error("resigning failed", "role", e.name, "err", err)
			}
			return
		case <-t.C:
		}
	}
}
