package models_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/models/storetest"
)

// seedRequests stores one single-request text message per request and returns the requests' ids.
func seedRequests(t *testing.T, s *models.Store, now time.Time, reqs ...models.MessageRequest) []uint64 {
	t.Helper()
	ids := make([]uint64, len(reqs))
	for i := range reqs {
		m := models.Message{ID: fmt.Sprintf("01CLAIM%019d", i), Channel: "ch", MsgType: "text", Status: models.MessageQueued,
			TriggerFrom: "api", Requests: 1, CreatedAt: now, UpdatedAt: now}
		if err := s.DB.Create(&m).Error; err != nil {
			t.Fatal(err)
		}
		reqs[i].MessageID, reqs[i].UpdatedAt = m.ID, now
		if err := s.DB.Create(&reqs[i]).Error; err != nil {
			t.Fatal(err)
		}
		ids[i] = reqs[i].ID
	}
	return ids
}

// claimedIDs are the ids of claimed requests, in ascending order.
func claimedIDs(cs []models.Claimed) []uint64 {
	ids := make([]uint64, len(cs))
	for i, c := range cs {
		ids[i] = c.Request.ID
	}
	slices.Sort(ids)
	return ids
}

// A claim takes requests whose sender's lease lapsed first, then retrying ones, then pending ones,
// each oldest first, and never one that is not yet due.
func TestClaimRequestsTakesRescuesThenRetriesThenNew(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s := storetest.Open(t, storetest.Options{Now: func() time.Time { return now }})
	lapsed := now.Add(-time.Second)
	ids := seedRequests(t, s, now,
		models.MessageRequest{Status: models.RequestPending, NotBefore: now.Add(-time.Minute)},
		models.MessageRequest{Status: models.RequestPending, NotBefore: now.Add(time.Minute)},
		models.MessageRequest{Status: models.RequestRetrying, NotBefore: now.Add(-time.Second)},
		models.MessageRequest{Status: models.RequestSending, NotBefore: now.Add(-time.Hour), LeaseOwner: "gone", LeaseUntil: &lapsed, Attempts: 1},
		models.MessageRequest{Status: models.RequestPending, NotBefore: now.Add(-2 * time.Minute)},
	)
	ctx := context.Background()
	first, err := s.ClaimRequests(ctx, "a", time.Minute, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(claimedIDs(first)), fmt.Sprint([]uint64{ids[2], ids[3], ids[4]}); got != want {
		t.Fatalf("first claim took %s, want %s (lapsed, retrying, oldest pending)", got, want)
	}
	if c := first[1]; !c.Request.Ambiguous || c.Request.Attempts != 2 || c.Message.ID != c.Request.MessageID {
		t.Fatalf("rescued request: ambiguous %v attempts %d message %q", c.Request.Ambiguous, c.Request.Attempts, c.Message.ID)
	}
	second, err := s.ClaimRequests(ctx, "b", time.Minute, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(claimedIDs(second)), fmt.Sprint([]uint64{ids[0]}); got != want {
		t.Fatalf("second claim took %s, want %s (the future one is not due)", got, want)
	}
}

// A request whose message row is gone (deleted by hand) fails with a reason instead of being sent
// empty or claimed over and over.
func TestClaimRequestsFailsARequestWithoutItsMessage(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s := storetest.Open(t, storetest.Options{Now: func() time.Time { return now }})
	ids := seedRequests(t, s, now,
		models.MessageRequest{Status: models.RequestPending, NotBefore: now},
		models.MessageRequest{Status: models.RequestPending, NotBefore: now})
	if err := s.DB.Where("id = ?", "01CLAIM0000000000000000000").Delete(&models.Message{}).Error; err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := s.ClaimRequests(ctx, "a", time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Request.ID != ids[1] {
		t.Fatalf("claimed %v, want only %d", claimedIDs(got), ids[1])
	}
	var orphan models.MessageRequest
	if err := s.DB.First(&orphan, ids[0]).Error; err != nil {
		t.Fatal(err)
	}
	if orphan.Status != models.RequestFailed || orphan.Reason != "its message no longer exists" || orphan.LeaseOwner != "" {
		t.Fatalf("orphan: status %q reason %q owner %q", orphan.Status, orphan.Reason, orphan.LeaseOwner)
	}
	if again, err := s.ClaimRequests(ctx, "a", time.Minute, 10); err != nil || len(again) != 0 {
		t.Fatalf("second claim: %v, %v", claimedIDs(again), err)
	}
}

// Two instances claiming from one backlog at the same moment both get a full batch: a claim locks
// only the rows it takes. (A claim that sorted the whole due backlog locked all of it, and the
// other instance's SKIP LOCKED found nothing.)
func TestConcurrentClaimsShareTheBacklog(t *testing.T) {
	if os.Getenv(storetest.EnvDSN) == "" {
		t.Skipf("row locks need MariaDB or MySQL: set %s (SQLite has one writer)", storetest.EnvDSN)
	}
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s := storetest.Open(t, storetest.Options{Now: func() time.Time { return now }})
	backlog := make([]models.MessageRequest, 300)
	for i := range backlog {
		status := models.RequestPending
		if i%3 == 0 {
			status = models.RequestRetrying
		}
		backlog[i] = models.MessageRequest{Status: status, NotBefore: now.Add(-time.Duration(i) * time.Second)}
	}
	seedRequests(t, s, now, backlog...)
	if err := s.DB.Exec("ANALYZE TABLE message_requests").Error; err != nil {
		t.Fatal(err)
	}

	// The first claim stops inside its transaction once it holds its rows: at its read of their messages.
	var pause atomic.Bool
	paused, resume := make(chan struct{}), make(chan struct{})
	if err := s.DB.Callback().Query().After("gorm:query").Register("test:pause", func(db *gorm.DB) {
		if db.Statement.Table == "messages" && pause.CompareAndSwap(true, false) {
			close(paused)
			<-resume
		}
	}); err != nil {
		t.Fatal(err)
	}
	pause.Store(true)
	ctx := context.Background()
	type result struct {
		claimed []models.Claimed
		err     error
	}
	firstDone := make(chan result, 1)
	go func() {
		c, err := s.ClaimRequests(ctx, "first", time.Minute, 50)
		firstDone <- result{c, err}
	}()
	<-paused
	second, err := s.ClaimRequests(ctx, "second", time.Minute, 50)
	close(resume)
	first := <-firstDone
	if err != nil || first.err != nil {
		t.Fatalf("claims: %v, %v", first.err, err)
	}
	if len(first.claimed) != 50 || len(second) != 50 {
		t.Fatalf("first claim took %d, the concurrent second %d: want 50 each", len(first.claimed), len(second))
	}
	seen := map[uint64]bool{}
	for _, id := range append(claimedIDs(first.claimed), claimedIDs(second)...) {
		if seen[id] {
			t.Fatalf("request %d claimed twice", id)
		}
		seen[id] = true
	}
}
