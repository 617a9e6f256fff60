package service

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/wecomflow/wecomflow/models"
)

// MinRetention is the shortest retention Cleanup accepts: a message must outlive the 24 hours in
// which its idempotency key answers for it, or a retried request would send it again.
const MinRetention = models.IdempotencyWindow

// Cleanup removes the finished data created more than maxAge ago — messages with their requests
// and card responses, callback events, executions with their jobs, sync tasks — and the expired
// web sessions, in small batches, and logs what it removed. Nothing unfinished is touched. maxAge 0
// keeps everything. The server runs it on the leader only; on several instances at once it would
// still be safe, each batch skipping the rows another one holds.
func (s *Service) Cleanup(ctx context.Context, maxAge time.Duration) (map[string]int64, error) {
	if maxAge <= 0 {
		return map[string]int64{}, nil
	}
	if maxAge < MinRetention {
		return nil, fmt.Errorf("service: retention %s is shorter than the %s an idempotency key lasts", maxAge, MinRetention)
	}
	before := s.store.Now().Add(-maxAge)
	start := time.Now()
	removed, err := s.store.DeleteFinished(ctx, before, 0)
	attrs := []any{"before", before.Format(time.RFC3339), "duration_ms", time.Since(start).Milliseconds()}
	var total int64
	tables := make([]string, 0, len(removed))
	for table, n := range removed {
		tables = append(tables, table)
		total += n
	}
	sort.Strings(tables)
	for _, table := range tables {
		attrs = append(attrs, table, removed[table])
	}
	if err != nil && ctx.Err() != nil {
		// Shutting down: what is left goes next time.
		s.log.InfoContext(ctx, "retention cleanup stopped", attrs...)
		return removed, fmt.Errorf("service: retention cleanup: %w", err)
	}
	if err != nil {
		s.log.ErrorContext(ctx, "retention cleanup failed", append(attrs, "err", err)...)
		return removed, fmt.Errorf("service: retention cleanup: %w", err)
	}
	if total == 0 {
		s.log.DebugContext(ctx, "retention cleanup: nothing to remove", attrs...)
		return removed, nil
	}
	s.log.InfoContext(ctx, "retention cleanup", attrs...)
	return removed, nil
}
