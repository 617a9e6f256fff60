package models_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/models/storetest"
)

// The failure budget never lets a corp's count pass its limit, however many senders take from it
// at once; it is per corp and per day, outlives a restart, and a lookup that succeeded gives its
// count back.
func TestLookupBudgetStopsAtTheLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := storetest.DSN(t)
	s := storetest.OpenDSN(t, dsn)
	const limit = 5
	var mu sync.Mutex
	var wg sync.WaitGroup
	taken := 0
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.TakeLookupBudget(ctx, "wwcorp", "2026-11-02", limit)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				taken++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if taken != limit {
		t.Fatalf("%d lookups allowed, want %d", taken, limit)
	}
	take := func(s *models.Store, corp, day string) bool {
		t.Helper()
		ok, err := s.TakeLookupBudget(ctx, corp, day, limit)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !take(s, "wwother", "2026-11-02") || !take(s, "wwcorp", "2026-11-03") {
		t.Error("another corp or another day shares the count")
	}
	if err := s.ReturnLookupBudget(ctx, "wwcorp", "2026-11-02"); err != nil {
		t.Fatal(err)
	}
	if !take(s, "wwcorp", "2026-11-02") || take(s, "wwcorp", "2026-11-02") {
		t.Error("a returned count is not exactly one more lookup")
	}
	// A new process on the same database knows today's count.
	again := storetest.OpenDSN(t, dsn)
	if take(again, "wwcorp", "2026-11-02") {
		t.Error("the count was lost")
	}
	// WeCom's block (45009) uses up the rest of the day at once.
	if err := again.UseUpLookupBudget(ctx, "wwother", "2026-11-02", limit); err != nil {
		t.Fatal(err)
	}
	if take(again, "wwother", "2026-11-02") {
		t.Error("a blocked corp may still look up")
	}
	if ok, err := s.TakeLookupBudget(ctx, "wwzero", "2026-11-02", 0); ok || err != nil {
		t.Errorf("no seats known: allowed %v, %v", ok, err)
	}
}

// A cached answer is read back until it expires; "nobody" is an answer too.
func TestCachedLookupsExpire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	s := storetest.Open(t, storetest.Options{Now: func() time.Time { return now }})
	for _, l := range []struct {
		l   models.UserLookup
		ttl time.Duration
	}{
		{models.UserLookup{CorpID: "wwcorp", Kind: models.LookupMobile, Value: "13800000001", WeComUserID: "zhangsan"}, 24 * time.Hour},
		{models.UserLookup{CorpID: "wwcorp", Kind: models.LookupEmail, Value: "ghost@acme.example"}, time.Hour},
	} {
		if err := s.SaveLookup(ctx, l.l, l.ttl); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.CachedLookups(ctx, "wwcorp", models.LookupMobile, []string{"13800000001", "13800000002"})
	if err != nil || len(got) != 1 || got["13800000001"] != "zhangsan" {
		t.Fatalf("mobiles %v %v", got, err)
	}
	if got, _ := s.CachedLookups(ctx, "wwcorp", models.LookupEmail, []string{"ghost@acme.example"}); len(got) != 1 || got["ghost@acme.example"] != "" {
		t.Fatalf("nobody not cached: %v", got)
	}
	if got, _ := s.CachedLookups(ctx, "wwother", models.LookupMobile, []string{"13800000001"}); len(got) != 0 {
		t.Errorf("another corp sees the answer: %v", got)
	}
	now = now.Add(2 * time.Hour)
	if got, _ := s.CachedLookups(ctx, "wwcorp", models.LookupEmail, []string{"ghost@acme.example"}); len(got) != 0 {
		t.Errorf("expired answer read: %v", got)
	}
	// Retention removes what expired and the counts of days gone, nothing else.
	for _, day := range []string{"2026-10-30", "2026-11-01", "2026-11-02"} {
		if _, err := s.TakeLookupBudget(ctx, "wwcorp", day, 1); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := s.DeleteFinished(ctx, now.AddDate(0, 0, -30), 0)
	if err != nil {
		t.Fatal(err)
	}
	if removed["user_lookups"] != 1 || removed["lookup_failures"] != 1 {
		t.Errorf("retention removed %v", removed)
	}
}
