package server

import (
	"context"
	"time"

	"github.com/wecomflow/wecomflow/worker"
)

// runRetention deletes old finished data hourly while this instance leads. It looks every minute,
// so a new leader cleans up soon after taking over.
func (s *Server) runRetention(ctx context.Context) error {
	var last time.Time
	worker.Run(ctx, nil, time.Minute, func(ctx context.Context) {
		if !s.elector.Leading() || time.Since(last) < time.Hour {
			return
		}
		last = time.Now()
		_, _ = s.svc.Cleanup(ctx, s.cfg.Retention) // it logs what it removed, or why it failed
	})
	return nil
}
