package server

import (
	"context"
	"time"
)

// Presence: every instance keeps a lease saying it is alive; the number of live instances is how
// many share WeCom's per-member limits, so each paces to its part of them.
const (
	presenceEvery = 10 * time.Second
	presenceLease = 30 * time.Second
)

// runPresence renews this instance's presence until ctx ends, then removes it.
func (s *Server) runPresence(ctx context.Context) error {
	t := time.NewTicker(presenceEvery)
	defer t.Stop()
	for {
		if n, err := s.store.Heartbeat(ctx, s.owner, presenceLease); err != nil {
			if ctx.Err() == nil {
				s.log.Error("presence heartbeat failed", "err", err)
			}
		} else {
			s.limiter.SetShare(n)
		}
		select {
		case <-ctx.Done():
			if err := s.store.Depart(context.WithoutCancel(ctx), s.owner); err != nil {
				s.log.Error("removing the presence failed", "err", err)
			}
			return nil
		case <-t.C:
		}
	}
}
