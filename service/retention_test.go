package service_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/models/storetest"
	"github.com/wecomflow/wecomflow/plugin"
	"github.com/wecomflow/wecomflow/service"
)

// Cleanup removes what is older than the retention and says so in the log; 0 keeps everything,
// and a retention shorter than an idempotency key's 24 hours is refused.
func TestCleanupRemovesOldFinishedMessagesAndLogsIt(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	store := storetest.Open(t, storetest.Options{Now: func() time.Time { return now }})
	var logs bytes.Buffer
	svc := service.New(store, plugin.NewRegistry(nil, nil), nil, nil, service.Config{}, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := context.Background()
	for i, at := range []time.Time{now.Add(-31 * 24 * time.Hour), now.Add(-29 * 24 * time.Hour)} {
		m := &models.Message{ID: strings.Repeat("0", 25) + string(rune('a'+i)), Channel: "ops", Status: models.MessageSent, CreatedAt: at}
		if err := store.DB.Create(m).Error; err != nil {
			t.Fatal(err)
		}
	}
	count := func() int64 {
		var n int64
		if err := store.DB.Model(&models.Message{}).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}

	if removed, err := svc.Cleanup(ctx, 0); err != nil || len(removed) != 0 || count() != 2 {
		t.Fatalf("retention 0: removed %v, %v; %d messages left", removed, err, count())
	}
	if _, err := svc.Cleanup(ctx, time.Hour); err == nil || count() != 2 {
		t.Fatalf("retention 1h: %v; %d messages left", err, count())
	}
	removed, err := svc.Cleanup(ctx, 30*24*time.Hour)
	if err != nil || removed["messages"] != 1 || count() != 1 {
		t.Fatalf("retention 720h: removed %v, %v; %d messages left", removed, err, count())
	}
	if line := logs.String(); !strings.Contains(line, `msg="retention cleanup"`) || !strings.Contains(line, "messages=1") {
		t.Fatalf("log: %s", line)
	}
}
