package eventhook_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/eventhook"
	"github.com/wecomflow/wecomflow/fetch"
	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/models/storetest"
)

// BenchmarkDeliveries queues b.N events (each about its own message) for one hook and measures
// queued-to-recorded: claim, post to a local receiver, log the attempt, on the suite's database.
// The data is a small fixed object, so this is the deliverer's own rate; reading a message for its
// first attempt adds one indexed read from the read pool.
func BenchmarkDeliveries(b *testing.B) {
	store := storetest.Open(b)
	ctx := context.Background()
	var got atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got.Add(1)
	}))
	defer rcv.Close()
	hook := &models.EventHook{URL: rcv.URL, Events: `["message.sent"]`, Secret: models.NewSecret("s"), Enabled: true}
	if err := store.SaveEventHook(ctx, hook); err != nil {
		b.Fatal(err)
	}
	now := store.Now()
	rows := make([]models.HookEvent, b.N)
	for i := range rows {
		rows[i] = models.HookEvent{EventID: fmt.Sprintf("ev%024d", i), HookID: hook.ID, Type: models.EventMessageSent,
			Subject: fmt.Sprintf("msg%023d", i), At: now, Status: models.HookPending, NotBefore: now}
	}
	if err := store.DB.CreateInBatches(rows, 500).Error; err != nil {
		b.Fatal(err)
	}
	fetcher := fetch.New(fetch.Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, IdleConnsPerHost: 64})
	data := func(_ context.Context, typ, subject string) (any, error) {
		return map[string]any{"id": subject, "status": "sent", "channel": "ops"}, nil
	}
	d := eventhook.New(store, fetcher, data, slog.New(slog.DiscardHandler), eventhook.Options{Owner: "bench", Poll: 5 * time.Millisecond})
	b.ResetTimer()
	start := time.Now()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(runCtx) }()
	for {
		var left int64
		if err := store.Read.Model(&models.HookEvent{}).Where("status <> ?", models.HookDelivered).Count(&left).Error; err != nil {
			b.Fatal(err)
		}
		if left == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	stop()
	<-done
	if got.Load() < int64(b.N) {
		b.Fatalf("the receiver got %d of %d", got.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
}
