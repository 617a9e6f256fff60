package models_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/models/storetest"
)

// TestCallbackEventRedeliveredConcurrentlyIsStoredOnce sends each of 20 events 5 times at once, as
// WeCom's retries can arrive: the group commit puts twins in one batch or in several, and either
// way each event is stored once, reported as new to exactly one caller, and counts 5 deliveries.
func TestCallbackEventRedeliveredConcurrentlyIsStoredOnce(t *testing.T) {
	s := storetest.Open(t)
	ctx := context.Background()
	const events, copies = 20, 5
	var (
		mu     sync.Mutex
		stored = map[string]int{}
		wg     sync.WaitGroup
	)
	for c := 0; c < copies; c++ {
		for i := 0; i < events; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				key := fmt.Sprintf("contacts:sha256:%d", i)
				e := &models.CallbackEvent{AuthenticatorID: 1, Kind: "contacts", DedupKey: key, MsgType: "event", Payload: "{}"}
				existing, isNew, err := s.SaveEvent(ctx, e)
				if err != nil {
					t.Error(err)
					return
				}
				if isNew != (existing == nil) || !isNew && (existing.DedupKey != key || existing.ID == 0) {
					t.Errorf("SaveEvent(%s) = %+v, %v", key, existing, isNew)
				}
				mu.Lock()
				defer mu.Unlock()
				if isNew {
					stored[key]++
				}
			}()
		}
	}
	wg.Wait()
	var rows []models.CallbackEvent
	if err := s.DB.Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) != events || len(stored) != events {
		t.Fatalf("%d rows and %d keys reported new, want %d", len(rows), len(stored), events)
	}
	for _, r := range rows {
		if r.Deliveries != copies || stored[r.DedupKey] != 1 {
			t.Errorf("%s: %d deliveries, reported new %d times; want %d and 1", r.DedupKey, r.Deliveries, stored[r.DedupKey], copies)
		}
	}

	// One more, alone: the stored event comes back and counts it.
	existing, isNew, err := s.SaveEvent(ctx, &models.CallbackEvent{AuthenticatorID: 1, Kind: "contacts", DedupKey: rows[0].DedupKey, Payload: "{}"})
	if err != nil || isNew || existing.ID != rows[0].ID {
		t.Fatalf("SaveEvent again = %+v, %v, %v", existing, isNew, err)
	}
	var again models.CallbackEvent
	if err := s.DB.First(&again, rows[0].ID).Error; err != nil || again.Deliveries != copies+1 {
		t.Fatalf("deliveries after one more = %d, %v; want %d", again.Deliveries, err, copies+1)
	}
	// The same key under another authenticator is another event.
	if _, isNew, err := s.SaveEvent(ctx, &models.CallbackEvent{AuthenticatorID: 2, Kind: "contacts", DedupKey: rows[0].DedupKey, Payload: "{}"}); err != nil || !isNew {
		t.Fatalf("the key under authenticator 2: new=%v, %v", isNew, err)
	}
}
